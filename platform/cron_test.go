package platform

import (
	"testing"
	"time"
)

// TestCronNext checks next times as the npm cron 1.8 the alarms service
// uses computes them: five or six fields, months 0-11, days of the week
// 0-6 and names, a day matching both its fields, values clamped.
func TestCronNext(t *testing.T) {
	from := time.Date(2030, 1, 1, 12, 0, 30, 0, time.UTC) // a Tuesday
	tests := []struct {
		pattern, tz string
		want        string // RFC 3339, or "" for a pattern cron refuses
	}{
		{"* * * * *", "UTC", "2030-01-01T12:01:00Z"},
		{"*/10 * * * * *", "UTC", "2030-01-01T12:00:40Z"},
		{"0 9 8 * *", "UTC", "2030-01-08T09:00:00Z"},
		{"0 */2 * * *", "UTC", "2030-01-01T14:00:00Z"},
		{"0 0 1 1 *", "UTC", "2030-02-01T00:00:00Z"}, // month 1 is February
		{"0 0 * jan *", "UTC", "2030-01-02T00:00:00Z"},
		{"0 0 * * sun", "UTC", "2030-01-06T00:00:00Z"},
		{"0 0 * * 7", "UTC", "2030-01-05T00:00:00Z"},  // clamped to 6, Saturday
		{"0 0 13 * 5", "UTC", "2030-09-13T00:00:00Z"}, // a Friday the 13th
		{"30 2 * * *", "America/New_York", "2030-01-02T07:30:00Z"},
		{"0 0 31 1 *", "UTC", "2030-02-02T00:00:00Z"}, // February has no 31st: wraps to the 2nd
		{"1-3,5 0 0 * * *", "UTC", "2030-01-02T00:00:01Z"},
		{"* * * * L", "UTC", ""},
		{"x * * * *", "UTC", ""},
		{"a-b * * * *", "UTC", ""},
	}
	for _, tc := range tests {
		c, err := parseCron(tc.pattern)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: parsed, want refused", tc.pattern)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.pattern, err)
			continue
		}
		loc, err := cronLocation(tc.tz)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := c.next(from, loc)
		if !ok || got.UTC().Format(time.RFC3339) != tc.want {
			t.Errorf("%q in %s: next %v (%v), want %s", tc.pattern, tc.tz, got.UTC(), ok, tc.want)
		}
	}
}
