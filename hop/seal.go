package hop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SecretEnv names the per-deployment secret that authenticates what
// crosses between conductor runs, hand-overs and step reports. wskx
// deploy makes it and hands it to both actions as an init parameter, the
// way OpenWhisk passes secrets to an action's container.
const SecretEnv = "WSKX_STATE_KEY"

// minSecret is the shortest secret accepted: HMAC-SHA256 gains nothing
// from a longer one and loses from a shorter one.
const minSecret = 32

// What a sealed token is for. A token made for one purpose never opens
// as another, so a hand-over cannot be passed off as a continuation.
const (
	PurposeState   = "state"   // the continuation's state between conductor runs
	PurposeHandoff = "handoff" // a job handed to a new invocation of the conductor
	PurposeBranch  = "branch"  // a fan-out's branch, started as an invocation of its own
	PurposeFork    = "fork"    // a fan-out's parent, waiting for its branches' results
)

// ErrUnverified says a sealed state or a report is not what this
// deployment wrote: forged, altered, cut short, or sealed with another key.
var ErrUnverified = errors.New("does not verify")

// NewSecret returns a fresh secret, base64 encoded.
func NewSecret() string {
	b := make([]byte, minSecret)
	_, _ = rand.Read(b) // never fails (crypto/rand's contract since Go 1.24)
	return base64.StdEncoding.EncodeToString(b)
}

// ParseSecret decodes a secret made by NewSecret.
func ParseSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("secret: %s is not base64: %w", SecretEnv, err)
	}
	if len(b) < minSecret {
		return nil, fmt.Errorf("secret: %s has %d bytes, want at least %d", SecretEnv, len(b), minSecret)
	}
	return b, nil
}

func mac(secret []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, secret)
	for _, p := range parts {
		h.Write(p)
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

var b64 = base64.RawURLEncoding

// Seal encodes v as a token that only the holder of secret can make:
// the JSON of v and its HMAC, for one purpose. The token is opaque on
// purpose: nothing outside the conductor reads the carried state.
func Seal(secret []byte, purpose string, v any) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("seal: no secret")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	return "v1." + b64.EncodeToString(body) + "." + b64.EncodeToString(mac(secret, []byte(purpose), body)), nil
}

// Open checks a token made by Seal for purpose and decodes it into v.
func Open(secret []byte, purpose string, token any, v any) error {
	s, ok := token.(string)
	if !ok {
		return fmt.Errorf("open %s: not a sealed token: %w", purpose, ErrUnverified)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return fmt.Errorf("open %s: malformed token: %w", purpose, ErrUnverified)
	}
	body, err1 := b64.DecodeString(parts[1])
	sum, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("open %s: malformed token: %w", purpose, ErrUnverified)
	}
	if len(secret) == 0 || !hmac.Equal(sum, mac(secret, []byte(purpose), body)) {
		return fmt.Errorf("open %s: %w", purpose, ErrUnverified)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("open %s: %w", purpose, err)
	}
	return nil
}

// reportMAC covers the report without its MAC and the job output beside
// it, both as JSON: both ends marshal values decoded from JSON, which
// gives the same bytes whatever the platform did to spacing and order.
func reportMAC(secret []byte, r Report, output map[string]any) ([]byte, error) {
	r.MAC = ""
	rb, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	ob, err := json.Marshal(StripReserved(output))
	if err != nil {
		return nil, err
	}
	return mac(secret, []byte("report"), rb, ob), nil
}

// Sign sets r.MAC for the report and the job output it travels with.
func (r *Report) Sign(secret []byte, output map[string]any) error {
	if len(secret) == 0 {
		return errors.New("sign report: no secret")
	}
	sum, err := reportMAC(secret, *r, output)
	if err != nil {
		return fmt.Errorf("sign report: %w", err)
	}
	r.MAC = b64.EncodeToString(sum)
	return nil
}

// Verify checks a report's MAC against the output it arrived with.
func (r Report) Verify(secret []byte, output map[string]any) error {
	got, err := b64.DecodeString(r.MAC)
	if err != nil || r.MAC == "" {
		return fmt.Errorf("report: unsigned or malformed: %w", ErrUnverified)
	}
	want, err := reportMAC(secret, r, output)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if len(secret) == 0 || !hmac.Equal(got, want) {
		return fmt.Errorf("report: %w", ErrUnverified)
	}
	return nil
}
