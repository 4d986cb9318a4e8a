package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wskx/wskx/platform/container"
	"github.com/wskx/wskx/whisk"
)

// OpenWhisk's messages for compositions and runs.
const (
	msgCompositionTooLong = "Too many actions in the composition."
	msgProvisionFailure   = "Failed to provision resources to run the action."
	msgSequenceFailed     = "Sequence failed."
)

// markDelay is how long an activation runs before it is marked running on
// disk, so that a crash leaves a trace of it.
const markDelay = 50 * time.Millisecond

// object is a JSON object with its values kept as written.
type object = map[string]json.RawMessage

// accounting counts component and conductor runs across nested
// compositions, as OpenWhisk's controller does (CompositionAccounting in
// core/controller/.../actions/PrimitiveActions.scala): one pair of
// counters for the topmost conductor, handed to every conductor it runs
// as a component, so a nested conductor's components count against the
// outer composition's limit n (limits.actions.sequence.maxLength, 50 by
// default). A conductor may run at most 2n+1 times and its components n
// times; past that, "Too many actions in the composition." A sequence
// inside a composition counts as one component. Compositions run their
// steps one after another, so it needs no lock.
type accounting struct{ components, conductors int }

// runReq is one activation to run.
type runReq struct {
	id     string
	user   User
	txid   string
	action *whisk.Action
	name   fqn
	// binding is the package binding the action was reached through
	// ("ns/binding"), for the record's binding annotation.
	binding string
	payload object // nil: no payload, only the action's defaults
	// array is the payload when it is a JSON array (a sequence passes an
	// array result on as it is): it goes to the action without the
	// action's defaults, as OpenWhisk's invokeSimpleAction does.
	array     json.RawMessage
	cause     string // the primary activation id for derived activations
	acct      *accounting
	seqCount  *int // atomic actions run by the enclosing sequences
	requested time.Time
	// finished, when set, is called just before the record is stored.
	finished func()
}

// runResult is a finished activation: its stored record and the largest
// memory limit it involved.
type runResult struct {
	rec    *whisk.Activation
	memory int
}

// run executes an activation of any kind and stores its record. It
// returns nil when the platform stopped meanwhile (the running mark stays
// and the next start records the activation as an internal error).
func (p *Platform) run(ctx context.Context, r runReq) *runResult {
	if r.requested.IsZero() {
		r.requested = time.Now()
	}
	a := r.action
	kind := a.Exec.Kind
	skel := &whisk.Activation{Namespace: r.user.Namespace, Name: lastSegment(r.name.name), Version: a.Version,
		Subject: r.user.Namespace, ActivationID: r.id, Start: time.Now().UnixMilli(), Cause: r.cause,
		Logs: []string{}, Annotations: whisk.KeyValues{{Key: "path", Value: r.name.String()}, {Key: "kind", Value: kind}}}
	// The running mark costs a file; short activations finish before it is
	// due. Abandoned ones (the platform closing) are marked at once.
	snapshot := *skel
	var markOnce sync.Once
	mark := func() { markOnce.Do(func() { p.store.markRunning(&snapshot) }) }
	timer := time.AfterFunc(markDelay, mark)
	var res *runResult
	switch {
	case kind == "sequence":
		res = p.runSequence(ctx, r, skel)
	case isTruthy(a.Annotations.Get("conductor")):
		res = p.runConductor(ctx, r, skel)
	default:
		res = p.runPrimitive(ctx, r, skel)
	}
	timer.Stop()
	if res == nil {
		mark()
		return nil
	}
	markOnce.Do(func() {}) // wait for a mark being written; forbid a later one
	if r.finished != nil {
		r.finished()
	}
	if err := p.store.putActivation(res.rec); err != nil {
		p.log.Error("store activation", "id", r.id, "err", err)
	}
	return res
}

func lastSegment(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// merge returns base's fields with over's on top.
func merge(base, over object) object {
	out := make(object, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// paramsObject is the action's parameters as an object, init parameters
// included: OpenWhisk merges them all with the payload and only then takes
// the init ones out (see splitInit).
func paramsObject(kv whisk.KeyValues) object {
	out := make(object, len(kv))
	for _, p := range kv {
		b, err := json.Marshal(p.Value)
		if err == nil {
			out[p.Key] = b
		}
	}
	return out
}

// splitInit partitions an activation's arguments as OpenWhisk's invoker
// does (ContainerProxy.partitionArguments): the keys of the action's init
// parameters leave the /run value and go to /init's env, whatever supplied
// the value (the payload may override a default), stringified as
// WhiskAction.containerInitializer does. env is nil when there are none, so
// that actions without init parameters keep sharing containers.
func splitInit(args object, params whisk.KeyValues) (value object, env map[string]string) {
	value = args
	for _, kv := range params {
		if !kv.Init {
			continue
		}
		raw, ok := args[kv.Key]
		if !ok {
			continue
		}
		if env == nil {
			env = map[string]string{}
			value = make(object, len(args))
			for k, v := range args {
				value[k] = v
			}
		}
		delete(value, kv.Key)
		env[kv.Key] = envString(raw)
	}
	return value, env
}

// envString is a JSON value as an environment variable: a string as is,
// null as empty, anything else as its compact JSON text.
func envString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if t := bytes.TrimSpace(raw); bytes.Equal(t, []byte("null")) {
		return ""
	}
	return compactJSON(raw)
}

// asObject decodes raw when it is a JSON object.
func asObject(raw json.RawMessage) (object, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var o object
	if json.Unmarshal(raw, &o) != nil {
		return nil, false
	}
	if o == nil {
		o = object{}
	}
	return o, true
}

// isArray says whether raw is a JSON array.
func isArray(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '['
}

// boxed returns raw as an object, wrapping anything else as {key: raw}.
func boxed(raw json.RawMessage, key string) object {
	if o, ok := asObject(raw); ok {
		return o
	}
	return object{key: raw}
}

func errorObject(msg string) object {
	b, _ := json.Marshal(msg)
	return object{"error": b}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

func limitsAnnotation(l whisk.Limits, memory int) whisk.Limits {
	l.Memory = memory
	return l
}

// providesKey reports whether an action gets its key on /run: the
// annotation is truthy, or absent.
func providesKey(a *whisk.Action) bool {
	for _, kv := range a.Annotations {
		if kv.Key == "provide-api-key" {
			return isTruthy(kv.Value)
		}
	}
	return true
}

func (p *Platform) runPrimitive(ctx context.Context, r runReq, rec *whisk.Activation) *runResult {
	a := r.action
	params, initEnv := splitInit(merge(paramsObject(a.Parameters), r.payload), a.Parameters)
	value := mustJSON(params)
	if r.array != nil {
		_, initEnv = splitInit(paramsObject(a.Parameters), a.Parameters)
		value = r.array
	}
	in := container.RunInput{Value: value, ActivationID: r.id, TransactionID: r.txid}
	if providesKey(a) {
		in.APIKey = r.user.Key
	}
	// The container runs for the invoking namespace, as OpenWhisk's
	// invoker runs one (ContainerProxy: "namespace" is the user's).
	spec := container.Spec{Namespace: r.user.Namespace, Action: r.name.path(), Version: a.Version, Exec: *a.Exec,
		Limits: *a.Limits, Env: map[string]string{"__OW_API_HOST": p.APIHost()}, InitEnv: initEnv}
	start := time.Now()
	in.Deadline = start.Add(time.Duration(a.Limits.Timeout) * time.Millisecond)
	var out container.RunOutput
	var err error
	if p.cfg.Runner == nil {
		err = fmt.Errorf("no container runner configured")
	} else {
		out, err = p.cfg.Runner.Run(ctx, spec, in)
	}
	if err != nil {
		if p.ctx.Err() != nil {
			return nil
		}
		p.log.Error("run action", "action", r.name.path(), "activation", r.id, "err", err)
		end := time.Now()
		out = container.RunOutput{StatusCode: 3, Result: mustJSON(errorObject(msgProvisionFailure)), Start: start, End: end}
	}
	if out.Start.IsZero() {
		out.Start = start
	}
	if out.End.IsZero() {
		out.End = time.Now()
	}
	rec.Start = out.Start.UnixMilli()
	rec.End = out.End.UnixMilli()
	rec.Duration = rec.End - rec.Start
	result := out.Result
	if len(bytes.TrimSpace(result)) == 0 {
		result = json.RawMessage(`{}`)
	}
	rec.Response = whisk.Response{Status: whisk.StatusString(out.StatusCode), StatusCode: out.StatusCode,
		Success: out.StatusCode == 0, Result: result}
	if out.Logs != nil {
		rec.Logs = out.Logs
	}
	ann := whisk.KeyValues{}
	if r.cause != "" {
		ann = ann.Set("causedBy", "sequence")
	}
	ann = ann.Set("path", r.name.String()).
		Set("waitTime", out.WaitTime.Milliseconds()).
		Set("kind", a.Exec.Kind).
		Set("timeout", out.TimedOut).
		Set("limits", *a.Limits)
	if out.InitTime > 0 {
		ann = ann.Set("initTime", out.InitTime.Milliseconds())
	}
	if r.binding != "" {
		ann = ann.Set("binding", r.binding)
	}
	rec.Annotations = ann
	return &runResult{rec: rec, memory: a.Limits.Memory}
}

// compositeRecord fills the record of a sequence or composition.
func compositeRecord(r runReq, rec *whisk.Activation, start time.Time, ids []string, dur int64, mem int, resp whisk.Response, conductor bool) *runResult {
	rec.Start = start.UnixMilli()
	rec.End = time.Now().UnixMilli()
	rec.Duration = dur
	rec.Logs = ids
	if rec.Logs == nil {
		rec.Logs = []string{}
	}
	rec.Response = resp
	ann := whisk.KeyValues{{Key: "topmost", Value: r.cause == ""}, {Key: "path", Value: r.name.String()}, {Key: "kind", Value: "sequence"}}
	if conductor {
		ann = ann.Set("conductor", true)
	}
	if r.cause != "" {
		ann = ann.Set("causedBy", "sequence")
	}
	ann = ann.Set("waitTime", start.Sub(r.requested).Milliseconds())
	if r.binding != "" {
		ann = ann.Set("binding", r.binding)
	}
	ann = ann.Set("limits", limitsAnnotation(*r.action.Limits, mem))
	rec.Annotations = ann
	return &runResult{rec: rec, memory: mem}
}

func responseOf(code int, result object) whisk.Response {
	return whisk.Response{Status: whisk.StatusString(code), StatusCode: code, Success: code == 0, Result: mustJSON(result)}
}

func (p *Platform) runSequence(ctx context.Context, r runReq, rec *whisk.Activation) *runResult {
	start := time.Now()
	a := r.action
	n := p.cfg.LengthLimit
	count := r.seqCount
	if count == nil {
		count = new(int)
	}
	input := merge(paramsObject(a.Parameters), r.payload)
	array := r.array
	var ids []string
	var dur int64
	mem := a.Limits.Memory
	resp := responseOf(0, input)
	if array != nil {
		input = nil
		resp.Result = array
	}
	for _, c := range a.Exec.Components {
		// Components resolve through packages and bindings as
		// SequenceActions.invokeSequenceActions resolves them; the caller's
		// right to them was checked when the sequence was invoked.
		f, ok := resolveName(c, r.user.Namespace)
		var found *resolved
		if ok {
			var e *apiError
			found, e = p.resolveAction(f)
			ok = e == nil
		}
		if !ok {
			resp = responseOf(3, errorObject(msgSequenceFailed))
			break
		}
		comp := found.action
		child := runReq{id: newID(), user: r.user, txid: r.txid, action: comp, name: found.name, binding: found.binding,
			payload: input, array: array, cause: r.id}
		if comp.Exec.Kind == "sequence" {
			child.seqCount = count
		} else {
			*count++
			if *count > n {
				resp = responseOf(1, errorObject(msgSequenceTooLong))
				break
			}
		}
		res := p.run(ctx, child)
		if res == nil {
			return nil
		}
		ids = append(ids, res.rec.ActivationID)
		dur += res.rec.Duration
		mem = max(mem, res.memory)
		resp = res.rec.Response
		out, isObj := asObject(resp.Result)
		if isObj {
			if _, failed := out["error"]; failed {
				break
			}
		}
		// An array result is the next component's input as it is
		// (SequenceActions.runSequenceActions); anything else not an
		// object is boxed.
		if isArray(resp.Result) {
			input, array = nil, resp.Result
		} else {
			input, array = boxed(resp.Result, "value"), nil
		}
	}
	return compositeRecord(r, rec, start, ids, dur, mem, resp, false)
}

func (p *Platform) runConductor(ctx context.Context, r runReq, rec *whisk.Activation) *runResult {
	start := time.Now()
	a := r.action
	n := p.cfg.LengthLimit
	acct := r.acct
	if acct == nil {
		acct = &accounting{}
	}
	var ids []string
	var dur int64
	mem := a.Limits.Memory
	payload := r.payload
	var state object
	var resp whisk.Response
	add := func(res *runResult) {
		ids = append(ids, res.rec.ActivationID)
		dur += res.rec.Duration
		mem = max(mem, res.memory)
	}
	for {
		if acct.conductors > 2*n {
			resp = responseOf(1, errorObject(msgCompositionTooLong))
			break
		}
		acct.conductors++
		// The conductor itself runs as a primitive action.
		cres := p.run(ctx, runReq{id: newID(), user: r.user, txid: r.txid, action: primitiveOf(a), name: r.name,
			binding: r.binding, payload: merge(payload, state), cause: r.id})
		if cres == nil {
			return nil
		}
		add(cres)
		out, isObj := asObject(cres.rec.Response.Result)
		actionRaw, hasAction := out["action"]
		if !isObj || !hasAction {
			resp = cres.rec.Response
			if pr, ok := out["params"]; isObj && ok {
				resp.Result = mustJSON(boxed(pr, "value"))
			}
			break
		}
		var params object
		if pr, ok := out["params"]; ok {
			params = boxed(pr, "value")
		}
		state = nil
		if st, ok := out["state"]; ok {
			state = boxed(st, "state")
		}
		var name string
		f, valid := fqn{}, json.Unmarshal(actionRaw, &name) == nil
		if valid {
			f, valid = resolveName(name, r.user.Namespace)
		}
		if !valid {
			payload = errorObject(fmt.Sprintf("Failed to parse action name from json value %s during composition.", compactJSON(actionRaw)))
			continue
		}
		if acct.components >= n {
			payload = errorObject(msgCompositionTooLong)
			continue
		}
		// PrimitiveActions.tryInvokeNext: the entitlement check, then the
		// resolution through packages and bindings.
		if e := p.actionRight(r.user.Namespace, f); e != nil {
			payload = errorObject(fmt.Sprintf("Failed entitlement check for action with name '%s' during composition.", f))
			continue
		}
		found, e := p.resolveAction(f)
		if e != nil {
			payload = errorObject(fmt.Sprintf("Failed to resolve action with name '%s' during composition.", f))
			continue
		}
		comp := found.action
		child := runReq{id: newID(), user: r.user, txid: r.txid, action: comp, name: found.name, binding: found.binding,
			payload: params, cause: r.id}
		if comp.Exec.Kind != "sequence" && isTruthy(comp.Annotations.Get("conductor")) {
			child.acct = acct
		} else {
			acct.components++
		}
		res := p.run(ctx, child)
		if res == nil {
			return nil
		}
		add(res)
		payload, _ = asObject(res.rec.Response.Result)
	}
	return compositeRecord(r, rec, start, ids, dur, mem, resp, true)
}

// primitiveOf returns the conductor action without its conductor
// annotation, so that run executes it as a plain action.
func primitiveOf(a *whisk.Action) *whisk.Action {
	cp := *a
	cp.Annotations = make(whisk.KeyValues, 0, len(a.Annotations))
	for _, kv := range a.Annotations {
		if kv.Key != "conductor" {
			cp.Annotations = append(cp.Annotations, kv)
		}
	}
	return &cp
}

func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}
