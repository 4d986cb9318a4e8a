package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Prune keeps the newest keep whole generations (keep <= 0: Options.Keep)
// and removes older ones, plus any leftover of a failed or losing Save that
// is older than the newest whole generation. A generation's manifest is
// deleted before its files so readers never see it half removed.
func (s *Store) Prune(ctx context.Context, job string, keep int) error {
	if keep <= 0 {
		keep = s.opts.Keep
	}
	gens, err := s.Generations(ctx, job)
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if len(gens) == 0 {
		return nil
	}
	kept := map[int]string{} // generation -> data folder
	for _, m := range gens[max(0, len(gens)-keep):] {
		kept[m.Generation] = m.Data
	}
	newest := gens[len(gens)-1].Generation
	objs, err := s.b.List(ctx, s.jobDir(job))
	if err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	var manifests, data []string
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, s.jobDir(job))
		dir, sub, ok := strings.Cut(rest, "/")
		gen, isGen := genOf(dir)
		if !ok || !isGen {
			continue
		}
		if d, keepIt := kept[gen]; keepIt {
			// Within a kept generation only other attempts' data goes.
			if sub == "manifest.json" || strings.HasPrefix(sub, d+"/") {
				continue
			}
			data = append(data, o.Key)
			continue
		}
		if gen > newest {
			continue // maybe a Save still under way
		}
		if sub == "manifest.json" {
			manifests = append(manifests, o.Key)
		} else {
			data = append(data, o.Key)
		}
	}
	for _, k := range append(manifests, data...) {
		if err := s.b.Delete(ctx, k); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("prune: %w", err)
		}
	}
	if len(manifests)+len(data) > 0 {
		s.log.Info("pruned", "job", job, "manifests", len(manifests), "objects", len(data))
	}
	return nil
}

// Jobs summarises every job under the store's prefix.
func (s *Store) Jobs(ctx context.Context) ([]JobInfo, error) {
	base := s.prefix + "jobs/"
	objs, err := s.b.List(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	byJob := map[string]*JobInfo{}
	for _, o := range objs {
		job, rest, ok := strings.Cut(strings.TrimPrefix(o.Key, base), "/")
		if !ok {
			continue
		}
		ji := byJob[job]
		if ji == nil {
			ji = &JobInfo{Job: job}
			byJob[job] = ji
		}
		ji.Objects++
		ji.Bytes += o.Size
		if o.Modified.After(ji.Modified) {
			ji.Modified = o.Modified
		}
		if rest == "result.json" {
			ji.HasResult = true
		}
		if dir, sub, ok := strings.Cut(rest, "/"); ok && sub == "manifest.json" {
			if g, ok := genOf(dir); ok {
				ji.Generations = append(ji.Generations, g)
			}
		}
	}
	out := make([]JobInfo, 0, len(byJob))
	for _, ji := range byJob {
		sort.Ints(ji.Generations)
		out = append(out, *ji)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Job < out[j].Job })
	return out, nil
}

// Remove deletes a job's checkpoints and claims but keeps its result, so a
// late duplicate hop still finds the committed answer. RemoveAll also
// deletes the result.
func (s *Store) Remove(ctx context.Context, job string) error {
	return s.remove(ctx, job, false)
}

// RemoveAll deletes everything stored for the job, result included.
func (s *Store) RemoveAll(ctx context.Context, job string) error {
	return s.remove(ctx, job, true)
}

func (s *Store) remove(ctx context.Context, job string, withResult bool) error {
	if err := validJob(job); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	objs, err := s.b.List(ctx, s.jobDir(job))
	if err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	// Manifests first: a generation disappears whole.
	sort.SliceStable(objs, func(i, j int) bool {
		return strings.HasSuffix(objs[i].Key, "/manifest.json") && !strings.HasSuffix(objs[j].Key, "/manifest.json")
	})
	for _, o := range objs {
		if !withResult && o.Key == s.jobDir(job)+"result.json" {
			continue
		}
		if err := s.b.Delete(ctx, o.Key); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove: %w", err)
		}
	}
	return nil
}
