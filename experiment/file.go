package experiment

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wskx/wskx/policies"
)

// Baselines an experiment may compare its policies with.
const (
	// BaselineSingle runs the job in one plain activation (engine none,
	// 300 s limit): the reference result and work time.
	BaselineSingle = "single"
	// BaselineSelfInvoke is the original design: each hop invokes the
	// next itself, with no conductor.
	BaselineSelfInvoke = "self-invoke"
	// BaselineComposer runs a workflow's openwhisk-composer composition
	// (compose's JSON) on openwhisk-composer's own conductor, deployed
	// with its deploy command; its parallel and map join through Redis.
	BaselineComposer = "composer"
)

// File is a parsed experiment file.
type File struct {
	Name        string
	Description string
	Path        string // the file it was read from
	Repetitions int
	Platform    Platform
	Policies    []PolicyRef // in file order
	Baselines   []string
	Workloads   []Workload // in file order
}

// Platform are the settings of the platform the experiment runs on.
type Platform struct {
	Timeout time.Duration // action time limit given to every step
	Memory  int           // MB
}

// PolicyRef names a policy file, or a workflow file, and what the
// experiment overrides in it.
type PolicyRef struct {
	Name string
	File string // absolute
	// Workflow says File is a workflow (a wskx workflow file, or an
	// openwhisk-composer composition as compose writes it).
	Workflow bool
	Join     string        // a workflow's join; "" keeps the file's
	Engine   string        // "" keeps the policy's
	Timeout  time.Duration // 0 keeps the platform's
	Margin   string        // "" keeps the policy's
	Interval time.Duration // 0 keeps the policy's
}

// Workload is one job with its argument sweep.
type Workload struct {
	Name     string
	Policies []string       // policy names this workload runs under; all when empty in the file
	Args     []Arg          // swept arguments, sorted by name
	Extra    map[string]any // fixed parameters added to every case
}

// Arg is one swept parameter.
type Arg struct {
	Name   string
	Values []any
}

// Case is one combination of swept values.
type Case map[string]any

// Cases is the cartesian product of the workload's sweeps plus its extra
// parameters, in a deterministic order (first argument slowest).
func (w Workload) Cases() []Case {
	out := []Case{{}}
	for _, a := range w.Args {
		var next []Case
		for _, c := range out {
			for _, v := range a.Values {
				n := Case{}
				for k, x := range c {
					n[k] = x
				}
				n[a.Name] = v
				next = append(next, n)
			}
		}
		out = next
	}
	for _, c := range out {
		for k, v := range w.Extra {
			if _, swept := c[k]; !swept {
				c[k] = v
			}
		}
	}
	return out
}

// LoadFile reads and validates an experiment file. Errors are a
// policies.ErrorList, each as file:line:col: field.path: what was expected.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load experiment: %w", err)
	}
	return ParseFile(data, path)
}

// ParseFile parses an experiment; policy paths are relative to the
// folder of path.
func ParseFile(data []byte, path string) (*File, error) {
	d := &fdecoder{file: path}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, policies.ErrorList{{File: path, Msg: err.Error()}}
	}
	if len(doc.Content) == 0 {
		return nil, policies.ErrorList{{File: path, Msg: "empty experiment; expected a mapping with workloads"}}
	}
	f := &File{Path: path, Repetitions: 1, Platform: Platform{Timeout: 10 * time.Second, Memory: 256}}
	dir := filepath.Dir(path)
	var wlNodes []*yaml.Node
	d.mapping(doc.Content[0], "", func(k string, v *yaml.Node, p string) {
		switch k {
		case "name":
			f.Name = d.str(v, p)
		case "description":
			f.Description = d.str(v, p)
		case "repetitions":
			f.Repetitions = d.posInt(v, p)
		case "platform":
			d.mapping(v, p, func(k string, v *yaml.Node, p string) {
				switch k {
				case "timeout":
					f.Platform.Timeout = d.duration(v, p)
				case "memory":
					f.Platform.Memory = d.posInt(v, p)
				default:
					d.unknown(k, v, p, "timeout, memory")
				}
			})
		case "policies":
			d.mapping(v, p, func(k string, v *yaml.Node, p string) {
				f.Policies = append(f.Policies, d.policy(k, v, p, dir))
			})
		case "baselines":
			d.seq(v, p, func(i int, v *yaml.Node, p string) {
				b := d.str(v, p)
				if b != BaselineSingle && b != BaselineSelfInvoke && b != BaselineComposer && b != "" {
					d.errf(v, p, "unknown baseline %q; expected single, self-invoke or composer", b)
				}
				f.Baselines = append(f.Baselines, b)
			})
		case "workloads":
			wlNodes = append(wlNodes, v)
		default:
			d.unknown(k, v, p, "name, description, repetitions, platform, policies, baselines, workloads")
		}
	})
	known := map[string]bool{}
	for _, p := range f.Policies {
		known[p.Name] = true
	}
	if len(wlNodes) == 0 {
		d.errs = append(d.errs, &policies.Error{File: path, Path: "workloads", Msg: "missing; expected at least one workload"})
	}
	for _, v := range wlNodes {
		d.mapping(v, "workloads", func(k string, v *yaml.Node, p string) {
			f.Workloads = append(f.Workloads, d.workload(k, v, p, known))
		})
	}
	for i := range f.Workloads {
		if len(f.Workloads[i].Policies) == 0 {
			for _, p := range f.Policies {
				f.Workloads[i].Policies = append(f.Workloads[i].Policies, p.Name)
			}
		}
	}
	d.baselinesFit(f)
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	return f, nil
}

type fdecoder struct {
	file string
	errs policies.ErrorList
}

func (d *fdecoder) errf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &policies.Error{File: d.file, Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func join(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func (d *fdecoder) mapping(n *yaml.Node, path string, each func(k string, v *yaml.Node, p string)) {
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "expected a mapping")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		each(n.Content[i].Value, n.Content[i+1], join(path, n.Content[i].Value))
	}
}

func (d *fdecoder) seq(n *yaml.Node, path string, each func(i int, v *yaml.Node, p string)) {
	if n.Kind != yaml.SequenceNode {
		d.errf(n, path, "expected a list")
		return
	}
	for i, v := range n.Content {
		each(i, v, fmt.Sprintf("%s[%d]", path, i))
	}
}

func (d *fdecoder) unknown(k string, v *yaml.Node, p, expected string) {
	d.errf(v, p, "unknown field %q; expected one of %s", k, expected)
}

func (d *fdecoder) str(n *yaml.Node, p string) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		d.errf(n, p, "expected a string")
		return ""
	}
	return n.Value
}

func (d *fdecoder) posInt(n *yaml.Node, p string) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil || v < 1 {
		d.errf(n, p, "expected a positive integer")
		return 0
	}
	return v
}

func (d *fdecoder) duration(n *yaml.Node, p string) time.Duration {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v <= 0 {
		d.errf(n, p, "expected a positive duration such as 10s")
		return 0
	}
	return v
}

func (d *fdecoder) policy(name string, v *yaml.Node, p, dir string) PolicyRef {
	r := PolicyRef{Name: name}
	file := func(n *yaml.Node, p string) {
		if r.File != "" {
			d.errf(n, p, "a policy names one file; expected file or workflow, not both")
		}
		s := d.str(n, p)
		if s == "" {
			return
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		abs, err := filepath.Abs(s)
		if err == nil {
			s = abs
		}
		if _, err := os.Stat(s); err != nil {
			d.errf(n, p, "policy file %s: not found; expected a path relative to the experiment file", s)
		}
		r.File = s
	}
	if v.Kind == yaml.ScalarNode {
		file(v, p)
		return r
	}
	d.mapping(v, p, func(k string, v *yaml.Node, p string) {
		switch k {
		case "file":
			file(v, p)
		case "workflow":
			file(v, p)
			r.Workflow = true
		case "join":
			r.Join = d.str(v, p)
			if r.Join != policies.JoinWait && r.Join != policies.JoinHandoff {
				d.errf(v, p, "unknown join %q; expected %s or %s", r.Join, policies.JoinWait, policies.JoinHandoff)
			}
		case "engine":
			r.Engine = d.str(v, p)
			switch r.Engine {
			case "dmtcp", "cooperative", "none", "auto":
			default:
				d.errf(v, p, "unknown engine %q; expected dmtcp, cooperative, none or auto", r.Engine)
			}
		case "timeout":
			r.Timeout = d.duration(v, p)
		case "margin":
			r.Margin = d.str(v, p)
		case "interval":
			r.Interval = d.duration(v, p)
		default:
			d.unknown(k, v, p, "file, workflow, join, engine, timeout, margin, interval")
		}
	})
	if r.File == "" && v.Kind == yaml.MappingNode {
		d.errf(v, join(p, "file"), "missing; expected the policy file's path (file:) or the workflow's (workflow:)")
	}
	if r.Join != "" && !r.Workflow {
		d.errf(v, join(p, "join"), "a join applies to a workflow; expected workflow: FILE beside it")
	}
	return r
}

// baselinesFit checks that each baseline can run every workload: the
// single and self-invoke baselines run a single job's policy, the
// composer baseline an openwhisk-composer composition.
func (d *fdecoder) baselinesFit(f *File) {
	refs := map[string]PolicyRef{}
	for _, p := range f.Policies {
		refs[p.Name] = p
	}
	for _, b := range f.Baselines {
		for _, w := range f.Workloads {
			if len(w.Policies) == 0 {
				continue
			}
			first := refs[w.Policies[0]]
			var msg string
			switch {
			case b == BaselineComposer && !(first.Workflow && filepath.Ext(first.File) == ".json"):
				msg = "baseline composer runs an openwhisk-composer composition; expected the workload's first policy to be workflow: FILE.json (compose's output)"
			case b != BaselineComposer && first.Workflow:
				msg = fmt.Sprintf("baseline %s runs a single job; expected the workload's first policy to be a policy file (file:), not a workflow", b)
			}
			if msg != "" {
				d.errs = append(d.errs, &policies.Error{File: d.file, Path: "workloads." + w.Name, Msg: msg})
			}
		}
	}
}

func (d *fdecoder) workload(name string, v *yaml.Node, p string, known map[string]bool) Workload {
	w := Workload{Name: name}
	d.mapping(v, p, func(k string, v *yaml.Node, p string) {
		switch k {
		case "policies":
			d.seq(v, p, func(_ int, v *yaml.Node, p string) {
				s := d.str(v, p)
				if s != "" && !known[s] {
					d.errf(v, p, "unknown policy %q; expected a name under policies", s)
				}
				w.Policies = append(w.Policies, s)
			})
		case "args":
			d.mapping(v, p, func(k string, v *yaml.Node, p string) {
				a := Arg{Name: k}
				d.seq(v, p, func(_ int, v *yaml.Node, p string) {
					var x any
					if v.Kind != yaml.ScalarNode || v.Decode(&x) != nil {
						d.errf(v, p, "expected a scalar value")
						return
					}
					a.Values = append(a.Values, x)
				})
				if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
					d.errf(v, p, "empty sweep; expected at least one value")
				}
				w.Args = append(w.Args, a)
			})
		case "extra":
			if v.Kind != yaml.MappingNode {
				d.errf(v, p, "expected a mapping")
				return
			}
			if err := v.Decode(&w.Extra); err != nil {
				d.errf(v, p, "expected a mapping of parameters: %v", err)
			}
		default:
			d.unknown(k, v, p, "policies, args, extra")
		}
	})
	if len(w.Args) == 0 && v.Kind == yaml.MappingNode {
		d.errf(v, join(p, "args"), "missing; expected at least one swept argument")
	}
	sort.Slice(w.Args, func(i, j int) bool { return w.Args[i].Name < w.Args[j].Name })
	return w
}

// Owns checks that results are of this experiment: each run's workload
// is one of its workloads and its policy one of its policies or
// baselines, so that results are not drawn under another experiment's
// name and settings.
func (f *File) Owns(results []Result) error {
	wls := map[string]bool{}
	for _, w := range f.Workloads {
		wls[w.Name] = true
	}
	pols := map[string]bool{}
	for _, p := range f.Policies {
		pols[p.Name] = true
	}
	for _, b := range f.Baselines {
		pols[b] = true
	}
	for _, r := range results {
		if !wls[r.Workload] {
			return fmt.Errorf("results of workload %q, which experiment %s does not have", r.Workload, f.Name)
		}
		if !pols[r.Policy] {
			return fmt.Errorf("results of policy %q, which experiment %s does not have", r.Policy, f.Name)
		}
	}
	return nil
}
