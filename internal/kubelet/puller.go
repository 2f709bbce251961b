package kubelet

import (
	"errors"
	"time"

	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/kubernetes/pkg/credentialprovider"
	"k8s.io/utils/ptr"
)

// errPullQPSExceeded is the error of a pull refused by the registryPullQPS token bucket
// (pkg/kubelet/images/helpers.go).
var errPullQPSExceeded = errors.New("pull QPS exceeded")

type pullRequest struct {
	podUID types.UID
	image  string // with the default tag applied
	creds  []credentialprovider.TrackedAuthConfig
	done   func(pullResult)
}

type pullResult struct {
	image        *Image
	err          error
	pullDuration time.Duration // time in the runtime, without the wait in the queue
	creds        *credentialprovider.TrackedAuthConfig
}

// puller is the image puller (pkg/kubelet/images/puller.go). Serialized, one worker takes
// requests in order; upstream's queue holds 10 and further callers block on it, which keeps the
// same order, so a plain FIFO is equivalent. In parallel mode up to maxParallelImagePulls run at
// once, or any number when it is unset.
type puller struct {
	limit  int // 0: unlimited
	queue  []*pullRequest
	active int
}

func newPuller(cfg Config) puller {
	switch {
	case ptr.Deref(cfg.SerializeImagePulls, true):
		return puller{limit: 1}
	case cfg.MaxParallelImagePulls != nil && *cfg.MaxParallelImagePulls >= 1:
		return puller{limit: int(*cfg.MaxParallelImagePulls)}
	default:
		return puller{}
	}
}

func (k *Kubelet) enqueuePull(r *pullRequest) {
	k.puller.queue = append(k.puller.queue, r)
	k.pumpPulls()
}

func (k *Kubelet) pumpPulls() {
	for len(k.puller.queue) > 0 && (k.puller.limit == 0 || k.puller.active < k.puller.limit) {
		r := k.puller.queue[0]
		k.puller.queue = k.puller.queue[1:]
		k.puller.active++
		k.runPull(r)
	}
}

// runPull performs one pull: the QPS check, then for each matching credential in turn (or
// anonymously) the runtime's resolve, the download time, and the commit.
func (k *Kubelet) runPull(r *pullRequest) {
	start := k.now
	finish := func(res pullResult) {
		k.puller.active--
		res.pullDuration = k.now.Sub(start)
		r.done(res)
		k.pumpPulls()
	}
	if k.pullLimiter != nil && !k.pullLimiter.TryAccept() {
		finish(pullResult{err: errPullQPSExceeded})
		return
	}
	k.tryPull(r, 0, nil, finish)
}

func (k *Kubelet) tryPull(r *pullRequest, i int, errs []error, finish func(pullResult)) {
	var auth *AuthConfig
	var used *credentialprovider.TrackedAuthConfig
	if len(r.creds) > 0 {
		used = &r.creds[i]
		auth = &AuthConfig{
			Username:      used.Username,
			Password:      used.Password,
			Auth:          used.Auth,
			ServerAddress: used.ServerAddress,
			IdentityToken: used.IdentityToken,
			RegistryToken: used.RegistryToken,
		}
	}
	rtt := k.cfg.ManifestRoundTrip.Duration
	k.call(ResolvePullOp{OpBase: k.nextID(), Image: r.image, Auth: auth}, func(res OpResult) {
		if res.Err != nil {
			// Finding out that a pull fails takes the manifest round trip.
			k.after(rtt, func() {
				if used == nil {
					finish(pullResult{err: res.Err})
					return
				}
				errs = append(errs, res.Err)
				if i+1 < len(r.creds) {
					k.tryPull(r, i+1, errs, finish)
					return
				}
				finish(pullResult{err: utilerrors.NewAggregate(errs)})
			})
			return
		}
		download := time.Duration(float64(res.FetchBytes) / float64(k.cfg.PullBandwidth) * float64(time.Second))
		k.after(rtt+download, func() {
			k.call(CommitPullOp{OpBase: k.nextID(), Plan: res.Plan}, func(c OpResult) {
				if c.Err != nil {
					finish(pullResult{err: c.Err})
					return
				}
				// The size comes from ImageStatus, best effort, as upstream's GetImageSize.
				k.call(ImageStatusOp{OpBase: k.nextID(), Image: c.ImageRef}, func(s OpResult) {
					img := s.Image
					if img == nil {
						img = &Image{ID: c.ImageRef}
					}
					finish(pullResult{image: img, creds: used})
				})
			})
		})
	})
}
