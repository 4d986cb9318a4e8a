package policies

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadWorkflow reads a workflow file (one with a composition), or a
// single-job policy file as a workflow of its one job. Job files named by
// the composition are read relative to the file's folder; every mistake,
// in this file and in the job files, is reported at once.
func LoadWorkflow(path string) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load workflow: %w", err)
	}
	if !hasComposition(data) {
		p, err := Load(path)
		if err != nil {
			return nil, err
		}
		return SingleJob(p), nil
	}
	w, err := ParseWorkflow(data, path, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if w.Name == "" {
		w.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return w, nil
}

// SingleJob is the workflow of one job that a single-job policy is.
func SingleJob(p *Policy) *Workflow {
	return &Workflow{
		Name: p.Name, Description: p.Description, Params: p.Params,
		IdempotencyKey: p.Chain.IdempotencyKey, LengthLimit: p.Chain.LengthLimit, OnLengthLimit: p.Chain.OnLengthLimit,
		Root: &Node{Kind: KindJob, Path: "job", Job: p}, Source: p.Source, Single: true,
	}
}

// hasComposition says whether a file's top level has a composition key.
// A file YAML cannot read is not one: Load reports its syntax error.
func hasComposition(data []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	root := doc.Content[0]
	return mapValue(root, "composition") != nil || isComposerAST(root)
}

// ParseWorkflow reads a workflow from YAML or JSON. source labels errors;
// dir is where relative job files and programs are found.
func ParseWorkflow(data []byte, source, dir string) (*Workflow, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ErrorList{yamlError(source, err)}
	}
	if len(doc.Content) == 0 {
		return nil, ErrorList{{File: source, Msg: "empty workflow; expected a mapping with a composition"}}
	}
	d := &decoder{file: source, nodes: map[string]*yaml.Node{}}
	w := &Workflow{Source: source, LengthLimit: DefaultLengthLimit, OnLengthLimit: DefaultOnLengthLimit, Join: JoinWait,
		Storage: Storage{URL: DefaultStorageURL, Checksum: DefaultChecksum, Keep: DefaultKeep, RetainFinished: DefaultRetainFinished}}
	wd := &workflowDecoder{d: d, dir: dir, w: w}
	root := doc.Content[0]
	if isComposerAST(root) {
		wd.composerWorkflow(root, w)
		if len(d.errs) > 0 {
			return nil, d.errs
		}
		return w, nil
	}
	var keyNode *yaml.Node
	d.mapping(root, "", map[string]func(*yaml.Node, string){
		"name": func(n *yaml.Node, path string) {
			if v, ok := d.str(n, path); ok {
				if !actionName.MatchString(v) {
					d.errorf(n, path, "expected an OpenWhisk action name (letters, digits, _ @ . -, not starting with a symbol), got %q", v)
				}
				w.Name = v
			}
		},
		"description": func(n *yaml.Node, path string) { w.Description, _ = d.str(n, path) },
		"params":      func(n *yaml.Node, path string) { w.Params = d.anyMap(n, path) },
		"idempotency_key": func(n *yaml.Node, path string) {
			keyNode = n
			w.IdempotencyKey, _ = d.str(n, path)
		},
		"length_limit": func(n *yaml.Node, path string) { w.LengthLimit, _ = d.positive(n, path) },
		"on_length_limit": func(n *yaml.Node, path string) {
			w.OnLengthLimit, _ = d.oneOf(n, path, OnLimitContinue, OnLimitFail)
		},
		"composition": func(n *yaml.Node, path string) { w.Root = wd.node(n, path) },
		"actions":     func(n *yaml.Node, path string) { w.Actions = append(w.Actions, wd.actions(n, path)...) },
		"join":        func(n *yaml.Node, path string) { w.Join, _ = d.oneOf(n, path, JoinWait, JoinHandoff) },
		"storage": func(n *yaml.Node, path string) {
			// The storage fields of a policy, read into one of its own.
			p := &Policy{Storage: w.Storage, nodes: d.nodes}
			(&reader{d: d, p: p, at: map[string]*yaml.Node{}}).read(storageFields, n, path)
			w.Storage = p.Storage
		},
	})
	if w.Root != nil {
		wd.scope(w.Root, nil)
	}
	if k, err := CompileKey(w.IdempotencyKey, w.Params); err != nil {
		d.nodes["idempotency_key"] = keyNode
		d.exprError("idempotency_key", w.IdempotencyKey, err)
	} else {
		w.key = k
	}
	if w.Root == nil && !d.hasErrorAt("composition") && root.Kind == yaml.MappingNode {
		d.errorf(root, "composition", "required: the workflow's tree of nodes")
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return w, nil
}

type workflowDecoder struct {
	d   *decoder
	dir string
	w   *Workflow // where embedded compositions' actions go
}

// combinators are the keys a node may have, each with the sibling keys it
// allows beside it.
var combinators = map[string][]string{
	"action": {"params"}, "job": nil, "function": nil, "value": nil, "literal": nil, "set": nil,
	"sequence": nil, "seq": nil, "if": nil, "while": nil, "dowhile": nil, "repeat": nil, "retry": nil,
	"try": nil, "finally": nil, "let": nil, "mask": nil, "retain": {"catch"}, "merge": nil, "dynamic": nil,
	"composer": {"jobs"}, "parallel": {"join"}, "map": {"join"}, "async": nil,
}

func combinatorNames() string {
	names := make([]string, 0, len(combinators))
	for k := range combinators {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// node reads one node: null (empty), a string (an action), or a mapping
// with exactly one combinator key.
func (wd *workflowDecoder) node(n *yaml.Node, path string) *Node {
	d := wd.d
	out := &Node{Path: path, Line: n.Line, Column: n.Column}
	switch {
	case n.Kind == yaml.AliasNode:
		d.errorf(n, path, "aliases are not allowed in a composition; write the node out")
		return nil
	case isNull(n):
		out.Kind = KindEmpty
		return out
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		out.Kind, out.Action = KindAction, n.Value
		wd.actionName(n, path, n.Value)
		return out
	case n.Kind != yaml.MappingNode:
		d.errorf(n, path, "expected a node: a mapping with one combinator (%s), an action name or null; got %s", combinatorNames(), describe(n))
		return nil
	}
	var key string
	var val *yaml.Node
	type field struct{ key, val *yaml.Node }
	var others []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, ok := combinators[k.Value]; ok {
			if key != "" {
				d.errorf(k, join(path, k.Value), "two combinators in one node (%s and %s); wrap them in a sequence", key, k.Value)
				continue
			}
			key, val = k.Value, v
			continue
		}
		others = append(others, field{k, v})
	}
	if key == "" {
		d.errorf(n, path, "expected one combinator key: %s", combinatorNames())
		return nil
	}
	allowed := combinators[key]
	siblings := map[string]*yaml.Node{}
	for _, f := range others {
		name := f.key.Value
		switch {
		case !slices.Contains(allowed, name) && len(allowed) == 0:
			d.errorf(f.key, join(path, name), "unknown field beside %s; %s takes no other field", key, key)
		case !slices.Contains(allowed, name):
			d.errorf(f.key, join(path, name), "unknown field beside %s; expected %s", key, strings.Join(allowed, ", "))
		case siblings[name] != nil:
			d.errorf(f.key, join(path, name), "field given twice")
		default:
			siblings[name] = f.val
		}
	}
	sib := func(name string) *yaml.Node { return siblings[name] }
	at := join(path, key)
	switch key {
	case "action":
		out.Kind = KindAction
		if v, ok := d.str(val, at); ok {
			out.Action = v
			wd.actionName(val, at, v)
		}
		if p := sib("params"); p != nil {
			out.Params = d.anyMap(p, join(path, "params"))
		}
	case "job":
		out.Kind = KindJob
		out.Job = wd.job(val, at)
	case "function":
		out.Kind = KindFunction
		if v, ok := d.scalarText(val, at); ok {
			out.Expr = v
			d.nodes[at] = val
		}
	case "value", "literal":
		out.Kind = KindValue
		j := &jsonReader{d: d}
		out.Value, _ = j.value(val, at)
	case "set":
		out.Kind = KindSet
		wd.assignments(out, val, at)
	case "sequence", "seq":
		out.Kind = KindSequence
		if val.Kind != yaml.SequenceNode {
			d.errorf(val, at, "expected a list of nodes, got %s", describe(val))
			break
		}
		for i, c := range val.Content {
			if cn := wd.node(c, index(at, i)); cn != nil {
				out.Components = append(out.Components, cn)
			}
		}
	case "if":
		out.Kind = KindIf
		wd.fields(val, at, out, map[string]**Node{"test": &out.Test, "then": &out.Then, "else": &out.Else}, []string{"test", "then"}, true)
	case "while":
		out.Kind = KindWhile
		wd.fields(val, at, out, map[string]**Node{"test": &out.Test, "do": &out.Body}, []string{"test", "do"}, true)
	case "dowhile":
		out.Kind = KindDoWhile
		wd.fields(val, at, out, map[string]**Node{"do": &out.Body, "test": &out.Test}, []string{"do", "test"}, true)
	case "repeat", "retry":
		out.Kind = KindRepeat
		if key == "retry" {
			out.Kind = KindRetry
		}
		wd.counted(val, at, out)
	case "try":
		out.Kind = KindTry
		wd.fields(val, at, out, map[string]**Node{"do": &out.Body, "catch": &out.Handler}, []string{"do", "catch"}, false)
	case "finally":
		out.Kind = KindFinally
		wd.fields(val, at, out, map[string]**Node{"do": &out.Body, "finally": &out.Handler}, []string{"do", "finally"}, false)
	case "let":
		out.Kind = KindLet
		wd.let(val, at, out)
	case "mask", "merge":
		out.Kind = KindMask
		if key == "merge" {
			out.Kind = KindMerge
		}
		out.Body = wd.node(val, at)
	case "retain":
		out.Kind = KindRetain
		body, catch := val, sib("catch")
		if isBodyForm(val) {
			// retain: {do: NODE, catch: BOOL}
			body, catch = nil, nil
			wd.d.mapping(val, at, map[string]func(*yaml.Node, string){
				"do":    func(n *yaml.Node, p string) { body = n; out.Body = wd.node(n, p) },
				"catch": func(n *yaml.Node, _ string) { catch = n },
			})
			if body == nil {
				d.errorf(val, join(at, "do"), "required: the node to run")
			}
		} else {
			out.Body = wd.node(body, at)
		}
		if catch != nil {
			if c, ok := d.boolean(catch, join(path, "catch")); ok && c {
				out.Kind = KindRetainCatch
			}
		}
	case "parallel":
		out.Kind = KindParallel
		if val.Kind != yaml.SequenceNode {
			d.errorf(val, at, "expected a list of branches, got %s", describe(val))
			break
		}
		for i, c := range val.Content {
			if cn := wd.node(c, index(at, i)); cn != nil {
				out.Components = append(out.Components, cn)
			}
		}
		wd.join(out, sib("join"), join(path, "join"))
	case "map":
		out.Kind = KindMap
		out.Body = wd.node(val, at)
		wd.join(out, sib("join"), join(path, "join"))
	case "async":
		out.Kind = KindAsync
		out.Body = wd.node(val, at)
	case "composer":
		n := wd.embed(val, at)
		if n == nil {
			return nil
		}
		if jobs := sib("jobs"); jobs != nil {
			wd.substitute(n, jobs, join(path, "jobs"))
		}
		return n
	case "dynamic":
		out.Kind = KindDynamic
		if !isNull(val) && (val.Kind != yaml.MappingNode || len(val.Content) > 0) {
			d.errorf(val, at, "expected {} or nothing: dynamic takes its action from the value ({type: action, name, params}), got %s", describe(val))
		}
	}
	return out
}

// actions reads the ordinary actions a workflow file defines: a mapping
// of names to {code: FILE, kind, params, timeout, memory}, or to just the
// file.
func (wd *workflowDecoder) actions(n *yaml.Node, path string) []Action {
	d := wd.d
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of action names to {code: FILE}, got %s", describe(n))
		return nil
	}
	var out []Action
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		at := join(path, k.Value)
		if !actionName.MatchString(k.Value) {
			d.errorf(k, at, "expected an OpenWhisk action name, got %q", k.Value)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, at, "action given twice")
			continue
		}
		seen[k.Value] = true
		a := Action{Name: k.Value}
		var codeNode *yaml.Node
		if v.Kind == yaml.ScalarNode {
			codeNode = v
		} else {
			d.mapping(v, at, map[string]func(*yaml.Node, string){
				"code":    func(n *yaml.Node, _ string) { codeNode = n },
				"kind":    func(n *yaml.Node, p string) { a.Kind, _ = d.str(n, p) },
				"params":  func(n *yaml.Node, p string) { a.Params = d.anyMap(n, p) },
				"timeout": func(n *yaml.Node, p string) { a.Timeout, _ = d.duration(n, p) },
				"memory":  func(n *yaml.Node, p string) { a.Memory, _ = d.positive(n, p) },
			})
			if codeNode == nil {
				if v.Kind == yaml.MappingNode {
					d.errorf(v, join(at, "code"), "required: the file with the action's code")
				}
				continue
			}
		}
		file, ok := d.str(codeNode, join(at, "code"))
		if !ok {
			continue
		}
		if !filepath.IsAbs(file) {
			file = filepath.Join(wd.dir, file)
		}
		a.File = file
		if a.Kind == "" {
			if a.Kind = actionKinds[filepath.Ext(file)]; a.Kind == "" {
				d.errorf(codeNode, join(at, "code"), "cannot tell the runtime from %q; give kind (such as nodejs:20)", filepath.Base(file))
				continue
			}
		}
		info, err := os.Stat(file)
		switch {
		case err != nil:
			d.errorf(codeNode, join(at, "code"), "cannot read the action's code: %v", err)
			continue
		case info.Size() > MaxActionCode:
			d.errorf(codeNode, join(at, "code"), "%s is %d bytes, over OpenWhisk's action size limit (%d MB)", file, info.Size(), MaxActionCode>>20)
			continue
		}
		code, err := os.ReadFile(file)
		if err != nil {
			d.errorf(codeNode, join(at, "code"), "cannot read the action's code: %v", err)
			continue
		}
		a.Code = string(code)
		out = append(out, a)
	}
	return out
}

// embed reads an openwhisk-composer composition file that a composer node
// names, relative to the workflow file: its tree takes the node's place
// and its embedded actions are deployed with the workflow.
func (wd *workflowDecoder) embed(n *yaml.Node, path string) *Node {
	d := wd.d
	file, ok := d.str(n, path)
	if !ok {
		return nil
	}
	if !filepath.IsAbs(file) {
		file = filepath.Join(wd.dir, file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		d.errorf(n, path, "cannot read the composition: %v", err)
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		d.errs = append(d.errs, yamlError(file, err))
		return nil
	}
	if len(doc.Content) == 0 || !isComposerAST(doc.Content[0]) {
		d.errorf(n, path, "%s is not an openwhisk-composer composition (the JSON of its compose command, or an AST)", file)
		return nil
	}
	inner := &decoder{file: file, nodes: map[string]*yaml.Node{}}
	iw := &Workflow{}
	(&workflowDecoder{d: inner, dir: filepath.Dir(file), w: iw}).composerWorkflow(doc.Content[0], iw)
	d.errs = append(d.errs, inner.errs...)
	if len(inner.errs) > 0 {
		return nil
	}
	wd.w.Actions = append(wd.w.Actions, iw.Actions...)
	return iw.Root
}

// join reads a fan-out's join.
func (wd *workflowDecoder) join(out *Node, n *yaml.Node, path string) {
	if n != nil {
		out.Join, _ = wd.d.oneOf(n, path, JoinWait, JoinHandoff)
	}
}

// substitute makes long jobs of an embedded composition's actions: jobs
// maps an action's name, as the composition names it (name, pkg/name or
// /ns/name; /_/ is the caller's), to a job node's value (a single-job
// policy file or the sections inline). Each replaced action keeps its
// place, and its path is where the job's key comes from.
func (wd *workflowDecoder) substitute(root *Node, jobs *yaml.Node, path string) {
	d := wd.d
	if jobs.Kind != yaml.MappingNode {
		d.errorf(jobs, path, "expected a mapping of the composition's action names to jobs, got %s", describe(jobs))
		return
	}
	used := map[string]bool{}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		k, v := jobs.Content[i], jobs.Content[i+1]
		name := k.Value
		at := join(path, name)
		p := wd.job(v, at)
		if p == nil {
			continue
		}
		root.Walk(func(n *Node) {
			if n.Kind == KindAction && sameAction(n.Action, name) {
				*n = Node{Kind: KindJob, Job: p, Path: "composer" + n.Path + "/" + name, Line: k.Line, Column: k.Column}
				used[name] = true
			}
		})
		if !used[name] {
			d.errorf(k, at, "the composition has no action %q to run as a job", name)
		}
	}
}

// sameAction says whether two action references name the same action in
// the caller's namespace ("inc", "/_/inc").
func sameAction(a, b string) bool {
	trim := func(s string) string { return strings.TrimPrefix(s, "/_/") }
	return trim(a) == trim(b)
}

// isBodyForm says whether a retain value is {do: ..., catch: ...} rather
// than a node: do is no combinator, so the two cannot be confused.
func isBodyForm(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if n.Content[i].Value == "do" {
			return true
		}
	}
	return false
}

// fields reads a mapping of sub-nodes and flags; required names the
// sub-nodes that must be there.
func (wd *workflowDecoder) fields(n *yaml.Node, path string, out *Node, nodes map[string]**Node, required []string, nosave bool) {
	handlers := map[string]func(*yaml.Node, string){}
	seen := map[string]bool{}
	for name, dst := range nodes {
		handlers[name] = func(v *yaml.Node, p string) { seen[name] = true; *dst = wd.node(v, p) }
	}
	if nosave {
		handlers["nosave"] = func(v *yaml.Node, p string) { out.Nosave, _ = wd.d.boolean(v, p) }
	}
	wd.d.mapping(n, path, handlers)
	if n.Kind != yaml.MappingNode {
		return
	}
	for _, r := range required {
		if !seen[r] {
			wd.d.errorf(n, join(path, r), "required: the node to run as %s", r)
		}
	}
}

func (wd *workflowDecoder) counted(n *yaml.Node, path string, out *Node) {
	var hasTimes, hasDo bool
	wd.d.mapping(n, path, map[string]func(*yaml.Node, string){
		"times": func(v *yaml.Node, p string) {
			hasTimes = true
			if t, ok := wd.d.integer(v, p); ok {
				if t < 0 {
					wd.d.errorf(v, p, "expected 0 or more, got %d", t)
				}
				out.Times = t
			}
		},
		"do": func(v *yaml.Node, p string) { hasDo = true; out.Body = wd.node(v, p) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if !hasTimes {
		wd.d.errorf(n, join(path, "times"), "required: how many times, a whole number")
	}
	if !hasDo {
		wd.d.errorf(n, join(path, "do"), "required: the node to run")
	}
}

func (wd *workflowDecoder) let(n *yaml.Node, path string, out *Node) {
	var hasVars, hasDo bool
	wd.d.mapping(n, path, map[string]func(*yaml.Node, string){
		"vars": func(v *yaml.Node, p string) {
			hasVars = true
			out.Vars = wd.d.anyMap(v, p)
			for name := range out.Vars {
				if !IsVarName(name) {
					wd.d.errorf(v, join(p, name), "expected a variable name (a letter or _, then letters, digits or _; not params nor a builtin function such as count or len), got %q", name)
				}
			}
		},
		"do": func(v *yaml.Node, p string) { hasDo = true; out.Body = wd.node(v, p) },
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if !hasVars {
		wd.d.errorf(n, join(path, "vars"), "required: the variables and their initial values")
	}
	if !hasDo {
		wd.d.errorf(n, join(path, "do"), "required: the node to run with the variables in scope")
	}
}

func (wd *workflowDecoder) assignments(out *Node, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		wd.d.errorf(n, path, "expected a mapping of variables to expressions, got %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		if !IsVarName(k.Value) {
			wd.d.errorf(k, p, "expected a variable name (not params nor a builtin function), got %q", k.Value)
			continue
		}
		if seen[k.Value] {
			wd.d.errorf(k, p, "variable given twice")
			continue
		}
		seen[k.Value] = true
		if s, ok := wd.d.scalarText(v, p); ok {
			wd.d.nodes[p] = v
			out.Set = append(out.Set, Assign{Var: k.Value, Expr: s})
		}
	}
}

// actionName checks an action reference: name, pkg/name or /ns/pkg/name.
func (wd *workflowDecoder) actionName(n *yaml.Node, path, v string) {
	parts := strings.Split(strings.TrimPrefix(v, "/"), "/")
	max := 2
	if strings.HasPrefix(v, "/") {
		max = 3
		if len(parts) < 2 {
			wd.d.errorf(n, path, "expected /namespace/name or /namespace/package/name, got %q", v)
			return
		}
	}
	if len(parts) > max {
		wd.d.errorf(n, path, "expected an action name, pkg/name or /ns/pkg/name, got %q", v)
		return
	}
	for _, p := range parts {
		if !actionName.MatchString(p) {
			wd.d.errorf(n, path, "expected an OpenWhisk action name (letters, digits, _ @ . -, not starting with a symbol) in each part, got %q", v)
			return
		}
	}
}

// job reads a job node: a single-job policy file's path, or the same
// sections inline.
func (wd *workflowDecoder) job(n *yaml.Node, path string) *Policy {
	d := wd.d
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		file := n.Value
		if !filepath.IsAbs(file) {
			file = filepath.Join(wd.dir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				d.errorf(n, path, "job file %s does not exist", file)
			} else {
				d.errorf(n, path, "cannot read job file: %v", err)
			}
			return nil
		}
		if hasComposition(data) {
			d.errorf(n, path, "%s is a workflow; a job node names a single-job policy file (with job.command)", file)
			return nil
		}
		p, err := Load(file)
		var list ErrorList
		if errors.As(err, &list) {
			d.errs = append(d.errs, list...)
			return nil
		}
		if err != nil {
			d.errorf(n, path, "%v", err)
			return nil
		}
		return p
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a single-job policy file name or its sections inline (job, checkpoint, chain, storage, name), got %s", describe(n))
		return nil
	}
	// Inline: decode the sections as a policy of their own, then place
	// their errors under this node's path.
	jd := &decoder{file: d.file}
	p := &Policy{Source: d.file}
	p.decode(jd, n)
	if len(jd.errs) == 0 {
		p.compile(jd)
	}
	for _, e := range jd.errs {
		e.Path = join(path, e.Path)
		d.errs = append(d.errs, e)
	}
	if len(jd.errs) > 0 {
		return nil
	}
	if p.Name == "" {
		p.Name = "job"
	}
	if prog := p.Job.Command[0]; strings.Contains(prog, "/") && !filepath.IsAbs(prog) && !strings.Contains(prog, "${") {
		abs, err := filepath.Abs(filepath.Join(wd.dir, prog))
		if err == nil {
			p.Job.Command[0] = abs
			p.args[0] = template{parts: []templatePart{{text: abs}}}
		}
	}
	return p
}

// scope checks what depends on the variables in scope: every function
// and set expression compiles against params and the variables visible
// where it stands, and set assigns only visible variables. vars is the
// lexical view, innermost frame last; mask hides the innermost frame, as
// it hides the innermost let at run time.
func (wd *workflowDecoder) scope(n *Node, vars [][]string) {
	if n == nil {
		return
	}
	visible := func() []string {
		var out []string
		for _, f := range vars {
			out = append(out, f...)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	switch n.Kind {
	case KindFunction:
		if n.JS != "" {
			// JavaScript: composer's rules, checked when the program loads.
			break
		}
		p := join(n.Path, "function")
		prog, err := CompileValue(n.Expr, visible())
		if err != nil {
			wd.d.exprError(p, n.Expr, err)
		} else if !functionResult(prog) {
			wd.d.exprError(p, n.Expr, fmt.Errorf("expected a mapping (the next value) or a boolean, got %s", typeName(prog)))
		}
	case KindSet:
		for _, a := range n.Set {
			p := join(join(n.Path, "set"), a.Var)
			if !slices.Contains(visible(), a.Var) {
				in := "no variable is in scope"
				if v := visible(); len(v) > 0 {
					in = "in scope: " + strings.Join(v, ", ")
				}
				wd.d.errorf(wd.d.nodes[p], p, "%s is not a variable in scope (%s); declare it with let", a.Var, in)
				continue
			}
			if _, err := CompileValue(a.Expr, visible()); err != nil {
				wd.d.exprError(p, a.Expr, err)
			}
		}
	case KindLet:
		names := make([]string, 0, len(n.Vars))
		for k := range n.Vars {
			names = append(names, k)
		}
		wd.scope(n.Body, append(slices.Clone(vars), names))
		return
	case KindMask:
		inner := vars
		if len(inner) > 0 {
			inner = inner[:len(inner)-1]
		}
		wd.scope(n.Body, inner)
		return
	}
	for _, c := range n.Components {
		wd.scope(c, vars)
	}
	for _, c := range []*Node{n.Test, n.Then, n.Else, n.Body, n.Handler} {
		wd.scope(c, vars)
	}
}
