package platform

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wskx/wskx/whisk"
)

// feedCall invokes a feed action blocking, as wsk trigger create --feed
// does, and returns the HTTP status and the activation record.
func feedCall(t testing.TB, env *testEnv, feed string, params map[string]any) (int, *whisk.Activation) {
	t.Helper()
	status, body := rawCall(t, "POST", env.url+feedActionsPath+feed+"?blocking=true", env.key, string(mustMarshal(params)))
	var rec whisk.Activation
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatalf("feed %s: %d %s", feed, status, body)
	}
	return status, &rec
}

// lifecycle is the parameters of a feed lifecycle event for trigger.
func lifecycle(env *testEnv, event, trigger string, more map[string]any) map[string]any {
	m := map[string]any{"lifecycleEvent": event, "triggerName": "/_/" + trigger, "authKey": env.key}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// feedTrigger creates a trigger with the feed annotation, a rule from it
// to an echo action, and registers it with the feed.
func feedTrigger(t testing.TB, env *testEnv, name, feed string, params map[string]any) {
	t.Helper()
	mustPut(t, env.c, "echo", testAction("echo"))
	mustTrigger(t, env.c, name, &whisk.Trigger{Annotations: whisk.KeyValues{{Key: "feed", Value: "/whisk.system/alarms/" + feed}}})
	mustRule(t, env.c, name+"-rule", name, "echo")
	status, rec := feedCall(t, env, feed, lifecycle(env, "CREATE", name, params))
	if status != http.StatusOK {
		t.Fatalf("feed CREATE: %d %s", status, rec.Response.Result)
	}
	jsonEqual(t, rec.Response.Result, `{"status":"success"}`)
}

// TestFeedErrors checks the feed actions' refusals, the alarms service's
// messages (alarmWebAction.js, AlarmsFeedNegativeTests).
func TestFeedErrors(t *testing.T) {
	clock := newFakeClock()
	env := startPlatform(t, Config{AlarmClock: clock})
	mustTrigger(t, env.c, "t", nil)
	past := clock.Now().Add(-time.Hour).UnixMilli()
	future := clock.Now().Add(time.Hour).UnixMilli()
	tests := []struct {
		name, feed string
		params     map[string]any
		want       string
	}{
		{"no minutes", "interval", lifecycle(env, "CREATE", "t", nil), "interval trigger feed is missing the minutes parameter"},
		{"zero minutes", "interval", lifecycle(env, "CREATE", "t", map[string]any{"minutes": 0}), "interval trigger feed is missing the minutes parameter"},
		{"minutes not whole", "interval", lifecycle(env, "CREATE", "t", map[string]any{"minutes": "1.5"}), "the minutes parameter must be an integer"},
		{"negative minutes", "interval", lifecycle(env, "CREATE", "t", map[string]any{"minutes": -1}), "the minutes parameter must be an integer greater than zero"},
		{"start in the past", "interval", lifecycle(env, "CREATE", "t", map[string]any{"minutes": 1, "startDate": past}), "startDate parameter '" + jsonText(past) + "' must be in the future"},
		{"stop before start", "interval", lifecycle(env, "CREATE", "t", map[string]any{"minutes": 1, "startDate": future, "stopDate": future - 1}),
			"stopDate parameter '" + jsonText(future-1) + "' must be greater than the startDate parameter '" + jsonText(future) + "'"},
		{"no date", "once", lifecycle(env, "CREATE", "t", nil), "alarms once trigger feed is missing the date parameter"},
		{"not a date", "once", lifecycle(env, "CREATE", "t", map[string]any{"date": "tomorrow"}), "date parameter 'tomorrow' is not a valid Date"},
		{"date in the past", "once", lifecycle(env, "CREATE", "t", map[string]any{"date": "2001-01-01T00:00:00.000Z"}), "date parameter '2001-01-01T00:00:00.000Z' must be in the future"},
		{"bad deleteAfterFire", "once", lifecycle(env, "CREATE", "t", map[string]any{"date": future, "deleteAfterFire": "maybe"}), "deleteAfterFire parameter must be one of [false, true, rules]."},
		{"no cron", "alarm", lifecycle(env, "CREATE", "t", nil), "alarms trigger feed is missing the cron parameter"},
		{"bad cron", "alarm", lifecycle(env, "CREATE", "t", map[string]any{"cron": 1700000000000}), "cron pattern '1700000000000' is not valid"},
		{"bad timezone", "alarm", lifecycle(env, "CREATE", "t", map[string]any{"cron": "* * * * *", "timezone": "America/RTP"}), "Invalid timezone."},
		{"unknown trigger", "interval", lifecycle(env, "CREATE", "nope", map[string]any{"minutes": 1}), "Trigger authentication request failed."},
		{"another key", "interval", map[string]any{"lifecycleEvent": "CREATE", "triggerName": "/_/t", "authKey": "x:y", "minutes": 1}, "Trigger authentication request failed."},
		{"read unregistered", "interval", lifecycle(env, "READ", "t", nil), "could not find trigger /guest/t in the database"},
		{"delete unregistered", "interval", lifecycle(env, "DELETE", "t", nil), "could not find trigger /guest/t in the database"},
		{"update nothing", "interval", lifecycle(env, "UPDATE", "t", nil), "could not find trigger /guest/t in the database"},
	}
	for _, tc := range tests {
		status, rec := feedCall(t, env, tc.feed, tc.params)
		if status != http.StatusBadGateway || rec.Response.Status != whisk.StatusApplicationError {
			t.Errorf("%s: %d %+v, want an application error", tc.name, status, rec.Response)
			continue
		}
		var res struct {
			Error struct {
				Error string `json:"error"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Response.Result, &res); err != nil || res.Error.Error != tc.want {
			t.Errorf("%s: result %s, want the error %q", tc.name, rec.Response.Result, tc.want)
		}
	}
	status, rec := feedCall(t, env, "interval", lifecycle(env, "PAUSE", "t", nil))
	if status != http.StatusBadGateway {
		t.Errorf("PAUSE: %d", status)
	}
	jsonEqual(t, rec.Response.Result, `{"error":"unsupported lifecycleEvent"}`)
	if status, body := rawCall(t, "PUT", env.url+feedActionsPath+"interval", env.key, "{}"); status != http.StatusForbidden {
		t.Errorf("PUT of a feed action: %d %s", status, body)
	}
	if status, body := rawCall(t, "GET", env.url+feedActionsPath+"nope", env.key, ""); status != http.StatusNotFound {
		t.Errorf("GET of no feed action: %d %s", status, body)
	}
	status, body := rawCall(t, "GET", env.url+feedActionsPath+"once", env.key, "")
	if status != http.StatusOK || !strings.Contains(string(body), `{"key":"feed","value":true}`) {
		t.Errorf("GET of the once feed: %d %s", status, body)
	}
}

func jsonText(v any) string { return string(mustMarshal(v)) }

// TestIntervalFeed runs an interval alarm on a clock moved by hand: its
// first fire half a minute after its creation, then one a minute, with
// the alarms service's payload, until it is deleted.
func TestIntervalFeed(t *testing.T) {
	clock := newFakeClock()
	env := startPlatform(t, Config{AlarmClock: clock})
	c := env.c
	created := clock.Now()
	feedTrigger(t, env, "tick", "interval", map[string]any{"minutes": 1})
	_, rec := feedCall(t, env, "interval", lifecycle(env, "READ", "tick", nil))
	var read struct {
		Config map[string]any `json:"config"`
		Status map[string]any `json:"status"`
	}
	if err := json.Unmarshal(rec.Response.Result, &read); err != nil {
		t.Fatal(err)
	}
	start := float64(created.Add(30 * time.Second).UnixMilli())
	if read.Config["minutes"] != 1.0 || read.Config["startDate"] != start || read.Config["name"] != "tick" ||
		read.Config["namespace"] != "guest" || read.Status["active"] != true {
		t.Errorf("READ: %s", rec.Response.Result)
	}
	for n := 1; n <= 2; n++ {
		if n == 1 {
			clock.Advance(30 * time.Second)
		} else {
			clock.Advance(time.Minute)
		}
		waitFor(t, "a fire", func() bool { return len(triggerActivations(t, c, "tick")) == n })
	}
	fire := triggerActivations(t, c, "tick")[0]
	// The alarms package's trigger_payload is "" when none is given.
	jsonEqual(t, fire.Response.Result, `{"payload":""}`)
	lines := ruleLines(t, &fire)
	if len(lines) != 1 || !lines[0].Success {
		t.Fatalf("fire logs %q", fire.Logs)
	}
	res := resultMap(t, waitActivation(t, c, lines[0].ActivationID).Response.Result)
	if res["payload"] != "" || res["__ow_headers"] == nil {
		t.Errorf("the rule's action got %v", res)
	}
	// An update changes the period; a delete ends the alarm.
	status, rec := feedCall(t, env, "interval", lifecycle(env, "UPDATE", "tick", map[string]any{"minutes": 5, "trigger_payload": map[string]any{"k": "v"}}))
	if status != http.StatusOK {
		t.Fatalf("UPDATE: %d %s", status, rec.Response.Result)
	}
	env.p.ev.mu.Lock()
	due := env.p.alarms.due["guest/tick"]
	env.p.ev.mu.Unlock()
	if want := created.Add(30*time.Second + 5*time.Minute); !due.Equal(want) {
		t.Errorf("after UPDATE due at %v, want %v", due, want)
	}
	clock.Advance(5 * time.Minute)
	waitFor(t, "a fire after UPDATE", func() bool { return len(triggerActivations(t, c, "tick")) == 3 })
	jsonEqual(t, triggerActivations(t, c, "tick")[0].Response.Result, `{"k":"v"}`)
	if status, rec := feedCall(t, env, "interval", lifecycle(env, "DELETE", "tick", nil)); status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", status, rec.Response.Result)
	}
	env.p.ev.mu.Lock()
	_, scheduled := env.p.alarms.due["guest/tick"]
	_, registered := env.p.ev.alarms["guest/tick"]
	env.p.ev.mu.Unlock()
	if scheduled || registered {
		t.Errorf("after DELETE: scheduled %v, registered %v", scheduled, registered)
	}
}

// TestOnceFeed fires once alarms: one that is disabled after it fires,
// and one that deletes its trigger and rules.
func TestOnceFeed(t *testing.T) {
	clock := newFakeClock()
	env := startPlatform(t, Config{AlarmClock: clock})
	c := env.c
	date := clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	feedTrigger(t, env, "keep", "once", map[string]any{"date": date, "trigger_payload": "hello"})
	feedTrigger(t, env, "drop", "once", map[string]any{"date": date, "deleteAfterFire": "rules"})
	clock.Advance(time.Hour)
	waitFor(t, "the fire of keep", func() bool { return len(triggerActivations(t, c, "keep")) == 1 })
	jsonEqual(t, triggerActivations(t, c, "keep")[0].Response.Result, `{"payload":"hello"}`)
	waitFor(t, "keep disabled", func() bool {
		_, rec := feedCall(t, env, "once", lifecycle(env, "READ", "keep", nil))
		return strings.Contains(string(rec.Response.Result), `"active":false`) &&
			strings.Contains(string(rec.Response.Result), "Automatically disabled after firing once")
	})
	waitFor(t, "drop deleted with its rule", func() bool {
		_, errT := c.GetTrigger(ctxT(t), "drop")
		_, errR := c.GetRule(ctxT(t), "drop-rule")
		return whisk.IsNotFound(errT) && whisk.IsNotFound(errR)
	})
	if len(triggerActivations(t, c, "drop")) != 1 {
		t.Errorf("drop did not fire before it went")
	}
	if _, err := c.GetRule(ctxT(t), "keep-rule"); err != nil {
		t.Errorf("keep's rule: %v", err)
	}
}

// TestCronFeed fires a cron alarm with seconds on a clock moved by hand,
// and ends it at its stop date.
func TestCronFeed(t *testing.T) {
	clock := newFakeClock()
	env := startPlatform(t, Config{AlarmClock: clock})
	c := env.c
	stop := clock.Now().Add(25 * time.Second).UnixMilli()
	feedTrigger(t, env, "cron", "alarm", map[string]any{"cron": "*/10 * * * * *", "timezone": "UTC", "stopDate": stop})
	for n := 1; n <= 2; n++ {
		clock.Advance(10 * time.Second)
		waitFor(t, "a cron fire", func() bool { return len(triggerActivations(t, c, "cron")) == n })
	}
	waitFor(t, "the cron alarm disabled", func() bool {
		_, rec := feedCall(t, env, "alarm", lifecycle(env, "READ", "cron", nil))
		return strings.Contains(string(rec.Response.Result), "Automatically disabled after firing last scheduled cron trigger")
	})
}

// TestIntervalFeedInRealTime runs an interval alarm on the system clock
// with the test hook's short minute: fires come on their own.
func TestIntervalFeedInRealTime(t *testing.T) {
	env := startPlatform(t, Config{AlarmMinute: 200 * time.Millisecond})
	feedTrigger(t, env, "fast", "interval", map[string]any{"minutes": 1})
	waitFor(t, "two fires", func() bool { return len(triggerActivations(t, env.c, "fast")) >= 2 })
}

// TestAlarmsResume restarts a platform on its data: its alarm
// registrations come back and fire, and one whose trigger went is
// disabled as the alarms service disables it.
func TestAlarmsResume(t *testing.T) {
	dir := t.TempDir()
	runner := newPool(t)
	clock := newFakeClock()
	open := func() *testEnv {
		p, err := New(Config{DataDir: dir, Runner: runner, Logger: quietLogger(), AlarmClock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		url, err := p.Start(ctxT(t), "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		key := p.Users()[0].Key
		return &testEnv{p: p, c: clientFor(t, url, key, ""), url: url, key: key}
	}
	env := open()
	feedTrigger(t, env, "kept", "interval", map[string]any{"minutes": 1})
	feedTrigger(t, env, "lost", "interval", map[string]any{"minutes": 1})
	if _, err := env.c.DeleteTrigger(ctxT(t), "lost"); err != nil {
		t.Fatal(err)
	}
	env.p.Close()
	env = open()
	if r, err := env.c.GetRule(ctxT(t), "kept-rule"); err != nil || r.Status != whisk.RuleActive {
		t.Fatalf("rule after restart: %+v, %v", r, err)
	}
	clock.Advance(30 * time.Second)
	waitFor(t, "a fire after restart", func() bool { return len(triggerActivations(t, env.c, "kept")) == 1 })
	// The lost trigger's registration cannot be read through the feed, its
	// trigger being gone; the registration says why it stopped.
	waitFor(t, "the lost trigger's alarm disabled", func() bool {
		env.p.ev.mu.Lock()
		defer env.p.ev.mu.Unlock()
		a := env.p.ev.alarms["guest/lost"]
		return a != nil && !a.Status.Active && a.Status.Reason != nil &&
			a.Status.Reason.Message == "Automatically disabled after receiving a 404 status code on trigger initialization"
	})
}
