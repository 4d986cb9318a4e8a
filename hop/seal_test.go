package hop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wskx/wskx/hop"
)

func secret(t *testing.T) []byte {
	t.Helper()
	b, err := hop.ParseSecret(hop.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	k := secret(t)
	type v struct{ A int }
	tok, err := hop.Seal(k, hop.PurposeState, v{7})
	if err != nil {
		t.Fatal(err)
	}
	var got v
	if err := hop.Open(k, hop.PurposeState, tok, &got); err != nil || got.A != 7 {
		t.Fatalf("open: %+v %v", got, err)
	}
	flip := []byte(tok)
	flip[5] ^= 2
	for name, tc := range map[string]struct {
		key     []byte
		purpose string
		token   any
	}{
		"other purpose": {k, hop.PurposeHandoff, tok},
		"other key":     {secret(t), hop.PurposeState, tok},
		"no key":        {nil, hop.PurposeState, tok},
		"altered":       {k, hop.PurposeState, string(flip)},
		"truncated":     {k, hop.PurposeState, tok[:len(tok)-3]},
		"not a string":  {k, hop.PurposeState, map[string]any{"A": 7}},
		"other version": {k, hop.PurposeState, "v2" + tok[2:]},
	} {
		if err := hop.Open(tc.key, tc.purpose, tc.token, &got); !errors.Is(err, hop.ErrUnverified) {
			t.Errorf("%s: %v, want ErrUnverified", name, err)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, s := range []string{"", "not base64!", "c2hvcnQ="} {
		if _, err := hop.ParseSecret(s); err == nil || !strings.Contains(err.Error(), hop.SecretEnv) {
			t.Errorf("ParseSecret(%q) = %v, want an error naming %s", s, err, hop.SecretEnv)
		}
	}
}

// TestReportSignature: the signature covers the report and its output,
// whatever JSON did to the output's key order and numbers on the way.
func TestReportSignature(t *testing.T) {
	k := secret(t)
	r := hop.Report{Job: "j", Hop: 2, Status: hop.Done, Warnings: []string{"w"}}
	out := map[string]any{"count": 25, "b": []any{1.0, "x"}}
	if err := r.Sign(k, out); err != nil {
		t.Fatal(err)
	}
	// What the conductor sees: the output as JSON numbers, the report
	// beside it under its key, and the state laid over.
	seen := map[string]any{"b": []any{1.0, "x"}, "count": 25.0, hop.StateKey: "v1.x.y", hop.StepKey: r}
	if err := r.Verify(k, seen); err != nil {
		t.Fatalf("genuine report refused: %v", err)
	}
	for name, tc := range map[string]struct {
		r   hop.Report
		out map[string]any
	}{
		"other output":   {r, map[string]any{"count": 26.0, "b": []any{1.0, "x"}}},
		"other status":   {func() hop.Report { c := r; c.Status = hop.Checkpointed; return c }(), seen},
		"other job":      {func() hop.Report { c := r; c.Job = "k"; return c }(), seen},
		"unsigned":       {func() hop.Report { c := r; c.MAC = ""; return c }(), seen},
		"extra output":   {r, map[string]any{"count": 25.0, "b": []any{1.0, "x"}, "more": true}},
		"missing output": {r, map[string]any{"count": 25.0}},
	} {
		if err := tc.r.Verify(k, tc.out); !errors.Is(err, hop.ErrUnverified) {
			t.Errorf("%s: %v, want ErrUnverified", name, err)
		}
	}
	if err := r.Verify(secret(t), seen); !errors.Is(err, hop.ErrUnverified) {
		t.Errorf("other key: %v", err)
	}
}

func TestStripReserved(t *testing.T) {
	got := hop.StripReserved(map[string]any{"a": 1, hop.StateKey: 1, hop.StepKey: 1, hop.ResumeKey: 1, hop.NextKey: 1})
	if len(got) != 1 || got["a"] != 1 {
		t.Errorf("got %v", got)
	}
}
