package kubelet

import (
	"fmt"
	"strings"
	"time"

	"github.com/distribution/reference"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
)

// Config is a kubelet's configuration: the upstream KubeletConfiguration (only the fields this
// package simulates are read) plus kubesim's own knobs for what a real node gets from its hardware.
type Config struct {
	kubeletconfig.KubeletConfiguration `json:",inline"`

	// PullBandwidth is the node's download rate from registries, in bytes per second.
	PullBandwidth int64 `json:"pullBandwidthBytesPerSecond,omitempty"`
	// ManifestRoundTrip is the time a pull spends resolving the reference (manifest requests)
	// before any layer is downloaded; a pull of an image already on the node takes only this.
	ManifestRoundTrip metav1.Duration `json:"manifestRoundTrip,omitempty"`
	// ImageFSCapacity is the size of the image filesystem, in bytes.
	ImageFSCapacity int64 `json:"imageFilesystemCapacityBytes,omitempty"`
}

// kubesim's defaults for what a real node gets from its hardware.
const (
	DefaultPullBandwidth     = 20_000_000 // 20 MB/s
	DefaultManifestRoundTrip = 300 * time.Millisecond
	DefaultImageFSCapacity   = 100 << 30 // 100 GiB
)

// Upstream defaults (pkg/kubelet/apis/config/v1beta1/defaults.go) of the fields simulated here.
func (c *Config) Default() {
	kc := &c.KubeletConfiguration
	if kc.SyncFrequency.Duration == 0 {
		kc.SyncFrequency = metav1.Duration{Duration: time.Minute}
	}
	if kc.RegistryPullQPS == nil {
		kc.RegistryPullQPS = ptr.To[int32](5)
	}
	if kc.RegistryBurst == 0 {
		kc.RegistryBurst = 10
	}
	if kc.NodeStatusReportFrequency.Duration == 0 {
		if kc.NodeStatusUpdateFrequency.Duration == 0 {
			kc.NodeStatusReportFrequency = metav1.Duration{Duration: 5 * time.Minute}
		} else {
			kc.NodeStatusReportFrequency = kc.NodeStatusUpdateFrequency
		}
	}
	if kc.NodeStatusUpdateFrequency.Duration == 0 {
		kc.NodeStatusUpdateFrequency = metav1.Duration{Duration: 10 * time.Second}
	}
	if kc.NodeLeaseDurationSeconds == 0 {
		kc.NodeLeaseDurationSeconds = 40
	}
	if kc.ImageMinimumGCAge.Duration == 0 {
		kc.ImageMinimumGCAge = metav1.Duration{Duration: 2 * time.Minute}
	}
	if kc.ImageGCHighThresholdPercent == nil {
		kc.ImageGCHighThresholdPercent = ptr.To[int32](85)
	}
	if kc.ImageGCLowThresholdPercent == nil {
		kc.ImageGCLowThresholdPercent = ptr.To[int32](80)
	}
	if kc.MaxPods == 0 {
		kc.MaxPods = 110
	}
	if kc.NodeStatusMaxImages == nil {
		kc.NodeStatusMaxImages = ptr.To[int32](50)
	}
	if kc.SerializeImagePulls == nil {
		// true unless maxParallelImagePulls asks for parallel pulls.
		kc.SerializeImagePulls = ptr.To(kc.MaxParallelImagePulls == nil || *kc.MaxParallelImagePulls < 2)
	}
	if kc.CrashLoopBackOff.MaxContainerRestartPeriod == nil {
		kc.CrashLoopBackOff.MaxContainerRestartPeriod = &metav1.Duration{Duration: 300 * time.Second} // MaxContainerBackOff
	}
	if kc.ImagePullCredentialsVerificationPolicy == "" {
		kc.ImagePullCredentialsVerificationPolicy = kubeletconfig.NeverVerifyPreloadedImages
	}
	if c.PullBandwidth == 0 {
		c.PullBandwidth = DefaultPullBandwidth
	}
	if c.ManifestRoundTrip.Duration == 0 {
		c.ManifestRoundTrip = metav1.Duration{Duration: DefaultManifestRoundTrip}
	}
	if c.ImageFSCapacity == 0 {
		c.ImageFSCapacity = DefaultImageFSCapacity
	}
}

// Validate checks a defaulted Config with the messages of upstream's ValidateKubeletConfiguration
// (pkg/kubelet/apis/config/validation/validation.go), for the fields simulated here.
func (c *Config) Validate() error {
	kc := &c.KubeletConfiguration
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	high, low := ptr.Deref(kc.ImageGCHighThresholdPercent, 0), ptr.Deref(kc.ImageGCLowThresholdPercent, 0)
	if high < 0 || high > 100 {
		add("invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) %v must be between 0 and 100, inclusive", high)
	}
	if low < 0 || low > 100 {
		add("invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) %v must be between 0 and 100, inclusive", low)
	}
	if low >= high {
		add("invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) %v must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) %v", low, high)
	}
	if kc.ImageMinimumGCAge.Duration < 0 {
		add("invalid configuration: imageMinimumGCAge %v must not be negative", kc.ImageMinimumGCAge.Duration)
	}
	if kc.ImageMaximumGCAge.Duration < 0 {
		add("invalid configuration: imageMaximumGCAge %v must not be negative", kc.ImageMaximumGCAge.Duration)
	}
	if kc.ImageMaximumGCAge.Duration > 0 && kc.ImageMaximumGCAge.Duration <= kc.ImageMinimumGCAge.Duration {
		add("invalid configuration: imageMaximumGCAge %v must be greater than imageMinimumGCAge %v", kc.ImageMaximumGCAge.Duration, kc.ImageMinimumGCAge.Duration)
	}
	if n := ptr.Deref(kc.NodeStatusMaxImages, 0); n < -1 {
		add("invalid configuration: nodeStatusMaxImages (--node-status-max-images) %v must be -1 or greater", n)
	}
	if kc.RegistryBurst < 0 {
		add("invalid configuration: registryBurst (--registry-burst) %v must not be a negative number", kc.RegistryBurst)
	}
	if qps := ptr.Deref(kc.RegistryPullQPS, 0); qps < 0 {
		add("invalid configuration: registryPullQPS (--registry-qps) %v must not be a negative number", qps)
	}
	if kc.MaxParallelImagePulls != nil && *kc.MaxParallelImagePulls < 1 {
		add("invalid configuration: maxParallelImagePulls %v must be a positive number", *kc.MaxParallelImagePulls)
	}
	if ptr.Deref(kc.SerializeImagePulls, true) && kc.MaxParallelImagePulls != nil && *kc.MaxParallelImagePulls > 1 {
		add("invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false")
	}
	if p := kc.CrashLoopBackOff.MaxContainerRestartPeriod; p != nil && (p.Duration < time.Second || p.Duration > 300*time.Second) {
		add("invalid configuration: CrashLoopBackOff.MaxContainerRestartPeriod (got: %v seconds) must be set between 1s and 300s", p.Seconds())
	}
	switch kc.ImagePullCredentialsVerificationPolicy {
	case kubeletconfig.NeverVerify, kubeletconfig.NeverVerifyPreloadedImages, kubeletconfig.NeverVerifyAllowlistedImages, kubeletconfig.AlwaysVerify:
	default:
		add("invalid configuration: option %q specified for imagePullCredentialsVerificationPolicy. Valid options are %q, %q, %q or %q",
			kc.ImagePullCredentialsVerificationPolicy, kubeletconfig.NeverVerify, kubeletconfig.NeverVerifyPreloadedImages, kubeletconfig.NeverVerifyAllowlistedImages, kubeletconfig.AlwaysVerify)
	}
	if len(kc.PreloadedImagesVerificationAllowlist) > 0 && kc.ImagePullCredentialsVerificationPolicy != kubeletconfig.NeverVerifyAllowlistedImages {
		// The typo "Vertification" is upstream's.
		add("invalid configuration: can't set `preloadedImagesVerificationAllowlist` if `imagePullCredentialsVertificationPolicy` is not \"NeverVerifyAllowlistedImages\"")
	} else {
		for _, p := range kc.PreloadedImagesVerificationAllowlist {
			if _, _, err := allowlistPattern(p); err != nil {
				add("invalid configuration: invalid image pattern in `preloadedImagesVerificationAllowlist`: %w", err)
				break
			}
		}
	}
	if c.PullBandwidth < 0 {
		add("invalid configuration: pullBandwidthBytesPerSecond %v must not be negative", c.PullBandwidth)
	}
	if c.ImageFSCapacity < 0 {
		add("invalid configuration: imageFilesystemCapacityBytes %v must not be negative", c.ImageFSCapacity)
	}
	return utilerrors.NewAggregate(errs)
}

// allowlistPattern parses a preloadedImagesVerificationAllowlist entry: an image name without tag
// or digest, or a prefix ending in "/*". It returns the name or prefix to match and whether it is a
// prefix. Messages are upstream's (pullmanager/image_pull_policies.go).
func allowlistPattern(pattern string) (string, bool, error) {
	if pattern != strings.TrimSpace(pattern) {
		return "", false, fmt.Errorf("leading/trailing spaces are not allowed: %s", pattern)
	}
	trimmed, wildcard := pattern, false
	if strings.HasSuffix(pattern, "/*") {
		wildcard = true
		trimmed = strings.TrimSuffix(trimmed, "*")
	}
	if trimmed == "" {
		return "", false, fmt.Errorf("the supplied pattern is too short: %s", pattern)
	}
	if strings.ContainsRune(trimmed, '*') {
		return "", false, fmt.Errorf("not a valid wildcard pattern, only patterns ending with '/*' are allowed: %s", pattern)
	}
	if wildcard {
		if len(trimmed) == 1 {
			return "", false, fmt.Errorf("at least registry hostname is required")
		}
		return trimmed, true, nil
	}
	name, err := trimTagDigest(trimmed)
	if err != nil {
		return "", false, fmt.Errorf("failed to parse as an image name: %w", err)
	}
	if name != trimmed {
		return "", false, fmt.Errorf("neither tag nor digest is accepted in an image reference: %s", pattern)
	}
	return trimmed, false, nil
}

// trimTagDigest removes the tag and digest from an image reference, leaving the name as written.
func trimTagDigest(image string) (string, error) {
	parsed, err := reference.Parse(image)
	if err != nil {
		return "", err
	}
	if d, ok := parsed.(reference.Digested); ok {
		var found bool
		if image, found = strings.CutSuffix(image, "@"+d.Digest().String()); !found {
			return "", fmt.Errorf("digest was not specified last, this does not appear to be a valid image spec: %q", image)
		}
	}
	if t, ok := parsed.(reference.Tagged); ok {
		var found bool
		if image, found = strings.CutSuffix(image, ":"+t.Tag()); !found {
			return "", fmt.Errorf("tag %q was not specified last (or before the digest), this does not appear to be a valid image spec: %q", t.Tag(), image)
		}
	}
	return image, nil
}
