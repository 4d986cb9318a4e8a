// Package storage opens blob buckets from storage URLs (file, azblob, s3,
// gs) through gocloud.dev/blob and adapts them to checkpoint.Bucket, with
// per-backend upload tuning and credential-free error messages.
//
// URL forms (credentials always come from the environment / SDK defaults):
//
//	file:///DIR
//	azblob://CONTAINER[?protocol=http&domain=HOST:PORT&localemu=true]   (AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, ...)
//	s3://BUCKET?endpoint=URL&use_path_style=true&region=REGION          (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...)
//	gs://BUCKET                                                          (Application Default Credentials; STORAGE_EMULATOR_HOST)
//
// Query parameters handled here and removed before the driver sees them:
// prefix (a key prefix, e.g. prefix=wskx/), buffer_size (bytes per upload
// part) and max_concurrency (parts in flight). Memory per upload is about
// buffer_size * max_concurrency, whatever the object size.
package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // registers azblob://
	_ "gocloud.dev/blob/fileblob"  // registers file://
	_ "gocloud.dev/blob/gcsblob"   // registers gs://
	_ "gocloud.dev/blob/s3blob"    // registers s3://
	"gocloud.dev/gcerrors"

	"github.com/wskx/wskx/checkpoint"
)

// Tuning is the per-upload buffering of a backend.
type Tuning struct {
	BufferSize     int
	MaxConcurrency int
}

// defaultTuning per scheme. Memory per upload is bounded by about
// BufferSize*MaxConcurrency whatever the object size. Measured on loopback
// (BenchmarkThroughput, 64 MiB): S3 with 16 MiB x 4 peaked at 140 MB of
// heap and was no faster than 5 MiB x 1 (52 MB); 8 MiB x 3 keeps a few
// parts in flight for real clouds' latency at about half the memory.
// Azure's uploads peaked under 10 MB of heap with 8 MiB x 4.
var defaultTuning = map[string]Tuning{
	"file":   {},
	"azblob": {BufferSize: 8 << 20, MaxConcurrency: 4},
	"s3":     {BufferSize: 8 << 20, MaxConcurrency: 3},
	"gs":     {BufferSize: 16 << 20, MaxConcurrency: 1}, // GCS uploads are one resumable stream; concurrency is unused
}

// Bucket is an open bucket; it implements checkpoint.Bucket.
type Bucket struct {
	b      *blob.Bucket // prefixed view used for all I/O
	base   *blob.Bucket // unprefixed, for As
	scheme string
	name   string
	tuning Tuning
	safe   string   // the URL with secrets removed, for messages
	hide   []string // secret strings from the URL, never to be shown
	dir    string   // file:// only: the directory, for lockDir
}

// stored is the name key is stored under (see filekeys.go).
func (b *Bucket) stored(key string) string {
	if b.scheme == "file" {
		return fileName(key)
	}
	return key
}

var _ checkpoint.Bucket = (*Bucket)(nil)

// Open opens the bucket named by rawURL.
func Open(ctx context.Context, rawURL string) (*Bucket, error) {
	safe := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open storage %s: invalid URL", safe)
	}
	hide := secretValues(u)
	tun, ok := defaultTuning[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("open storage %s: unsupported scheme %q (want file, azblob, s3 or gs)", safe, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("open storage %s: credentials in URLs are refused; use the environment", safe)
	}
	q := u.Query()
	prefix := q.Get("prefix")
	for _, p := range []struct {
		name string
		dst  *int
	}{{"buffer_size", &tun.BufferSize}, {"max_concurrency", &tun.MaxConcurrency}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("open storage %s: invalid %s", safe, p.name)
			}
			*p.dst = n
		}
		q.Del(p.name)
	}
	q.Del("prefix")
	if u.Scheme == "file" && !q.Has("metadata") {
		// The store verifies SHA-256 itself; the MD5 sidecar files fileblob
		// writes by default cost a third of the upload CPU.
		q.Set("metadata", "skip")
	}
	if u.Scheme == "file" && !q.Has("no_tmp_dir") {
		// Temporary files next to their targets, not in os.TempDir: a
		// rename across file systems fails (see filekeys.go).
		q.Set("no_tmp_dir", "true")
	}
	if u.Scheme == "file" && !q.Has("create_dir") {
		// A file bucket is a folder that the first hop of the first job
		// finds missing (file:///tmp/wskx/store by default).
		q.Set("create_dir", "true")
	}
	if u.Scheme == "s3" {
		// The store checks SHA-256 end to end, so the SDK's own CRC on every
		// request and response only costs CPU; on multipart objects it also
		// logs a warning for each download that it cannot validate.
		for _, k := range []string{"request_checksum_calculation", "response_checksum_validation"} {
			if !q.Has(k) {
				q.Set(k, "when_required")
			}
		}
	}
	u.RawQuery = q.Encode()
	base, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("open storage %s: %s", safe, scrub(err.Error(), hide))
	}
	b := base
	if prefix != "" {
		b = blob.PrefixedBucket(base, prefix)
	}
	return &Bucket{b: b, base: base, scheme: u.Scheme, name: u.Host, tuning: tun, safe: safe, hide: hide, dir: fileDir(u)}, nil
}

func fileDir(u *url.URL) string {
	if u.Scheme != "file" {
		return ""
	}
	return u.Path
}

// String is the URL without secrets.
func (b *Bucket) String() string { return b.safe }

// Tuning reports the upload tuning in effect.
func (b *Bucket) Tuning() Tuning { return b.tuning }

// Close releases the bucket.
func (b *Bucket) Close() error {
	err := b.b.Close()
	if b.base != b.b {
		if e := b.base.Close(); err == nil {
			err = e
		}
	}
	return err
}

// mapErr turns driver errors into the checkpoint sentinels and keeps the
// bucket URL's secrets out of the text.
func (b *Bucket) mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	msg := scrub(err.Error(), b.hide)
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%s %s: %w", op, key, checkpoint.ErrNotFound)
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return fmt.Errorf("%s %s: %w", op, key, checkpoint.ErrExists)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, key, err)
	}
	return fmt.Errorf("%s %s: %s", op, key, msg)
}

// NewWriter starts an upload; Close commits it. Cancelling ctx before Close
// aborts the upload and nothing becomes visible.
//
// The bytes go through a pipe into blob.Bucket.Upload rather than through
// blob.Writer.Write: the azureblob driver's Write path can dereference a
// nil pipe when the upload fails during Close (e.g. a lost IfNotExist
// race), and an explicit pipe lets an aborted write end the stream with an
// error instead of a clean EOF that could commit a truncated object.
func (b *Bucket) NewWriter(ctx context.Context, key string, opts checkpoint.WriteOptions) (io.WriteCloser, error) {
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	wo := &blob.WriterOptions{
		BufferSize:     b.tuning.BufferSize,
		MaxConcurrency: b.tuning.MaxConcurrency,
		IfNotExist:     opts.IfNotExist,
		ContentType:    ct,
	}
	if b.scheme == "file" && !opts.IfNotExist {
		// fileblob needs neither of the reasons for the pipe (it writes a
		// temp file and discards it when the context is cancelled), and the
		// pipe's extra copy of every byte cost a third of the file
		// throughput.
		bw, err := b.b.NewWriter(ctx, b.stored(key), wo)
		if err != nil {
			return nil, b.mapErr("write", key, err)
		}
		return &fileWriter{w: bw, b: b, key: key, ctx: ctx}, nil
	}
	pr, pw := io.Pipe()
	w := &writer{pw: pw, b: b, key: key, ctx: ctx, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		if opts.IfNotExist && b.scheme == "file" {
			unlock, err := lockDir(b.dir)
			if err != nil {
				w.err = err
				pr.CloseWithError(err)
				return
			}
			defer unlock()
		}
		// Reading the pipe in large pieces keeps the goroutine hand-offs per
		// byte low; blob's own copy would pull 32 KiB at a time.
		w.err = b.b.Upload(ctx, b.stored(key), bufio.NewReaderSize(pr, 1<<20), wo)
		pr.CloseWithError(errUploadEnded)
	}()
	return w, nil
}

var errUploadEnded = errors.New("upload ended")

type writer struct {
	pw   *io.PipeWriter
	b    *Bucket
	key  string
	ctx  context.Context
	done chan struct{}
	err  error
}

func (w *writer) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	if err != nil {
		<-w.done
		if w.err != nil {
			return n, w.b.mapErr("write", w.key, w.err)
		}
		return n, fmt.Errorf("write %s: %w", w.key, err)
	}
	return n, nil
}

func (w *writer) Close() error {
	if err := w.ctx.Err(); err != nil {
		// Aborted: make the upload see an error, never a clean end.
		w.pw.CloseWithError(err)
		<-w.done
		return fmt.Errorf("write %s: %w", w.key, err)
	}
	w.pw.Close()
	<-w.done
	return w.b.mapErr("write", w.key, w.err)
}

type fileWriter struct {
	w   *blob.Writer
	b   *Bucket
	key string
	ctx context.Context
}

func (w *fileWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if err != nil {
		return n, w.b.mapErr("write", w.key, err)
	}
	return n, nil
}

func (w *fileWriter) Close() error {
	if err := w.ctx.Err(); err != nil {
		w.w.Close() // sees the cancelled context and removes its temp file
		return fmt.Errorf("write %s: %w", w.key, err)
	}
	return w.b.mapErr("write", w.key, w.w.Close())
}

// NewReader opens key for reading.
func (b *Bucket) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	r, err := b.b.NewReader(ctx, b.stored(key), nil)
	if err != nil {
		return nil, b.mapErr("read", key, err)
	}
	return &reader{r: r, b: b, key: key}, nil
}

type reader struct {
	r   *blob.Reader
	b   *Bucket
	key string
}

func (r *reader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		return n, err
	}
	return n, r.b.mapErr("read", r.key, err)
}

// WriteTo lets io.Copy use the driver's own buffering.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	n, err := r.r.WriteTo(w)
	return n, r.b.mapErr("read", r.key, err)
}

func (r *reader) Close() error { return r.r.Close() }

// List returns every object whose key starts with prefix.
func (b *Bucket) List(ctx context.Context, prefix string) ([]checkpoint.Object, error) {
	it := b.b.List(&blob.ListOptions{Prefix: prefix})
	var out []checkpoint.Object
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, b.mapErr("list", prefix, err)
		}
		if o.IsDir {
			continue
		}
		key := o.Key
		if b.scheme == "file" {
			var ok bool
			if key, ok = fileKey(o.Key); !ok || !strings.HasPrefix(key, prefix) {
				continue // a write in progress, or a name outside the prefix once decoded
			}
		}
		out = append(out, checkpoint.Object{Key: key, Size: o.Size, Modified: o.ModTime})
	}
}

// Delete removes key; a missing key is ErrNotFound.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	return b.mapErr("delete", key, b.b.Delete(ctx, b.stored(key)))
}

// Redact returns rawURL with user info and secret-looking query values
// replaced, safe for logs and errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "<unparsable storage URL>"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	q := u.Query()
	for k := range q {
		if secretParam(k) {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"key", "secret", "token", "sig", "password", "credential", "sas", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// secretValues lists the URL's password and secret-looking query values.
func secretValues(u *url.URL) []string {
	var out []string
	if u.User != nil {
		out = append(out, u.User.Username())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		if secretParam(k) {
			out = append(out, vs...)
		}
	}
	return out
}

// scrub replaces every secret string (and its URL-escaped form) in msg.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, s, "REDACTED")
		msg = strings.ReplaceAll(msg, url.QueryEscape(s), "REDACTED")
	}
	return msg
}
