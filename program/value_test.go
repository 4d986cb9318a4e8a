package program

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/wskx/wskx/policies"
)

func TestNormalize(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	tests := []struct {
		in, want any
	}{
		{nil, nil},
		{true, true},
		{"s", "s"},
		{3, 3.0},
		{int64(-2), -2.0},
		{uint8(7), 7.0},
		{float32(1.5), 1.5},
		{math.NaN(), nil},
		{math.Inf(-1), nil},
		{map[string]any{"a": []any{1, map[string]any{"b": math.Inf(1)}}}, map[string]any{"a": []any{1.0, map[string]any{"b": nil}}}},
		{map[string]any(nil), nil},
		{[]int{1, 2}, []any{1.0, 2.0}},
		{point{4}, map[string]any{"x": 4.0}},
		{time.Second, 1e9},
	}
	for _, tt := range tests {
		got, err := normalize(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("normalize(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
	// A copy: changing it leaves the original.
	orig := map[string]any{"l": []any{1.0}}
	c, _ := normalize(orig)
	c.(map[string]any)["l"].([]any)[0] = 2.0
	if orig["l"].([]any)[0] != 1.0 {
		t.Error("normalize shared a slice")
	}
	if _, err := normalize(map[string]any{"f": func() {}}); err == nil {
		t.Error("a func normalised")
	}
}

func TestTruthy(t *testing.T) {
	for _, v := range []any{true, 1.0, -0.5, "false", "0", map[string]any{}, []any{}, 2, uint(1)} {
		if !truthy(v) {
			t.Errorf("%#v is truthy in JavaScript", v)
		}
	}
	for _, v := range []any{nil, false, 0.0, math.NaN(), "", 0, uint(0), float32(0), map[string]any(nil)} {
		if truthy(v) {
			t.Errorf("%#v is falsy in JavaScript", v)
		}
	}
}

// TestBuiltinFailure: a builtin given a value the lowering did not shape
// fails as a function would, with an error value the workflow can catch.
func TestBuiltinFailure(t *testing.T) {
	m := load(t, try(times(policies.KindRepeat, 3, act("a")), fn("{caught: params.error}")))
	var st State
	if _, err := m.Start(&st, obj()); err != nil {
		t.Fatal(err)
	}
	for i, f := range st.Stack {
		if _, ok := f.Let["$count"]; ok {
			st.Stack[i].Let = map[string]any{"$count": "three"}
		}
	}
	ev, err := m.Resume(&st, obj())
	if err != nil {
		t.Fatal(err)
	}
	want := obj("caught", "countdown at composition.do failed: $count is not a number")
	if ev.Kind != Done || !reflect.DeepEqual(ev.Params, want) {
		t.Errorf("%v %v, want %v", ev.Kind, ev.Params, want)
	}
}
