// Package container runs OpenWhisk action containers as local processes.
// Each container is one process (group) that speaks the action container
// protocol (/init, /run) on a loopback port of its own: blackbox images map
// to local commands, native actions run under a dockerskeleton-compatible
// proxy, and nodejs actions under a small launcher for the machine's
// Node.js. The pool keeps warm containers per action version, enforces the
// time and memory limits, and reaps idle containers. Containers die with
// the pool's process, however it ends (see spawner and guard); when the
// pool runs as root, native and nodejs containers run as an unprivileged
// user (see actionUser).
package container

import (
	"encoding/json"
	"time"

	"github.com/wskx/wskx/whisk"
)

// Spec identifies what a container runs. Containers are reused only for the
// same Namespace, Action and Version.
type Spec struct {
	Namespace string // the action's namespace
	Action    string // fully qualified name, "/ns/[pkg/]name"
	Version   string
	Exec      whisk.Exec
	Limits    whisk.Limits
	// Env is the container's own environment (for example __OW_API_HOST),
	// as the invoker sets it when it starts a container.
	Env map[string]string
	// InitEnv are the init-time parameters passed to /init as "env".
	InitEnv map[string]string
}

// RunInput is one activation's /run request.
type RunInput struct {
	Value         json.RawMessage // the parameters, a JSON object
	ActivationID  string
	TransactionID string
	APIKey        string // empty unless the action provides its key
	Deadline      time.Time
}

// RunOutput is what came of one activation in a container.
type RunOutput struct {
	// StatusCode is OpenWhisk's 0 success, 1 application error, 2 developer
	// error, 3 internal error; Result the JSON result as the invoker records it.
	StatusCode int
	Result     json.RawMessage
	Logs       []string // "TIMESTAMP stdout: text" lines, sentinel removed
	Start, End time.Time
	InitTime   time.Duration // non-zero only on a cold start
	WaitTime   time.Duration // from the request to the container being ready
	TimedOut   bool
}
