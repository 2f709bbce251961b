package scheduler

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"sigs.k8s.io/yaml"
)

var epoch = time.Date(2026, 11, 25, 6, 22, 30, 0, time.UTC)

// coreWorld is the state of a core transcript: nodes and bound pods, and the framework that
// schedules against them.
type coreWorld struct {
	fw    *Framework
	rnd   *rand.Rand
	nodes []*v1.Node
	pods  []*v1.Pod
	uid   int
}

func newCoreWorld(t *testing.T) *coreWorld {
	fw, err := NewFramework(informers.NewSharedInformerFactory(nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	fw.Now = func() time.Time { return epoch }
	return &coreWorld{fw: fw, rnd: rand.New(rand.NewSource(1))}
}

// TestCore runs the transcripts of the pure scheduling core: filters, the FailedScheduling
// message, preemption's part of it, and scoring.
func TestCore(t *testing.T) {
	for _, file := range []string{"testdata/filters.txt", "testdata/messages.txt", "testdata/preemption.txt", "testdata/scoring.txt"} {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(file, "testdata/"), ".txt"), func(t *testing.T) {
			var w *coreWorld
			datadriven.RunTest(t, file, func(t *testing.T, d *datadriven.TestData) string {
				if w == nil || d.Cmd == "reset" {
					w = newCoreWorld(t)
				}
				return w.run(t, d)
			})
		})
	}
}

func (w *coreWorld) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "reset":
		return ""
	case "kubeadm":
		w.nodes = append(w.nodes,
			testNode("controlplane", args(d, "cpu", "2"), args(d, "memory", "4010352Ki"), "110",
				[]string{"node-role.kubernetes.io/control-plane="}, []string{"node-role.kubernetes.io/control-plane:NoSchedule"}),
			testNode("node01", args(d, "cpu", "2"), args(d, "memory", "4010352Ki"), "110", nil, nil))
		return ""
	case "node":
		n := testNode(args(d, "name", ""), args(d, "cpu", "2"), args(d, "memory", "4010352Ki"), args(d, "pods", "110"),
			listArg(d, "labels"), listArg(d, "taints"))
		n.Spec.Unschedulable = d.HasArg("unschedulable")
		for _, img := range listArg(d, "images") {
			name, size, _ := strings.Cut(img, "@")
			sz, _ := strconv.ParseInt(size, 10, 64)
			n.Status.Images = append(n.Status.Images, v1.ContainerImage{Names: []string{name}, SizeBytes: sz})
		}
		w.nodes = append(w.nodes, n)
		return ""
	case "bound":
		p := w.pod(d, "")
		p.Spec.NodeName = args(d, "node", "")
		if d.HasArg("terminating") {
			// A victim of an earlier preemption (preemption Executor.PreemptPod).
			p.DeletionTimestamp = &metav1.Time{Time: epoch}
			p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{
				Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler,
			})
		}
		w.pods = append(w.pods, p)
		return ""
	case "schedule":
		pod := w.pod(d, d.Input)
		r := w.fw.Schedule(context.Background(), pod, w.nodes, w.pods, w.rnd)
		if d.HasArg("bind") && r.Status.IsSuccess() {
			pod.Spec.NodeName = r.Node
			w.pods = append(w.pods, pod)
		}
		return describeResult(r)
	default:
		t.Fatalf("unknown command %q", d.Cmd)
		return ""
	}
}

// pod builds a pending pod from the command's arguments, or from YAML when given.
func (w *coreWorld) pod(d *datadriven.TestData, manifest string) *v1.Pod {
	p := &v1.Pod{}
	if manifest != "" {
		if err := yaml.UnmarshalStrict([]byte(manifest), p); err != nil {
			d.Fatalf(nil, "pod manifest: %v", err)
		}
	}
	if p.Name == "" {
		p.Name = args(d, "name", "web")
	}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	w.uid++
	p.UID = types.UID(fmt.Sprintf("uid-%d", w.uid))
	p.Generation = 1
	if p.Spec.SchedulerName == "" {
		p.Spec.SchedulerName = v1.DefaultSchedulerName
	}
	if len(p.Spec.Containers) == 0 {
		p.Spec.Containers = []v1.Container{{Name: "web", Image: "nginx"}}
	}
	c := &p.Spec.Containers[0]
	for _, res := range []string{"cpu", "memory"} {
		if v := args(d, res, ""); v != "" {
			if c.Resources.Requests == nil {
				c.Resources.Requests = v1.ResourceList{}
			}
			c.Resources.Requests[v1.ResourceName(res)] = resource.MustParse(v)
		}
	}
	if v := args(d, "priority", ""); v != "" {
		prio, _ := strconv.Atoi(v)
		p.Spec.Priority = ptrTo(int32(prio))
	}
	if v := args(d, "hostport", ""); v != "" {
		port, _ := strconv.Atoi(v)
		c.Ports = append(c.Ports, v1.ContainerPort{ContainerPort: int32(port), HostPort: int32(port), Protocol: v1.ProtocolTCP})
	}
	for _, l := range listArg(d, "labels") {
		k, v, _ := strings.Cut(l, "=")
		if p.Labels == nil {
			p.Labels = map[string]string{}
		}
		p.Labels[k] = v
	}
	if v := args(d, "started", ""); v != "" {
		dur, _ := time.ParseDuration(v)
		p.Status.StartTime = &metav1.Time{Time: epoch.Add(-dur)}
	}
	return p
}

func ptrTo[T any](v T) *T { return &v }

// testNode is a Ready node with the given allocatable, labels (k=v) and taints (k[=v]:Effect).
func testNode(name, cpu, memory, pods string, labels, taints []string) *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("node-" + name), Labels: map[string]string{
			"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		}},
		Status: v1.NodeStatus{
			Capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(memory),
				v1.ResourcePods: resource.MustParse(pods)},
			Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse(memory),
				v1.ResourcePods: resource.MustParse(pods)},
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		n.Labels[k] = v
	}
	for _, s := range taints {
		kv, effect, _ := strings.Cut(s, ":")
		k, v, _ := strings.Cut(kv, "=")
		n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: k, Value: v, Effect: v1.TaintEffect(effect)})
	}
	return n
}

func describeResult(r Result) string {
	if r.Status.IsSuccess() {
		return "scheduled: " + r.Node + "\n"
	}
	var b strings.Builder
	reason := v1.PodReasonSchedulerError
	if r.Status.IsRejected() {
		reason = v1.PodReasonUnschedulable
	}
	fmt.Fprintf(&b, "%s: %s\n", reason, r.Message())
	if r.UnschedulablePlugins.Len() > 0 {
		plugins := r.UnschedulablePlugins.UnsortedList()
		sort.Strings(plugins)
		fmt.Fprintf(&b, "rejected by: %s\n", strings.Join(plugins, ", "))
	}
	if r.Preemption != nil {
		var victims []string
		for _, v := range r.Preemption.Victims {
			victims = append(victims, v.Namespace+"/"+v.Name)
		}
		fmt.Fprintf(&b, "preempt on %s: %s\n", r.Preemption.Node, strings.Join(victims, ", "))
	}
	if r.Nominate != nil {
		fmt.Fprintf(&b, "nominated node: %q\n", *r.Nominate)
	}
	return b.String()
}

// args is the single value of a key=value argument, or def.
func args(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

// listArg is the values of key=(a, b, ...).
func listArg(d *datadriven.TestData, key string) []string {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return a.Vals
		}
	}
	return nil
}
