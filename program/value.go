package program

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
)

// normalize is the conductor's JSON.parse(JSON.stringify(v)): a fresh
// copy made only of what JSON carries (float64 numbers, string-keyed
// maps, []any), sharing nothing with v. As in JavaScript, NaN and the
// infinities become null. Types JSON has no literal for go through
// encoding/json.
func normalize(v any) (any, error) {
	switch t := v.(type) {
	case nil, bool, string:
		return t, nil
	case float64:
		return finite(t), nil
	case float32:
		return finite(float64(t)), nil
	case int:
		return float64(t), nil
	case int8:
		return float64(t), nil
	case int16:
		return float64(t), nil
	case int32:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case uint:
		return float64(t), nil
	case uint8:
		return float64(t), nil
	case uint16:
		return float64(t), nil
	case uint32:
		return float64(t), nil
	case uint64:
		return float64(t), nil
	case map[string]any:
		if t == nil {
			return nil, nil
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		if t == nil {
			return nil, nil
		}
		out := make([]any, len(t))
		for i, e := range t {
			c, err := normalize(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not a JSON value: %w", err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("not a JSON value: %w", err)
	}
	return out, nil
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// truthy is JavaScript's truthiness of a JSON value, which is what the
// conductor's choice tests: not only true counts.
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case float64:
		return t != 0 && !math.IsNaN(t)
	case string:
		return t != ""
	}
	// Values that did not come through JSON: a caller's ints, a typed nil.
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return rv.Uint() != 0
	case reflect.Float32:
		return rv.Float() != 0 && !math.IsNaN(rv.Float())
	case reflect.Map, reflect.Slice, reflect.Pointer:
		return !rv.IsNil()
	}
	return true
}
