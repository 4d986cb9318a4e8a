// Command action is a test action container for the platform's tests: it
// speaks the action container protocol (/init, /run) on 127.0.0.1:PORT,
// PORT given by --port as the container pool passes it. What it does is
// chosen by the code sent to /init: echo, step, conductor, sleep, fail,
// crash, env, noop, respond.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

const sentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

type server struct {
	mu   sync.Mutex
	mode string
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *server) init(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Value struct {
			Code string `json:"code"`
		} `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode != "" {
		reply(w, http.StatusForbidden, map[string]string{"error": "cannot initialize the action more than once"})
		return
	}
	s.mode = body.Value.Code
	if s.mode == "" {
		s.mode = "echo"
	}
	reply(w, http.StatusOK, map[string]bool{"ok": true})
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func (s *server) run(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	defer func() {
		fmt.Println(sentinel)
		fmt.Fprintln(os.Stderr, sentinel)
	}()
	params, _ := body["value"].(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	fmt.Printf("running %s\n", s.mode)
	switch s.mode {
	case "echo":
		reply(w, http.StatusOK, params)
	case "noop":
		reply(w, http.StatusOK, map[string]any{})
	case "step":
		reply(w, http.StatusOK, map[string]any{"n": num(params["n"]) + 1})
	case "sleep":
		ms := num(params["ms"])
		time.Sleep(time.Duration(ms) * time.Millisecond)
		reply(w, http.StatusOK, map[string]any{"slept": ms})
	case "fail":
		reply(w, http.StatusOK, map[string]any{"error": "failed on purpose"})
	case "crash":
		os.Exit(3)
	case "respond":
		// The result is the JSON text of parameter r; {"developer_error": v}
		// fails the run instead, as a broken action would.
		var out map[string]any
		if err := json.Unmarshal([]byte(fmt.Sprint(params["r"])), &out); err != nil {
			reply(w, http.StatusBadGateway, map[string]string{"error": err.Error()})
			return
		}
		if v, ok := out["developer_error"]; ok {
			reply(w, http.StatusBadGateway, map[string]any{"error": v})
			return
		}
		reply(w, http.StatusOK, out)
	case "env":
		delete(body, "value")
		body["params"] = params
		reply(w, http.StatusOK, body)
	case "conductor":
		// The minimal conductor of OpenWhisk's tests: errors pass through;
		// {action, state, foo, params} becomes {action, state, params: {foo, ...params}}.
		if _, ok := params["error"]; ok {
			reply(w, http.StatusOK, params)
			return
		}
		out := map[string]any{}
		if v, ok := params["action"]; ok {
			out["action"] = v
		}
		if v, ok := params["state"]; ok {
			out["state"] = v
		}
		inner := map[string]any{}
		if v, ok := params["foo"]; ok {
			inner["foo"] = v
		}
		if m, ok := params["params"].(map[string]any); ok {
			for k, v := range m {
				inner[k] = v
			}
		}
		out["params"] = inner
		reply(w, http.StatusOK, out)
	default:
		reply(w, http.StatusBadGateway, map[string]string{"error": "unknown mode " + s.mode})
	}
}

func main() {
	port := flag.Int("port", 8080, "listen on 127.0.0.1:port")
	flag.Parse()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s := &server{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", s.init)
	mux.HandleFunc("POST /run", s.run)
	if err := http.Serve(l, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
