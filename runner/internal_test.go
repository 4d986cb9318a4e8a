package runner

import (
	"testing"
	"time"
)

func TestHolderAlive(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name  string
		owner string
		alive bool
		id    string
	}{
		{"before its deadline", ownerString("a1", now.Add(time.Second)), true, "a1"},
		{"within the grace", ownerString("a1", now.Add(-claimGrace/2)), true, "a1"},
		{"past deadline and grace", ownerString("a1", now.Add(-claimGrace-time.Millisecond)), false, "a1"},
		{"no deadline: never taken over", "a2", true, "a2"},
		{"bad deadline: never taken over", "a3 deadline=soon", true, "a3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			alive, id, _ := holderAlive(tc.owner, now)
			if alive != tc.alive || id != tc.id {
				t.Errorf("holderAlive(%q) = %v, %q; want %v, %q", tc.owner, alive, id, tc.alive, tc.id)
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
