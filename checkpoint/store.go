package checkpoint

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options configures a Store.
type Options struct {
	// Compression is "" (none) or "zstd".
	Compression string
	// Checksum is ChecksumSHA256 (also "") or ChecksumCRC32C.
	Checksum string
	// EncryptionKey is a 32-byte AES-256-GCM key; nil stores plain bytes.
	EncryptionKey []byte
	// Keep is how many whole generations Prune keeps when asked for 0 (default 2).
	Keep int
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

// Store keeps checkpoint generations, results and claims under a key prefix.
//
// Layout under the prefix:
//
//	jobs/JOB/gen-000003/ATTEMPT/files/PATH   file contents (ATTEMPT is random per Save)
//	jobs/JOB/gen-000003/manifest.json        written last, create-if-absent
//	jobs/JOB/result.json                     final result, create-if-absent
//	jobs/JOB/job.json                        what the job started with, create-if-absent
//	jobs/JOB/leases/0000000007               holdings of the job, create-if-absent (lease.go)
type Store struct {
	b      Bucket
	prefix string
	opts   Options
	log    *slog.Logger
}

// Meta describes what produced a generation.
type Meta struct {
	Hop           int       `json:"hop"`
	Engine        string    `json:"engine"`
	EngineVersion string    `json:"engine_version,omitempty"`
	Key           string    `json:"key,omitempty"`
	Created       time.Time `json:"created"`
	// Lease is the saver's lease token: the manifest is written only
	// while no newer holding exists. 0 saves without a lease.
	Lease int `json:"lease,omitempty"`
}

// File is one stored file of a generation.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	CRC32C string `json:"crc32c,omitempty"`
	Stored int64  `json:"stored"`
	Mode   uint32 `json:"mode,omitempty"`
}

// Manifest describes a whole generation; its presence makes it visible.
type Manifest struct {
	Job        string `json:"job"`
	Generation int    `json:"generation"`
	Meta
	Files       []File `json:"files"`
	Compression string `json:"compression,omitempty"`
	// Checksum names the per-file checksum; "" in older manifests is sha256.
	Checksum   string `json:"checksum,omitempty"`
	Encryption string `json:"encryption,omitempty"`
	// KeyID identifies the encryption key (an HMAC, not the key).
	KeyID string `json:"key_id,omitempty"`
	// Data is the folder, relative to the generation, holding the files.
	Data string `json:"data"`
	// Bytes is the total stored, after compression and encryption.
	Bytes int64 `json:"bytes"`
}

// JobInfo summarises one job's stored state for garbage collection.
type JobInfo struct {
	Job         string
	Generations []int // whole generations, oldest first
	Objects     int
	Bytes       int64
	HasResult   bool
	Modified    time.Time // newest object
}

// NewStore returns a store keeping its keys under prefix in b.
func NewStore(b Bucket, prefix string, opts Options) *Store {
	if opts.Keep <= 0 {
		opts.Keep = 2
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Store{b: b, prefix: prefix, opts: opts, log: lg}
}

func (s *Store) jobDir(job string) string { return s.prefix + "jobs/" + job + "/" }

func (s *Store) genDir(job string, gen int) string {
	return fmt.Sprintf("%sgen-%06d/", s.jobDir(job), gen)
}

func validJob(job string) error {
	if job == "" || job == "." || job == ".." || strings.ContainsAny(job, "/\\\x00") {
		return fmt.Errorf("invalid job name %q", job)
	}
	return nil
}

// cleanRel accepts only relative, clean, non-escaping slash paths.
func cleanRel(p string) (string, error) {
	q := path.Clean(filepath.ToSlash(p))
	if p == "" || path.IsAbs(q) || q == "." || q == ".." || strings.HasPrefix(q, "../") || strings.Contains(q, "\x00") {
		return "", fmt.Errorf("invalid file path %q", p)
	}
	return q, nil
}

func randomID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Save uploads files (relative to root) as generation gen of job and then
// writes the manifest last, create-if-absent. A second Save of the same
// generation fails with ErrExists; files of a losing or failed Save live in
// their own attempt folder and are removed by Prune.
func (s *Store) Save(ctx context.Context, job string, gen int, root string, files []string, meta Meta) (Manifest, error) {
	if err := validJob(job); err != nil {
		return Manifest{}, fmt.Errorf("save: %w", err)
	}
	if gen < 0 {
		return Manifest{}, fmt.Errorf("save: invalid generation %d", gen)
	}
	switch s.opts.Compression {
	case "", "zstd":
	default:
		return Manifest{}, fmt.Errorf("save: unknown compression %q", s.opts.Compression)
	}
	mkey := s.genDir(job, gen) + "manifest.json"
	if _, err := s.readAll(ctx, mkey); err == nil {
		return Manifest{}, fmt.Errorf("save %s gen %d: %w", job, gen, ErrExists)
	} else if !errors.Is(err, ErrNotFound) {
		return Manifest{}, fmt.Errorf("save: %w", err)
	}
	if meta.Created.IsZero() {
		meta.Created = time.Now().UTC()
	}
	if _, err := newChecksum(s.opts.Checksum); err != nil {
		return Manifest{}, fmt.Errorf("save: %w", err)
	}
	m := Manifest{Job: job, Generation: gen, Meta: meta, Compression: s.opts.Compression, Checksum: s.opts.Checksum, Data: randomID()}
	if m.Checksum == "" {
		m.Checksum = ChecksumSHA256
	}
	if s.opts.EncryptionKey != nil {
		if _, err := newAEAD(s.opts.EncryptionKey); err != nil {
			return Manifest{}, fmt.Errorf("save: %w", err)
		}
		m.Encryption = encAlgo
		m.KeyID = keyID(s.opts.EncryptionKey)
	}
	seen := map[string]bool{}
	start := time.Now()
	for _, f := range files {
		rel, err := cleanRel(f)
		if err != nil {
			return Manifest{}, fmt.Errorf("save: %w", err)
		}
		if seen[rel] {
			continue
		}
		seen[rel] = true
		fi, err := s.putFile(ctx, m, root, rel)
		if err != nil {
			return Manifest{}, fmt.Errorf("save %s gen %d: %s: %w", job, gen, rel, err)
		}
		m.Files = append(m.Files, fi)
		m.Bytes += fi.Stored
	}
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("save: %w", err)
	}
	if err := s.fence(ctx, job, meta.Lease); err != nil {
		return Manifest{}, fmt.Errorf("save %s gen %d: %w", job, gen, err)
	}
	if err := s.put(ctx, mkey, body, true); err != nil {
		return Manifest{}, fmt.Errorf("save %s gen %d: manifest: %w", job, gen, err)
	}
	s.log.Info("checkpoint saved", "job", job, "gen", gen, "files", len(m.Files), "bytes", m.Bytes, "took", time.Since(start))
	return m, nil
}

// putFile streams one file through checksum, compression and encryption.
// On any error the writer's context is cancelled before Close, so the
// backend discards the partial object.
func (s *Store) putFile(ctx context.Context, m Manifest, root, rel string) (File, error) {
	src, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return File{}, err
	}
	if !st.Mode().IsRegular() {
		return File{}, errors.New("not a regular file")
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	key := s.genDir(m.Job, m.Generation) + m.Data + "/files/" + rel
	bw, err := s.b.NewWriter(wctx, key, WriteOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return File{}, err
	}
	cw := &countWriter{w: bw}
	var sink io.Writer = cw
	var enc *encWriter
	if m.Encryption != "" {
		if enc, err = newEncWriter(sink, s.opts.EncryptionKey); err != nil {
			cancel()
			bw.Close()
			return File{}, err
		}
		sink = enc
	}
	var closers []io.Closer
	if m.Compression == "zstd" {
		z, err := newZstdWriter(sink)
		if err != nil {
			cancel()
			bw.Close()
			return File{}, err
		}
		sink = z
		closers = append(closers, z)
	}
	if enc != nil {
		closers = append(closers, enc)
	}
	newHash, _ := newChecksum(m.Checksum)
	n, sum, err := copyHashed(sink, src, newHash)
	for _, c := range closers {
		if err != nil {
			break
		}
		err = c.Close()
	}
	if err != nil {
		cancel()
		bw.Close()
		return File{}, err
	}
	if err := bw.Close(); err != nil {
		return File{}, err
	}
	f := File{Path: rel, Size: n, Stored: cw.n, Mode: uint32(st.Mode().Perm())}
	if m.Checksum == ChecksumCRC32C {
		f.CRC32C = sum
	} else {
		f.SHA256 = sum
	}
	return f, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *Store) put(ctx context.Context, key string, body []byte, ifNotExist bool) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.b.NewWriter(wctx, key, WriteOptions{IfNotExist: ifNotExist, ContentType: "application/json"})
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		cancel()
		w.Close()
		return err
	}
	return w.Close()
}

func (s *Store) readAll(ctx context.Context, key string) ([]byte, error) {
	r, err := s.b.NewReader(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// genOf parses "gen-000003" into 3.
func genOf(name string) (int, bool) {
	v, ok := strings.CutPrefix(name, "gen-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// Generations lists the job's whole generations, oldest first. A manifest
// that does not parse is left out (Listing reports it).
func (s *Store) Generations(ctx context.Context, job string) ([]Manifest, error) {
	l, err := s.Listing(ctx, job)
	return l.Whole, err
}

// Listing is what a job's generations are.
type Listing struct {
	Whole []Manifest // readable manifests, oldest first
	// Damaged are generations whose manifest exists but cannot be read:
	// never restored, but their numbers are taken.
	Damaged []int
}

// Highest is the highest generation number in use, readable or not: the
// next save must go above it.
func (l Listing) Highest() int {
	n := 0
	if len(l.Whole) > 0 {
		n = l.Whole[len(l.Whole)-1].Generation
	}
	for _, d := range l.Damaged {
		n = max(n, d)
	}
	return n
}

// Listing reads every manifest of the job.
func (s *Store) Listing(ctx context.Context, job string) (Listing, error) {
	if err := validJob(job); err != nil {
		return Listing{}, fmt.Errorf("generations: %w", err)
	}
	objs, err := s.b.List(ctx, s.jobDir(job))
	if err != nil {
		return Listing{}, fmt.Errorf("generations: %w", err)
	}
	var out Listing
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, s.jobDir(job))
		dir, file, ok := strings.Cut(rest, "/")
		gen, isGen := genOf(dir)
		if !ok || !isGen || file != "manifest.json" {
			continue
		}
		body, err := s.readAll(ctx, o.Key)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // pruned meanwhile
			}
			return Listing{}, fmt.Errorf("generations: %w", err)
		}
		var m Manifest
		if err := json.Unmarshal(body, &m); err != nil || m.Generation != gen || m.Job != job {
			out.Damaged = append(out.Damaged, gen)
			continue
		}
		out.Whole = append(out.Whole, m)
	}
	sort.Slice(out.Whole, func(i, j int) bool { return out.Whole[i].Generation < out.Whole[j].Generation })
	sortInts(out.Damaged)
	return out, nil
}

func sortInts(s []int) { sort.Ints(s) }

// CommitResult records the job's final result create-if-absent, if the
// committer's lease token (0: none) is still the newest. The loser of a
// race gets the winner's bytes and won == false.
func (s *Store) CommitResult(ctx context.Context, job string, result []byte, lease int) ([]byte, bool, error) {
	if err := validJob(job); err != nil {
		return nil, false, fmt.Errorf("commit result: %w", err)
	}
	key := s.jobDir(job) + "result.json"
	if err := s.fence(ctx, job, lease); err != nil {
		// A newer holder may have committed meanwhile: its result is the one.
		if stored, ok, rerr := s.Result(ctx, job); rerr == nil && ok {
			return stored, false, nil
		}
		return nil, false, fmt.Errorf("commit result: %w", err)
	}
	err := s.put(ctx, key, result, true)
	if err == nil {
		return result, true, nil
	}
	if !errors.Is(err, ErrExists) {
		return nil, false, fmt.Errorf("commit result: %w", err)
	}
	stored, err := s.readAll(ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("commit result: read winner: %w", err)
	}
	return stored, false, nil
}

// Result returns the committed result, if any.
func (s *Store) Result(ctx context.Context, job string) ([]byte, bool, error) {
	if err := validJob(job); err != nil {
		return nil, false, fmt.Errorf("result: %w", err)
	}
	b, err := s.readAll(ctx, s.jobDir(job)+"result.json")
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("result: %w", err)
	}
	return b, true, nil
}
