package policies

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// template is one command element: literal text with ${expression} parts.
type template struct {
	parts []templatePart
}

type templatePart struct {
	text string      // literal text, when prog is nil
	prog *vm.Program // an expression whose value is spliced in
}

var durationType = reflect.TypeOf(time.Duration(0))

// compile compiles every expression once against Env, so that a typo or a
// type error is a load-time error with a position, never a mid-chain one.
func (p *Policy) compile(d *decoder) {
	for i, raw := range p.Job.Command {
		path := index("job.command", i)
		t, err := parseTemplate(raw)
		if err != nil {
			d.exprError(path, raw, err)
			continue
		}
		p.args = append(p.args, t)
	}
	// parseTemplate marks expression sources; compile them against Env.
	for i := range p.args {
		path := index("job.command", i)
		for j, part := range p.args[i].parts {
			if src, ok := strings.CutPrefix(part.text, exprMarker); ok {
				prog, err := expr.Compile(src, expr.Env(Env{}))
				if err != nil {
					d.exprError(path, src, err)
					continue
				}
				p.args[i].parts[j] = templatePart{prog: prog}
			}
		}
	}

	if dl := p.Checkpoint.Deadline; dl != nil {
		if _, err := time.ParseDuration(dl.Margin); err != nil {
			prog, err := expr.Compile(dl.Margin, expr.Env(Env{}))
			const path = "checkpoint.deadline.margin"
			switch {
			case err != nil:
				d.exprError(path, dl.Margin, err)
			case !typeIs(prog, durationType):
				d.exprError(path, dl.Margin, fmt.Errorf("expected a duration such as 5s or an expression yielding one (for example max(duration(\"2s\"), last.checkpoint_time * 3)), got an expression of type %s", typeName(prog)))
			default:
				p.margin = prog
			}
		}
	}

	prog, err := expr.Compile(p.Chain.Continue, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		d.exprError("chain.continue", p.Chain.Continue, fmt.Errorf("expected a boolean expression such as hop < 10: %w", err))
	}
	p.cont = prog

	if k := p.Chain.IdempotencyKey; k != "" {
		prog, err := expr.Compile(k, expr.Env(Env{}))
		switch {
		case err != nil:
			d.exprError("chain.idempotency_key", k, err)
		case !typeIs(prog, reflect.TypeOf("")):
			d.exprError("chain.idempotency_key", k, fmt.Errorf("expected an expression yielding a string (for example params.order_id, or string(params.n)), got %s", typeName(prog)))
		default:
			p.key = prog
		}
	}
}

// typeIs accepts the wanted type, and an unknown one (interface{}, as
// from params.x), which is then checked when it runs.
func typeIs(prog *vm.Program, want reflect.Type) bool {
	t := prog.Node().Type()
	return t == nil || t == want || t.Kind() == reflect.Interface
}

func typeName(prog *vm.Program) string {
	if t := prog.Node().Type(); t != nil {
		if t == durationType {
			return "duration"
		}
		return t.String()
	}
	return "unknown"
}

// exprError reports an expression error at the expression's place in the
// file, adding expr's own line and column inside the expression.
func (d *decoder) exprError(path, src string, err error) {
	n := d.nodes[path]
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	e := &Error{File: d.file, Path: path, Msg: fmt.Sprintf("in expression %q: %s", src, msg)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
		if fe != nil && fe.Line <= 1 && n.Kind == yaml.ScalarNode && strings.Contains(n.Value, src) {
			off := strings.Index(n.Value, src) + fe.Column
			if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
				off++
			}
			e.Column += off
		}
	}
	d.errs = append(d.errs, e)
}

const exprMarker = "\x00expr:"

// parseTemplate splits "--n=${params.n}" into literal and expression
// parts. "$${" stands for a literal "${". Braces inside an expression
// nest, so map literals work.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			lit.WriteByte(s[i])
			i++
			continue
		}
		depth, j := 1, i+2
		for ; j < len(s) && depth > 0; j++ {
			switch s[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth != 0 {
			return t, fmt.Errorf("unclosed ${ at offset %d", i)
		}
		src := strings.TrimSpace(s[i+2 : j-1])
		if src == "" {
			return t, fmt.Errorf("empty ${} at offset %d", i)
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, templatePart{text: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, templatePart{text: exprMarker + src})
		i = j
	}
	if lit.Len() > 0 || len(t.parts) == 0 {
		t.parts = append(t.parts, templatePart{text: lit.String()})
	}
	return t, nil
}

// Argv evaluates the command for one hop.
func (p *Policy) Argv(env Env) ([]string, error) {
	env = p.withParams(env)
	out := make([]string, 0, len(p.args))
	for i, t := range p.args {
		var b strings.Builder
		for _, part := range t.parts {
			if part.prog == nil {
				b.WriteString(part.text)
				continue
			}
			v, err := expr.Run(part.prog, env)
			if err != nil {
				return nil, fmt.Errorf("job.command[%d]: %w", i, err)
			}
			b.WriteString(formatArg(v))
		}
		out = append(out, b.String())
	}
	return out, nil
}

// formatArg writes a value as a program expects it on its command line:
// JSON numbers arrive as float64, and 1.2e18 must read 1200000000000000000.
func formatArg(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(t), 'f', -1, 32)
	}
	return fmt.Sprint(v)
}

// Margin is how long before the deadline the deadline checkpoint starts.
// It is never negative and never reaches the timeout.
func (p *Policy) Margin(env Env) (time.Duration, error) {
	if p.Checkpoint.Deadline == nil {
		return 0, errors.New("margin: the policy has no deadline checkpoint")
	}
	var m time.Duration
	if p.margin == nil {
		m, _ = time.ParseDuration(p.Checkpoint.Deadline.Margin)
	} else {
		v, err := expr.Run(p.margin, p.withParams(env))
		if err != nil {
			return 0, fmt.Errorf("checkpoint.deadline.margin: %w", err)
		}
		d, ok := v.(time.Duration)
		if !ok {
			return 0, fmt.Errorf("checkpoint.deadline.margin: expected a duration, got %T", v)
		}
		m = d
	}
	return min(max(m, 0), p.Job.Timeout-MinTimeout), nil
}

// Continue says whether the chain may start another hop.
func (p *Policy) Continue(env Env) (bool, error) {
	v, err := expr.Run(p.cont, p.withParams(env))
	if err != nil {
		return false, fmt.Errorf("chain.continue: %w", err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("chain.continue: expected true or false, got %T", v)
	}
	return b, nil
}

// IdempotencyKey evaluates the policy's key for a new job. It returns ""
// when the policy has none (the caller generates one) and an error when
// the expression yields anything but a non-empty string.
func (p *Policy) IdempotencyKey(env Env) (string, error) {
	if p.key == nil {
		return "", nil
	}
	v, err := expr.Run(p.key, p.withParams(env))
	if err != nil {
		return "", fmt.Errorf("chain.idempotency_key: %w", err)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("chain.idempotency_key: expected a non-empty string, got %#v", v)
	}
	return s, nil
}

// withParams lays the invocation's parameters over the policy's defaults.
func (p *Policy) withParams(env Env) Env {
	if len(p.Params) == 0 {
		if env.Params == nil {
			env.Params = map[string]any{}
		}
		return env
	}
	merged := make(map[string]any, len(p.Params)+len(env.Params))
	for k, v := range p.Params {
		merged[k] = v
	}
	for k, v := range env.Params {
		merged[k] = v
	}
	env.Params = merged
	return env
}
