package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// A fan-out's join in storage. Each branch of a parallel or map node
// commits its result once, create-if-absent, so a branch run twice (a
// crash and a retry, or a duplicate delivery) cannot change a result or
// count twice; whoever finds every result there claims the continuation,
// create-if-absent too, so the workflow goes on exactly once.
//
// Layout under the prefix:
//
//	joins/JOIN/parent            the waiting workflow's sealed state, create-if-absent
//	joins/JOIN/branch-000003     branch 3's result, create-if-absent
//	joins/JOIN/claim             who continues the workflow, create-if-absent
//	joins/JOIN/next              the activation that continues it

func (s *Store) joinDir(join string) string { return s.prefix + "joins/" + join + "/" }

func branchKey(i int) string { return fmt.Sprintf("branch-%06d", i) }

// PutJoinParent records the state a join continues, once.
func (s *Store) PutJoinParent(ctx context.Context, join string, state []byte) error {
	if err := validJob(join); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	err := s.put(ctx, s.joinDir(join)+"parent", state, true)
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("join %s: %w", join, err)
	}
	return nil
}

// JoinParent reads the state a join continues.
func (s *Store) JoinParent(ctx context.Context, join string) ([]byte, error) {
	if err := validJob(join); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	b, err := s.readAll(ctx, s.joinDir(join)+"parent")
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", join, err)
	}
	return b, nil
}

// CommitBranch stores branch i's result unless it has one; won says
// whether this call stored it.
func (s *Store) CommitBranch(ctx context.Context, join string, i int, result []byte) (won bool, err error) {
	if err := validJob(join); err != nil {
		return false, fmt.Errorf("join: %w", err)
	}
	err = s.put(ctx, s.joinDir(join)+branchKey(i), result, true)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrExists):
		return false, nil
	}
	return false, fmt.Errorf("join %s: branch %d: %w", join, i, err)
}

// Branches reads the results committed so far, by branch index.
func (s *Store) Branches(ctx context.Context, join string) (map[int][]byte, error) {
	if err := validJob(join); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	dir := s.joinDir(join)
	objs, err := s.b.List(ctx, dir)
	if errors.Is(err, ErrNotFound) {
		// No branch has ended yet, and no one has written to the join.
		objs, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", join, err)
	}
	out := map[int][]byte{}
	for _, o := range objs {
		name, ok := strings.CutPrefix(strings.TrimPrefix(o.Key, dir), "branch-")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := s.readAll(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("join %s: branch %d: %w", join, i, err)
		}
		out[i] = b
	}
	return out, nil
}

// ClaimJoin makes by the one who continues the workflow after the join;
// won says whether this call is it.
func (s *Store) ClaimJoin(ctx context.Context, join, by string) (won bool, err error) {
	if err := validJob(join); err != nil {
		return false, fmt.Errorf("join: %w", err)
	}
	err = s.put(ctx, s.joinDir(join)+"claim", []byte(by), true)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrExists):
		return false, nil
	}
	return false, fmt.Errorf("join %s: %w", join, err)
}

// SetJoinNext records the activation that continues the workflow, for
// whoever follows it.
func (s *Store) SetJoinNext(ctx context.Context, join, activation string) error {
	if err := validJob(join); err != nil {
		return fmt.Errorf("join: %w", err)
	}
	if err := s.put(ctx, s.joinDir(join)+"next", []byte(activation), true); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("join %s: %w", join, err)
	}
	return nil
}

// JoinNext is the activation that continues the workflow after the
// join, once it is known.
func (s *Store) JoinNext(ctx context.Context, join string) (activation string, ok bool, err error) {
	if err := validJob(join); err != nil {
		return "", false, fmt.Errorf("join: %w", err)
	}
	b, err := s.readAll(ctx, s.joinDir(join)+"next")
	switch {
	case err == nil:
		return string(b), true, nil
	case errors.Is(err, ErrNotFound):
		return "", false, nil
	}
	return "", false, fmt.Errorf("join %s: %w", join, err)
}
