package platform

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/wskx/wskx/whisk"
)

// events keeps triggers, rules and alarm registrations in memory and,
// with a data directory, on disk beside the actions: triggers/<ns>/<name>.json,
// rules/<ns>/<name>.json and alarms/<ns>/<trigger>.json (see fileName),
// each written atomically (writeJSON) and loaded at start. Its mutex also
// makes the read-modify-write of a rule and its trigger one step, where
// OpenWhisk relies on document revisions; its holders call the put and
// remove methods, and replace entities rather than change them, so that a
// pointer read under the lock stays valid after it.
type events struct {
	dir string

	mu       sync.Mutex
	triggers map[string]*whisk.Trigger // "ns/name"
	rules    map[string]*whisk.Rule    // "ns/name"
	alarms   map[string]*alarm         // by trigger, "ns/name"
}

// The collections of events, as the API and the data directory name them.
const (
	triggersDir = "triggers"
	rulesDir    = "rules"
	alarmsDir   = "alarms"
)

func openEvents(dir string) (*events, error) {
	e := &events{dir: dir, triggers: map[string]*whisk.Trigger{}, rules: map[string]*whisk.Rule{}, alarms: map[string]*alarm{}}
	if dir == "" {
		return e, nil
	}
	load := func(sub string, put func(path string) error) error {
		root := filepath.Join(dir, sub)
		if err := os.MkdirAll(root, 0o755); err != nil {
			return err
		}
		return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
				return err
			}
			return put(path)
		})
	}
	err := load(triggersDir, func(path string) error {
		var t whisk.Trigger
		if err := readJSON(path, &t); err != nil {
			return err
		}
		e.triggers[t.Namespace+"/"+t.Name] = &t
		return nil
	})
	if err == nil {
		err = load(rulesDir, func(path string) error {
			var r whisk.Rule
			if err := readJSON(path, &r); err != nil {
				return err
			}
			e.rules[r.Namespace+"/"+r.Name] = &r
			return nil
		})
	}
	if err == nil {
		err = load(alarmsDir, func(path string) error {
			var a alarm
			if err := readJSON(path, &a); err != nil {
				return err
			}
			e.alarms[a.Namespace+"/"+a.Name] = &a
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("open events: %w", err)
	}
	return e, nil
}

func (e *events) file(sub, ns, name string) string {
	return filepath.Join(e.dir, sub, fileName(ns), fileName(name)+".json")
}

func (e *events) save(sub, ns, name string, v any) error {
	if e.dir == "" {
		return nil
	}
	path := e.file(sub, ns, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("store %s: %w", sub, err)
	}
	if err := writeJSON(path, v); err != nil {
		return fmt.Errorf("store %s: %w", sub, err)
	}
	return nil
}

func (e *events) remove(sub, ns, name string) error {
	if e.dir == "" {
		return nil
	}
	if err := os.Remove(e.file(sub, ns, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", sub, err)
	}
	return nil
}

// putTrigger stores t; the caller holds e.mu.
func (e *events) putTrigger(t *whisk.Trigger) error {
	if err := e.save(triggersDir, t.Namespace, t.Name, t); err != nil {
		return err
	}
	e.triggers[t.Namespace+"/"+t.Name] = t
	return nil
}

func (e *events) removeTrigger(ns, name string) error {
	if err := e.remove(triggersDir, ns, name); err != nil {
		return err
	}
	delete(e.triggers, ns+"/"+name)
	return nil
}

// putRule stores r without its status, which its trigger keeps; the
// caller holds e.mu.
func (e *events) putRule(r *whisk.Rule) error {
	cp := *r
	cp.Status = ""
	if err := e.save(rulesDir, cp.Namespace, cp.Name, &cp); err != nil {
		return err
	}
	e.rules[cp.Namespace+"/"+cp.Name] = &cp
	return nil
}

func (e *events) removeRule(ns, name string) error {
	if err := e.remove(rulesDir, ns, name); err != nil {
		return err
	}
	delete(e.rules, ns+"/"+name)
	return nil
}

// putAlarm stores a registration; the caller holds e.mu.
func (e *events) putAlarm(a *alarm) error {
	if err := e.save(alarmsDir, a.Namespace, a.Name, a); err != nil {
		return err
	}
	e.alarms[a.Namespace+"/"+a.Name] = a
	return nil
}

func (e *events) removeAlarm(ns, name string) error {
	if err := e.remove(alarmsDir, ns, name); err != nil {
		return err
	}
	delete(e.alarms, ns+"/"+name)
	return nil
}
