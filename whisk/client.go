package whisk

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ActivationIDHeader is the header that carries an invocation's activation id.
const ActivationIDHeader = "x-openwhisk-activation-id"

// Client calls the OpenWhisk REST API. It is safe for concurrent use.
type Client struct {
	base      *url.URL // .../api/v1
	user      string
	pass      string
	namespace string
	hc        *http.Client
}

// NewClient returns a client for cfg. A nil hc means a client of its own
// (honouring cfg.Insecure); an API host without a scheme means https.
func NewClient(cfg Config, hc *http.Client) (*Client, error) {
	host := strings.TrimRight(cfg.APIHost, "/")
	if host == "" {
		return nil, errors.New("new client: no API host")
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("new client: API host: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("new client: API host scheme %q is not http or https", u.Scheme)
	}
	version := cfg.APIVersion
	if version == "" {
		version = "v1"
	}
	u = u.JoinPath("api", version)
	user, pass, ok := strings.Cut(cfg.Auth, ":")
	if !ok {
		return nil, errors.New("new client: key is not uuid:secret")
	}
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		if cfg.Insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		hc = &http.Client{Transport: tr}
	}
	ns := cfg.Namespace
	if ns == "" {
		ns = "_"
	}
	return &Client{base: u, user: user, pass: pass, namespace: ns, hc: hc}, nil
}

// Namespace returns the namespace used in paths ("_" when unset).
func (c *Client) Namespace() string { return c.namespace }

// entityPath splits an action name into namespace and escaped path: "name",
// "pkg/name", or fully qualified "/ns/name", "/ns/pkg/name".
func (c *Client) entityPath(name string) (ns, path string, err error) {
	ns = c.namespace
	rest := name
	if strings.HasPrefix(name, "/") {
		parts := strings.SplitN(strings.TrimPrefix(name, "/"), "/", 2)
		if len(parts) != 2 || parts[0] == "" {
			return "", "", fmt.Errorf("action name %q: a fully qualified name is /namespace/[package/]name", name)
		}
		ns, rest = parts[0], parts[1]
	}
	segs := strings.Split(rest, "/")
	if len(segs) > 2 {
		return "", "", fmt.Errorf("action name %q: too many path segments", name)
	}
	for i, s := range segs {
		if s == "" {
			return "", "", fmt.Errorf("action name %q: empty segment", name)
		}
		segs[i] = url.PathEscape(s)
	}
	return ns, strings.Join(segs, "/"), nil
}

// do sends one request and decodes a 2xx JSON answer into out (when not
// nil). It returns the HTTP status and the activation id header.
func (c *Client) do(ctx context.Context, method, rawPath string, q url.Values, body any, out any) (int, string, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + rawPath
	p, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, rawPath, err)
	}
	u.Path = p
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", fmt.Errorf("%s %s: encode body: %w", method, rawPath, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, rawPath, err)
	}
	req.SetBasicAuth(c.user, c.pass)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, rawPath, err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get(ActivationIDHeader)
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, id, fmt.Errorf("%s %s: read answer: %w", method, rawPath, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{StatusCode: resp.StatusCode, ActivationID: id}
		var eb struct {
			Error any `json:"error"`
			Code  any `json:"code"`
		}
		if json.Unmarshal(data, &eb) == nil {
			ae.Message = stringOf(eb.Error)
			ae.Code = stringOf(eb.Code)
		}
		if ae.Message == "" && len(data) > 0 && len(data) < 512 && !bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
			ae.Message = strings.TrimSpace(string(data))
		}
		// A blocking invocation that failed still answers with the record or
		// result; let the caller decode it as well.
		if out != nil && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusInternalServerError) && id != "" {
			_ = json.Unmarshal(data, out)
		}
		return resp.StatusCode, id, ae
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, id, fmt.Errorf("%s %s: decode answer: %w", method, rawPath, err)
		}
	}
	return resp.StatusCode, id, nil
}

func stringOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

// Namespaces lists the namespaces the key may use.
func (c *Client) Namespaces(ctx context.Context) ([]string, error) {
	var out []string
	_, _, err := c.do(ctx, http.MethodGet, "/namespaces", nil, nil, &out)
	return out, err
}

func (c *Client) actionPath(name string) (string, error) {
	ns, p, err := c.entityPath(name)
	if err != nil {
		return "", err
	}
	return "/namespaces/" + url.PathEscape(ns) + "/actions/" + p, nil
}

// PutAction creates the action, or replaces it when overwrite is set
// (without it an existing action gives a 409 *APIError).
func (c *Client) PutAction(ctx context.Context, name string, a *Action, overwrite bool) (*Action, error) {
	p, err := c.actionPath(name)
	if err != nil {
		return nil, fmt.Errorf("put action: %w", err)
	}
	q := url.Values{}
	if overwrite {
		q.Set("overwrite", "true")
	}
	var out Action
	if _, _, err := c.do(ctx, http.MethodPut, p, q, a, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetAction fetches an action.
func (c *Client) GetAction(ctx context.Context, name string) (*Action, error) {
	p, err := c.actionPath(name)
	if err != nil {
		return nil, fmt.Errorf("get action: %w", err)
	}
	var out Action
	if _, _, err := c.do(ctx, http.MethodGet, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteAction deletes an action and returns it as it was.
func (c *Client) DeleteAction(ctx context.Context, name string) (*Action, error) {
	p, err := c.actionPath(name)
	if err != nil {
		return nil, fmt.Errorf("delete action: %w", err)
	}
	var out Action
	if _, _, err := c.do(ctx, http.MethodDelete, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListActions lists the namespace's actions.
func (c *Client) ListActions(ctx context.Context, opts ListOptions) ([]Action, error) {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	var out []Action
	_, _, err := c.do(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(c.namespace)+"/actions", q, nil, &out)
	return out, err
}

// packagePath is the path of a package: "name" or "/ns/name".
func (c *Client) packagePath(name string) (string, error) {
	ns, p, err := c.entityPath(name)
	if err != nil {
		return "", err
	}
	if strings.Contains(p, "/") {
		return "", fmt.Errorf("package name %q: a package is name or /namespace/name", name)
	}
	return "/namespaces/" + url.PathEscape(ns) + "/packages/" + p, nil
}

// PutPackage creates the package (or the binding, when p.Binding is set),
// or replaces it when overwrite is set.
func (c *Client) PutPackage(ctx context.Context, name string, p *Package, overwrite bool) (*Package, error) {
	path, err := c.packagePath(name)
	if err != nil {
		return nil, fmt.Errorf("put package: %w", err)
	}
	q := url.Values{}
	if overwrite {
		q.Set("overwrite", "true")
	}
	var out Package
	if _, _, err := c.do(ctx, http.MethodPut, path, q, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPackage fetches a package with the actions and feeds it holds (for a
// binding, those of the bound package).
func (c *Client) GetPackage(ctx context.Context, name string) (*Package, error) {
	path, err := c.packagePath(name)
	if err != nil {
		return nil, fmt.Errorf("get package: %w", err)
	}
	var out Package
	if _, _, err := c.do(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePackage deletes a package (force: with the actions in it) or a
// binding and returns it as it was.
func (c *Client) DeletePackage(ctx context.Context, name string, force bool) (*Package, error) {
	path, err := c.packagePath(name)
	if err != nil {
		return nil, fmt.Errorf("delete package: %w", err)
	}
	q := url.Values{}
	if force {
		q.Set("force", "true")
	}
	var out Package
	if _, _, err := c.do(ctx, http.MethodDelete, path, q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPackages lists the packages and bindings of the namespace ns ("" is
// the client's); another namespace lists only its shared packages.
func (c *Client) ListPackages(ctx context.Context, ns string, opts ListOptions) ([]Package, error) {
	if ns == "" {
		ns = c.namespace
	}
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	var out []Package
	_, _, err := c.do(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(ns)+"/packages", q, nil, &out)
	return out, err
}

// InvokeOptions say how to invoke.
type InvokeOptions struct {
	Blocking bool
	// Result asks a blocking invocation for the result only.
	Result bool
	// Timeout bounds the blocking wait (the server allows at most 60 s);
	// zero leaves the server's default.
	Timeout time.Duration
}

// Invocation is the answer to an invoke.
type Invocation struct {
	// ActivationID is the (primary) activation id, set in every case.
	ActivationID string
	// Accepted is true when the server answered 202: a non-blocking
	// invocation, or a blocking one whose wait ran out while the
	// activation carries on (poll GetActivation).
	Accepted bool
	// Activation is the record of a finished blocking invocation made
	// without Result.
	Activation *Activation
	// Result is the result of a finished blocking invocation made with
	// Result (or Activation.Response.Result otherwise).
	Result json.RawMessage
}

// Invoke invokes an action with params (any JSON object value; nil means
// none). A finished blocking invocation that failed returns both the
// Invocation and an *APIError (502 for application and developer errors,
// 500 for internal errors).
func (c *Client) Invoke(ctx context.Context, name string, params any, opts InvokeOptions) (*Invocation, error) {
	p, err := c.actionPath(name)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	q := url.Values{}
	q.Set("blocking", strconv.FormatBool(opts.Blocking))
	if opts.Result {
		q.Set("result", "true")
	}
	if opts.Timeout > 0 {
		q.Set("timeout", strconv.FormatInt(opts.Timeout.Milliseconds(), 10))
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("invoke: encode params: %w", err)
	}
	if string(body) == "null" { // nil, or a nil map or pointer
		body = []byte("{}")
	}
	var raw json.RawMessage
	status, id, err := c.do(ctx, http.MethodPost, p, q, json.RawMessage(body), &raw)
	if status == 0 {
		return nil, err
	}
	inv := &Invocation{ActivationID: id}
	if status == http.StatusAccepted {
		inv.Accepted = true
		if inv.ActivationID == "" {
			var a struct {
				ActivationID string `json:"activationId"`
			}
			_ = json.Unmarshal(raw, &a)
			inv.ActivationID = a.ActivationID
		}
		return inv, err
	}
	if len(raw) == 0 {
		return inv, err
	}
	if opts.Blocking && opts.Result {
		inv.Result = raw
		return inv, err
	}
	if opts.Blocking {
		var a Activation
		if uerr := json.Unmarshal(raw, &a); uerr == nil && a.ActivationID != "" {
			inv.Activation = &a
			inv.Result = a.Response.Result
			if inv.ActivationID == "" {
				inv.ActivationID = a.ActivationID
			}
		}
	}
	return inv, err
}

func (c *Client) activationsPath() string {
	return "/namespaces/" + url.PathEscape(c.namespace) + "/activations"
}

// ListActivations lists activation records, newest first. Without Docs
// the entries are summaries (no response or logs, a top-level StatusCode).
func (c *Client) ListActivations(ctx context.Context, opts ActivationListOptions) ([]Activation, error) {
	q := url.Values{}
	if opts.Name != "" {
		q.Set("name", opts.Name)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	if opts.Since > 0 {
		q.Set("since", strconv.FormatInt(opts.Since, 10))
	}
	if opts.Upto > 0 {
		q.Set("upto", strconv.FormatInt(opts.Upto, 10))
	}
	if opts.Docs {
		q.Set("docs", "true")
	}
	var out []Activation
	_, _, err := c.do(ctx, http.MethodGet, c.activationsPath(), q, nil, &out)
	return out, err
}

// GetActivation fetches a full activation record; a running or unknown
// activation gives a 404 *APIError.
func (c *Client) GetActivation(ctx context.Context, id string) (*Activation, error) {
	var out Activation
	if _, _, err := c.do(ctx, http.MethodGet, c.activationsPath()+"/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ActivationResult fetches an activation's response.
func (c *Client) ActivationResult(ctx context.Context, id string) (*Response, error) {
	var out Response
	if _, _, err := c.do(ctx, http.MethodGet, c.activationsPath()+"/"+url.PathEscape(id)+"/result", nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ActivationLogs fetches an activation's log lines.
func (c *Client) ActivationLogs(ctx context.Context, id string) ([]string, error) {
	var out struct {
		Logs []string `json:"logs"`
	}
	if _, _, err := c.do(ctx, http.MethodGet, c.activationsPath()+"/"+url.PathEscape(id)+"/logs", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Logs, nil
}

// WaitActivation polls for an activation record until it exists or ctx ends.
func (c *Client) WaitActivation(ctx context.Context, id string, every time.Duration) (*Activation, error) {
	if every <= 0 {
		every = 200 * time.Millisecond
	}
	for {
		a, err := c.GetActivation(ctx, id)
		if err == nil || !IsNotFound(err) {
			return a, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait activation %s: %w", id, ctx.Err())
		case <-time.After(every):
		}
	}
}
