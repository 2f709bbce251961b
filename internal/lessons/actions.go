package lessons

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/dynamic"
)

// Cluster is what setup actions and checks need from a learner's cluster.
type Cluster interface {
	// LoadImage puts image on node as a preloaded image (not pulled by the kubelet).
	LoadImage(ctx context.Context, node, image string) error
	// PushImage publishes a new build of ref (REPO:TAG) and moves the tag to it; it returns the
	// new digest.
	PushImage(ctx context.Context, ref string) (string, error)
	// Advance fast-forwards the cluster's clock: everything due within d happens.
	Advance(ctx context.Context, d time.Duration) error
	// Apply creates or updates the objects of a YAML manifest (one or more documents).
	Apply(ctx context.Context, manifest []byte) error
	// TagDigest is the digest ref's tag points at now in the registry.
	TagDigest(ref string) (string, error)
	// Dynamic is a client of the cluster, as its administrator.
	Dynamic() dynamic.Interface
}

// Files is where writeFile actions write: the learner's shell file system.
type Files interface {
	WriteFile(path string, data []byte) error
}

// Poll is how waitFor waits between evaluations; tests replace it.
type Poll func(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error

// RunActions runs actions in order and stops at the first failure. files may be nil when no
// action writes files.
func RunActions(ctx context.Context, ev *Evaluator, files Files, poll Poll, actions []Action) error {
	c := ev.cluster
	for i, a := range actions {
		var err error
		switch {
		case a.LoadImage != nil:
			err = c.LoadImage(ctx, a.LoadImage.Node, a.LoadImage.Image)
		case a.PushImage != "":
			_, err = c.PushImage(ctx, a.PushImage)
		case a.Advance != "":
			d, _ := time.ParseDuration(a.Advance)
			err = c.Advance(ctx, d)
		case a.Apply != "":
			err = c.Apply(ctx, []byte(a.Apply))
		case a.WaitFor != nil:
			timeout := 60 * time.Second
			if a.WaitFor.Timeout != "" {
				timeout, _ = time.ParseDuration(a.WaitFor.Timeout)
			}
			var last Result
			err = poll(ctx, timeout, func() (bool, error) {
				last = ev.Eval(ctx, []string{a.WaitFor.Expr})[a.WaitFor.Expr]
				return last.OK, nil
			})
			if err != nil && last.Err != nil {
				err = fmt.Errorf("%w (last evaluation: %v)", err, last.Err)
			}
		case a.WriteFile != nil:
			if files == nil {
				err = fmt.Errorf("no file system to write to")
				break
			}
			p := a.WriteFile.Path
			if p[0] != '/' {
				p = "/root/" + p
			}
			err = files.WriteFile(p, []byte(a.WriteFile.Content))
		}
		if err != nil {
			return fmt.Errorf("setup action %d (%s): %w", i+1, a, err)
		}
	}
	return nil
}
