package runner

import (
	"testing"
	"time"

	"github.com/wskx/wskx/checkpoint"
)

func TestHolderAlive(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name     string
		deadline time.Time
		alive    bool
	}{
		{"before its deadline", now.Add(time.Second), true},
		{"within the grace", now.Add(-leaseGrace / 2), true},
		{"past deadline and grace", now.Add(-leaseGrace - time.Millisecond), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := holderAlive(checkpoint.Lease{Deadline: tc.deadline.UnixMilli()}, now); got != tc.alive {
				t.Errorf("holderAlive = %v, want %v", got, tc.alive)
			}
		})
	}
}

// TestPosition: where the next holder of a job stands, from the newest
// holding and the generations.
func TestPosition(t *testing.T) {
	gens := func(hops ...int) checkpoint.Listing {
		var l checkpoint.Listing
		for i, h := range hops {
			l.Whole = append(l.Whole, checkpoint.Manifest{Generation: i + 1, Meta: checkpoint.Meta{Hop: h}})
		}
		return l
	}
	tests := []struct {
		name         string
		lease        checkpoint.Lease
		held         bool
		listing      checkpoint.Listing
		hop, attempt int
	}{
		{"a new job", checkpoint.Lease{}, false, gens(), 1, 1},
		{"the holder's hop checkpointed", checkpoint.Lease{Hop: 3, Attempt: 2}, true, gens(1, 2, 3), 4, 1},
		{"the holder's hop left nothing", checkpoint.Lease{Hop: 3, Attempt: 2}, true, gens(1, 2), 3, 3},
		{"the holder's first attempt failed", checkpoint.Lease{Hop: 1, Attempt: 1}, true, gens(), 1, 2},
		{"generations older than any lease", checkpoint.Lease{}, false, gens(1, 2), 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, a := position(tc.lease, tc.held, tc.listing)
			if h != tc.hop || a != tc.attempt {
				t.Errorf("position = hop %d attempt %d, want hop %d attempt %d", h, a, tc.hop, tc.attempt)
			}
		})
	}
}

func TestLastJSONObject(t *testing.T) {
	tests := []struct {
		out  string
		want string // "" for none
	}{
		{"log\n{\"a\":1}\n", `{"a":1}`},
		{"{\"a\":1}\n{\"b\":2}\nbye\n", `{"b":2}`},
		{"{\"a\":1}\n[1,2]\n", `{"a":1}`},
		{"{not json}\n", ""},
		{"", ""},
		{"  {\"sp\": true}  \r\n", `{"sp": true}`},
	}
	for _, tc := range tests {
		_, raw, ok := lastJSONObject([]byte(tc.out))
		if string(raw) != tc.want || ok != (tc.want != "") {
			t.Errorf("lastJSONObject(%q) = %q, %v; want %q", tc.out, raw, ok, tc.want)
		}
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	tl := newTail(nil, 8)
	for _, s := range []string{"hello ", "world\n", "again\n"} {
		_, _ = tl.Write([]byte(s))
	}
	if got := string(tl.bytes()); got != "d\nagain\n" {
		t.Errorf("tail kept %q", got)
	}
	if got := tl.lastText(7); got != "again" {
		t.Errorf("lastText = %q", got)
	}
}
