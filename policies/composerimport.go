package policies

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// An openwhisk-composer 0.12 composition, as its compose command prints it
// ({"composition": lowered, "ast": as written, "version", "actions"}) or
// as a bare AST of {"type": ...} nodes, reads as a workflow: each node
// type becomes the wskx node of the same name and semantics, and its
// functions keep their JavaScript. The AST is preferred to the lowered
// composition: wskx lowers the derived combinators itself, with builtins
// where composer's lowering leaves JavaScript closures.

// isComposerAST says whether a top-level mapping is composer's: a node
// with a type, or compose's output whose composition or ast is one.
func isComposerAST(root *yaml.Node) bool {
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	if v := mapValue(root, "type"); v != nil && v.Kind == yaml.ScalarNode {
		return true
	}
	for _, k := range []string{"ast", "composition"} {
		if v := mapValue(root, k); v != nil && v.Kind == yaml.MappingNode && mapValue(v, "type") != nil {
			return true
		}
	}
	return false
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// composerWorkflow reads compose's output or a bare AST.
func (wd *workflowDecoder) composerWorkflow(root *yaml.Node, w *Workflow) {
	tree, label := root, "ast"
	if mapValue(root, "type") == nil {
		if tree = mapValue(root, "ast"); tree == nil {
			tree, label = mapValue(root, "composition"), "composition"
		}
		if v := mapValue(root, "version"); v != nil && !strings.HasPrefix(v.Value, "0.12") {
			wd.d.errorf(v, "version", "compositions of openwhisk-composer 0.12 are read; this one is %s", v.Value)
		}
		if acts := mapValue(root, "actions"); acts != nil {
			w.Actions = append(w.Actions, wd.composerActions(acts)...)
		}
	}
	w.Root = wd.composerNode(tree, label, "")
}

// composerNode reads one AST node. label is where errors say it stands
// (ast[0].consequent); path is composer's own path of it ([0].consequent),
// which the node keeps, so that errors at run time name the node as
// composer does.
func (wd *workflowDecoder) composerNode(n *yaml.Node, label, path string) *Node {
	d := wd.d
	if n == nil {
		return &Node{Kind: KindEmpty, Path: path}
	}
	if isNull(n) {
		return &Node{Kind: KindEmpty, Path: path, Line: n.Line, Column: n.Column}
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, label, "expected a composition node ({\"type\": ...}), got %s", describe(n))
		return nil
	}
	t := mapValue(n, "type")
	if t == nil || t.Kind != yaml.ScalarNode {
		d.errorf(n, label, "expected a composition node with a type")
		return nil
	}
	out := &Node{Path: path, Line: n.Line, Column: n.Column}
	child := func(field string) *Node {
		v := mapValue(n, field)
		if v == nil {
			return nil
		}
		return wd.composerNode(v, label+"."+field, path+"."+field)
	}
	need := func(field string) *Node {
		if mapValue(n, field) == nil {
			d.errorf(n, label+"."+field, "required: the %s of %s", field, t.Value)
			return nil
		}
		return child(field)
	}
	components := func() *Node {
		v := mapValue(n, "components")
		if v == nil {
			return &Node{Kind: KindEmpty, Path: path}
		}
		if v.Kind != yaml.SequenceNode {
			d.errorf(v, label+".components", "expected a list of nodes, got %s", describe(v))
			return nil
		}
		seq := &Node{Kind: KindSequence, Path: path, Line: v.Line, Column: v.Column}
		for i, c := range v.Content {
			if cn := wd.composerNode(c, fmt.Sprintf("%s[%d]", label, i), fmt.Sprintf("%s[%d]", path, i)); cn != nil {
				seq.Components = append(seq.Components, cn)
			}
		}
		return seq
	}
	count := func() int {
		v := mapValue(n, "count")
		if v == nil {
			d.errorf(n, label+".count", "required: how many times")
			return 0
		}
		c, ok := d.integer(v, label+".count")
		if ok && c < 0 {
			d.errorf(v, label+".count", "expected 0 or more, got %d", c)
		}
		return c
	}
	switch t.Value {
	case "action":
		out.Kind = KindAction
		if v := mapValue(n, "name"); v == nil {
			d.errorf(n, label+".name", "required: the action's name")
		} else if s, ok := d.str(v, label+".name"); ok {
			out.Action = s
			wd.actionName(v, label+".name", s)
		}
	case "function":
		out.Kind = KindFunction
		exec := mapValue(mapValue(n, "function"), "exec")
		code, kind := mapValue(exec, "code"), mapValue(exec, "kind")
		switch {
		case code == nil || code.Kind != yaml.ScalarNode:
			d.errorf(n, label+".function.exec.code", "required: the function's JavaScript")
		case kind != nil && !strings.HasPrefix(kind.Value, "nodejs"):
			d.errorf(kind, label+".function.exec.kind", "only JavaScript functions (nodejs) run in the wskx conductor, got %s", kind.Value)
		default:
			out.JS = code.Value
		}
	case "literal", "value":
		out.Kind = KindValue
		if v := mapValue(n, "value"); v != nil {
			j := &jsonReader{d: d}
			out.Value, _ = j.value(v, label+".value")
		}
	case "empty":
		out.Kind = KindEmpty
	case "sequence", "seq":
		out = components()
	case "if", "if_nosave":
		out.Kind, out.Nosave = KindIf, t.Value == "if_nosave"
		out.Test, out.Then, out.Else = need("test"), need("consequent"), child("alternate")
	case "while", "while_nosave":
		out.Kind, out.Nosave = KindWhile, t.Value == "while_nosave"
		out.Test, out.Body = need("test"), need("body")
	case "dowhile", "dowhile_nosave":
		out.Kind, out.Nosave = KindDoWhile, t.Value == "dowhile_nosave"
		out.Body, out.Test = need("body"), need("test")
	case "repeat", "retry":
		out.Kind = KindRepeat
		if t.Value == "retry" {
			out.Kind = KindRetry
		}
		out.Times, out.Body = count(), components()
	case "try":
		out.Kind = KindTry
		out.Body, out.Handler = need("body"), need("handler")
	case "finally":
		out.Kind = KindFinally
		out.Body, out.Handler = need("body"), need("finalizer")
	case "let":
		out.Kind = KindLet
		if v := mapValue(n, "declarations"); v == nil {
			d.errorf(n, label+".declarations", "required: the variables")
		} else {
			out.Vars = d.anyMap(v, label+".declarations")
			for name := range out.Vars {
				if !isJSName(name) {
					d.errorf(v, label+".declarations."+name, "expected a JavaScript variable name other than params, got %q", name)
				}
			}
		}
		out.Body = components()
	case "mask", "retain", "retain_catch", "merge":
		out.Kind = map[string]Kind{"mask": KindMask, "retain": KindRetain, "retain_catch": KindRetainCatch, "merge": KindMerge}[t.Value]
		out.Body = components()
	case "dynamic":
		out.Kind = KindDynamic
	case "parallel", "par":
		out.Kind = KindParallel
		out.Components = components().Components
	case "map":
		out.Kind = KindMap
		out.Body = components()
	case "async":
		out.Kind = KindAsync
		out.Body = components()
	default:
		d.errorf(t, label, "unknown composition node type %q", t.Value)
		return nil
	}
	if out != nil && out.Path == "" && path != "" {
		out.Path = path
	}
	return out
}

// composerActions reads the actions compose embeds in its output
// ({"name", "action": {"exec": {"kind", "code"}}}): they are deployed
// with the workflow.
func (wd *workflowDecoder) composerActions(n *yaml.Node) []Action {
	d := wd.d
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "actions", "expected a list of actions, got %s", describe(n))
		return nil
	}
	var out []Action
	for i, a := range n.Content {
		at := fmt.Sprintf("actions[%d]", i)
		name, exec := mapValue(a, "name"), mapValue(mapValue(a, "action"), "exec")
		code, kind := mapValue(exec, "code"), mapValue(exec, "kind")
		if name == nil || code == nil || kind == nil {
			d.errorf(a, at, "expected {name, action: {exec: {kind, code}}}")
			continue
		}
		parts := strings.Split(strings.TrimPrefix(name.Value, "/"), "/")
		if strings.HasPrefix(name.Value, "/") {
			parts = parts[1:]
		}
		if len(parts) != 1 {
			d.errorf(name, at+".name", "an embedded action in a package is not deployed by wskx; deploy %s first", name.Value)
			continue
		}
		if mapValue(exec, "binary") != nil && mapValue(exec, "binary").Value == "true" {
			d.errorf(exec, at+".action.exec", "embedded binary code is not deployed by wskx; deploy %s first", name.Value)
			continue
		}
		out = append(out, Action{Name: parts[0], Kind: kind.Value, File: "(embedded in the composition)", Code: code.Value})
	}
	return out
}

// isJSName says whether s can name a let variable of an imported
// composition: a JavaScript identifier, and not params, which the
// function's argument is called in composer's own lowering.
func isJSName(s string) bool {
	if s == "" || s == "params" || strings.HasPrefix(s, "$") {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
