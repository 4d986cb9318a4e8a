package policies

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// stringMap reads environment variables: names that exec can pass (not
// empty, no "=" or NUL) mapped to scalars taken as text.
func (d *decoder) stringMap(n *yaml.Node, path string) map[string]string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of names to strings, got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.errorf(k, path, "expected a variable name, got %s", describe(k))
			continue
		}
		name := k.Value
		if name == "" || strings.ContainsAny(name, "=\x00") {
			d.errorf(k, join(path, name), "expected a variable name without \"=\" or NUL, got %q", name)
			continue
		}
		if _, dup := out[name]; dup {
			d.errorf(k, join(path, name), "variable given twice")
			continue
		}
		if s, ok := d.scalarText(v, join(path, name)); ok {
			if strings.ContainsRune(s, 0) {
				d.errorf(v, join(path, name), "expected a value without NUL bytes")
				continue
			}
			out[name] = s
		}
	}
	return out
}

// anyMap decodes free-form parameters into the values encoding/json
// produces (float64 numbers, string keys), so that expressions see the
// same types whether the parameters came from the policy or from an
// invocation, and so that Document can always marshal them. Values JSON
// cannot carry (infinities, NaN, keys that are not strings) are located
// errors, like every other mistake.
func (d *decoder) anyMap(n *yaml.Node, path string) map[string]any {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return nil
	}
	j := &jsonReader{d: d}
	v, ok := j.mapping(n, path)
	if !ok {
		return nil
	}
	return v
}

// maxAliasValues bounds how many values aliases may expand to in the
// parameters: a few anchors nested in each other otherwise expand to
// billions of values (and as many bytes in the deployed action).
const maxAliasValues = 10000

// jsonReader turns a YAML node tree into JSON values.
type jsonReader struct {
	d       *decoder
	aliased int // values read through aliases so far
	depth   int // aliases being expanded around the current node
	tooMany bool
}

func (j *jsonReader) value(n *yaml.Node, path string) (any, bool) {
	if j.depth > 0 {
		if j.aliased++; j.aliased > maxAliasValues {
			if !j.tooMany {
				j.d.errorf(n, path, "aliases expand to more than %d values; write the values out", maxAliasValues)
				j.tooMany = true
			}
			return nil, false
		}
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			j.d.errorf(n, path, "expected a value, got an unknown alias")
			return nil, false
		}
		j.depth++
		defer func() { j.depth-- }()
		return j.value(n.Alias, path)
	case yaml.MappingNode:
		return j.mapping(n, path)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		ok := true
		for i, e := range n.Content {
			v, good := j.value(e, index(path, i))
			ok = ok && good
			out = append(out, v)
		}
		return out, ok
	case yaml.ScalarNode:
		return j.scalar(n, path)
	}
	j.d.errorf(n, path, "expected a JSON value, got %s", describe(n))
	return nil, false
}

// scalar reads one scalar as YAML resolves it and keeps what JSON can
// carry.
func (j *jsonReader) scalar(n *yaml.Node, path string) (any, bool) {
	var v any
	if err := n.Decode(&v); err != nil {
		j.d.errorf(n, path, "cannot read the value: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, false
	}
	switch t := v.(type) {
	case nil, bool:
		return t, true
	case string:
		if !utf8.ValidString(t) {
			// Only !!binary produces bytes that are not text.
			j.d.errorf(n, path, "expected text, got %s that is not UTF-8; JSON strings are text", describe(n))
			return nil, false
		}
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case uint64:
		return float64(t), true
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			j.d.errorf(n, path, "expected a finite number, got %s; JSON has no infinity or NaN (quote it to pass the text)", n.Value)
			return nil, false
		}
		return t, true
	case time.Time:
		// A date is text in an invocation's JSON: keep it as written.
		return n.Value, true
	}
	j.d.errorf(n, path, "expected a JSON value, got %s", describe(n))
	return nil, false
}

// mapping reads a mapping with string keys, applying YAML merge keys
// (<<: *base) as YAML does: the mapping's own keys win, then earlier
// merged mappings over later ones.
func (j *jsonReader) mapping(n *yaml.Node, path string) (map[string]any, bool) {
	out := map[string]any{}
	ok := true
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		name, good := j.key(k, path)
		if !good {
			ok = false
			continue
		}
		if _, dup := out[name]; dup {
			j.d.errorf(k, join(path, name), "key given twice")
			ok = false
			continue
		}
		val, good := j.value(v, join(path, name))
		ok = ok && good
		out[name] = val
	}
	for _, m := range merges {
		good := j.merge(out, m, path)
		ok = ok && good
	}
	return out, ok
}

// merge fills in the keys of the mappings a merge key names that out does
// not have yet.
func (j *jsonReader) merge(out map[string]any, n *yaml.Node, path string) bool {
	v, ok := j.value(n, path)
	if !ok {
		return false
	}
	var maps []map[string]any
	switch t := v.(type) {
	case map[string]any:
		maps = []map[string]any{t}
	case []any:
		maps = make([]map[string]any, 0, len(t))
		for _, e := range t {
			m, isMap := e.(map[string]any)
			if !isMap {
				maps = nil
				break
			}
			maps = append(maps, m)
		}
	}
	if maps == nil {
		j.d.errorf(n, path, "expected a mapping or a list of mappings to merge (<<), got %s", describe(n))
		return false
	}
	for _, m := range maps {
		for k, e := range m {
			if _, has := out[k]; !has {
				out[k] = e
			}
		}
	}
	return true
}

// key reads a mapping key, which JSON requires to be a string.
func (j *jsonReader) key(k *yaml.Node, path string) (string, bool) {
	n := k
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		var v any
		if n.Decode(&v) == nil {
			if s, ok := v.(string); ok && utf8.ValidString(s) {
				return s, true
			}
		}
		j.d.errorf(k, join(path, n.Value), "expected a string key (JSON object keys are strings), got %s; quote it", describe(n))
		return "", false
	}
	j.d.errorf(k, path, "expected a string key (JSON object keys are strings), got %s", describe(n))
	return "", false
}
