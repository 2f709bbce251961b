// Package runtime is a simulated containerd 2.x on one node: its CRI image store (pulls resolved
// against the cluster's registry World, tags, repo digests, image IDs, sizes, pinning), its pod
// sandboxes and containers, and the crictl views of them.
//
// A pull has two phases so the caller can put its duration on the virtual clock: ResolvePull talks
// to the registry now and returns a plan (or containerd's exact error text), CommitPull stores the
// image when the download would have finished.
//
// The runtime owns no clock and no randomness of its own: time comes from the Clock and IDs from the
// seeded *rand.Rand given to New.
package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"kubesim.dev/kubesim/internal/registry"
)

// Clock is the cluster's clock (internal/clock.Clock satisfies it).
type Clock interface {
	Now() time.Time
}

// DefaultSandboxImage is containerd 2.x's default sandbox (pause) image, pinned by default.
const DefaultSandboxImage = "registry.k8s.io/pause:3.10"

// DefaultImageFsCapacity is the size of a node's image filesystem unless configured.
const DefaultImageFsCapacity = 100 << 30

// ImageFsMountpoint is where containerd keeps its snapshots.
const ImageFsMountpoint = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"

// Config configures a node's runtime.
type Config struct {
	// PinnedImages are never garbage collected (containerd's pinned_images; default: the sandbox image).
	PinnedImages []string
	// ImageFsCapacity is the capacity of the image filesystem in bytes (default 100 GiB).
	ImageFsCapacity int64
}

// Runtime is one node's containerd.
type Runtime struct {
	world *registry.World
	clock Clock
	cfg   Config

	mu         sync.Mutex
	rand       *rand.Rand
	images     map[string]*storedImage // by image ID
	refs       map[string]string       // reference → image ID (containerd's refCache)
	sandboxes  map[string]*Sandbox
	containers map[string]*Container
	idSalt     uint64
	idSeq      map[string]int // how many IDs each identity was given
}

// New returns a node runtime that pulls from world, reads time from clock and draws IDs from rnd.
func New(world *registry.World, clock Clock, rnd *rand.Rand, cfg Config) *Runtime {
	if cfg.PinnedImages == nil {
		cfg.PinnedImages = []string{DefaultSandboxImage}
	}
	if cfg.ImageFsCapacity == 0 {
		cfg.ImageFsCapacity = DefaultImageFsCapacity
	}
	return &Runtime{
		world: world, clock: clock, cfg: cfg, rand: rnd,
		images: map[string]*storedImage{}, refs: map[string]string{},
		sandboxes: map[string]*Sandbox{}, containers: map[string]*Container{}, idSeq: map[string]int{},
	}
}

// Now is the runtime's current time.
func (r *Runtime) Now() time.Time { return r.clock.Now() }

// newID returns a 64-hex container or sandbox ID for what it identifies (a sandbox: the pod's UID
// and attempt; a container: its sandbox, name and attempt). It is a hash of that and of a value
// drawn once from the node's seeded source: random-looking like containerd's, but the same for the
// same pod however the node's work interleaves with others'. Callers hold r.mu.
func (r *Runtime) newID(identity string) string {
	if r.idSalt == 0 {
		r.idSalt = r.rand.Uint64() | 1
	}
	r.idSeq[identity]++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%d", r.idSalt, identity, r.idSeq[identity])))
	return hex.EncodeToString(sum[:])
}
