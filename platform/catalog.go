package platform

import (
	"embed"
	"fmt"
	"maps"
	"slices"

	"github.com/wskx/wskx/whisk"
)

// systemNamespace holds the catalog every OpenWhisk installs
// (apache/openwhisk-catalog, docs/catalog.md), shared with every namespace.
const systemNamespace = "whisk.system"

//go:embed catalog/utils/*.js
var catalogCode embed.FS

// catalogAction describes one action of the catalog's utils package, its
// inputs and outputs as packages/utils/manifest.yaml documents them.
type catalogAction struct {
	name, description string
	params            []map[string]any // name, required, description
}

func param(name string, required bool, description string) map[string]any {
	return map[string]any{"name": name, "required": required, "description": description}
}

var utilsActions = []catalogAction{
	{"echo", "Answers with its input.", []map[string]any{param("payload", false, "any JSON value")}},
	{"cat", "Joins lines into a payload, one per line.", []map[string]any{param("lines", true, "an array of strings or numbers")}},
	{"sort", "Sorts lines, and says how many there are.", []map[string]any{param("lines", true, "an array of strings")}},
	{"split", "Splits a payload into lines.", []map[string]any{param("payload", true, "a string"),
		param("separator", false, "where to split (default: at line ends)")}},
	{"head", "Keeps the first lines.", []map[string]any{param("lines", true, "an array of strings"),
		param("num", false, "how many lines to keep (default 1)")}},
	{"date", "The current date and time.", nil},
}

// catalog is the /whisk.system subset that clients and OpenWhisk's docs
// rely on: the shared package utils and its actions, nodejs actions of
// this platform's own. updated stamps them.
func catalog(updated int64) ([]*whisk.Package, []*whisk.Action, error) {
	utils := &whisk.Package{Namespace: systemNamespace, Name: "utils", Version: "0.0.1", Publish: true,
		Annotations: whisk.KeyValues{{Key: "description", Value: "Building blocks that format and assemble data."}},
		Parameters:  whisk.KeyValues{}, Updated: updated}
	var actions []*whisk.Action
	for _, c := range utilsActions {
		code, err := catalogCode.ReadFile("catalog/utils/" + c.name + ".js")
		if err != nil {
			return nil, nil, fmt.Errorf("catalog: %w", err)
		}
		ann := whisk.KeyValues{{Key: "description", Value: c.description}}
		if c.params != nil {
			ann = append(ann, whisk.KeyValue{Key: "parameters", Value: c.params})
		}
		ann = append(ann, whisk.KeyValue{Key: "provide-api-key", Value: false}, whisk.KeyValue{Key: "exec", Value: "nodejs:20"})
		actions = append(actions, &whisk.Action{Namespace: systemNamespace + "/utils", Name: c.name, Version: "0.0.1",
			Exec:        &whisk.Exec{Kind: "nodejs:20", Code: string(code)},
			Annotations: ann, Parameters: whisk.KeyValues{},
			Limits:  &whisk.Limits{Timeout: defaultTimeout, Memory: defaultMemory, Logs: defaultLogs, Concurrency: 1},
			Updated: updated})
	}
	// The alarms feed actions run inside the platform (serveFeedActions);
	// the package makes them visible as OpenWhisk's catalog has them.
	alarms := &whisk.Package{Namespace: systemNamespace, Name: "alarms", Version: "0.0.1", Publish: true,
		Annotations: whisk.KeyValues{{Key: "description", Value: "Alarms and periodic utility."}},
		Parameters:  whisk.KeyValues{}, Updated: updated}
	for _, name := range slices.Sorted(maps.Keys(feedActions)) {
		a := feedEntity(name)
		a.Updated = updated
		actions = append(actions, a)
	}
	return []*whisk.Package{utils, alarms}, actions, nil
}
