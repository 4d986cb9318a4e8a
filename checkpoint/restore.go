package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Restore unpacks the newest whole generation <= upTo (0: newest) into
// root, verifying sizes and SHA-256 while streaming. Files go to a staging
// folder inside root first and are moved into place only when the whole
// generation verified, so a refused generation leaves root untouched. A
// refused generation is logged and the previous one tried; if all fail the
// error lists every refusal.
func (s *Store) Restore(ctx context.Context, job string, upTo int, root, wantEngine string) (Manifest, error) {
	gens, err := s.Generations(ctx, job)
	if err != nil {
		return Manifest{}, fmt.Errorf("restore: %w", err)
	}
	var refusals []string
	for i := len(gens) - 1; i >= 0; i-- {
		m := gens[i]
		if upTo > 0 && m.Generation > upTo {
			continue
		}
		err := s.restoreOne(ctx, m, root, wantEngine)
		if err == nil {
			s.log.Info("checkpoint restored", "job", job, "gen", m.Generation, "files", len(m.Files))
			return m, nil
		}
		if ctx.Err() != nil {
			return Manifest{}, fmt.Errorf("restore: %w", ctx.Err())
		}
		s.log.Warn("generation refused", "job", job, "gen", m.Generation, "err", err)
		refusals = append(refusals, fmt.Sprintf("gen %d: %v", m.Generation, err))
	}
	if len(refusals) == 0 {
		return Manifest{}, fmt.Errorf("restore %s: no whole generation <= %d: %w", job, upTo, ErrNotFound)
	}
	return Manifest{}, fmt.Errorf("restore %s: every generation refused: %s", job, strings.Join(refusals, "; "))
}

func (s *Store) restoreOne(ctx context.Context, m Manifest, root, wantEngine string) error {
	if wantEngine != "" && m.Engine != wantEngine {
		return fmt.Errorf("engine %q, want %q", m.Engine, wantEngine)
	}
	switch m.Compression {
	case "", "zstd":
	default:
		return fmt.Errorf("unknown compression %q", m.Compression)
	}
	if _, err := newChecksum(m.Checksum); err != nil {
		return err
	}
	switch m.Encryption {
	case "":
	case encAlgo:
		if s.opts.EncryptionKey == nil {
			return errors.New("generation is encrypted and no key is set")
		}
		if keyID(s.opts.EncryptionKey) != m.KeyID {
			return errors.New("generation was encrypted with a different key")
		}
	default:
		return fmt.Errorf("unknown encryption %q", m.Encryption)
	}
	if m.Data == "" || strings.ContainsAny(m.Data, "/\\") || m.Data == ".." {
		return fmt.Errorf("invalid data folder %q", m.Data)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(root, ".wskx-restore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	for _, f := range m.Files {
		rel, err := cleanRel(f.Path)
		if err != nil {
			return err
		}
		if err := s.getFile(ctx, m, f, filepath.Join(stage, filepath.FromSlash(rel))); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
	}
	files := append([]File(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for _, f := range files {
		rel, _ := cleanRel(f.Path)
		dst := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(stage, filepath.FromSlash(rel)), dst); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) getFile(ctx context.Context, m Manifest, f File, dst string) error {
	key := s.genDir(m.Job, m.Generation) + m.Data + "/files/" + f.Path
	r, err := s.b.NewReader(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	var src io.Reader = r
	if m.Encryption != "" {
		d, err := newDecReader(src, s.opts.EncryptionKey)
		if err != nil {
			return err
		}
		src = d
	}
	if m.Compression == "zstd" {
		z, err := newZstdReader(src)
		if err != nil {
			return err
		}
		defer z.Close()
		src = z
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	mode := os.FileMode(f.Mode)
	if mode == 0 {
		mode = 0o644
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	// Read one byte past the recorded size so an overlong object is caught.
	newHash, _ := newChecksum(m.Checksum)
	n, got, err := copyHashed(out, io.LimitReader(src, f.Size+1), newHash)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	if n != f.Size {
		return fmt.Errorf("size %d, manifest says %d", n, f.Size)
	}
	name, want := "sha256", f.SHA256
	if m.Checksum == ChecksumCRC32C {
		name, want = ChecksumCRC32C, f.CRC32C
	}
	if got != want {
		return fmt.Errorf("%s mismatch: got %s, manifest says %s", name, got, want)
	}
	return nil
}
