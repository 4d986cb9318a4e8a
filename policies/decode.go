package policies

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// decoder walks a YAML node tree against the policy schema, collecting
// every problem with its position instead of stopping at the first, so a
// user fixes a file in one pass.
type decoder struct {
	file  string
	errs  ErrorList
	nodes map[string]*yaml.Node // where each expression stands, for errors
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// describe names a node's kind the way a user reads it.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "nothing"
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		default:
			return fmt.Sprintf("%s %s", strings.TrimPrefix(n.Tag, "!!"), n.Value)
		}
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unknown node"
}

// mapping checks that n is a mapping whose keys are all known, and calls
// each field's handler with the value node. Unknown and repeated keys are
// errors that list what was expected.
func (d *decoder) mapping(n *yaml.Node, path string, fields map[string]func(v *yaml.Node, path string)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		handler, ok := fields[name]
		if !ok {
			known := make([]string, 0, len(fields))
			for f := range fields {
				known = append(known, f)
			}
			slices.Sort(known)
			d.errorf(k, join(path, name), "unknown field; expected one of %s", strings.Join(known, ", "))
			continue
		}
		if seen[name] {
			d.errorf(k, join(path, name), "field given twice")
			continue
		}
		seen[name] = true
		handler(v, join(path, name))
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected a string, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

// scalarText accepts any scalar as text: arguments such as 30 or 1e18
// are strings to the job whatever YAML makes of them.
func (d *decoder) scalarText(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected a string or number, got %s", describe(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) integer(n *yaml.Node, path string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		v, err := strconv.Atoi(n.Value)
		if err == nil {
			return v, true
		}
	}
	d.errorf(n, path, "expected a whole number, got %s", describe(n))
	return 0, false
}

func (d *decoder) positive(n *yaml.Node, path string) (int, bool) {
	v, ok := d.integer(n, path)
	if ok && v <= 0 {
		d.errorf(n, path, "expected a number greater than 0, got %d", v)
		return 0, false
	}
	return v, ok
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		v, err := strconv.ParseBool(n.Value)
		if err == nil {
			return v, true
		}
		switch strings.ToLower(n.Value) {
		case "yes", "on":
			return true, true
		case "no", "off":
			return false, true
		}
	}
	d.errorf(n, path, "expected true or false, got %s", describe(n))
	return false, false
}

// duration reads a Go duration string ("90s", "1m30s") that must be
// greater than zero. A bare number is refused: seconds or milliseconds?
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "expected a duration such as 10s, got %s", describe(n))
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, path, "expected a duration such as 10s or 1m30s, got %q", n.Value)
		return 0, false
	}
	if v <= 0 {
		d.errorf(n, path, "expected a duration greater than 0, got %s", n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) oneOf(n *yaml.Node, path string, choices ...string) (string, bool) {
	v, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, v) {
		d.errorf(n, path, "expected one of %s, got %q", strings.Join(choices, ", "), v)
		return "", false
	}
	return v, true
}

func (d *decoder) stringMap(n *yaml.Node, path string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of names to strings, got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if s, ok := d.scalarText(v, join(path, k.Value)); ok {
			out[k.Value] = s
		}
	}
	return out
}

// anyMap decodes free-form parameters (JSON values) as encoding/json
// would, so numbers are float64 as they are in an invocation's payload.
func (d *decoder) anyMap(n *yaml.Node, path string) map[string]any {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return nil
	}
	var raw map[string]any
	if err := n.Decode(&raw); err != nil {
		d.errorf(n, path, "cannot read parameters: %v", err)
		return nil
	}
	return normalise(raw).(map[string]any)
}

// normalise turns YAML's ints and map[string]any trees into the shapes
// encoding/json produces, so expressions see the same types whether the
// parameters came from the policy or from an invocation.
func normalise(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalise(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalise(e)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return v
}
