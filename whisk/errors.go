package whisk

import (
	"errors"
	"fmt"
	"net/http"
)

// APIError is a non-success answer from the API.
type APIError struct {
	StatusCode   int    // HTTP status
	Message      string // the server's "error" field, or the HTTP status text
	Code         string // the server's "code" field (its transaction id)
	ActivationID string // from x-openwhisk-activation-id, when the answer carried one
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	s := fmt.Sprintf("openwhisk: %d %s", e.StatusCode, msg)
	if e.ActivationID != "" {
		s += " (activation " + e.ActivationID + ")"
	}
	return s
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// IsNotFound reports whether err is a 404 from the API.
func IsNotFound(err error) bool { return StatusOf(err) == http.StatusNotFound }

// IsConflict reports whether err is a 409 from the API.
func IsConflict(err error) bool { return StatusOf(err) == http.StatusConflict }

// IsTooManyRequests reports whether err is a 429 from the API.
func IsTooManyRequests(err error) bool { return StatusOf(err) == http.StatusTooManyRequests }
