package kubelet

import (
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	credentialsecrets "k8s.io/kubernetes/pkg/credentialprovider/secrets"
	"k8s.io/kubernetes/pkg/kubelet/events"
	"k8s.io/kubernetes/pkg/util/parsers"
)

// Image errors (pkg/kubelet/images/types.go, k8s.io/cri-api/pkg/errors). Their text is the reason
// a waiting container shows.
var (
	ErrImagePullBackOff          = errors.New("ImagePullBackOff")
	ErrImageInspect              = errors.New("ImageInspectError")
	ErrImagePull                 = errors.New("ErrImagePull")
	ErrImageNeverPull            = errors.New("ErrImageNeverPull")
	ErrInvalidImageName          = errors.New("InvalidImageName")
	ErrRegistryUnavailable       = errors.New("RegistryUnavailable")
	ErrSignatureValidationFailed = errors.New("SignatureValidationFailed")
)

// applyDefaultImageTag appends ":latest" to an image with neither tag nor digest, keeping the
// name as written (pkg/kubelet/images/image_manager.go).
func applyDefaultImageTag(image string) (string, error) {
	_, tag, digest, err := parsers.ParseImageName(image)
	if err != nil {
		return "", err
	}
	if digest == "" && tag != "" && !strings.HasSuffix(image, ":"+tag) {
		image = image + ":" + tag
	}
	return image, nil
}

// imageDone receives the outcome of ensureImage: the image the container will run, or the
// waiting message and reason error.
type imageDone func(img *Image, msg string, err error)

// ensureImage is the image manager's EnsureImageExists: it decides from the pull policy, the
// image's presence and the pull records whether to pull, and reports every step as upstream does.
func (k *Kubelet) ensureImage(pod *v1.Pod, c *v1.Container, secrets []v1.Secret, done imageDone) {
	ref := containerRef(pod, c)
	requested := c.Image
	image, err := applyDefaultImageTag(requested)
	if err != nil {
		msg := fmt.Sprintf("Failed to apply default image tag %q: %v", requested, err)
		k.event(ref, v1.EventTypeWarning, events.FailedToInspectImage, msg)
		done(nil, msg, ErrInvalidImageName)
		return
	}
	creds := k.lookupCredentials(image, secrets)
	policy := c.ImagePullPolicy
	pull := func() { k.pullImage(pod, ref, requested, image, creds, done) }
	if policy == v1.PullAlways {
		pull()
		return
	}
	k.call(ImageStatusOp{OpBase: k.nextID(), Image: image}, func(r OpResult) {
		if r.Err != nil {
			msg := fmt.Sprintf("Failed to inspect image %q: %v", "", r.Err)
			k.event(ref, v1.EventTypeWarning, events.FailedToInspectImage, msg)
			done(nil, msg, ErrImageInspect)
			return
		}
		if r.Image == nil {
			if policy == v1.PullNever {
				done(nil, k.neverPull(ref, requested), ErrImageNeverPull)
				return
			}
			pull()
			return
		}
		if !k.mustAttemptImagePull(requested, r.Image.ID, creds) {
			msg := fmt.Sprintf("Container image %q already present on machine and can be accessed by the pod", requested)
			k.event(ref, v1.EventTypeNormal, events.PulledImage, msg)
			done(r.Image, msg, nil)
			return
		}
		if policy == v1.PullNever {
			// Present but not accessible with the pod's credentials: said the same way as absent.
			done(nil, k.neverPull(ref, requested), ErrImageNeverPull)
			return
		}
		pull()
	})
}

func (k *Kubelet) neverPull(ref *v1.ObjectReference, requested string) string {
	msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", requested)
	k.event(ref, v1.EventTypeWarning, events.ErrImageNeverPullPolicy, msg)
	return msg
}

// lookupCredentials builds the pod's keyring (its pull secrets, then the node's keyring) and
// returns the credentials matching the image's repository, most specific first.
func (k *Kubelet) lookupCredentials(image string, secrets []v1.Secret) []credentialprovider.TrackedAuthConfig {
	repo, _, _, err := parsers.ParseImageName(image)
	if err != nil {
		return nil
	}
	keyring, err := credentialsecrets.MakeDockerKeyring(secrets, &credentialprovider.BasicDockerKeyring{})
	if err != nil {
		return nil
	}
	creds, _ := keyring.Lookup(repo)
	return creds
}

// pullImage is the image manager's pullImage: back-off, events, the pull queue, and the error
// evaluation. The back-off is keyed by pod UID and the image as written.
func (k *Kubelet) pullImage(pod *v1.Pod, ref *v1.ObjectReference, requested, image string, creds []credentialprovider.TrackedAuthConfig, done imageDone) {
	k.recordPullIntent(requested)
	key := fmt.Sprintf("%s_%s", pod.UID, requested)
	if k.imageBackOff.IsInBackOffSinceUpdate(key, k.now) {
		msg := fmt.Sprintf("Back-off pulling image %q", requested)
		k.event(ref, v1.EventTypeNormal, events.BackOffPullImage, msg)
		if prev, ok := k.prevPullErr[key]; ok {
			msg = fmt.Sprintf("%s: %s", msg, prev)
		}
		k.recordPullFailed(requested)
		done(nil, msg, ErrImagePullBackOff)
		return
	}
	delete(k.prevPullErr, key)
	k.event(ref, v1.EventTypeNormal, events.PullingImage, fmt.Sprintf("Pulling image %q", requested))
	start := k.now
	k.enqueuePull(&pullRequest{podUID: pod.UID, image: image, creds: creds, done: func(res pullResult) {
		if res.err != nil {
			k.event(ref, v1.EventTypeWarning, events.FailedToPullImage, fmt.Sprintf("Failed to pull image %q: %v", requested, res.err))
			k.imageBackOff.Next(key, k.now)
			msg, err := evalCRIPullErr(requested, res.err)
			k.prevPullErr[key] = fmt.Sprintf("%s: %s", err, msg)
			k.recordPullFailed(requested)
			done(nil, msg, err)
			return
		}
		waited := k.now.Sub(start).Truncate(time.Millisecond)
		k.event(ref, v1.EventTypeNormal, events.PulledImage, fmt.Sprintf("Successfully pulled image %q in %v (%v including waiting). Image size: %v bytes.",
			requested, res.pullDuration.Truncate(time.Millisecond), waited, res.image.Size))
		k.imageBackOff.GC()
		k.recordImagePulled(requested, res.image.ID, res.creds)
		done(res.image, "", nil)
	}})
}

// evalCRIPullErr maps the runtime's pull error to the waiting reason and message.
func evalCRIPullErr(image string, err error) (string, error) {
	text := err.Error()
	if rest, ok := strings.CutPrefix(text, ErrRegistryUnavailable.Error()); ok {
		return fmt.Sprintf("image pull failed for %s because the registry is unavailable%s", image, rest), ErrRegistryUnavailable
	}
	if rest, ok := strings.CutPrefix(text, ErrSignatureValidationFailed.Error()); ok {
		return fmt.Sprintf("image pull failed for %s because the signature validation failed%s", image, rest), ErrSignatureValidationFailed
	}
	return text, ErrImagePull
}
