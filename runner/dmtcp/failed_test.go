package dmtcp

import (
	"testing"

	"github.com/wskx/wskx/runner"
)

func TestDMTCPFailedClassification(t *testing.T) {
	tests := []struct {
		name   string
		exit   runner.Exit
		stderr []string
		want   bool
	}{
		{"assertion", runner.Exit{Code: 99}, []string{"counted 3", "[40000] ASSERT at processinfo.cpp:468: getcwd(buf, sizeof buf) != NULL: errno=2 (ENOENT)", ""}, true},
		{"older release", runner.Exit{Code: 99}, []string{"[40000] ERROR at processinfo.cpp:331 in refresh; REASON='JASSERT(getcwd(buf, size) == buf) failed'", "     ENOENT"}, true},
		{"the job's own 99", runner.Exit{Code: 99}, []string{"counted 3", "giving up"}, false},
		{"the job's own assert", runner.Exit{Code: 99}, []string{"count: count.c:12: main: Assertion `n > 0' failed."}, false},
		{"a warning is not a failure", runner.Exit{Code: 99}, []string{"WARNING at jfilesystem.cpp:222: stale file"}, false},
		{"assertion but another status", runner.Exit{Code: 1}, []string{"ASSERT at processinfo.cpp:468: getcwd"}, false},
		{"killed", runner.Exit{Code: -1, Signal: "killed"}, []string{"ASSERT at processinfo.cpp:468: getcwd"}, false},
		{"no stderr", runner.Exit{Code: 99}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, line := dmtcpFailed(tt.exit, tt.stderr)
			if got != tt.want {
				t.Fatalf("dmtcpFailed = %v (%q), want %v", got, line, tt.want)
			}
			if got && line == "" {
				t.Error("no line to report")
			}
		})
	}
}
