package platform

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// keyFile holds the generated key of the user guest in a data directory.
const keyFile = "guest.key"

// secretAlphabet and secretLength are those of OpenWhisk's generated
// secrets (Secret in its AuthKey.scala: 64 random letters and digits).
const (
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretLength   = 64
)

// NewKey returns a random key in OpenWhisk's form: a random (version 4)
// UUID, a colon and a 64-character secret.
func NewKey() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	secret := make([]byte, secretLength)
	// 62 letters and digits: bytes of 248 and above would favour the first
	// few, so they are drawn again.
	var b [1]byte
	for i := range secret {
		for {
			_, _ = rand.Read(b[:])
			if b[0] < 248 {
				break
			}
		}
		secret[i] = secretAlphabet[int(b[0])%len(secretAlphabet)]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x:%s", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16], secret)
}

// guestKey returns the key of guest kept in dir, generating and storing
// one the first time. Without dir the key is new on every start.
func guestKey(dir string) (string, error) {
	if dir == "" {
		return NewKey(), nil
	}
	path := filepath.Join(dir, keyFile)
	if key, err := readKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("guest key: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-key-*")
	if err != nil {
		return "", fmt.Errorf("guest key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, werr := f.WriteString(NewKey() + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("guest key: %w", werr)
	}
	// A link, unlike a rename, fails when the file exists: of two
	// platforms starting on one directory, both use the first one's key.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("guest key: %w", err)
	}
	return readKey(path)
}

func readKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("guest key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if id, secret, ok := strings.Cut(key, ":"); !ok || id == "" || secret == "" {
		return "", fmt.Errorf("guest key: %s does not hold a key of the form uuid:secret", path)
	}
	return key, nil
}
