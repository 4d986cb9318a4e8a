package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Bounds on what a step keeps of the job's streams. OpenWhisk results are
// at most 1 MB, so the last JSON line fits in stdoutKeep.
const (
	stdoutKeep     = 2 << 20
	stderrKeep     = 16 << 10
	stderrTailKeep = 2 << 10 // what a Failed report carries
)

// tail copies a stream to the container's log and keeps its last bytes.
type tail struct {
	mu   sync.Mutex
	out  io.Writer
	keep int
	buf  []byte
}

func newTail(out io.Writer, keep int) *tail {
	if out == nil {
		out = io.Discard
	}
	return &tail{out: out, keep: keep}
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The log is best effort: a broken log must not kill the job.
	_, _ = t.out.Write(p)
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.keep; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}

// lastText is the stream's last n bytes as text, cut at a line start when
// one is near.
func (t *tail) lastText(n int) string {
	b := t.bytes()
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// lastJSONObject finds the last line of out that is a JSON object.
func lastJSONObject(out []byte) (map[string]any, []byte, bool) {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) == 0 || l[0] != '{' {
			continue
		}
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			return m, l, true
		}
	}
	return nil, nil, false
}

// errNoResult means a job that exited 0 gave no result.
var errNoResult = errors.New("no result")

// jobResult reads a finished job's result: its stdout's last JSON object
// line, or the JSON object in resultFile (relative to work).
func jobResult(stdout []byte, work, resultFile string) (map[string]any, []byte, error) {
	if resultFile == "" {
		m, raw, ok := lastJSONObject(stdout)
		if !ok {
			return nil, nil, fmt.Errorf("%w: the job exited 0 but printed no JSON object line on stdout", errNoResult)
		}
		return m, raw, nil
	}
	path := filepath.Join(work, resultFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read the result file: %v", errNoResult, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, nil, fmt.Errorf("%w: the result file %s does not hold a JSON object", errNoResult, resultFile)
	}
	compact, _ := json.Marshal(m)
	return m, compact, nil
}
