// Package whisk is a small client for the Apache OpenWhisk REST API v1 and
// the wire types that the API, the local platform and the action containers
// share. It covers only what wskx needs: actions, packages, invocations and
// activation records.
package whisk

import "encoding/json"

// KeyValue is OpenWhisk's representation of one parameter or annotation.
type KeyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
	// Init marks an action parameter that OpenWhisk passes to the
	// container once, at /init, as an environment variable, and never in
	// an activation's input.
	Init bool `json:"init,omitempty"`
}

// KeyValues is an ordered list of parameters or annotations.
type KeyValues []KeyValue

// Get returns the value stored under key, or nil.
func (kv KeyValues) Get(key string) any {
	for _, p := range kv {
		if p.Key == key {
			return p.Value
		}
	}
	return nil
}

// Set replaces the value under key, or appends it.
func (kv KeyValues) Set(key string, value any) KeyValues {
	for i := range kv {
		if kv[i].Key == key {
			kv[i].Value = value
			return kv
		}
	}
	return append(kv, KeyValue{Key: key, Value: value})
}

// Exec describes what an action runs.
type Exec struct {
	Kind       string   `json:"kind"`
	Code       string   `json:"code,omitempty"`
	Image      string   `json:"image,omitempty"`
	Main       string   `json:"main,omitempty"`
	Binary     bool     `json:"binary,omitempty"`
	Components []string `json:"components,omitempty"`
}

// MarshalJSON writes an exec as OpenWhisk does (Exec.scala's serdes): a
// sequence is its kind and components, anything else always carries
// binary, which clients read (wsk action get --save decides the file's
// extension from it).
func (e Exec) MarshalJSON() ([]byte, error) {
	if e.Kind == "sequence" {
		return json.Marshal(struct {
			Kind       string   `json:"kind"`
			Components []string `json:"components"`
		}{e.Kind, e.Components})
	}
	type plain Exec
	return json.Marshal(struct {
		plain
		Binary bool `json:"binary"`
	}{plain(e), e.Binary})
}

// Limits are an action's resource limits. Timeout is in milliseconds,
// Memory and Logs in megabytes.
type Limits struct {
	Timeout     int `json:"timeout,omitempty"`
	Memory      int `json:"memory,omitempty"`
	Logs        int `json:"logs,omitempty"`
	Concurrency int `json:"concurrency,omitempty"`
}

// Action is an action entity as the API stores and returns it.
type Action struct {
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name,omitempty"`
	Version     string    `json:"version,omitempty"`
	Publish     bool      `json:"publish"`
	Exec        *Exec     `json:"exec,omitempty"`
	Annotations KeyValues `json:"annotations"`
	Parameters  KeyValues `json:"parameters"`
	Limits      *Limits   `json:"limits,omitempty"`
	Updated     int64     `json:"updated,omitempty"`
}

// Status strings of an activation response, indexed by status code.
const (
	StatusSuccess          = "success"
	StatusApplicationError = "application error"
	StatusDeveloperError   = "action developer error"
	StatusInternalError    = "whisk internal error"
)

// Response is the outcome of one activation.
type Response struct {
	Status     string          `json:"status"`
	StatusCode int             `json:"statusCode,omitempty"`
	Success    bool            `json:"success"`
	Result     json.RawMessage `json:"result,omitempty"`
	Size       int             `json:"size,omitempty"`
}

// Activation is an activation record.
type Activation struct {
	Namespace    string    `json:"namespace"`
	Name         string    `json:"name"`
	Version      string    `json:"version"`
	Subject      string    `json:"subject"`
	ActivationID string    `json:"activationId"`
	Start        int64     `json:"start"`
	End          int64     `json:"end"`
	Duration     int64     `json:"duration"`
	Cause        string    `json:"cause,omitempty"`
	StatusCode   *int      `json:"statusCode,omitempty"`
	Response     Response  `json:"response"`
	Logs         []string  `json:"logs"`
	Annotations  KeyValues `json:"annotations"`
	Publish      bool      `json:"publish"`
}

// Binding names the package that a package binding refers to.
type Binding struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// PackageAction is an action (or feed) as GET of its package lists it.
type PackageAction struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Annotations KeyValues `json:"annotations"`
}

// Package is a package or a package binding as the API stores and returns
// it. GET of a package adds its Actions and Feeds; a list leaves out the
// parameters.
type Package struct {
	Namespace   string    `json:"namespace,omitempty"`
	Name        string    `json:"name,omitempty"`
	Version     string    `json:"version,omitempty"`
	Publish     bool      `json:"publish"`
	Annotations KeyValues `json:"annotations"`
	Parameters  KeyValues `json:"parameters"`
	// Binding is the bound package of a binding, nil for a package.
	Binding *Binding        `json:"binding"`
	Updated int64           `json:"updated,omitempty"`
	Actions []PackageAction `json:"actions,omitempty"`
	Feeds   []PackageAction `json:"feeds,omitempty"`
}

// MarshalJSON writes a package's binding as OpenWhisk does
// (WhiskPackage.scala, Binding.optionalBindingSerializer): {} for a
// package, which a PUT also reads as no binding.
func (p Package) MarshalJSON() ([]byte, error) {
	type plain Package
	var b any = struct{}{}
	if p.Binding != nil {
		b = p.Binding
	}
	return json.Marshal(struct {
		plain
		Binding any `json:"binding"`
	}{plain(p), b})
}

// UnmarshalJSON reads a binding of {} (GET), false (a list) or null as no
// binding.
func (p *Package) UnmarshalJSON(data []byte) error {
	type plain Package
	var v struct {
		plain
		Binding json.RawMessage `json:"binding"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*p = Package(v.plain)
	p.Binding = nil
	if len(v.Binding) > 0 && v.Binding[0] == '{' {
		var b Binding
		if err := json.Unmarshal(v.Binding, &b); err != nil {
			return err
		}
		if b != (Binding{}) {
			p.Binding = &b
		}
	}
	return nil
}
