package kubelet

import (
	"context"
	"math/rand"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/registry"
	"kubesim.dev/kubesim/internal/runtime"
)

var _ Runtime = (*runtime.Runtime)(nil)

// realDriver drives a kubelet against the real simulated containerd and registry World, on the
// cluster's frozen clock, the way the cluster's driver does.
type realDriver struct {
	t    *testing.T
	clk  *clock.Clock
	rt   *runtime.Runtime
	k    *Kubelet
	next time.Time
	pods map[string]*v1.Pod
	gone []string
}

func newRealDriver(t *testing.T) *realDriver {
	clk := clock.NewFrozen(epoch)
	world := registry.NewWorld(nil, 1, clk)
	rt := runtime.New(world, clk, rand.New(rand.NewSource(1)), runtime.Config{})
	k, err := New(Config{}, Node{Name: "node01", InternalIP: "192.168.1.11", PodCIDR: "10.244.1.0/24"}, rand.New(rand.NewSource(1)), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	clk.OnShift(k.Shift)
	return &realDriver{t: t, clk: clk, rt: rt, k: k, pods: map[string]*v1.Pod{}}
}

func (d *realDriver) feed(in ...Input) {
	rd := d.k.Step(d.clk.Now(), in...)
	for {
		var next []Input
		for _, u := range rd.PodStatuses {
			if p := d.pods[u.Name]; p != nil {
				p.Status = u.Status
			}
		}
		for _, ref := range rd.DeletePods {
			delete(d.pods, ref.Name)
			d.gone = append(d.gone, ref.Name)
			next = append(next, PodRemoved{UID: ref.UID})
		}
		next = append(Execute(context.Background(), d.rt, nil, rd.Ops), next...)
		if len(next) == 0 {
			d.next = rd.NextWake
			return
		}
		rd = d.k.Step(d.clk.Now(), next...)
	}
}

func (d *realDriver) step(dur time.Duration) {
	target := d.clk.Now().Add(dur)
	for !d.next.IsZero() && !d.next.After(target) {
		d.clk.Step(d.next.Sub(d.clk.Now()))
		d.feed()
	}
	d.clk.Step(target.Sub(d.clk.Now()))
	d.feed()
}

func (d *realDriver) add(name, image string) *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("00000000-0000-4000-8000-" + name), Generation: 1},
		Spec: v1.PodSpec{
			Containers:                    []v1.Container{{Name: name, Image: image, ImagePullPolicy: defaultPullPolicy(image)}},
			RestartPolicy:                 v1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr.To[int64](30),
		},
	}
	d.pods[name] = pod
	d.feed(PodUpsert{Pod: pod.DeepCopy()})
	return pod
}

// TestRealRuntime runs pods through Execute against internal/runtime: the container the status
// names is the one running in the runtime, and a bad tag waits with containerd's own error.
func TestRealRuntime(t *testing.T) {
	d := newRealDriver(t)
	d.add("web", "nginx:1.28")
	d.add("bad", "nginx:nope")
	d.step(30 * time.Second)

	web := d.pods["web"].Status
	if web.Phase != v1.PodRunning || len(web.ContainerStatuses) != 1 || web.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("web: %+v", web)
	}
	cs := web.ContainerStatuses[0]
	if cs.Image != "docker.io/library/nginx:1.28" || !strings.HasPrefix(cs.ImageID, "docker.io/library/nginx@sha256:") {
		t.Errorf("web image %q, imageID %q", cs.Image, cs.ImageID)
	}
	var found bool
	for _, c := range d.rt.ListContainers() {
		if "containerd://"+c.ID == cs.ContainerID && c.State == runtime.ContainerRunning {
			found = true
		}
	}
	if !found {
		t.Errorf("container %s is not running in the runtime: %+v", cs.ContainerID, d.rt.ListContainers())
	}

	bad := d.pods["bad"].Status.ContainerStatuses[0].State.Waiting
	if bad == nil || (bad.Reason != "ErrImagePull" && bad.Reason != "ImagePullBackOff") || !strings.Contains(bad.Message, "nginx:nope") {
		t.Errorf("bad: %+v", bad)
	}

	// Graceful deletion ends with the object removed and the container exited in the runtime.
	pod := d.pods["web"]
	now := metav1.NewTime(d.clk.Now())
	pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, ptr.To[int64](30)
	d.feed(PodUpsert{Pod: pod.DeepCopy()})
	d.step(time.Second)
	if len(d.gone) != 1 || d.gone[0] != "web" {
		t.Fatalf("deleted: %v", d.gone)
	}
	for _, c := range d.rt.ListContainers() {
		if c.Name == "web" {
			t.Errorf("container of the deleted pod still in the runtime: %+v", c)
		}
	}
}
