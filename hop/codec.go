package hop

import (
	"encoding/json"
	"fmt"
	"maps"
)

// WithRequest returns params with the step request r under StepKey: the
// input of a step activation.
func WithRequest(params map[string]any, r Request) map[string]any {
	out := maps.Clone(params)
	if out == nil {
		out = map[string]any{}
	}
	out[StepKey] = r
	return out
}

// RequestOf reads the step request in a step's parameters; ok is false
// when there is none (the step invoked on its own).
func RequestOf(params map[string]any) (r Request, ok bool, err error) {
	raw, ok := params[StepKey]
	if !ok {
		return r, false, nil
	}
	if err := remarshal(raw, &r); err != nil {
		return r, true, fmt.Errorf("the %s parameter is not a step request: %v", StepKey, err)
	}
	return r, true, nil
}

// WithReport lays the report into a step's result.
func WithReport(out map[string]any, r Report) map[string]any {
	out[StepKey] = r
	return out
}

// ErrorWithReport is a failed step's result when no conductor reads it:
// an application error whose error field carries the message and the
// report, since OpenWhisk keeps only that field of an error result.
func ErrorWithReport(message string, r Report) map[string]any {
	return map[string]any{"error": map[string]any{"message": message, StepKey: r}}
}

// DecodeReport reads the report in a step's result as the conductor gets
// it; ok is false when there is none.
func DecodeReport(m map[string]any) (r Report, ok bool, err error) {
	raw, ok := m[StepKey]
	if !ok {
		return r, false, nil
	}
	if err := remarshal(raw, &r); err != nil {
		return r, true, fmt.Errorf("report: %w", err)
	}
	return r, true, nil
}

// ReportOfResult reads the report in an activation record's result, at
// the top level or inside its error field (ErrorWithReport); ok is false
// when there is none.
func ReportOfResult(result json.RawMessage) (Report, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(result, &top) != nil {
		return Report{}, false
	}
	raw, ok := top[StepKey]
	if !ok {
		var e map[string]json.RawMessage
		if json.Unmarshal(top["error"], &e) != nil {
			return Report{}, false
		}
		if raw, ok = e[StepKey]; !ok {
			return Report{}, false
		}
	}
	var r Report
	if json.Unmarshal(raw, &r) != nil || r.Status == "" {
		return Report{}, false
	}
	return r, true
}

// SummaryOfResult reads the account under StateKey in a conductor's
// final result (or the hand-over pointer of one that handed over); ok is
// false when there is none.
func SummaryOfResult(result json.RawMessage) (Summary, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(result, &top) != nil {
		return Summary{}, false
	}
	raw, ok := top[StateKey]
	if !ok {
		return Summary{}, false
	}
	var s Summary
	if json.Unmarshal(raw, &s) != nil {
		return Summary{}, false
	}
	return s, true
}

// IsSummary says whether a value under StateKey is an account (an earlier
// workflow's result that is now an input) rather than a carried state.
func IsSummary(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, has := m["hops"]
	return has
}

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}
