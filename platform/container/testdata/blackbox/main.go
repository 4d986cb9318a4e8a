// Command blackbox is a test action container for the pool's blackbox
// images. Its /run behaviour is chosen by the parameters: "echo" returns
// the parameters, "exit" ends the process mid-run, "raw" answers with that
// text as the body, "status" sets the HTTP status, "big" returns a result
// of that many bytes, "log" prints lines, "env" reports the environment,
// "uid" the user id. It writes the activation
// sentinel only when started with --sentinel.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	port := flag.Int("port", 8080, "port")
	sentinel := flag.Bool("sentinel", false, "write the activation sentinel")
	flag.Parse()
	inited := false
	marker := func() {
		if *sentinel {
			fmt.Println("XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX")
			fmt.Fprintln(os.Stderr, "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX")
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /init", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if inited {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":"Cannot initialize the action more than once."}`)
			return
		}
		inited = true
		fmt.Fprint(w, `{"ok":true}`)
	})
	mux.HandleFunc("POST /run", func(w http.ResponseWriter, r *http.Request) {
		defer marker()
		var msg struct {
			Value map[string]json.RawMessage `json:"value"`
		}
		var body map[string]json.RawMessage
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &msg)
		json.Unmarshal(b, &body)
		v := msg.Value
		if l, ok := v["log"]; ok {
			var s string
			json.Unmarshal(l, &s)
			fmt.Println(s)
			fmt.Fprintln(os.Stderr, "err: "+s)
		}
		if _, ok := v["exit"]; ok {
			os.Exit(3)
		}
		status := http.StatusOK
		if s, ok := v["status"]; ok {
			status, _ = strconv.Atoi(string(s))
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case v["raw"] != nil:
			var s string
			json.Unmarshal(v["raw"], &s)
			w.WriteHeader(status)
			fmt.Fprint(w, s)
		case v["big"] != nil:
			n, _ := strconv.Atoi(string(v["big"]))
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"big":"%s"}`, strings.Repeat("x", n))
		case v["env"] != nil:
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"env": os.Environ(), "run": body})
		case v["uid"] != nil:
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]any{"uid": os.Getuid()})
		default:
			w.WriteHeader(status)
			w.Write(b[:0])
			json.NewEncoder(w).Encode(v)
		}
	})
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	http.Serve(l, mux)
}
