package platform

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The alarms service is JavaScript; these read its parameters as it
// does.

// jsTruthy is JavaScript's truthiness of a JSON value.
func jsTruthy(raw json.RawMessage) bool {
	switch t := strings.TrimSpace(string(raw)); t {
	case "", "null", "false", "0", `""`, "-0":
		return false
	default:
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f != 0 && !math.IsNaN(f)
		}
		return true
	}
}

// jsString is a JSON value as JavaScript's template strings print it.
func jsString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return compactJSON(raw)
}

// jsDate reads a date as JavaScript's new Date does for what the alarms
// feeds document: milliseconds since the epoch, or an ISO 8601 string (a
// date alone is UTC, a time without an offset local).
func jsDate(raw json.RawMessage) (time.Time, bool) {
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return time.UnixMilli(int64(n)), !math.IsNaN(n) && math.Abs(n) <= 8.64e15
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return time.Time{}, false
	}
	for _, f := range []struct {
		layout string
		loc    *time.Location
	}{
		{time.RFC3339Nano, time.UTC}, {"2006-01-02T15:04Z07:00", time.UTC},
		{"2006-01-02", time.UTC}, {"2006-01", time.UTC}, {"2006", time.UTC},
		{"2006-01-02T15:04:05.999999999", time.Local}, {"2006-01-02T15:04", time.Local},
	} {
		if t, err := time.ParseInLocation(f.layout, s, f.loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// validateDate is alarmWebAction.js validateDate: "" when raw is a date
// in the future (and after start, when given), else why not.
func (s *alarms) validateDate(raw json.RawMessage, param string, start json.RawMessage) (time.Time, string) {
	t, ok := jsDate(raw)
	switch {
	case !ok:
		return t, fmt.Sprintf("%s parameter '%s' is not a valid Date", param, jsString(raw))
	case !t.After(s.clock.Now()):
		return t, fmt.Sprintf("%s parameter '%s' must be in the future", param, jsString(raw))
	}
	if start != nil {
		if st, ok := jsDate(start); ok && !t.After(st) {
			return t, fmt.Sprintf("%s parameter '%s' must be greater than the startDate parameter '%s'", param, jsString(raw), jsString(start))
		}
	}
	return t, ""
}
