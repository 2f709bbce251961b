package kubelet

import (
	"errors"
	"math/rand"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestApplyDefaultImageTag(t *testing.T) {
	for _, tc := range []struct{ in, out, err string }{
		{"nginx", "nginx:latest", ""},
		{"nginx:1.25", "nginx:1.25", ""},
		{"docker.io/library/nginx", "docker.io/library/nginx:latest", ""},
		{"localhost:5000/app", "localhost:5000/app:latest", ""},
		{"localhost:5000/app:v1", "localhost:5000/app:v1", ""},
		{"nginx@sha256:" + sha64, "nginx@sha256:" + sha64, ""},
		{"nginx:latest@sha256:" + sha64, "nginx:latest@sha256:" + sha64, ""},
		{"NGINX", "", `couldn't parse image name "NGINX": invalid reference format: repository name (library/NGINX) must be lowercase`},
		{"nginx:", "", `couldn't parse image name "nginx:": invalid reference format`},
	} {
		got, err := applyDefaultImageTag(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.out {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.out)
		}
	}
}

const sha64 = "0000000000000000000000000000000000000000000000000000000000000000"

func TestEvalCRIPullErr(t *testing.T) {
	for _, tc := range []struct {
		err    string
		msg    string
		reason error
	}{
		{"rpc error: code = NotFound desc = x: not found", "rpc error: code = NotFound desc = x: not found", ErrImagePull},
		{"RegistryUnavailable: connection refused", "image pull failed for nginx because the registry is unavailable: connection refused", ErrRegistryUnavailable},
		{"SignatureValidationFailed: bad signature", "image pull failed for nginx because the signature validation failed: bad signature", ErrSignatureValidationFailed},
		{"pull QPS exceeded", "pull QPS exceeded", ErrImagePull},
	} {
		msg, reason := evalCRIPullErr("nginx", errors.New(tc.err))
		if msg != tc.msg || reason != tc.reason {
			t.Errorf("%q: %q, %v; want %q, %v", tc.err, msg, reason, tc.msg, tc.reason)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.Default()
	kc := c.KubeletConfiguration
	if !*kc.SerializeImagePulls || kc.MaxParallelImagePulls != nil || *kc.RegistryPullQPS != 5 || kc.RegistryBurst != 10 ||
		*kc.ImageGCHighThresholdPercent != 85 || *kc.ImageGCLowThresholdPercent != 80 || kc.ImageMinimumGCAge.Duration != 2*time.Minute ||
		kc.ImageMaximumGCAge.Duration != 0 || *kc.NodeStatusMaxImages != 50 || kc.ImagePullCredentialsVerificationPolicy != "NeverVerifyPreloadedImages" ||
		kc.NodeStatusUpdateFrequency.Duration != 10*time.Second || kc.NodeStatusReportFrequency.Duration != 5*time.Minute ||
		kc.NodeLeaseDurationSeconds != 40 || kc.SyncFrequency.Duration != time.Minute {
		t.Errorf("defaults: %+v", kc)
	}
	// maxParallelImagePulls of 2 or more turns serialization off by default.
	var p Config
	p.MaxParallelImagePulls = ptr.To[int32](3)
	p.Default()
	if *p.SerializeImagePulls {
		t.Error("serializeImagePulls defaulted to true with maxParallelImagePulls=3")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		err  string
	}{
		{"defaults", func(*Config) {}, ""},
		{"parallel zero", func(c *Config) { c.MaxParallelImagePulls = ptr.To[int32](0) },
			"invalid configuration: maxParallelImagePulls 0 must be a positive number"},
		{"parallel with serialize", func(c *Config) {
			c.MaxParallelImagePulls = ptr.To[int32](2)
			c.SerializeImagePulls = ptr.To(true)
		}, "invalid configuration: maxParallelImagePulls cannot be larger than 1 unless SerializeImagePulls (--serialize-image-pulls) is set to false"},
		{"gc thresholds", func(c *Config) { c.ImageGCLowThresholdPercent = ptr.To[int32](90) },
			"invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 90 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 85"},
		{"max age", func(c *Config) { c.ImageMaximumGCAge = metav1.Duration{Duration: time.Minute} },
			"invalid configuration: imageMaximumGCAge 1m0s must be greater than imageMinimumGCAge 2m0s"},
		{"qps", func(c *Config) { c.RegistryPullQPS = ptr.To[int32](-1) },
			"invalid configuration: registryPullQPS (--registry-qps) -1 must not be a negative number"},
		{"max images", func(c *Config) { c.NodeStatusMaxImages = ptr.To[int32](-2) },
			"invalid configuration: nodeStatusMaxImages (--node-status-max-images) -2 must be -1 or greater"},
		{"policy", func(c *Config) { c.ImagePullCredentialsVerificationPolicy = "Sometimes" },
			`invalid configuration: option "Sometimes" specified for imagePullCredentialsVerificationPolicy. Valid options are "NeverVerify", "NeverVerifyPreloadedImages", "NeverVerifyAllowlistedImages" or "AlwaysVerify"`},
		{"allowlist without policy", func(c *Config) { c.PreloadedImagesVerificationAllowlist = []string{"docker.io/library/nginx"} },
			"invalid configuration: can't set `preloadedImagesVerificationAllowlist` if `imagePullCredentialsVertificationPolicy` is not \"NeverVerifyAllowlistedImages\""},
		{"allowlist with tag", func(c *Config) {
			c.ImagePullCredentialsVerificationPolicy = "NeverVerifyAllowlistedImages"
			c.PreloadedImagesVerificationAllowlist = []string{"docker.io/library/nginx:1.25"}
		}, "invalid configuration: invalid image pattern in `preloadedImagesVerificationAllowlist`: neither tag nor digest is accepted in an image reference: docker.io/library/nginx:1.25"},
		{"allowlist wildcard", func(c *Config) {
			c.ImagePullCredentialsVerificationPolicy = "NeverVerifyAllowlistedImages"
			c.PreloadedImagesVerificationAllowlist = []string{"docker.io/*/nginx"}
		}, "invalid configuration: invalid image pattern in `preloadedImagesVerificationAllowlist`: not a valid wildcard pattern, only patterns ending with '/*' are allowed: docker.io/*/nginx"},
	} {
		var c Config
		tc.set(&c)
		c.Default()
		err := c.Validate()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("%s: error %v\nwant %s", tc.name, err, tc.err)
		}
	}
}

func TestBehaviorOf(t *testing.T) {
	for _, tc := range []struct {
		command, args []string
		want          behavior
	}{
		{nil, nil, behavior{runFor: -1}},
		{[]string{"nginx", "-g", "daemon off;"}, nil, behavior{runFor: -1}},
		{[]string{"sleep", "5"}, nil, behavior{runFor: 5 * time.Second, ignoreTERM: true}},
		{nil, []string{"sleep", "1h"}, behavior{runFor: time.Hour, ignoreTERM: true}},
		{[]string{"sleep", "infinity"}, nil, behavior{runFor: -1, ignoreTERM: true}},
		{[]string{"sh", "-c"}, []string{"sleep 2"}, behavior{runFor: 2 * time.Second, ignoreTERM: true}},
		{[]string{"/bin/sh", "-c", "exit 3"}, nil, behavior{exitCode: 3}},
		{[]string{"exit", "1"}, nil, behavior{exitCode: 1}},
		{[]string{"true"}, nil, behavior{}},
		{[]string{"false"}, nil, behavior{exitCode: 1}},
	} {
		got := behaviorOf(&v1.Container{Command: tc.command, Args: tc.args})
		if got != tc.want {
			t.Errorf("%v %v: %+v, want %+v", tc.command, tc.args, got, tc.want)
		}
	}
}

func TestIPAM(t *testing.T) {
	k, err := New(Config{}, Node{Name: "n", PodCIDR: "10.244.1.0/30"}, rand.New(rand.NewSource(1)), epoch)
	if err != nil {
		t.Fatal(err)
	}
	a := &k.ipam
	// A /30 has .1 for the bridge and .2 for pods (.3 is the broadcast address).
	if ip := a.allocate(); ip != "10.244.1.2" {
		t.Fatalf("first: %q", ip)
	}
	if ip := a.allocate(); ip != "" {
		t.Fatalf("exhausted: %q", ip)
	}
	a.release("10.244.1.2")
	if ip := a.allocate(); ip != "10.244.1.2" {
		t.Fatalf("reused: %q", ip)
	}
}

// TestShift ages the world by an hour while a pod is in image pull back-off: what the machine
// emitted moves back by the interval (the driver's store does that), and the machine lives the
// hour: its syncs and pull attempts happen at their moments within it, stamped in the past.
func TestShift(t *testing.T) {
	h := newHarness(t)
	h.log = nil
	h.quiet = true
	h.k, _ = New(Config{}, Node{Name: "node-1", InternalIP: "192.168.1.11", PodCIDR: "10.244.1.0/24"}, rand.New(rand.NewSource(1)), h.now)
	h.feed()
	pod := h.makePodNamed("web", "nginx:nope")
	h.feed(PodUpsert{Pod: pod})
	h.step(2 * time.Second)
	before := h.pods["web"].Status.StartTime.Time

	// An hour passes in one go: the clock stays, the world ages.
	h.k.Shift(time.Hour)
	for i := range h.events {
		h.events[i].FirstTimestamp.Time = h.events[i].FirstTimestamp.Add(-time.Hour)
		h.events[i].LastTimestamp.Time = h.events[i].LastTimestamp.Add(-time.Hour)
	}
	h.step(time.Second)
	if got := h.pods["web"].Status.StartTime.Time; !got.Equal(before.Add(-time.Hour)) {
		t.Errorf("startTime %v, want %v", got, before.Add(-time.Hour))
	}
	var pulling *v1.Event
	for _, e := range h.events {
		if e.Reason == "Pulling" {
			pulling = e
		}
	}
	if pulling == nil || pulling.Count < 5 {
		t.Fatalf("Pulling after the shift: %+v", pulling)
	}
	if w := h.pods["web"].Status.ContainerStatuses[0].State.Waiting; w == nil || (w.Reason != "ErrImagePull" && w.Reason != "ImagePullBackOff") {
		t.Errorf("waiting: %+v", w)
	}
	if first := pulling.FirstTimestamp.Time; !first.Equal(epoch.Add(-time.Hour)) {
		t.Errorf("first pull at %v, want %v", first, epoch.Add(-time.Hour))
	}
}

func (h *harness) makePodNamed(name, image string) *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: "uid-" + "web", Generation: 1, ResourceVersion: h.rv()},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: name, Image: image, ImagePullPolicy: defaultPullPolicy(image)}},
			RestartPolicy: v1.RestartPolicyAlways, TerminationGracePeriodSeconds: ptr.To[int64](30), NodeName: "node-1"},
	}
	h.pods[name] = pod
	return pod.DeepCopy()
}

// TestEventAggregation: the correlator's aggregation is upstream's. Ten distinct messages with the
// same reason on one object within 10 minutes make the next one "(combined from similar
// events): ...".
func TestEventAggregation(t *testing.T) {
	k, err := New(Config{}, Node{Name: "node-1"}, rand.New(rand.NewSource(1)), epoch)
	if err != nil {
		t.Fatal(err)
	}
	k.Step(epoch)
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u"}}
	var events []EventRecord // one Ready per moment: a Ready keeps only an event's latest moment
	for i := range 11 {
		k.now = k.now.Add(time.Second)
		k.eventf(podRef(pod), v1.EventTypeWarning, "Failed", "message %d", i)
		events = append(events, k.ready().Events...)
	}
	got := events[len(events)-1].Event.Message
	if got != "(combined from similar events): message 10" {
		t.Errorf("last message %q", got)
	}
	if events[len(events)-2].Event.Message != "(combined from similar events): message 9" {
		t.Errorf("10th message %q", events[len(events)-2].Event.Message)
	}
}
