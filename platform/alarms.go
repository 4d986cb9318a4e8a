package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/wskx/wskx/whisk"
)

// Clock is the time source of the alarms feed. The channel of At
// receives once the clock has reached t, at once when it has: a time
// rather than a duration, so that a clock moved by hand between Now and
// At cannot make a wait longer.
type Clock interface {
	Now() time.Time
	At(t time.Time) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                  { return time.Now() }
func (systemClock) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// The alarms service's retries of a fire that failed for a reason that
// may pass (provider/lib/constants.js RETRY_ATTEMPTS, RETRY_DELAY).
const (
	alarmRetries    = 10
	alarmRetryDelay = time.Second
)

// alarm is a trigger's registration with the alarms feed, kept as the
// alarms service keeps its trigger documents (openwhisk-package-alarms
// action/alarmWebAction.js, provider/lib/*.js): the parameters as given,
// with the dates read into milliseconds beside them.
type alarm struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"` // the trigger's
	APIKey    string `json:"apikey"`
	Feed      string `json:"feed"` // "interval", "once" or "alarm"

	Payload         json.RawMessage `json:"payload"`
	Minutes         int             `json:"minutes,omitempty"`
	Date            json.RawMessage `json:"date,omitempty"`
	DeleteAfterFire string          `json:"deleteAfterFire,omitempty"`
	StartDate       json.RawMessage `json:"startDate,omitempty"`
	StopDate        json.RawMessage `json:"stopDate,omitempty"`
	Cron            string          `json:"cron,omitempty"`
	Timezone        string          `json:"timezone,omitempty"`
	Strict          any             `json:"strict,omitempty"`
	MaxTriggers     int             `json:"maxTriggers,omitempty"` // -1: no limit
	TriggersLeft    int             `json:"triggersLeft,omitempty"`

	At    int64 `json:"at,omitempty"` // Date, ms
	Start int64 `json:"start,omitempty"`
	Stop  int64 `json:"stop,omitempty"`

	Status alarmStatus `json:"status"`
}

type alarmStatus struct {
	Active      bool         `json:"active"`
	DateChanged int64        `json:"dateChanged"`
	Reason      *alarmReason `json:"reason,omitempty"`
}

type alarmReason struct {
	Kind       string `json:"kind"`
	StatusCode int    `json:"statusCode,omitempty"`
	Message    string `json:"message"`
}

// alarms fires the triggers registered with the alarms feed: one
// goroutine of the platform's, waiting for the next registration due. Its
// due times are guarded by p.ev.mu with the registrations.
type alarms struct {
	p      *Platform
	clock  Clock
	minute time.Duration
	due    map[string]time.Time // active registrations' next fire, by trigger
	wake   chan struct{}
}

func newAlarms(p *Platform, clock Clock, minute time.Duration) *alarms {
	if clock == nil {
		clock = systemClock{}
	}
	if minute <= 0 {
		minute = time.Minute
	}
	return &alarms{p: p, clock: clock, minute: minute, due: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

func (s *alarms) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// period is an interval alarm's period.
func (s *alarms) period(a *alarm) time.Duration { return time.Duration(a.Minutes) * s.minute }

// next is when a is due after t, as the service schedules it: an
// interval from its start date, every period after (intervalAlarm.js);
// once at its date; a cron schedule from its start date (cronAlarm.js).
// false when it will not fire again.
func (s *alarms) next(a *alarm, t time.Time) (time.Time, bool) {
	var at time.Time
	switch a.Feed {
	case "interval":
		start := time.UnixMilli(a.Start)
		if t.Before(start) {
			at = start
		} else {
			p := s.period(a)
			at = start.Add(p * (t.Sub(start)/p + 1))
		}
	case "once":
		at = time.UnixMilli(a.At)
		if !at.After(t) {
			return time.Time{}, false
		}
	case "alarm":
		from := t
		if start := time.UnixMilli(a.Start); a.Start != 0 && from.Before(start) {
			from = start.Add(-time.Millisecond)
		}
		var ok bool
		if at, ok = cronNext(a.Cron, a.Timezone, from); !ok {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if a.Stop != 0 && at.After(time.UnixMilli(a.Stop)) {
		return time.Time{}, false
	}
	return at, true
}

// scheduleLocked sets when a is next due, or that it is not; the caller
// holds p.ev.mu.
func (s *alarms) scheduleLocked(a *alarm) {
	key := a.Namespace + "/" + a.Name
	delete(s.due, key)
	if a.Status.Active {
		if at, ok := s.next(a, s.clock.Now()); ok {
			s.due[key] = at
		}
	}
	s.poke()
}

// initError is why the service would not start a loaded registration
// (createTrigger's rejections): "" when it would.
func (s *alarms) initError(a *alarm, now time.Time) string {
	switch {
	case a.Feed == "once" && !time.UnixMilli(a.At).After(now):
		return "the fire once date has expired"
	case a.Stop != 0 && !time.UnixMilli(a.Stop).After(now):
		return "the stop date has expired"
	}
	if _, ok := s.next(a, now); !ok {
		return "the next scheduled trigger fire is after the stop date"
	}
	return ""
}

// run resumes the registrations loaded at start, as the service does
// when it starts (utils.js initAllTriggers), then fires each when due,
// until ctx ends.
func (s *alarms) run(ctx context.Context) {
	s.resume(ctx)
	for {
		s.p.ev.mu.Lock()
		var soonest time.Time
		for _, at := range s.due {
			if soonest.IsZero() || at.Before(soonest) {
				soonest = at
			}
		}
		s.p.ev.mu.Unlock()
		var timer <-chan time.Time
		if !soonest.IsZero() {
			timer = s.clock.At(soonest)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer:
			s.fireDue(ctx)
		}
	}
}

// resume checks that each active registration's trigger still answers
// to its key, then schedules it, or disables it as the service does.
func (s *alarms) resume(ctx context.Context) {
	s.p.ev.mu.Lock()
	var active []*alarm
	for _, a := range s.p.ev.alarms {
		if a.Status.Active {
			active = append(active, a)
		}
	}
	s.p.ev.mu.Unlock()
	for _, a := range active {
		status, _ := s.p.selfRequest(ctx, http.MethodGet, triggerPath(a.Namespace, a.Name), a.APIKey, nil)
		msg := ""
		if disablesAlarm(status) {
			msg = fmt.Sprintf("Automatically disabled after receiving a %d status code on trigger initialization", status)
		} else if reason := s.initError(a, s.clock.Now()); reason != "" {
			msg = "Automatically disabled after receiving error on trigger initialization: " + reason
			status = 0
		}
		s.p.ev.mu.Lock()
		if cur := s.p.ev.alarms[a.Namespace+"/"+a.Name]; cur == a {
			if msg != "" {
				s.disableLocked(a, status, msg)
			} else {
				s.scheduleLocked(a)
			}
		}
		s.p.ev.mu.Unlock()
	}
}

func triggerPath(ns, name string) string {
	return escapedPath("api", "v1", "namespaces", ns, "triggers", name)
}

// disablesAlarm is the service's shouldDisableTrigger: a client error
// other than a timeout, a conflict or throttling.
func disablesAlarm(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusRequestTimeout &&
		status != http.StatusTooManyRequests && status != http.StatusConflict
}

// disableLocked marks a registration inactive with its reason (utils.js
// disableTrigger); the caller holds p.ev.mu.
func (s *alarms) disableLocked(a *alarm, status int, msg string) {
	cp := *a
	cp.Status = alarmStatus{Active: false, DateChanged: s.clock.Now().UnixMilli(),
		Reason: &alarmReason{Kind: "AUTO", StatusCode: status, Message: msg}}
	if err := s.p.ev.putAlarm(&cp); err != nil {
		s.p.log.Error("disable alarm", "trigger", a.Namespace+"/"+a.Name, "err", err)
	}
	s.scheduleLocked(&cp)
}

// fireDue fires every registration that is due, each in a goroutine of
// its own, having set when it is due next.
func (s *alarms) fireDue(ctx context.Context) {
	now := s.clock.Now()
	s.p.ev.mu.Lock()
	var fire []*alarm
	for key, at := range s.due {
		if at.After(now) {
			continue
		}
		a := s.p.ev.alarms[key]
		delete(s.due, key)
		if a == nil {
			continue
		}
		// From now rather than from when it was due: fires missed while
		// the machine slept are not made up, as timers do not make them up.
		if next, ok := s.next(a, now); ok {
			s.due[key] = next
		}
		if a.MaxTriggers > 0 {
			cp := *a
			cp.TriggersLeft--
			if err := s.p.ev.putAlarm(&cp); err != nil {
				s.p.log.Error("count alarm", "trigger", key, "err", err)
			}
			a = &cp
			if cp.TriggersLeft <= 0 {
				delete(s.due, key)
			}
		}
		fire = append(fire, a)
	}
	s.p.ev.mu.Unlock()
	for _, a := range fire {
		s.p.wg.Add(1)
		go func() {
			defer s.p.wg.Done()
			s.fire(ctx, a)
		}()
	}
}

// fire posts a's payload to its trigger with its key, retrying what may
// pass (utils.js postTrigger), then does what the service does after a
// fire (handleFiredTrigger).
func (s *alarms) fire(ctx context.Context, a *alarm) {
	key := a.Namespace + "/" + a.Name
	throttled := 0
	for attempt := 0; ; attempt++ {
		status, _ := s.p.selfRequest(ctx, http.MethodPost, triggerPath(a.Namespace, a.Name), a.APIKey, a.Payload)
		if ctx.Err() != nil {
			return
		}
		if status < 400 {
			break
		}
		s.p.log.Warn("alarm could not fire its trigger", "trigger", key, "status", status)
		if disablesAlarm(status) {
			s.p.ev.mu.Lock()
			s.disableLocked(a, status, fmt.Sprintf("Trigger automatically disabled: Received a %d status code when firing the trigger", status))
			s.p.ev.mu.Unlock()
			return
		}
		if status == http.StatusTooManyRequests {
			throttled++
		}
		if attempt >= alarmRetries {
			if throttled > alarmRetries {
				s.p.ev.mu.Lock()
				s.disableLocked(a, status, "Automatically disabled after continuously receiving a 429 status code when firing the trigger")
				s.p.ev.mu.Unlock()
			}
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-s.clock.At(s.clock.Now().Add(max(alarmRetryDelay, time.Second*time.Duration(throttled*throttled)))):
		}
	}
	s.afterFire(ctx, a)
}

// afterFire ends a registration that has fired for the last time: a once
// alarm is disabled, or deleted with its trigger (and its trigger's rules)
// through the API; an alarm past its stop date or its number of fires is
// disabled (utils.js handleFiredTrigger, sanitizer.js).
func (s *alarms) afterFire(ctx context.Context, a *alarm) {
	key := a.Namespace + "/" + a.Name
	if a.Feed == "once" && (a.DeleteAfterFire == "true" || a.DeleteAfterFire == "rules") {
		s.p.ev.mu.Lock()
		if s.p.ev.alarms[key] != nil {
			if err := s.p.ev.removeAlarm(a.Namespace, a.Name); err != nil {
				s.p.log.Error("delete alarm", "trigger", key, "err", err)
			}
			delete(s.due, key)
		}
		s.p.ev.mu.Unlock()
		path := triggerPath(a.Namespace, a.Name)
		var t whisk.Trigger
		if a.DeleteAfterFire == "rules" {
			status, body := s.p.selfRequest(ctx, http.MethodGet, path, a.APIKey, nil)
			if status >= 400 || json.Unmarshal(body, &t) != nil {
				s.p.log.Warn("alarm could not get its trigger to delete", "trigger", key, "status", status)
				return
			}
		}
		if status, _ := s.p.selfRequest(ctx, http.MethodDelete, path, a.APIKey, nil); status >= 400 {
			s.p.log.Warn("alarm could not delete its trigger", "trigger", key, "status", status)
			return
		}
		for _, rl := range sortedRules(&t) {
			ns, rule, _ := cutLast(rl.name)
			if status, _ := s.p.selfRequest(ctx, http.MethodDelete, escapedPath("api", "v1", "namespaces", ns, "rules", rule), a.APIKey, nil); status >= 400 {
				s.p.log.Warn("alarm could not delete a rule of its trigger", "rule", rl.name, "status", status)
			}
		}
		return
	}
	msg := ""
	switch {
	case a.Feed == "once":
		msg = "Automatically disabled after firing once"
	case a.Stop != 0 && a.Feed == "alarm":
		if _, ok := s.next(a, s.clock.Now()); !ok {
			msg = "Automatically disabled after firing last scheduled cron trigger"
		}
	case a.Stop != 0 && a.Feed == "interval":
		if s.clock.Now().Add(s.period(a)).After(time.UnixMilli(a.Stop)) {
			msg = "Automatically disabled after firing last scheduled interval trigger"
		}
	case a.MaxTriggers > 0 && a.TriggersLeft <= 0:
		msg = "Automatically disabled after reaching max triggers"
	}
	if msg == "" {
		return
	}
	s.p.ev.mu.Lock()
	// A registration replaced or deleted meanwhile is not this one's to end.
	if cur := s.p.ev.alarms[key]; cur != nil && cur.Status.Active && cur.Status.DateChanged == a.Status.DateChanged {
		s.disableLocked(cur, 0, msg)
	}
	s.p.ev.mu.Unlock()
}

// cutLast splits "a/b/c" into "a/b" and "c".
func cutLast(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}
