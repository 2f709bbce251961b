package kubelet

import (
	"slices"
	"strings"

	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/kubernetes/pkg/credentialprovider"
)

// KEP-2535 (KubeletEnsureSecretPulledImages, on by default since 1.35): the kubelet remembers with
// which credentials it pulled each image, and makes a pod that wants to use an image it did not
// pull with accessible credentials pull it again (pkg/kubelet/images/pullmanager). The records
// live in memory for the kubelet's lifetime (upstream keeps them on disk under
// /var/lib/kubelet/image_manager).

// pullRecord is an ImagePulledRecord: for one image ID, the credentials each image name (as
// written in pod specs, without tag or digest) was pulled with.
type pullRecord struct {
	creds map[string]*pullCreds
}

// pullCreds is ImagePullCredentials.
type pullCreds struct {
	nodePodsAccessible bool
	secrets            []secretCoords
}

// secretCoords is ImagePullSecret: a secret's coordinates and the hash of the credential used.
type secretCoords struct {
	uid, namespace, name, hash string
}

// recordPullIntent notes that a pull of image (as written) is under way; an image with a pull
// intent counts as pulled by the kubelet.
func (k *Kubelet) recordPullIntent(image string) {
	if k.intents == nil {
		k.intents = map[string]int{}
	}
	k.intents[image]++
}

func (k *Kubelet) recordPullFailed(image string) { k.dropIntent(image) }

func (k *Kubelet) dropIntent(image string) {
	if k.intents[image] <= 1 {
		delete(k.intents, image)
		return
	}
	k.intents[image]--
}

// recordImagePulled writes or merges the pulled record of imageRef after a successful pull.
func (k *Kubelet) recordImagePulled(image, imageRef string, used *credentialprovider.TrackedAuthConfig) {
	defer k.dropIntent(image)
	name, err := trimTagDigest(image)
	if err != nil {
		return
	}
	creds := &pullCreds{nodePodsAccessible: true}
	if used != nil && used.Source != nil && used.Source.Secret != nil {
		s := used.Source.Secret
		creds = &pullCreds{secrets: []secretCoords{{uid: s.UID, namespace: s.Namespace, name: s.Name, hash: used.AuthConfigHash}}}
	}
	k.mergePulledRecord(name, imageRef, creds)
}

// mergePulledRecord is pulledRecordMergeNewCreds: node-accessible wins over secrets, and new
// secrets are added to the ones already recorded.
func (k *Kubelet) mergePulledRecord(name, imageRef string, creds *pullCreds) {
	rec := k.pulled[imageRef]
	if rec == nil {
		rec = &pullRecord{creds: map[string]*pullCreds{}}
		k.pulled[imageRef] = rec
	}
	have, ok := rec.creds[name]
	switch {
	case !ok:
		rec.creds[name] = creds
	case have.nodePodsAccessible:
	case creds.nodePodsAccessible:
		rec.creds[name] = &pullCreds{nodePodsAccessible: true}
	default:
		for _, s := range creds.secrets {
			i := slices.IndexFunc(have.secrets, func(h secretCoords) bool {
				return h.uid == s.uid && h.namespace == s.namespace && h.name == s.name
			})
			if i < 0 {
				have.secrets = append(have.secrets, s)
			} else {
				have.secrets[i].hash = s.hash
			}
		}
	}
}

// mustAttemptImagePull is MustAttemptImagePull: whether a pod that wants image (as written), found
// on the node as imageRef, has to pull it to prove it may use it.
func (k *Kubelet) mustAttemptImagePull(image, imageRef string, podCreds []credentialprovider.TrackedAuthConfig) bool {
	if imageRef == "" {
		return true
	}
	rec := k.pulled[imageRef]
	pulledByKubelet := rec != nil || k.intents[image] > 0
	if !k.requireVerification(image, pulledByKubelet) {
		return false
	}
	if rec == nil {
		return true
	}
	name, err := trimTagDigest(image)
	if err != nil {
		return true
	}
	cached, ok := rec.creds[name]
	if !ok {
		return true
	}
	if cached.nodePodsAccessible {
		return false
	}
	for _, c := range podCreds {
		if c.Source == nil || c.Source.Secret == nil {
			continue
		}
		s := c.Source.Secret
		for _, have := range cached.secrets {
			hashes := have.hash != "" && c.AuthConfigHash == have.hash
			coords := s.UID == have.uid && s.Namespace == have.namespace && s.Name == have.name
			if hashes || coords {
				if !hashes || !coords {
					// Matching by one of the two: remember the other too (writeRecordWhileMatchingLimit).
					k.mergePulledRecord(name, imageRef, &pullCreds{secrets: []secretCoords{{uid: s.UID, namespace: s.Namespace, name: s.Name, hash: c.AuthConfigHash}}})
				}
				return false
			}
		}
	}
	return true
}

// requireVerification is the imagePullCredentialsVerificationPolicy.
func (k *Kubelet) requireVerification(image string, pulledByKubelet bool) bool {
	switch k.cfg.ImagePullCredentialsVerificationPolicy {
	case kubeletconfig.NeverVerify:
		return false
	case kubeletconfig.AlwaysVerify:
		return true
	case kubeletconfig.NeverVerifyAllowlistedImages:
		return !k.allowlisted(image)
	default: // NeverVerifyPreloadedImages
		return pulledByKubelet
	}
}

func (k *Kubelet) allowlisted(image string) bool {
	name, err := trimTagDigest(image)
	if err != nil {
		name = image
	}
	for _, p := range k.cfg.PreloadedImagesVerificationAllowlist {
		pattern, prefix, err := allowlistPattern(p)
		if err != nil {
			continue
		}
		if (prefix && strings.HasPrefix(name, pattern)) || (!prefix && name == pattern) {
			return true
		}
	}
	return false
}
