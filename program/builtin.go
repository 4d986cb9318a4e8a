package program

import (
	"errors"
	"maps"
)

// builtin is one of the closures of composer's lowerer, in Go. Like the
// closure it runs as a function combinator: it returns the next value,
// or keep to leave the value as it is (the closure returned undefined),
// and the machine then normalises and inspects the value.
type builtin struct {
	usesVar bool // reads or writes the let variable named by the instruction
	run     func(v *cell, params map[string]any) (any, error)
}

// keep is a builtin's "undefined".
var keep = &struct{ byte }{}

// builtins are named by the program, so that it stays data.
var builtins = map[string]builtin{
	// save V: args => { V = args }
	"save": {true, func(v *cell, params map[string]any) (any, error) {
		return keep, v.set(params)
	}},
	// load V: () => V
	"load": {true, func(v *cell, _ map[string]any) (any, error) {
		return v.get(), nil
	}},
	// retain V: result => ({ params: V, result })
	"retain": {true, func(v *cell, params map[string]any) (any, error) {
		return map[string]any{"params": v.get(), "result": params}, nil
	}},
	// wrap_result: result => ({ result })
	"wrap_result": {false, func(_ *cell, params map[string]any) (any, error) {
		return map[string]any{"result": params}, nil
	}},
	// unwrap: ({ params, result }) => ({ params, result: result.result })
	"unwrap": {false, func(_ *cell, params map[string]any) (any, error) {
		inner, err := field(params, "result")
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		if p, ok := params["params"]; ok {
			out["params"] = p
		}
		if r, ok := inner["result"]; ok {
			out["result"] = r
		}
		return out, nil
	}},
	// countdown V: () => V-- > 0
	"countdown": {true, func(v *cell, _ map[string]any) (any, error) {
		return v.decrement()
	}},
	// retry_test V: ({ result }) => result.error !== undefined && V-- > 0
	"retry_test": {true, func(v *cell, params map[string]any) (any, error) {
		r, err := field(params, "result")
		if err != nil {
			return nil, err
		}
		if _, failed := r["error"]; !failed {
			return false, nil
		}
		return v.decrement()
	}},
	// take_params: ({ params }) => params
	"take_params": {false, func(_ *cell, params map[string]any) (any, error) {
		if p, ok := params["params"]; ok {
			return p, nil
		}
		return keep, nil
	}},
	// take_result: ({ result }) => result
	"take_result": {false, func(_ *cell, params map[string]any) (any, error) {
		if r, ok := params["result"]; ok {
			return r, nil
		}
		return keep, nil
	}},
	// box_params: params => ({ params })
	"box_params": {false, func(_ *cell, params map[string]any) (any, error) {
		return map[string]any{"params": params}, nil
	}},
	// merge: ({ params, result }) => Object.assign(params, result)
	"merge": {false, func(_ *cell, params map[string]any) (any, error) {
		base, err := field(params, "params")
		if err != nil {
			return nil, err
		}
		result, err := field(params, "result")
		if err != nil {
			return nil, err
		}
		out := maps.Clone(base)
		maps.Copy(out, result)
		return out, nil
	}},
}

// field is a destructured object field. The lowering only destructures
// values it built itself, so anything else is a corrupt state.
func field(params map[string]any, name string) (map[string]any, error) {
	m, ok := params[name].(map[string]any)
	if !ok {
		return nil, errors.New(name + " is not an object")
	}
	return m, nil
}

// decrement is V-- > 0.
func (v *cell) decrement() (any, error) {
	n, ok := v.get().(float64)
	if !ok {
		return nil, errors.New(v.name + " is not a number")
	}
	return n > 0, v.set(n - 1)
}
