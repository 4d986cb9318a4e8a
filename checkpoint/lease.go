package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Lease is one holding of a job: the activation that runs it, until when,
// and which hop and attempt it runs. Holdings are numbered by Token; the
// newest one is the job's holder. A new holding is written create-if-
// absent at the next token, so of several activations taking over a dead
// holder's job exactly one wins, and every commit of a holder checks that
// no newer token exists (a fencing token).
type Lease struct {
	Token      int    `json:"token"`
	Chain      string `json:"chain,omitempty"` // the conductor chain the holder runs for
	Activation string `json:"activation"`
	Deadline   int64  `json:"deadline"` // epoch ms; the platform has killed the holder by then
	Hop        int    `json:"hop"`
	Attempt    int    `json:"attempt"`
}

// ErrFenced says a holder's lease has passed to a newer holder: it must
// not commit anything more.
var ErrFenced = errors.New("the job's lease has passed to a newer holder")

// leasesKept is how many holdings stay after a new one is taken: the
// newest and enough before it to read a job's recent history.
const leasesKept = 3

func (s *Store) leaseDir(job string) string { return s.jobDir(job) + "leases/" }

func (s *Store) leaseKey(job string, token int) string {
	return fmt.Sprintf("%s%010d", s.leaseDir(job), token)
}

// Lease returns the job's newest holding; ok is false when it has none.
func (s *Store) Lease(ctx context.Context, job string) (l Lease, ok bool, err error) {
	if err := validJob(job); err != nil {
		return l, false, fmt.Errorf("lease: %w", err)
	}
	// A holding pruned between the listing and the read means a newer one
	// exists: list again.
	for range 3 {
		tokens, err := s.leaseTokens(ctx, job)
		if err != nil || len(tokens) == 0 {
			return l, false, err
		}
		body, err := s.readAll(ctx, s.leaseKey(job, tokens[len(tokens)-1]))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return l, false, fmt.Errorf("lease: %w", err)
		}
		if err := json.Unmarshal(body, &l); err != nil {
			return l, false, fmt.Errorf("lease %s token %d: %w", job, tokens[len(tokens)-1], err)
		}
		l.Token = tokens[len(tokens)-1]
		return l, true, nil
	}
	return l, false, fmt.Errorf("lease %s: holdings kept changing", job)
}

// leaseTokens lists the job's holding tokens, oldest first.
func (s *Store) leaseTokens(ctx context.Context, job string) ([]int, error) {
	objs, err := s.b.List(ctx, s.leaseDir(job))
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	var out []int
	for _, o := range objs {
		n, err := strconv.Atoi(strings.TrimPrefix(o.Key, s.leaseDir(job)))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	sortInts(out)
	return out, nil
}

// TakeLease writes l at l.Token, create-if-absent; won is false when
// another activation took that token first.
func (s *Store) TakeLease(ctx context.Context, job string, l Lease) (won bool, err error) {
	if err := validJob(job); err != nil {
		return false, fmt.Errorf("take lease: %w", err)
	}
	if l.Token < 1 {
		return false, fmt.Errorf("take lease: invalid token %d", l.Token)
	}
	body, err := json.Marshal(l)
	if err != nil {
		return false, fmt.Errorf("take lease: %w", err)
	}
	if err := s.put(ctx, s.leaseKey(job, l.Token), body, true); errors.Is(err, ErrExists) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("take lease: %w", err)
	}
	// Older holdings only tell history; a failure to drop them is harmless.
	if old := l.Token - leasesKept; old > 0 {
		if tokens, err := s.leaseTokens(ctx, job); err == nil {
			for _, t := range tokens {
				if t <= old {
					_ = s.b.Delete(ctx, s.leaseKey(job, t))
				}
			}
		}
	}
	return true, nil
}

// fence fails with ErrFenced when a holding newer than token exists. A
// token of 0 is no lease (a store used without leases).
func (s *Store) fence(ctx context.Context, job string, token int) error {
	if token <= 0 {
		return nil
	}
	_, err := s.readAll(ctx, s.leaseKey(job, token+1))
	switch {
	case err == nil:
		return fmt.Errorf("lease token %d: %w", token, ErrFenced)
	case errors.Is(err, ErrNotFound):
		return nil
	default:
		return fmt.Errorf("check lease: %w", err)
	}
}

// Record is what a job was started with. It is written once, create-if-
// absent, by the job's first hop; every later hop, and every other
// invocation with the same idempotency key, must name the same
// parameters, so a key can never be made to stand for another job.
type Record struct {
	Key          string          `json:"key"`
	ParamsSHA256 string          `json:"params_sha256"`
	Params       json.RawMessage `json:"params"`
	Started      int64           `json:"started"` // epoch ms of the first hop
}

// EnsureRecord stores rec as the job's record unless one exists, and
// returns the stored one.
func (s *Store) EnsureRecord(ctx context.Context, job string, rec Record) (Record, error) {
	if err := validJob(job); err != nil {
		return Record{}, fmt.Errorf("record: %w", err)
	}
	key := s.jobDir(job) + "job.json"
	body, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("record: %w", err)
	}
	err = s.put(ctx, key, body, true)
	if err == nil {
		return rec, nil
	}
	if !errors.Is(err, ErrExists) {
		return Record{}, fmt.Errorf("record: %w", err)
	}
	stored, err := s.readAll(ctx, key)
	if err != nil {
		return Record{}, fmt.Errorf("record: %w", err)
	}
	var out Record
	if err := json.Unmarshal(stored, &out); err != nil {
		return Record{}, fmt.Errorf("record of %s is damaged: %w", job, err)
	}
	return out, nil
}
