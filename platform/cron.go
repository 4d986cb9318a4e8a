package platform

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// cronSpec is a cron pattern as the alarms service reads it: with the
// npm package cron 1.8 (openwhisk-package-alarms package.json), whose
// CronTime takes up to six fields (seconds first; a missing leading field
// is 0 for seconds, * for the others), months 0-11 and days of the week
// 0-6 from Sunday, names for both (jan, sun), values clamped into their
// field's range, and a day that must match both the day of the month and
// the day of the week.
type cronSpec struct {
	fields [6]uint64 // second, minute, hour, day of month, month, day of week
}

var cronBounds = [6][2]int{{0, 59}, {0, 59}, {0, 23}, {1, 31}, {0, 11}, {0, 6}}

var cronDefaults = [6]string{"0", "*", "*", "*", "*", "*"}

var cronAliases = map[string]string{
	"jan": "0", "feb": "1", "mar": "2", "apr": "3", "may": "4", "jun": "5",
	"jul": "6", "aug": "7", "sep": "8", "oct": "9", "nov": "10", "dec": "11",
	"sun": "0", "mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6",
}

var (
	cronAliasRE = regexp.MustCompile(`(?i)[a-z]{1,3}`)
	cronRangeRE = regexp.MustCompile(`^(\d+)(?:-(\d+))?(?:/(\d+))?$`)
)

// cronMonthDays are the days of each month, February's leap day included.
var cronMonthDays = [12]int{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func parseCron(pattern string) (*cronSpec, error) {
	var unknown string
	src := cronAliasRE.ReplaceAllStringFunc(pattern, func(s string) string {
		v, ok := cronAliases[strings.ToLower(s)]
		if !ok && unknown == "" {
			unknown = s
		}
		return v
	})
	if unknown != "" {
		return nil, fmt.Errorf("unknown alias: %s", strings.ToLower(unknown))
	}
	split := strings.Fields(src)
	c := &cronSpec{}
	for i := range c.fields {
		f := cronDefaults[i]
		if j := i - (len(c.fields) - len(split)); j >= 0 && j < len(split) {
			f = split[j]
		}
		lo, hi := cronBounds[i][0], cronBounds[i][1]
		f = strings.ReplaceAll(f, "*", strconv.Itoa(lo)+"-"+strconv.Itoa(hi))
		for _, part := range strings.Split(f, ",") {
			m := cronRangeRE.FindStringSubmatch(part)
			if m == nil {
				return nil, fmt.Errorf("field (%s) cannot be parsed", f)
			}
			step, _ := strconv.Atoi(m[3])
			if step <= 0 {
				step = 1
			}
			lower, _ := strconv.Atoi(m[1])
			lower = min(max(lo, lower), hi)
			upper := lower
			if m[2] != "" {
				upper, _ = strconv.Atoi(m[2])
				upper = min(hi, upper)
			}
			for v := lower; ; v += step {
				c.fields[i] |= 1 << v
				if v+step > upper {
					break
				}
			}
		}
	}
	c.fixDays()
	return c, nil
}

// fixDays is CronTime._verifyParse: when no chosen day of the month is in
// any chosen month, the days past the last such month's end wrap round.
func (c *cronSpec) fixDays() {
	last := -1
	for m := 0; m < 12; m++ {
		if c.fields[4]&(1<<m) == 0 {
			continue
		}
		for d := 1; d <= cronMonthDays[m]; d++ {
			if c.fields[3]&(1<<d) != 0 {
				return
			}
		}
		last = m
	}
	if last < 0 {
		return
	}
	limit := cronMonthDays[last]
	for d := limit + 1; d <= 31; d++ {
		if c.fields[3]&(1<<d) != 0 {
			c.fields[3] &^= 1 << d
			c.fields[3] |= 1 << (d % limit)
		}
	}
}

func (c *cronSpec) has(field, v int) bool { return c.fields[field]&(1<<v) != 0 }

// cronSearchDays bounds the search for a next time: a leap day's pattern
// matches within eight years.
const cronSearchDays = 8 * 366

// next is the first time after t that matches, in loc.
func (c *cronSpec) next(t time.Time, loc *time.Location) (time.Time, bool) {
	t = t.In(loc).Truncate(time.Second).Add(time.Second)
	y, mo, d := t.Date()
	for day := 0; day < cronSearchDays; day++ {
		date := time.Date(y, mo, d+day, 0, 0, 0, 0, loc)
		if !c.has(4, int(date.Month())-1) || !c.has(3, date.Day()) || !c.has(5, int(date.Weekday())) {
			continue
		}
		for h := 0; h < 24; h++ {
			if !c.has(2, h) {
				continue
			}
			for mi := 0; mi < 60; mi++ {
				if !c.has(1, mi) {
					continue
				}
				for s := 0; s < 60; s++ {
					if !c.has(0, s) {
						continue
					}
					at := time.Date(date.Year(), date.Month(), date.Day(), h, mi, s, 0, loc)
					// A local time that does not exist (a clock moved
					// forward) is skipped.
					if !at.Before(t) && at.Hour() == h && at.Minute() == mi {
						return at, true
					}
				}
			}
		}
	}
	return time.Time{}, false
}

// cronLocation is the zone of a cron alarm: its timezone, or the
// machine's, as the service's own without one.
func cronLocation(tz string) (*time.Location, error) {
	if tz == "" {
		return time.Local, nil
	}
	return time.LoadLocation(tz)
}

// cronNext is when a cron alarm fires next after t; false when it never
// does or its pattern or zone no longer read.
func cronNext(pattern, tz string, t time.Time) (time.Time, bool) {
	c, err := parseCron(pattern)
	if err != nil {
		return time.Time{}, false
	}
	loc, err := cronLocation(tz)
	if err != nil {
		return time.Time{}, false
	}
	return c.next(t, loc)
}
