package whisk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Rule states, as a rule's status and as the body of its POST.
const (
	RuleActive   = "active"
	RuleInactive = "inactive"
)

// QualifiedName is a fully qualified entity name as OpenWhisk writes it
// in rules and triggers (FullyQualifiedEntityName.serdes): the path
// ("ns" or "ns/pkg") and the name.
type QualifiedName struct {
	Path string `json:"path"`
	Name string `json:"name"`
}

// String is the name as OpenWhisk prints it: "ns/[pkg/]name".
func (q QualifiedName) String() string { return q.Path + "/" + q.Name }

// ReducedRule is a rule as its trigger keeps it: the action it invokes
// and whether it is active.
type ReducedRule struct {
	Action QualifiedName `json:"action"`
	Status string        `json:"status"`
}

// TriggerLimits are a trigger's limits; OpenWhisk defines none ({}).
type TriggerLimits struct{}

// Trigger is a trigger entity as the API stores and returns it. Rules,
// keyed "ns/rule", are the rules that name it; a list leaves them out,
// with the parameters and limits.
type Trigger struct {
	Namespace   string                 `json:"namespace,omitempty"`
	Name        string                 `json:"name,omitempty"`
	Version     string                 `json:"version,omitempty"`
	Publish     bool                   `json:"publish"`
	Annotations KeyValues              `json:"annotations"`
	Parameters  KeyValues              `json:"parameters,omitempty"`
	Limits      *TriggerLimits         `json:"limits,omitempty"`
	Rules       map[string]ReducedRule `json:"rules,omitempty"`
	Updated     int64                  `json:"updated,omitempty"`
}

// MarshalJSON writes rules as OpenWhisk does: absent until a rule has
// named the trigger, then the map, empty once its rules are gone.
func (t Trigger) MarshalJSON() ([]byte, error) {
	type plain Trigger
	if t.Rules == nil {
		return json.Marshal(plain(t))
	}
	return json.Marshal(struct {
		plain
		Rules map[string]ReducedRule `json:"rules"`
	}{plain(t), t.Rules})
}

// Rule is a rule entity as the API returns it. Status comes from the
// rule's trigger; a list leaves it out.
type Rule struct {
	Namespace   string        `json:"namespace,omitempty"`
	Name        string        `json:"name,omitempty"`
	Version     string        `json:"version,omitempty"`
	Publish     bool          `json:"publish"`
	Annotations KeyValues     `json:"annotations"`
	Status      string        `json:"status,omitempty"`
	Trigger     QualifiedName `json:"trigger"`
	Action      QualifiedName `json:"action"`
	Updated     int64         `json:"updated,omitempty"`
}

// entityNamePath is the escaped path of a trigger or rule name in a
// collection: "name" in the client's namespace, or "/ns/name".
func (c *Client) entityNamePath(collection, name string) (string, error) {
	ns := c.namespace
	if strings.HasPrefix(name, "/") {
		var ok bool
		ns, name, ok = strings.Cut(strings.TrimPrefix(name, "/"), "/")
		if !ok || ns == "" {
			return "", fmt.Errorf("%s name %q: a fully qualified name is /namespace/name", strings.TrimSuffix(collection, "s"), name)
		}
	}
	if name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("%s name %q: one path segment expected", strings.TrimSuffix(collection, "s"), name)
	}
	return "/namespaces/" + url.PathEscape(ns) + "/" + collection + "/" + url.PathEscape(name), nil
}

func listQuery(opts ListOptions) url.Values {
	q := url.Values{}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Skip > 0 {
		q.Set("skip", strconv.Itoa(opts.Skip))
	}
	return q
}

// PutTrigger creates the trigger, or updates it when overwrite is set.
func (c *Client) PutTrigger(ctx context.Context, name string, t *Trigger, overwrite bool) (*Trigger, error) {
	p, err := c.entityNamePath("triggers", name)
	if err != nil {
		return nil, fmt.Errorf("put trigger: %w", err)
	}
	var out Trigger
	if _, _, err := c.do(ctx, http.MethodPut, p, url.Values{"overwrite": {strconv.FormatBool(overwrite)}}, t, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTrigger fetches a trigger with its rules.
func (c *Client) GetTrigger(ctx context.Context, name string) (*Trigger, error) {
	return c.triggerCall(ctx, http.MethodGet, name)
}

// DeleteTrigger deletes a trigger (not its rules, nor its feed).
func (c *Client) DeleteTrigger(ctx context.Context, name string) (*Trigger, error) {
	return c.triggerCall(ctx, http.MethodDelete, name)
}

func (c *Client) triggerCall(ctx context.Context, method, name string) (*Trigger, error) {
	p, err := c.entityNamePath("triggers", name)
	if err != nil {
		return nil, err
	}
	var out Trigger
	if _, _, err := c.do(ctx, method, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTriggers lists the namespace's triggers, last updated first.
func (c *Client) ListTriggers(ctx context.Context, opts ListOptions) ([]Trigger, error) {
	var out []Trigger
	_, _, err := c.do(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(c.namespace)+"/triggers", listQuery(opts), nil, &out)
	return out, err
}

// FireTrigger fires a trigger with payload (nil for none) and returns the
// trigger activation's id, or "" when the trigger has no active rule and
// OpenWhisk records nothing.
func (c *Client) FireTrigger(ctx context.Context, name string, payload any) (string, error) {
	p, err := c.entityNamePath("triggers", name)
	if err != nil {
		return "", fmt.Errorf("fire trigger: %w", err)
	}
	var out struct {
		ActivationID string `json:"activationId"`
	}
	status, _, err := c.do(ctx, http.MethodPost, p, nil, payload, &out)
	if err != nil || status == http.StatusNoContent {
		return "", err
	}
	return out.ActivationID, nil
}

// PutRule creates a rule from trigger to action ("name", "/ns/name" or
// "/ns/pkg/name"; a name without a namespace is the client's), or
// updates it when overwrite is set.
func (c *Client) PutRule(ctx context.Context, name, trigger, action string, overwrite bool) (*Rule, error) {
	p, err := c.entityNamePath("rules", name)
	if err != nil {
		return nil, fmt.Errorf("put rule: %w", err)
	}
	qualify := func(s string) string {
		if strings.HasPrefix(s, "/") {
			return s
		}
		return "/" + c.namespace + "/" + s
	}
	body := map[string]string{"trigger": qualify(trigger), "action": qualify(action)}
	var out Rule
	if _, _, err := c.do(ctx, http.MethodPut, p, url.Values{"overwrite": {strconv.FormatBool(overwrite)}}, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRule fetches a rule with its status.
func (c *Client) GetRule(ctx context.Context, name string) (*Rule, error) {
	return c.ruleCall(ctx, http.MethodGet, name)
}

// DeleteRule deletes a rule, active or not.
func (c *Client) DeleteRule(ctx context.Context, name string) (*Rule, error) {
	return c.ruleCall(ctx, http.MethodDelete, name)
}

func (c *Client) ruleCall(ctx context.Context, method, name string) (*Rule, error) {
	p, err := c.entityNamePath("rules", name)
	if err != nil {
		return nil, err
	}
	var out Rule
	if _, _, err := c.do(ctx, method, p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListRules lists the namespace's rules, last updated first, without
// their status.
func (c *Client) ListRules(ctx context.Context, opts ListOptions) ([]Rule, error) {
	var out []Rule
	_, _, err := c.do(ctx, http.MethodGet, "/namespaces/"+url.PathEscape(c.namespace)+"/rules", listQuery(opts), nil, &out)
	return out, err
}

// SetRuleState enables (RuleActive) or disables (RuleInactive) a rule.
func (c *Client) SetRuleState(ctx context.Context, name, status string) error {
	p, err := c.entityNamePath("rules", name)
	if err != nil {
		return fmt.Errorf("set rule state: %w", err)
	}
	// OpenWhisk answers a plain "OK", not JSON: nothing to decode.
	_, _, err = c.do(ctx, http.MethodPost, p, nil, map[string]string{"status": status}, nil)
	return err
}
