package platform

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's default action limits and their bounds.
const (
	defaultTimeout = 60000
	minTimeout     = 100
	maxTimeout     = 300000
	defaultMemory  = 256
	minMemory      = 128
	maxMemory      = 512
	defaultLogs    = 10
	maxLogs        = 10
	maxConcurrency = 1
	maxPayload     = 1 << 20 // activation payload and parameters
	maxCode        = 48 << 20
	maxListLimit   = 200
	defaultList    = 30
)

// OpenWhisk's messages for sequences.
const (
	msgSequenceTooLong     = "Too many actions in the sequence."
	msgSequenceNoComponent = "No component specified for the sequence."
	msgSequenceCyclic      = "Sequence may not refer to itself."
	msgSequenceNotFound    = "Sequence component does not exist."
)

var entityNameRE = regexp.MustCompile(`^([\w]|[\w][\w@ .-]*[\w@.-]+)$`)

// maxNameLength is OpenWhisk's EntityName.ENTITY_NAME_MAX_LENGTH, for
// every segment of a path: namespace, package, action.
const maxNameLength = 256

// validName reports whether s is a valid entity name segment.
func validName(s string) bool { return len(s) <= maxNameLength && entityNameRE.MatchString(s) }

// nameTooLong is OpenWhisk's Messages.entityNameTooLong for a path segment
// of n characters; field is "Namespace" or OpenWhisk's (misspelt) "Name
// segement" (WhiskCollectionAPI.entityname, BasicRasService.namespace).
func nameTooLong(field string, n int) string {
	return fmt.Sprintf("%s longer than allowed: %d > %d.", field, n, maxNameLength)
}

// fqn is a resolved fully qualified action name.
type fqn struct {
	ns   string
	name string // "[pkg/]name"
}

func (f fqn) String() string { return f.ns + "/" + f.name } // as OpenWhisk prints it
func (f fqn) path() string   { return "/" + f.ns + "/" + f.name }

// split tells a packaged action's package from its own name.
func (f fqn) split() (pkg, name string, inPackage bool) {
	if pkg, name, inPackage = strings.Cut(f.name, "/"); inPackage {
		return pkg, name, true
	}
	return "", f.name, false
}

// resolveName resolves an action name as OpenWhisk does: "/ns/name",
// "/ns/pkg/name" are absolute, "name" and "pkg/name" belong to the caller's
// namespace, and a namespace "_" is the caller's.
func resolveName(s, callerNS string) (fqn, bool) {
	abs := strings.HasPrefix(s, "/")
	parts := strings.Split(strings.TrimPrefix(s, "/"), "/")
	if len(parts) < 1 || len(parts) > 3 {
		return fqn{}, false
	}
	for _, p := range parts {
		if p == "" {
			return fqn{}, false
		}
	}
	var f fqn
	switch {
	case abs && len(parts) >= 2:
		f = fqn{ns: parts[0], name: strings.Join(parts[1:], "/")}
	case !abs && len(parts) <= 2:
		f = fqn{ns: callerNS, name: strings.Join(parts, "/")}
	default:
		return fqn{}, false
	}
	if f.ns == "_" {
		f.ns = callerNS
	}
	for _, p := range strings.Split(f.name, "/") {
		if !validName(p) {
			return fqn{}, false
		}
	}
	return f, true
}

// badRequest is a validation failure answered with 400 and its message.
type badRequest string

func (e badRequest) Error() string { return string(e) }

// limitsBody tells absent limits from zero ones.
type limitsBody struct {
	Timeout     *json.Number `json:"timeout"`
	Memory      *json.Number `json:"memory"`
	Logs        *json.Number `json:"logs"`
	Concurrency *json.Number `json:"concurrency"`
}

func wholeNumber(n *json.Number, what string) (int, error) {
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil {
		return 0, badRequest(what + " limit must be whole number")
	}
	return int(v), nil
}

// applyLimits validates the limits given in b over base.
func applyLimits(base whisk.Limits, b *limitsBody) (whisk.Limits, error) {
	l := base
	if b == nil {
		return l, nil
	}
	if b.Timeout != nil {
		v, err := wholeNumber(b.Timeout, "time")
		if err != nil {
			return l, err
		}
		if v < minTimeout {
			return l, badRequest(fmt.Sprintf("timeout %d milliseconds below allowed threshold of %d milliseconds", v, minTimeout))
		}
		if v > maxTimeout {
			return l, badRequest(fmt.Sprintf("timeout %d milliseconds exceeds allowed threshold of %d milliseconds", v, maxTimeout))
		}
		l.Timeout = v
	}
	if b.Memory != nil {
		v, err := wholeNumber(b.Memory, "memory")
		if err != nil {
			return l, err
		}
		if v < minMemory {
			return l, badRequest(fmt.Sprintf("memory %d MB below allowed threshold of %d MB", v, minMemory))
		}
		if v > maxMemory {
			return l, badRequest(fmt.Sprintf("memory %d MB exceeds allowed threshold of %d MB", v, maxMemory))
		}
		l.Memory = v
	}
	if b.Logs != nil {
		v, err := wholeNumber(b.Logs, "log")
		if err != nil {
			return l, err
		}
		if v < 0 {
			return l, badRequest(fmt.Sprintf("log size %d MB below allowed threshold of 0 B", v))
		}
		if v > maxLogs {
			return l, badRequest(fmt.Sprintf("log size %d MB exceeds allowed threshold of %d MB", v, maxLogs))
		}
		l.Logs = v
	}
	if b.Concurrency != nil {
		v, err := wholeNumber(b.Concurrency, "concurrency")
		if err != nil {
			return l, err
		}
		if v < 1 {
			return l, badRequest(fmt.Sprintf("concurrency %d below allowed threshold of 1", v))
		}
		if v > maxConcurrency {
			return l, badRequest(fmt.Sprintf("concurrency %d exceeds allowed threshold of %d", v, maxConcurrency))
		}
		l.Concurrency = v
	}
	return l, nil
}

// runtimes are the kinds this platform runs, named as OpenWhisk's runtime
// manifest (ansible/files/runtimes.json) names them, with python:3, the
// kind of the deployments before it; a family's default is what
// "FAMILY:default" resolves to (ExecManifest.resolveDefaultRuntime).
// image is the manifest's image for the kind, which GET / reports; the
// platform runs each family on the machine's node or python3 instead,
// whatever its version.
var runtimes = []struct {
	kind    string
	isDeflt bool
	image   string
}{
	{"nodejs:18", false, "openwhisk/action-nodejs-v18:nightly"},
	{"nodejs:20", true, "openwhisk/action-nodejs-v20:nightly"},
	{"python:3", false, "openwhisk/python3action:nightly"},
	{"python:3.10", true, "openwhisk/action-python-v3.10:nightly"},
	{"python:3.11", false, "openwhisk/action-python-v3.11:nightly"},
}

// resolveKind is the kind OpenWhisk stores for k: trimmed, lower case,
// with a family's default resolved; false for a kind it does not run.
func resolveKind(k string) (string, bool) {
	k = strings.ToLower(strings.TrimSpace(k))
	if k == "sequence" || k == "blackbox" {
		return k, true
	}
	family, version, _ := strings.Cut(k, ":")
	for _, r := range runtimes {
		if r.kind == k || version == "default" && r.isDeflt && strings.HasPrefix(r.kind, family+":") {
			return r.kind, true
		}
	}
	return k, false
}

// invalidRuntime is OpenWhisk's Messages.invalidRuntimeError.
func invalidRuntime(kind string) string {
	valid := []string{"blackbox", "sequence"}
	for _, r := range runtimes {
		valid = append(valid, r.kind)
	}
	slices.Sort(valid)
	return fmt.Sprintf("The specified runtime '%s' is not supported by this platform. Valid values are: '%s'.", kind, strings.Join(valid, "', '"))
}

// base64Code is OpenWhisk's Exec.isBinaryCode: code that is base64 (a
// zip, for every runtime that takes one) is binary. Clients never say so.
var base64Code = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$`)

func isBinaryCode(code string) bool {
	t := strings.TrimSpace(code)
	return len(t) > 0 && len(t)%4 == 0 && base64Code.MatchString(t)
}

// checkExec validates an exec as OpenWhisk reads one (Exec.scala): the
// kind resolved, binary decided from the code, sequence components fully
// qualified in the caller's namespace.
func checkExec(e *whisk.Exec, ns string) error {
	if e.Kind == "" {
		return badRequest("exec malformed: kind undefined")
	}
	if len(e.Code) > maxCode {
		return badRequest(fmt.Sprintf("exec larger than allowed: %d > %d bytes.", len(e.Code), maxCode))
	}
	kind, ok := resolveKind(e.Kind)
	if !ok {
		return badRequest(invalidRuntime(kind))
	}
	e.Kind = kind
	switch kind {
	case "sequence":
		e.Code, e.Image, e.Binary, e.Main = "", "", false, ""
		for i, c := range e.Components {
			f, ok := resolveName(c, ns)
			if !ok {
				return badRequest(fmt.Sprintf("sequence component name %q is malformed", c))
			}
			e.Components[i] = f.path()
		}
	case "blackbox":
		if e.Image == "" {
			return badRequest("'image' must be a string defined in 'exec' for 'blackbox' actions")
		}
		if strings.TrimSpace(e.Code) == "" {
			e.Code = ""
		}
		e.Binary = isBinaryCode(e.Code)
	default:
		// Empty code is accepted; the runtime refuses it at /init.
		e.Image, e.Components = "", nil
		e.Binary = isBinaryCode(e.Code)
	}
	return nil
}

func paramsSize(kv whisk.KeyValues) int {
	b, _ := json.Marshal(kv)
	return len(b)
}

func bumpVersion(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "0.0.1"
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		return "0.0.1"
	}
	return parts[0] + "." + parts[1] + "." + strconv.Itoa(n+1)
}

// isTruthy is OpenWhisk's truthiness of an annotation value.
func isTruthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case json.Number:
		f, err := x.Float64()
		return err == nil && f != 0
	case int:
		return x != 0
	case string:
		return x != ""
	default:
		return true
	}
}
