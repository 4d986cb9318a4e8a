package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/spf13/pflag"
)

func TestParams(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.json")
	if err := os.WriteFile(file, []byte(`{"n": 1, "name": "file"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args    []string
		want    map[string]any
		wantErr bool
	}{
		{[]string{"-p", "n", "40"}, map[string]any{"n": 40.0}, false},
		{[]string{"-p", "s", "hello world"}, map[string]any{"s": "hello world"}, false},
		{[]string{"--param", "o", `{"a":[1,2]}`, "-p", "b", "true"}, map[string]any{"o": map[string]any{"a": []any{1.0, 2.0}}, "b": true}, false},
		{[]string{"-P", file, "-p", "n", "2"}, map[string]any{"n": 2.0, "name": "file"}, false},
		{[]string{"-p", "q", `"quoted"`}, map[string]any{"q": "quoted"}, false},
		{[]string{"-p", "only-key"}, nil, true},
		{[]string{"-P", filepath.Join(dir, "missing.json")}, nil, true},
	}
	for _, tt := range tests {
		args, err := preparseParams(tt.args)
		var got map[string]any
		if err == nil {
			var pf paramFlags
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			pf.register(fs)
			if err = fs.Parse(args); err == nil {
				got, err = pf.values()
			}
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err = %v", tt.args, err)
			continue
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %v, want %v", tt.args, got, tt.want)
		}
	}
}
