package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The API documents of API routes follow OpenWhisk's route management
// actions with an API gateway access token (core/routemgmt/common/apigw-utils.js,
// the "V2" code path the wsk CLI and the npm client with __OW_APIGW_TOKEN
// take): one swagger 2.0 document per namespace and base path, each
// operation naming its web action in "x-openwhisk" and its gateway target
// in "x-ibm-configuration".

// apiDoc is an API's swagger document. Paths holds each path's members
// raw, since a path may carry "parameters" beside its operations; the
// members the platform does not know are kept as they came in Extra.
type apiDoc struct {
	Swagger  string                                `json:"swagger"`
	Info     apiInfo                               `json:"info"`
	BasePath string                                `json:"basePath"`
	Paths    map[string]map[string]json.RawMessage `json:"paths"`
	XIBM     json.RawMessage                       `json:"x-ibm-configuration,omitempty"`
}

type apiInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

// apiOperation is what addEndpointToSwaggerApi writes for an operation.
type apiOperation struct {
	OperationID string            `json:"operationId"`
	Parameters  []json.RawMessage `json:"parameters,omitempty"`
	XOpenWhisk  *apiXOpenWhisk    `json:"x-openwhisk,omitempty"`
	Responses   json.RawMessage   `json:"responses"`
}

type apiXOpenWhisk struct {
	URL       string `json:"url"`
	Namespace string `json:"namespace"`
	Package   string `json:"package"`
	Action    string `json:"action"`
}

// ibmConfig is the part of x-ibm-configuration the gateway reads
// (openwhisk-apigateway management/lib/swagger.lua parseBackends, parseCors).
type ibmConfig struct {
	Assembly struct {
		Execute []ibmExecute `json:"execute,omitempty"`
	} `json:"assembly"`
	Cors *struct {
		Enabled bool `json:"enabled"`
	} `json:"cors,omitempty"`
}

type ibmExecute struct {
	OperationSwitch *struct {
		Case []ibmCase `json:"case"`
	} `json:"operation-switch,omitempty"`
	Invoke *ibmInvoke `json:"invoke,omitempty"`
}

type ibmCase struct {
	Operations []string     `json:"operations"`
	Execute    []ibmCaseAct `json:"execute"`
}

type ibmCaseAct struct {
	Invoke      *ibmInvoke      `json:"invoke,omitempty"`
	SetVariable *ibmSetVariable `json:"set-variable,omitempty"`
}

type ibmInvoke struct {
	TargetURL string `json:"target-url"`
	Verb      string `json:"verb"`
}

type ibmSetVariable struct {
	Actions []struct {
		Set   string `json:"set"`
		Value any    `json:"value"`
	} `json:"actions"`
}

// apiVerbs are the operations a path may have (the CLI's whisk.ApiVerbs).
var apiVerbs = []string{"get", "put", "post", "delete", "options", "head", "patch"}

func isAPIVerb(s string) bool {
	for _, v := range apiVerbs {
		if v == s {
			return true
		}
	}
	return false
}

// endpoint is a createApi apidoc without swagger: one path and operation.
type endpoint struct {
	Namespace       string            `json:"namespace"`
	APIName         string            `json:"apiName"`
	GatewayBasePath string            `json:"gatewayBasePath"`
	GatewayPath     string            `json:"gatewayPath"`
	GatewayMethod   string            `json:"gatewayMethod"`
	PathParameters  []json.RawMessage `json:"pathParameters"`
	Action          *endpointAction   `json:"action"`
}

type endpointAction struct {
	Name          string `json:"name"`
	Namespace     string `json:"namespace"`
	BackendMethod string `json:"backendMethod"`
	BackendURL    string `json:"backendUrl"`
	AuthKey       string `json:"authkey"`
	SecureKey     any    `json:"secureKey"`
}

// baseAPIDoc is generateBaseSwaggerApi: an API without paths, named after
// its base path unless a name is given.
func baseAPIDoc(basePath, name string) *apiDoc {
	if name == "" {
		name = basePath
	}
	return &apiDoc{Swagger: "2.0", Info: apiInfo{Title: name, Version: "1.0.0"}, BasePath: basePath,
		Paths: map[string]map[string]json.RawMessage{},
		XIBM:  json.RawMessage(`{"assembly":{},"cors":{"enabled":true}}`)}
}

// operationID is makeOperationId: the lower-case operation, then each
// word of the path (split at characters other than letters, digits, '-'
// and '_') capitalised, e.g. get /books/{isbn} -> getBooksIsbn.
func operationID(op, relpath string) string {
	mapped := strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-') {
			return r
		}
		return ' '
	}, relpath)
	var b strings.Builder
	b.WriteString(strings.ToLower(op))
	for _, word := range strings.Fields(mapped) {
		// JavaScript's \w\S*: the word starts at its first letter, digit or '_'.
		i := strings.IndexFunc(word, func(r rune) bool { return r != '-' })
		if i < 0 {
			b.WriteString(word)
			continue
		}
		b.WriteString(word[:i])
		b.WriteString(strings.ToUpper(word[i : i+1]))
		b.WriteString(strings.ToLower(word[i+1:]))
	}
	return b.String()
}

// splitFQAction is parseActionName with get{Package,Action}NameFromFqActionName:
// "/ns/pkg/a", "pkg/a" or "a".
func splitFQAction(name string) (pkg, action string) {
	parts := strings.SplitN(strings.TrimPrefix(name, "/"), "/", 3)
	switch len(parts) {
	case 3:
		return parts[1], parts[2]
	case 2:
		return parts[0], parts[1]
	}
	return "", parts[0]
}

// actionURLRE is parseActionUrl's pattern: PROTOCOL://HOST/api/vN/web/NS/PKG/ACTION.EXT.
var actionURLRE = regexp.MustCompile(`(\w+)://([:/\w.\-]+)/api/v\d/web/([@\w .\-]+)/([@\w .\-]+)/([@\w .\-/]+)\.(\w+)`)

// webActionURL is makeWebActionBackendUrl: the web action's URL with the
// response type as extension, on the host of the backend URL the client
// sent; a gateway target of type http ends in $(request.path), so that the
// action gets the request's path.
func webActionURL(a *endpointAction, responseType string, target bool) (string, error) {
	m := actionURLRE.FindStringSubmatch(a.BackendURL)
	if m == nil {
		return "", fmt.Errorf("API swagger generation error: backendUrl '%s' is not a web action URL", a.BackendURL)
	}
	pkg, name := splitFQAction(a.Name)
	if pkg == "" {
		pkg = "default"
	}
	u := m[1] + "://" + m[2] + "/api/v1/web/" + a.Namespace + "/" + pkg + "/" + name + "." + responseType
	if target && responseType == "http" {
		u += "$(request.path)"
	}
	return u, nil
}

// addEndpoint is addEndpointToSwaggerApi with setActionOperationInvocationDetails:
// the endpoint's operation replaces any the path has, and its gateway case
// replaces the case of the same operation id.
func (d *apiDoc) addEndpoint(e *endpoint, responseType string) error {
	op := strings.ToLower(e.GatewayMethod)
	id := operationID(op, e.GatewayPath)
	actionURL, err := webActionURL(e.Action, responseType, false)
	if err != nil {
		return err
	}
	target, _ := webActionURL(e.Action, responseType, true)
	pkg, name := splitFQAction(e.Action.Name)
	oper := apiOperation{OperationID: id, Parameters: e.PathParameters,
		XOpenWhisk: &apiXOpenWhisk{URL: actionURL, Namespace: e.Action.Namespace, Package: pkg, Action: name},
		Responses:  json.RawMessage(`{"default":{"description":"Default response"}}`)}
	if d.Paths == nil {
		d.Paths = map[string]map[string]json.RawMessage{}
	}
	if d.Paths[e.GatewayPath] == nil {
		d.Paths[e.GatewayPath] = map[string]json.RawMessage{}
	}
	d.Paths[e.GatewayPath][op] = mustJSON(oper)

	cfg, err := d.ibm()
	if err != nil {
		return err
	}
	c := ibmCase{Operations: []string{id}, Execute: []ibmCaseAct{{Invoke: &ibmInvoke{TargetURL: target, Verb: "keep"}}}}
	if key := e.Action.SecureKey; key != nil && key != false && key != "" {
		sv := &ibmSetVariable{}
		sv.Actions = append(sv.Actions, struct {
			Set   string `json:"set"`
			Value any    `json:"value"`
		}{"message.headers.X-Require-Whisk-Auth", key})
		c.Execute = append(c.Execute, ibmCaseAct{SetVariable: sv})
	}
	sw := cfg.operationSwitch()
	i := caseIndex(sw.Case, id)
	if i == len(sw.Case) {
		sw.Case = append(sw.Case, c)
	} else {
		sw.Case[i] = c
	}
	d.XIBM = mustJSON(cfg)
	return nil
}

// removeEndpoint is removeEndpointFromSwaggerApi: a whole path, or one of
// its operations (the path goes when it has none left); msg says what does
// not exist.
func (d *apiDoc) removeEndpoint(relpath, op string) (msg string, err error) {
	ops, ok := d.Paths[relpath]
	if !ok && op == "" {
		return "path '" + relpath + "' does not exist in the API", nil
	}
	if _, has := ops[op]; op != "" && !has {
		return "path '" + relpath + "' with operation '" + op + "' does not exist in the API", nil
	}
	var ids []string
	if op == "" {
		for verb := range ops {
			ids = append(ids, operationID(verb, relpath))
		}
		delete(d.Paths, relpath)
	} else {
		delete(ops, op)
		if len(ops) == 0 {
			delete(d.Paths, relpath)
		}
		ids = append(ids, operationID(op, relpath))
	}
	cfg, err := d.ibm()
	if err != nil || len(cfg.Assembly.Execute) == 0 || cfg.Assembly.Execute[0].OperationSwitch == nil {
		return "", err
	}
	sw := cfg.Assembly.Execute[0].OperationSwitch
	for _, id := range ids {
		if i := caseIndex(sw.Case, id); i < len(sw.Case) {
			sw.Case = append(sw.Case[:i], sw.Case[i+1:]...)
		}
	}
	d.XIBM = mustJSON(cfg)
	return "", nil
}

func caseIndex(cases []ibmCase, id string) int {
	for i, c := range cases {
		if len(c.Operations) > 0 && c.Operations[0] == id {
			return i
		}
	}
	return len(cases)
}

func (d *apiDoc) ibm() (*ibmConfig, error) {
	cfg := &ibmConfig{}
	if len(d.XIBM) == 0 {
		return cfg, nil
	}
	if err := json.Unmarshal(d.XIBM, cfg); err != nil {
		return nil, fmt.Errorf("x-ibm-configuration: %w", err)
	}
	return cfg, nil
}

// operationSwitch is assembly.execute[0].operation-switch, made when missing.
func (c *ibmConfig) operationSwitch() *struct {
	Case []ibmCase `json:"case"`
} {
	if len(c.Assembly.Execute) == 0 {
		c.Assembly.Execute = []ibmExecute{{}}
	}
	if c.Assembly.Execute[0].OperationSwitch == nil {
		c.Assembly.Execute[0].OperationSwitch = &struct {
			Case []ibmCase `json:"case"`
		}{}
	}
	return c.Assembly.Execute[0].OperationSwitch
}

// pathParamRE is isValidRelativePath's pattern: a segment that is {name}.
var pathParamRE = regexp.MustCompile(`/\{([^/]+)\}/|/\{([^/]+)\}$`)

var paramNameRE = regexp.MustCompile(`\{([^/]+)\}`)

// validateFinal is validateFinalSwagger: no parameters in the base path,
// and a path with parameters wants web actions of type http and a
// parameter definition for each of them.
func (d *apiDoc) validateFinal() error {
	if pathParamRE.MatchString(d.BasePath) {
		return fmt.Errorf("The base path (%s) cannot have parameters. Only the relative path supports path parameters.", d.BasePath)
	}
	cfg, _ := d.ibm()
	targets := map[string]string{}
	if cfg != nil {
		for _, ex := range cfg.Assembly.Execute {
			if ex.OperationSwitch == nil {
				continue
			}
			for _, c := range ex.OperationSwitch.Case {
				for i, opID := range c.Operations {
					if i < len(c.Execute) && c.Execute[i].Invoke != nil {
						targets[opID] = c.Execute[i].Invoke.TargetURL
					}
				}
			}
		}
	}
	for path, members := range d.Paths {
		if !pathParamRE.MatchString(path) {
			continue
		}
		var shared []struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(members["parameters"], &shared)
		for verb, raw := range members {
			if verb == "parameters" {
				continue
			}
			var op struct {
				OperationID string         `json:"operationId"`
				XOpenWhisk  *apiXOpenWhisk `json:"x-openwhisk"`
				Parameters  []struct {
					Name string `json:"name"`
				} `json:"parameters"`
			}
			_ = json.Unmarshal(raw, &op)
			if op.XOpenWhisk != nil && op.XOpenWhisk.URL != "" && !strings.HasSuffix(op.XOpenWhisk.URL, ".http") {
				return errors.New("The action must use a response type of '.http' in order to receive the path parameters.")
			}
			if t, ok := targets[op.OperationID]; ok && !strings.HasSuffix(t, ".http$(request.path)") {
				return fmt.Errorf("The target-url for operationId '%s' must end in '$(request.path)' in order for actions to receive the path parameters.", op.OperationID)
			}
			defined := map[string]bool{}
			for _, p := range append(shared, op.Parameters...) {
				defined[p.Name] = true
			}
			for _, m := range paramNameRE.FindAllStringSubmatch(path, -1) {
				if !defined[m[1]] {
					return fmt.Errorf("The parameter '%s' defined in path '%s' does not match any of the parameters defined for the path in the swagger file.", m[1], path)
				}
			}
		}
	}
	return nil
}
