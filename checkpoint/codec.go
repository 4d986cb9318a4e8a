package checkpoint

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// EncryptionKeyEnv names the environment variable holding the base64 form
// of the 32-byte AES-256 key (see KeyFromEnv).
const EncryptionKeyEnv = "WSKX_ENCRYPTION_KEY"

const (
	encAlgo   = "aes-256-gcm-chunked"
	chunkSize = 1 << 20
	encMagic  = "WSKXE1\n"
)

// KeyFromEnv reads WSKX_ENCRYPTION_KEY (standard base64 of 32 bytes). An
// unset variable means no encryption (nil key, nil error).
func KeyFromEnv() ([]byte, error) {
	v := strings.TrimSpace(os.Getenv(EncryptionKeyEnv))
	if v == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64", EncryptionKeyEnv)
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("%s: want 32 bytes, got %d", EncryptionKeyEnv, len(k))
	}
	return k, nil
}

// keyID names a key without revealing it, so a restore with the wrong key
// is refused before any download.
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("wskx key id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// encWriter seals fixed-size chunks with AES-GCM. The nonce is a random
// per-object base XOR the chunk index, and the last chunk carries a final
// flag in its additional data, so reordering, truncation and extension are
// all detected.
type encWriter struct {
	w     io.Writer
	aead  cipher.AEAD
	base  [12]byte
	n     uint64
	buf   []byte
	out   []byte
	wrote bool
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key: want 32 bytes, got %d", len(key))
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func newEncWriter(w io.Writer, key []byte) (*encWriter, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	e := &encWriter{w: w, aead: aead, buf: make([]byte, 0, chunkSize+1), out: make([]byte, 0, chunkSize+aead.Overhead())}
	if _, err := rand.Read(e.base[:]); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *encWriter) nonce(i uint64) []byte {
	n := e.base
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], i)
	for j := range c {
		n[4+j] ^= c[j]
	}
	return n[:]
}

func (e *encWriter) seal(p []byte, final bool) error {
	if !e.wrote {
		if _, err := io.WriteString(e.w, encMagic); err != nil {
			return err
		}
		if _, err := e.w.Write(e.base[:]); err != nil {
			return err
		}
		e.wrote = true
	}
	ad := []byte{0}
	if final {
		ad[0] = 1
	}
	e.out = e.aead.Seal(e.out[:0], e.nonce(e.n), p, ad)
	e.n++
	_, err := e.w.Write(e.out)
	return err
}

func (e *encWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		// Keep a full chunk back until more data proves it is not the last.
		if len(e.buf) > chunkSize {
			if err := e.seal(e.buf[:chunkSize], false); err != nil {
				return total - len(p), err
			}
			rest := copy(e.buf, e.buf[chunkSize:])
			e.buf = e.buf[:rest]
		}
		n := min(len(p), chunkSize+1-len(e.buf))
		e.buf = append(e.buf, p[:n]...)
		p = p[n:]
	}
	return total, nil
}

// Close seals the last chunk; it does not close the underlying writer.
func (e *encWriter) Close() error {
	if len(e.buf) > chunkSize {
		if err := e.seal(e.buf[:chunkSize], false); err != nil {
			return err
		}
		e.buf = e.buf[chunkSize:]
	}
	return e.seal(e.buf, true)
}

// errDecrypt says authentication failed: wrong key or damaged data.
var errDecrypt = errors.New("decrypt: authentication failed (wrong key or damaged data)")

type decReader struct {
	r    *bufio.Reader
	aead cipher.AEAD
	e    encWriter // only for nonce()
	in   []byte
	out  []byte
	done bool
}

func newDecReader(r io.Reader, key []byte) (*decReader, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	d := &decReader{r: bufio.NewReaderSize(r, 256<<10), aead: aead, in: make([]byte, chunkSize+aead.Overhead())}
	hdr := make([]byte, len(encMagic)+12)
	if _, err := io.ReadFull(d.r, hdr); err != nil {
		return nil, fmt.Errorf("decrypt: short header: %w", err)
	}
	if string(hdr[:len(encMagic)]) != encMagic {
		return nil, errors.New("decrypt: not an encrypted object")
	}
	copy(d.e.base[:], hdr[len(encMagic):])
	return d, nil
}

func (d *decReader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.done {
			return 0, io.EOF
		}
		n, err := io.ReadFull(d.r, d.in)
		final := false
		switch {
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			final = true
		case err != nil:
			return 0, err
		default:
			if _, perr := d.r.Peek(1); perr == io.EOF {
				final = true
			} else if perr != nil {
				return 0, perr
			}
		}
		ad := []byte{0}
		if final {
			ad[0] = 1
		}
		out, oerr := d.aead.Open(d.in[:0], d.e.nonce(d.e.n), d.in[:n], ad)
		if oerr != nil {
			return 0, errDecrypt
		}
		d.e.n++
		d.out = out
		d.done = final
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// newZstdWriter favours speed: checkpoints are written against a deadline.
func newZstdWriter(w io.Writer) (*zstd.Encoder, error) {
	return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(4<<20))
}

func newZstdReader(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(64<<20))
}
