package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wskx/wskx/whisk"
)

// systemNamespace is the namespace of OpenWhisk's catalog.

// alarmsPackage is where the catalog puts the alarms feeds.
const alarmsPackage = systemNamespace + "/alarms"

// feedAction is one of the alarms feed actions, which the platform runs
// itself in place of the alarms service (openwhisk-package-alarms): the
// action as installCatalog.sh installs it, and the parameter that tells
// the service's web action which feed it is.
type feedAction struct {
	description string
	parameters  []map[string]any
	marker      string // isInterval, fireOnce, or none for cron
}

var feedActions = map[string]feedAction{
	"interval": {"Fire trigger at specified interval",
		[]map[string]any{{"name": "minutes", "required": true}, {"name": "startDate", "required": false}, {"name": "stopDate", "required": false}},
		"isInterval"},
	"once": {"Fire trigger once when alarm occurs",
		[]map[string]any{{"name": "date", "required": true}, {"name": "deleteAfterFire", "required": false}},
		"fireOnce"},
	"alarm": {"Fire trigger when alarm occurs",
		[]map[string]any{{"name": "cron", "required": true}, {"name": "timezone", "required": false}, {"name": "startDate", "required": false}, {"name": "stopDate", "required": false}, {"name": "strict", "required": false}},
		""},
}

// feedKind is the kind OpenWhisk's catalog deploys the feed actions with.
const feedKind = "nodejs:20"

// feedActionOf reports which feed action q names.
func feedActionOf(q whisk.QualifiedName) (string, bool) {
	if q.Path != alarmsPackage {
		return "", false
	}
	_, ok := feedActions[q.Name]
	return q.Name, ok
}

// feedEntity is the feed action as GET of it answers.
func feedEntity(name string) *whisk.Action {
	fa := feedActions[name]
	params := whisk.KeyValues{}
	if fa.marker != "" {
		params = params.Set(fa.marker, true)
	}
	return &whisk.Action{Namespace: alarmsPackage, Name: name, Version: "0.0.1",
		Exec: &whisk.Exec{Kind: feedKind, Binary: true},
		Annotations: whisk.KeyValues{{Key: "description", Value: fa.description}, {Key: "parameters", Value: fa.parameters},
			{Key: "feed", Value: true}, {Key: "exec", Value: feedKind}},
		Parameters: params,
		Limits:     &whisk.Limits{Timeout: defaultTimeout, Memory: defaultMemory, Logs: defaultLogs, Concurrency: 1}}
}

// feedActionsPath is where the feed actions are, under the catalog.
const feedActionsPath = "/api/v1/namespaces/" + systemNamespace + "/actions/alarms/"

// serveFeedActions answers the paths of the feed actions, which the
// route table's actions paths would take otherwise; false for any other
// path.
func (p *Platform) serveFeedActions(w http.ResponseWriter, r *http.Request) bool {
	feed, ok := strings.CutPrefix(r.URL.Path, feedActionsPath)
	if !ok || feed == "" || strings.Contains(feed, "/") {
		return false
	}
	r.SetPathValue("feed", feed)
	var h http.HandlerFunc
	switch r.Method {
	case http.MethodGet:
		h = p.getFeedAction
	case http.MethodPost:
		h = p.invokeFeedAction
	case http.MethodPut, http.MethodDelete:
		h = p.writeFeedAction
	default:
		methods := "PUT, GET, DELETE, POST"
		w.Header().Set("Allow", methods)
		writeError(w, r, http.StatusMethodNotAllowed, msgMethodNotAllowed+methods)
		return true
	}
	p.auth(h, true)(w, r)
	return true
}

func (p *Platform) getFeedAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("feed")
	if _, ok := feedActions[name]; !ok {
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	writeJSONResponse(w, http.StatusOK, feedEntity(name))
}

// writeFeedAction refuses what the catalog's owner alone may do.
func (p *Platform) writeFeedAction(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusForbidden, "The supplied authentication is not authorized to access this resource.")
}

// invokeFeedAction invokes a feed action as an action is invoked: an
// activation record in the caller's namespace, blocking or not.
func (p *Platform) invokeFeedAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("feed")
	if _, ok := feedActions[name]; !ok {
		writeError(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	q := r.URL.Query()
	if v := q.Get("timeout"); v != "" {
		if ms, err := strconv.Atoi(v); err != nil || ms <= 0 || ms > 60000 {
			writeError(w, r, http.StatusBadRequest, msgBadTimeout)
			return
		}
	}
	body, ok := readBody(w, r, maxPayload)
	if !ok {
		return
	}
	params := object{}
	if len(bytes.TrimSpace(body)) > 0 {
		if params, ok = asObject(body); !ok {
			writeError(w, r, http.StatusBadRequest, msgMalformedBody)
			return
		}
	}
	// The alarms package's own parameter (installCatalog.sh).
	if _, ok := params["trigger_payload"]; !ok {
		params = merge(object{"trigger_payload": json.RawMessage(`""`)}, params)
	}
	u := userOf(r)
	id := newID()
	run := func(ctx context.Context) *whisk.Activation {
		start := time.Now()
		result, code := p.alarmLifecycle(ctx, u, name, params)
		end := time.Now()
		lim := *feedEntity(name).Limits
		rec := &whisk.Activation{Namespace: u.Namespace, Name: name, Version: "0.0.1", Subject: u.Namespace,
			ActivationID: id, Start: start.UnixMilli(), End: end.UnixMilli(), Duration: end.Sub(start).Milliseconds(),
			Response: responseOf(code, result), Logs: []string{},
			Annotations: whisk.KeyValues{{Key: "path", Value: alarmsPackage + "/" + name}, {Key: "waitTime", Value: 0},
				{Key: "kind", Value: feedKind}, {Key: "timeout", Value: false}, {Key: "limits", Value: lim}}}
		if err := p.store.putActivation(rec); err != nil {
			p.log.Error("store activation", "id", id, "err", err)
		}
		return rec
	}
	w.Header().Set(whisk.ActivationIDHeader, id)
	if q.Get("blocking") != "true" {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			run(p.ctx)
		}()
		writeJSONResponse(w, http.StatusAccepted, map[string]string{"activationId": id})
		return
	}
	rec := run(r.Context())
	status := http.StatusOK
	if rec.Response.StatusCode != 0 {
		status = http.StatusBadGateway
	}
	if q.Get("result") == "true" {
		writeJSONResponse(w, status, rec.Response.Result)
		return
	}
	writeJSONResponse(w, status, fullRecord(rec))
}

// feedError is a failure the alarms service's web action answers with a
// status and {"error": msg}; the feed action rejects with that body, and
// the nodejs runtime makes it the result's error (common.js sendError).
func feedError(msg string) (object, int) {
	return object{"error": mustJSON(map[string]string{"error": msg})}, 1
}

// alarmLifecycle is what the feed action and the alarms service's web
// action do together for a lifecycle event (action/alarm.js,
// alarmWebAction.js): it returns the activation's result and status.
func (p *Platform) alarmLifecycle(ctx context.Context, u User, feed string, params object) (object, int) {
	var event, triggerName, key string
	_ = json.Unmarshal(params["lifecycleEvent"], &event)
	_ = json.Unmarshal(params["triggerName"], &triggerName)
	_ = json.Unmarshal(params["authKey"], &key)
	switch event {
	case "CREATE", "READ", "UPDATE", "DELETE":
	default:
		return errorObject("unsupported lifecycleEvent"), 1
	}
	if triggerName == "" {
		return feedError("no trigger name parameter was provided")
	}
	// The trigger is the caller's, whatever namespace its name says
	// (common.js createWebParams).
	name := triggerName
	if strings.HasPrefix(name, "/") {
		parts := strings.SplitN(name, "/", 3)
		name = ""
		if len(parts) == 3 {
			name = parts[2]
		}
	}
	// verifyTriggerAuth: the key must read the trigger (a deleted one
	// may still lose its feed).
	status, _ := p.selfRequest(ctx, http.MethodGet, triggerPath(u.Namespace, name), key, nil)
	if status != http.StatusOK && (event != "DELETE" || status != http.StatusNotFound) {
		return feedError("Trigger authentication request failed.")
	}
	s := p.alarms
	e := p.ev
	e.mu.Lock()
	defer e.mu.Unlock()
	regKey := u.Namespace + "/" + name
	old := e.alarms[regKey]
	if event != "CREATE" && old == nil {
		return feedError(fmt.Sprintf("could not find trigger /%s/%s in the database", u.Namespace, name))
	}
	switch event {
	case "READ":
		return readAlarm(old), 0
	case "DELETE":
		if err := e.removeAlarm(u.Namespace, name); err != nil {
			return feedError("there was an error while deleting the trigger from the database.")
		}
		delete(s.due, regKey)
		s.poke()
		return object{"status": mustJSON("success")}, 0
	}
	var a *alarm
	if event == "UPDATE" {
		cp := *old
		a = &cp
	} else {
		a = &alarm{Namespace: u.Namespace, Name: name, APIKey: key, Feed: feed, MaxTriggers: -1}
	}
	var msg string
	if event == "CREATE" {
		msg = s.createAlarm(a, params)
	} else {
		msg = s.updateAlarm(a, params)
	}
	if msg != "" {
		return feedError(msg)
	}
	a.Status = alarmStatus{Active: true, DateChanged: s.clock.Now().UnixMilli()}
	if err := e.putAlarm(a); err != nil {
		p.log.Error("store alarm", "trigger", regKey, "err", err)
		return feedError("error creating alarm trigger.")
	}
	s.scheduleLocked(a)
	return object{"status": mustJSON("success")}, 0
}

// payloadOf is trigger_payload as the service keeps it: a string is
// {"payload": s}, nothing is {}.
func payloadOf(raw json.RawMessage) json.RawMessage {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return mustJSON(map[string]string{"payload": s})
	}
	if !jsTruthy(raw) {
		return json.RawMessage(`{}`)
	}
	return raw
}

// createAlarm fills a new registration from params as the web action's
// POST does; it returns why it refuses them.
func (s *alarms) createAlarm(a *alarm, params object) string {
	a.Payload = payloadOf(params["trigger_payload"])
	switch a.Feed {
	case "once":
		if !jsTruthy(params["date"]) {
			return "alarms once trigger feed is missing the date parameter"
		}
		t, msg := s.validateDate(params["date"], "date", nil)
		if msg != "" {
			return msg
		}
		a.Date, a.At = params["date"], t.UnixMilli()
		if raw := params["deleteAfterFire"]; jsTruthy(raw) {
			d := strings.ToLower(strings.TrimSpace(jsString(raw)))
			if d != "false" && d != "true" && d != "rules" {
				return "deleteAfterFire parameter must be one of [false, true, rules]."
			}
			a.DeleteAfterFire = d
		}
		return ""
	case "interval":
		if msg := s.setMinutes(a, params["minutes"], true); msg != "" {
			return msg
		}
	case "alarm":
		if msg := setCron(a, params); msg != "" {
			return msg
		}
		if raw := params["maxTriggers"]; jsTruthy(raw) {
			n, _ := strconv.Atoi(jsString(raw))
			a.MaxTriggers = n
		}
	}
	if raw := params["startDate"]; jsTruthy(raw) {
		t, msg := s.validateDate(raw, "startDate", nil)
		if msg != "" {
			return msg
		}
		a.StartDate, a.Start = raw, t.UnixMilli()
	} else if a.Feed == "interval" {
		// The first fire waits half a minute, the start date having to
		// be in the future.
		a.Start = s.clock.Now().Add(s.minute / 2).UnixMilli()
		a.StartDate = mustJSON(a.Start)
	}
	if jsTruthy(params["maxTriggers"]) && jsTruthy(params["stopDate"]) {
		if a.Feed == "interval" {
			return "maxTriggers is not supported for the interval trigger feed"
		}
		return "maxTriggers is not allowed when the stopDate parameter is specified"
	}
	if raw := params["stopDate"]; jsTruthy(raw) {
		t, msg := s.validateDate(raw, "stopDate", a.StartDate)
		if msg != "" {
			return msg
		}
		a.StopDate, a.Stop = raw, t.UnixMilli()
		if a.Feed == "alarm" {
			if at, ok := cronNext(a.Cron, a.Timezone, s.clock.Now()); !ok || at.After(t) {
				return "the first scheduled trigger fire is not until after the stop date"
			}
		}
	}
	if a.Feed == "alarm" && a.Stop == 0 {
		a.TriggersLeft = a.MaxTriggers
	}
	return ""
}

// setMinutes reads an interval's minutes; required at creation.
func (s *alarms) setMinutes(a *alarm, raw json.RawMessage, required bool) string {
	if !jsTruthy(raw) {
		if required {
			return "interval trigger feed is missing the minutes parameter"
		}
		return ""
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(jsString(raw)), 64)
	if err != nil || f != math.Trunc(f) {
		return "the minutes parameter must be an integer"
	}
	if f <= 0 {
		return "the minutes parameter must be an integer greater than zero"
	}
	a.Minutes = int(f)
	return ""
}

// setCron reads a cron alarm's pattern, zone and strictness.
func setCron(a *alarm, params object) string {
	pattern, tz := a.Cron, a.Timezone
	// cron reads only a string pattern; anything else fails its parse.
	isString := true
	if raw := params["cron"]; jsTruthy(raw) {
		pattern = jsString(raw)
		isString = json.Unmarshal(raw, new(string)) == nil
	} else if pattern == "" {
		return "alarms trigger feed is missing the cron parameter"
	}
	if raw := params["timezone"]; jsTruthy(raw) {
		tz = jsString(raw)
	}
	if _, err := cronLocation(tz); err != nil {
		return "Invalid timezone."
	}
	if _, err := parseCron(pattern); err != nil || !isString {
		return fmt.Sprintf("cron pattern '%s' is not valid", pattern)
	}
	a.Cron, a.Timezone = pattern, tz
	if raw, ok := params["strict"]; ok {
		var v any
		_ = json.Unmarshal(raw, &v)
		a.Strict = v
	}
	return ""
}

// updateAlarm applies an UPDATE's parameters as the web action's PUT
// does; it returns why it refuses them.
func (s *alarms) updateAlarm(a *alarm, params object) string {
	changed := false
	if raw := params["trigger_payload"]; jsTruthy(raw) {
		a.Payload, changed = payloadOf(raw), true
	}
	switch a.Feed {
	case "once":
		if raw := params["date"]; jsTruthy(raw) {
			t, msg := s.validateDate(raw, "date", nil)
			if msg != "" {
				return msg
			}
			a.Date, a.At, changed = raw, t.UnixMilli(), true
		}
		if raw := params["deleteAfterFire"]; jsTruthy(raw) {
			d := strings.ToLower(strings.TrimSpace(jsString(raw)))
			if d != "false" && d != "true" && d != "rules" {
				return "deleteAfterFire parameter must be one of [false, true, rules]."
			}
			a.DeleteAfterFire, changed = d, true
		}
		if !changed {
			return "no updatable parameters were specified"
		}
		return ""
	case "interval":
		if jsTruthy(params["minutes"]) {
			if msg := s.setMinutes(a, params["minutes"], false); msg != "" {
				return msg
			}
			changed = true
		}
	case "alarm":
		if jsTruthy(params["cron"]) || jsTruthy(params["timezone"]) {
			if msg := setCron(a, params); msg != "" {
				return msg
			}
			changed = true
		} else if raw, ok := params["strict"]; ok {
			var v any
			_ = json.Unmarshal(raw, &v)
			a.Strict, changed = v, true
		}
	}
	if raw := params["startDate"]; jsTruthy(raw) {
		t, msg := s.validateDate(raw, "startDate", nil)
		if msg != "" {
			return msg
		}
		a.StartDate, a.Start, changed = raw, t.UnixMilli(), true
	}
	if raw := params["stopDate"]; jsTruthy(raw) {
		t, msg := s.validateDate(raw, "stopDate", a.StartDate)
		if msg != "" {
			return msg
		}
		a.StopDate, a.Stop, changed = raw, t.UnixMilli(), true
	} else if jsTruthy(params["startDate"]) && a.Stop != 0 && a.Start >= a.Stop {
		return fmt.Sprintf("startDate parameter '%s' must be less than the stopDate parameter '%s'", jsString(params["startDate"]), jsString(a.StopDate))
	}
	if !changed {
		return "no updatable parameters were specified"
	}
	return ""
}

// readAlarm is the web action's GET: the registration's config and status.
func readAlarm(a *alarm) object {
	config := map[string]any{"name": a.Name, "namespace": a.Namespace, "payload": a.Payload, "strict": false}
	if a.Strict != nil {
		config["strict"] = a.Strict
	}
	if a.Feed == "once" {
		config["date"] = a.Date
		if a.DeleteAfterFire != "" {
			config["deleteAfterFire"] = a.DeleteAfterFire
		}
	} else {
		if a.StartDate != nil {
			config["startDate"] = a.StartDate
		}
		if a.StopDate != nil {
			config["stopDate"] = a.StopDate
		}
		if a.Feed == "interval" {
			config["minutes"] = a.Minutes
		} else {
			config["cron"] = a.Cron
			if a.Timezone != "" {
				config["timezone"] = a.Timezone
			}
		}
	}
	changed := time.UnixMilli(a.Status.DateChanged).UTC()
	status := map[string]any{"active": a.Status.Active, "dateChanged": a.Status.DateChanged,
		"dateChangedISO": changed.Format("2006-01-02T15:04:05Z07:00")}
	if a.Status.Reason != nil {
		status["reason"] = a.Status.Reason
	}
	return object{"config": mustJSON(config), "status": mustJSON(status)}
}
