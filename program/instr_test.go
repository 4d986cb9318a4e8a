package program

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/wskx/wskx/policies"
)

func TestEncodeDecode(t *testing.T) {
	// Every instruction and field the lowering makes.
	root := label(seq(
		let(map[string]any{"x": 1.0, "o": map[string]any{"a": []any{true, nil, "s"}}},
			ifn(fn("x > 0"), set("x", "x + 1"), nil)),
		let(nil, act("a")),
		&policies.Node{Kind: policies.KindAction, Action: "/ns/pkg/b", Params: map[string]any{"k": "v"}},
		try(jobNode(), value(map[string]any{"error": "e"})),
		times(policies.KindRetry, 2, dynamic()),
		body(policies.KindMerge, value(false)),
		nosave(while(policies.KindDoWhile, fn("false"), &policies.Node{Kind: policies.KindEmpty})),
	), "composition")
	p, err := Lower(root, func(n *policies.Node) (string, json.RawMessage) {
		return "step", json.RawMessage(`{"job":{"command":["x"]}}`)
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Errorf("round trip differs:\n%s", data)
	}
	again, _ := Encode(back)
	if string(again) != string(data) {
		t.Errorf("encoding is not stable")
	}
	if _, err := Load(back); err != nil {
		t.Error(err)
	}
}

func TestEncodeFormat(t *testing.T) {
	p := &Program{
		Instrs: []Instr{
			{Op: OpTry, Path: "c", Catch: 4},
			{Op: OpLet, Path: "c.do", Let: map[string]any{"$count": 2.0}},
			{Op: OpBuiltin, Path: "c.do", Builtin: "countdown", Var: "$count"},
			{Op: OpExit, Path: "c.do", Next: 2},
			{Op: OpJob, Path: "c.handler", Job: 0},
			{Op: OpChoice, Then: 1, Else: -5},
		},
		Jobs: []Job{{Path: "c.handler", Step: "s", Policy: json.RawMessage(`{}`)}},
	}
	data, err := Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"instrs":[{"op":"try","path":"c","catch":4},{"op":"let","path":"c.do","let":{"$count":2}},` +
		`{"op":"builtin","path":"c.do","builtin":"countdown","var":"$count"},{"op":"exit","path":"c.do","next":2},` +
		`{"op":"job","path":"c.handler"},{"op":"choice","then":1,"else":-5}],"jobs":[{"path":"c.handler","step":"s","policy":{}}]}`
	if string(data) != want {
		t.Errorf("%s\nwant %s", data, want)
	}
}

func TestValidate(t *testing.T) {
	jobs := []Job{{Path: "j", Step: "s"}}
	tests := []struct {
		name string
		in   Instr
		want string
	}{
		{"unknown op", Instr{Op: "fork"}, "unknown operation"},
		{"next past the end", Instr{Op: OpPass, Next: 2}, "next +2 lands at 3"},
		{"next before the start", Instr{Op: OpPass, Next: -2}, "next -2 lands at -1"},
		{"then out of range", Instr{Op: OpChoice, Then: 5, Else: 1}, "then +5"},
		{"else out of range", Instr{Op: OpChoice, Then: 1, Else: -2}, "else -2"},
		{"choice without else", Instr{Op: OpChoice, Then: 1}, "needs both then and else"},
		{"catch out of range", Instr{Op: OpTry, Catch: 9}, "catch +9"},
		{"catch backwards", Instr{Op: OpTry, Catch: -1}, "catch must jump forward"},
		{"job out of range", Instr{Op: OpJob, Job: 1}, "job 1, but the program has 1"},
		{"negative job", Instr{Op: OpJob, Job: -1}, "job -1"},
		{"action without a name", Instr{Op: OpAction}, "no action name"},
		{"function without an expression", Instr{Op: OpFunction, Expr: " "}, "needs an expression or JavaScript"},
		{"function with both", Instr{Op: OpFunction, Expr: "1", JS: "() => 1"}, "and not both"},
		{"assignment without a variable", Instr{Op: OpSet, Set: []Assign{{Expr: "1"}}}, "needs a variable"},
		{"unknown builtin", Instr{Op: OpBuiltin, Builtin: "eval"}, `unknown builtin "eval"`},
		{"builtin without its variable", Instr{Op: OpBuiltin, Builtin: "save"}, `builtin "save"`},
		{"builtin with a user variable", Instr{Op: OpBuiltin, Builtin: "save", Var: "x"}, "internal variables"},
		{"mask with variables", Instr{Op: OpLet, Mask: true, Let: map[string]any{"x": 1.0}}, "a mask has no variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Program{Instrs: []Instr{{Op: OpPass}, tt.in}, Jobs: jobs}
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "program: instruction 1") {
				t.Errorf("error %v, want one with %q", err, tt.want)
			}
			if _, err := Load(p); err == nil {
				t.Error("Load took it")
			}
			if _, err := Encode(p); err == nil {
				t.Error("Encode took it")
			}
		})
	}
	ok := &Program{Instrs: []Instr{{Op: OpPass, Next: 1}, {Op: OpChoice, Then: 1, Else: -1}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a jump to the end: %v", err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"unknown field", `{"instrs":[{"op":"pass","speed":1}]}`, "unknown field"},
		{"trailing data", `{"instrs":[]} {}`, "data after the program"},
		{"not JSON", `{"instrs":`, "decode"},
		{"a bad jump", `{"instrs":[{"op":"pass","next":5}]}`, "next +5"},
	} {
		if _, err := Decode([]byte(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}
