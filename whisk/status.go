package whisk

// StatusStrings maps an activation status code (0..3) to its status string.
var statusStrings = [...]string{StatusSuccess, StatusApplicationError, StatusDeveloperError, StatusInternalError}

// StatusString returns the status string for a status code 0..3, and the
// internal error string for anything else.
func StatusString(code int) string {
	if code >= 0 && code < len(statusStrings) {
		return statusStrings[code]
	}
	return StatusInternalError
}

// Code returns the response's status code. Full records carry no
// statusCode field, so it is derived from the status string when absent.
func (r Response) Code() int {
	if r.StatusCode != 0 {
		return r.StatusCode
	}
	for i, s := range statusStrings {
		if r.Status == s {
			return i
		}
	}
	if r.Success {
		return 0
	}
	return 3
}

// ActivationListOptions filter an activation list.
type ActivationListOptions struct {
	Name  string // "action" or "pkg/action"
	Limit int    // 0: the server's default (30)
	Skip  int
	Since int64 // epoch ms, 0: unset
	Upto  int64 // epoch ms, 0: unset
	Docs  bool  // full records rather than summaries
}

// ListOptions page through a collection.
type ListOptions struct {
	Limit int // 0: the server's default (30)
	Skip  int
}
