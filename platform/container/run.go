package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// OpenWhisk's messages for failed activations (its Messages object).
const (
	msgAbnormalInit    = "The action did not initialize and exited unexpectedly."
	msgAbnormalRun     = "The action did not produce a valid response and exited unexpectedly."
	msgMemoryExhausted = "The action exhausted its memory and was aborted."
	msgLogFailure      = "There was an issue while collecting your logs. Data might be missing."
	msgLogDevError     = "The action did not initialize or run as expected. Log data might be missing."
)

func msgTimedOut(ms int, init bool) string {
	if init {
		return fmt.Sprintf("The action exceeded its time limits of %d milliseconds during initialization.", ms)
	}
	return fmt.Sprintf("The action exceeded its time limits of %d milliseconds.", ms)
}

func msgInvalid(prefix, body string) string {
	if body == "" {
		return prefix + "."
	}
	return prefix + ": " + body
}

func msgTruncated(body string, length, max int) string {
	return fmt.Sprintf("The action produced a response that exceeded the allowed length: %d > %d bytes. The truncated response was: %s",
		length, max, body)
}

// MsgImagePull is the developer error for a blackbox image without a
// command.
func MsgImagePull(image string) string {
	return fmt.Sprintf("Failed to pull container image '%s'.", image)
}

// Status codes of RunOutput.
const (
	StatusSuccess     = 0
	StatusAppError    = 1
	StatusDevError    = 2
	StatusWhiskError  = 3
	defaultTimeoutMS  = 60000
	defaultLogLimitMB = 10
)

// httpClient talks to containers; no proxies, no pooled connections (a
// killed container must not leave a stale one behind).
var httpClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// reply is a container's answer to /init or /run.
type reply struct {
	status int
	body   []byte
	length int // full body length; > len(body) when truncated
}

func (p *Pool) post(ctx context.Context, c *proc, path string, body any) (reply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(b))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	max := p.cfg.MaxResultSize
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	if err != nil {
		return reply{}, err
	}
	r := reply{status: resp.StatusCode, body: data, length: len(data)}
	if len(data) > max {
		rest, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return reply{}, err
		}
		r.body = data[:max]
		r.length = len(data) + int(rest)
	}
	return r, nil
}

func (r reply) truncated() bool { return r.length > len(r.body) }

func (r reply) text() string {
	return strings.TrimSpace(strings.ToValidUTF8(string(r.body), string(utf8.RuneError)))
}

func errorResult(msg string) json.RawMessage {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return b
}

// interpretRun reads a /run reply as OpenWhisk's invoker does.
func interpretRun(r reply) (int, json.RawMessage) {
	if r.truncated() {
		return StatusAppError, errorResult(msgTruncated(r.text(), r.length, len(r.body)))
	}
	body := bytes.TrimSpace(r.body)
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		errField, hasErr := obj["error"]
		if r.status == http.StatusOK {
			if hasErr {
				b, _ := json.Marshal(map[string]json.RawMessage{"error": errField})
				return StatusAppError, b
			}
			return StatusSuccess, json.RawMessage(body)
		}
		if hasErr {
			b, _ := json.Marshal(map[string]json.RawMessage{"error": errField})
			return StatusDevError, b
		}
		return StatusDevError, errorResult(msgInvalid("The action did not produce a valid JSON response", r.text()))
	}
	var arr []json.RawMessage
	if r.status == http.StatusOK && json.Unmarshal(body, &arr) == nil && arr != nil {
		return StatusSuccess, json.RawMessage(body)
	}
	return StatusDevError, errorResult(msgInvalid("The action did not produce a valid JSON response", r.text()))
}

// interpretInit reads a failed (non-200) /init reply.
func interpretInit(r reply) json.RawMessage {
	if r.truncated() {
		return errorResult(msgTruncated(r.text(), r.length, len(r.body)))
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimSpace(r.body), &obj) == nil && obj != nil {
		if e, ok := obj["error"]; ok {
			b, _ := json.Marshal(map[string]json.RawMessage{"error": e})
			return b
		}
	}
	return errorResult(msgInvalid("The action failed during initialization", r.text()))
}

// activationEnv is the activation context as /run fields (also the __OW_
// variables of /init's env).
func activationFields(spec Spec, in RunInput, deadline time.Time) map[string]string {
	m := map[string]string{
		"namespace":      spec.Namespace,
		"action_name":    spec.Action,
		"action_version": spec.Version,
		"activation_id":  in.ActivationID,
		"transaction_id": in.TransactionID,
		"deadline":       strconv.FormatInt(deadline.UnixMilli(), 10),
	}
	if in.APIKey != "" {
		m["api_key"] = in.APIKey
	}
	return m
}

// Run runs one activation: in a warm container of the same action version
// if one is idle, else in a new one (started and initialised). The
// container is killed at in.Deadline. An error means the activation could
// not be attempted or was cut short by ctx or Close (the platform records
// a whisk internal error); every outcome of the action itself is in the
// RunOutput. A concurrency limit above 1 is served like 1: one activation
// per container at a time.
func (p *Pool) Run(ctx context.Context, spec Spec, in RunInput) (RunOutput, error) {
	requested := time.Now()
	timeoutMS := spec.Limits.Timeout
	if timeoutMS <= 0 {
		timeoutMS = defaultTimeoutMS
	}
	deadline := in.Deadline
	if deadline.IsZero() {
		deadline = requested.Add(time.Duration(timeoutMS) * time.Millisecond)
	}
	fl, argv, env, pullErr, err := p.plan(ctx, spec)
	if err != nil {
		return RunOutput{}, err
	}
	if pullErr != "" {
		now := time.Now()
		return RunOutput{StatusCode: StatusDevError, Result: errorResult(pullErr), Logs: []string{},
			Start: now, End: now, WaitTime: now.Sub(requested)}, nil
	}
	key := containerKey(spec)
	c, err := p.acquire(key)
	if err != nil {
		return RunOutput{}, err
	}
	cold := c == nil
	if cold {
		if c, err = p.launch(ctx, spec, fl, argv, env); err != nil {
			return RunOutput{}, err
		}
	}
	out := RunOutput{Start: time.Now()}
	out.WaitTime = out.Start.Sub(requested)
	fields := activationFields(spec, in, deadline)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	if cold {
		initEnv := map[string]string{}
		for k, v := range spec.InitEnv {
			initEnv[k] = v
		}
		for k, v := range fields {
			initEnv["__OW_"+strings.ToUpper(k)] = v
		}
		value := map[string]any{"name": actionName(spec.Action), "main": mainName(spec.Exec.Main),
			"binary": spec.Exec.Binary, "env": initEnv}
		if spec.Exec.Code != "" {
			value["code"] = spec.Exec.Code
		}
		r, err := p.post(dctx, c, "/init", map[string]any{"value": value})
		out.InitTime = time.Since(out.Start)
		if out.InitTime <= 0 {
			out.InitTime = time.Nanosecond
		}
		switch {
		case err != nil && p.isClosed():
			p.release(c, false)
			return RunOutput{}, fmt.Errorf("init: %w", errPoolClosed)
		case err != nil && ctx.Err() != nil:
			p.release(c, false)
			return RunOutput{}, fmt.Errorf("init: %w", ctx.Err())
		case err != nil && dctx.Err() != nil:
			out.TimedOut = true
			return p.finish(c, spec, out, StatusDevError, errorResult(msgTimedOut(timeoutMS, true))), nil
		case err != nil:
			msg := msgAbnormalInit
			if c.slot.oomKilled() {
				msg = msgMemoryExhausted
			}
			return p.finish(c, spec, out, StatusDevError, errorResult(msg)), nil
		case r.status != http.StatusOK:
			return p.finish(c, spec, out, StatusDevError, interpretInit(r)), nil
		}
	}

	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	value := json.RawMessage(bytes.TrimSpace(in.Value))
	if len(value) == 0 {
		value = json.RawMessage(`{}`)
	}
	body["value"] = value
	r, err := p.post(dctx, c, "/run", body)
	switch {
	case err != nil && p.isClosed():
		p.release(c, false)
		return RunOutput{}, fmt.Errorf("run: %w", errPoolClosed)
	case err != nil && ctx.Err() != nil:
		p.release(c, false)
		return RunOutput{}, fmt.Errorf("run: %w", ctx.Err())
	case err != nil && dctx.Err() != nil:
		out.TimedOut = true
		return p.finish(c, spec, out, StatusDevError, errorResult(msgTimedOut(timeoutMS, false))), nil
	case err != nil:
		msg := msgAbnormalRun
		if c.slot.oomKilled() {
			msg = msgMemoryExhausted
		}
		return p.finish(c, spec, out, StatusDevError, errorResult(msg)), nil
	}
	status, result := interpretRun(r)
	return p.finish(c, spec, out, status, result), nil
}

// finish collects the activation's logs, keeps or destroys the container
// and completes out.
func (p *Pool) finish(c *proc, spec Spec, out RunOutput, status int, result json.RawMessage) RunOutput {
	out.End = time.Now()
	out.StatusCode, out.Result = status, result
	keep := status == StatusSuccess || status == StatusAppError
	var wait time.Duration
	switch {
	case !keep:
		// No waiting for a sentinel after a developer error; once the
		// group is dead its pipes end.
		c.kill()
		wait = p.cfg.LogGrace
	case c.sentinelled || c.logs.sawSentinel():
		wait = p.cfg.LogWait
	default:
		wait = p.cfg.LogGrace
	}
	lines, complete := c.logs.take(wait)
	limitMB := spec.Limits.Logs
	if limitMB <= 0 {
		limitMB = defaultLogLimitMB
	}
	logs, truncated := formatLogs(lines, limitMB<<20)
	if truncated {
		keep = false
	}
	if keep && c.sentinelled && !complete {
		logs = append(logs, logEntry(time.Now(), "stderr", msgLogFailure))
		keep = false
	}
	if status == StatusDevError {
		logs = append(logs, logEntry(time.Now(), "stderr", msgLogDevError))
	}
	out.Logs = logs
	p.release(c, keep)
	return out
}

// plan decides how to run spec: the flavor, the command (with
// PortPlaceholder) and environment, or the developer error for an image
// without a command.
func (p *Pool) plan(ctx context.Context, spec Spec) (fl flavor, argv, env []string, pullErr string, err error) {
	env = p.baseEnv(spec)
	kind := spec.Exec.Kind
	switch {
	case kind == "native" || kind == "blackbox" && imageRepo(spec.Exec.Image) == SkeletonImage:
		wskx := p.cfg.Wskx
		if p.user != nil {
			if wskx, err = p.user.share(wskx); err != nil {
				return 0, nil, nil, "", fmt.Errorf("native runtime: %w", err)
			}
		}
		return flavorNative, []string{wskx, "skeleton", "--host", "127.0.0.1", "--port", PortPlaceholder, "--dir", "action"},
			env, "", nil
	case kind == "blackbox":
		cmd, ok := p.lookupImage(spec.Exec.Image)
		if !ok || len(cmd) == 0 {
			return 0, nil, nil, MsgImagePull(spec.Exec.Image), nil
		}
		return flavorBlackbox, cmd, env, "", nil
	case strings.HasPrefix(kind, "nodejs"):
		argv, nodeEnv, err := p.node.command(ctx)
		if err == nil && p.user != nil {
			argv, nodeEnv, err = p.shareNode(argv, nodeEnv)
		}
		if err != nil {
			return 0, nil, nil, "", fmt.Errorf("nodejs runtime: %w", err)
		}
		return flavorNode, argv, append(env, nodeEnv...), "", nil
	case strings.HasPrefix(kind, "python"):
		argv, pyEnv, err := p.python.command()
		if err == nil && p.user != nil {
			argv, err = p.sharePython(argv)
		}
		if err != nil {
			return 0, nil, nil, "", fmt.Errorf("python runtime: %w", err)
		}
		return flavorPython, argv, append(env, pyEnv...), "", nil
	}
	return 0, nil, nil, "", fmt.Errorf("%w: %q", ErrUnsupportedKind, kind)
}

// ErrUnsupportedKind is returned by Run for a kind the pool cannot run.
var ErrUnsupportedKind = errors.New("unsupported action kind")

func actionName(fqn string) string {
	if i := strings.LastIndexByte(fqn, '/'); i >= 0 {
		return fqn[i+1:]
	}
	return fqn
}

func mainName(m string) string {
	if m == "" {
		return "main"
	}
	return m
}
