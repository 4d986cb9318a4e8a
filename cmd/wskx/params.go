package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// paramSep joins a parameter's key and value after preparse, with a byte
// no key contains.
const paramSep = "\x00"

// preparseParams rewrites wsk's "-p KEY VALUE" and "--param KEY VALUE"
// into single pflag values, leaving everything after "--" alone.
func preparseParams(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		if a == "-p" || a == "--param" {
			if i+2 >= len(args) {
				return nil, fmt.Errorf("%s needs a KEY and a VALUE", a)
			}
			out = append(out, "--param="+args[i+1]+paramSep+args[i+2])
			i += 2
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// paramFlags are the invocation parameters every invoking command takes.
type paramFlags struct {
	pairs []string
	file  string
}

func (p *paramFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&p.pairs, "param", "p", nil, "parameter `KEY VALUE` (VALUE is JSON, or else a string); repeatable")
	fs.StringVarP(&p.file, "param-file", "P", "", "`FILE` holding a JSON object of parameters")
}

// values merges the file's parameters with the -p ones (which win).
func (p *paramFlags) values() (map[string]any, error) {
	out := map[string]any{}
	if p.file != "" {
		b, err := os.ReadFile(p.file)
		if err != nil {
			return nil, fmt.Errorf("param file: %w", err)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("param file %s: expected a JSON object: %w", p.file, err)
		}
	}
	for _, kv := range p.pairs {
		k, v, ok := strings.Cut(kv, paramSep)
		if !ok {
			return nil, usagef("-p needs a KEY and a VALUE, got %q", kv)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		out[k] = val
	}
	return out, nil
}
