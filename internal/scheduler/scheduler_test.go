package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/cluster"
)

var epoch = time.Date(2026, 11, 25, 6, 22, 30, 0, time.UTC)

// harness is a cluster on a frozen clock, with the scheduler the cluster runs (cluster.New starts
// it): nodes is the cluster's machines, none meaning a cluster without kubelets whose nodes the
// test registers itself.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clk     *clock.Clock
	client  kubernetes.Interface
	cluster *cluster.Cluster
}

func newHarness(t *testing.T, nodes []cluster.NodeSpec) *harness {
	t.Helper()
	srv, err := apiserver.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFrozen(epoch)
	c, err := cluster.New(srv, cluster.Options{ID: "sched", Seed: 1, Clock: clk, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, clk: clk, client: c.Client(), cluster: c}
	h.waitFor("the default service account", func() bool {
		_, err := h.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	h.settle()
	return h
}

// settle waits until the cluster, its scheduler included, has done everything it was going to.
func (h *harness) settle() { h.cluster.Settle() }

// waitFor polls cond until it holds or five seconds of wall time pass.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, 2*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// step moves the clock and waits for the cluster to act on it.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.clk.Step(d)
	h.settle()
}

func (h *harness) createPod(p *v1.Pod) {
	h.t.Helper()
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if len(p.Spec.Containers) == 0 {
		p.Spec.Containers = []v1.Container{{Name: "web", Image: "nginx"}}
	}
	if _, err := h.client.CoreV1().Pods(p.Namespace).Create(h.ctx, p, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// createNode registers a Ready node as a kubelet would, then clears the not-ready taint the
// NodeTaint admission plugin put on it, as the node lifecycle controller does for a Ready node.
func (h *harness) createNode(name string, cpu string, labels map[string]string, taints ...v1.Taint) {
	h.t.Helper()
	all := map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
	for k, v := range labels {
		all[k] = v
	}
	nodes := h.client.CoreV1().Nodes()
	if _, err := nodes.Create(h.ctx, &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all},
		Spec:       v1.NodeSpec{Taints: taints},
	}, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	res := v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu), v1.ResourceMemory: resource.MustParse("4010352Ki"),
		v1.ResourcePods: resource.MustParse("110")}
	h.updateNode(name, true, func(n *v1.Node) {
		n.Status = v1.NodeStatus{
			Capacity: res, Allocatable: res,
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: metav1.NewTime(epoch), LastTransitionTime: metav1.NewTime(epoch)}},
		}
	})
	h.updateNode(name, false, func(n *v1.Node) { n.Spec.Taints = taints })
}

// updateNode changes the latest version of a node (its status when status is set), again when
// a controller changed it in between.
func (h *harness) updateNode(name string, status bool, change func(*v1.Node)) {
	h.t.Helper()
	nodes := h.client.CoreV1().Nodes()
	for {
		n, err := nodes.Get(h.ctx, name, metav1.GetOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		change(n)
		if status {
			_, err = nodes.UpdateStatus(h.ctx, n, metav1.UpdateOptions{})
		} else {
			_, err = nodes.Update(h.ctx, n, metav1.UpdateOptions{})
		}
		if !apierrors.IsConflict(err) {
			if err != nil {
				h.t.Fatal(err)
			}
			return
		}
	}
}

// waitReady waits until the node lifecycle controller has found a kubelet's node ready and lifted
// the not-ready taint the node was registered with.
func (h *harness) waitReady(node string) {
	h.t.Helper()
	h.waitFor(node+" to be ready", func() bool {
		n, err := h.client.CoreV1().Nodes().Get(h.ctx, node, metav1.GetOptions{})
		return err == nil && len(n.Spec.Taints) == 0
	})
	h.settle()
}

// events lists the events.k8s.io events about a pod, by name: for the scheduler's, oldest first.
func (h *harness) events(pod string) []eventsv1.Event {
	h.t.Helper()
	list, err := h.client.EventsV1().Events("default").List(h.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("regarding.name", pod).String(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return list.Items
}

// notes renders the scheduler's events about a pod as "Type Reason (Action): note [xN]" lines.
func (h *harness) notes(pod string) string {
	var lines []string
	for _, e := range h.events(pod) {
		if e.ReportingController != "default-scheduler" {
			continue // the kubelet's
		}
		line := fmt.Sprintf("%s %s (%s): %s", e.Type, e.Reason, e.Action, e.Note)
		if e.Series != nil {
			line += fmt.Sprintf(" [x%d]", e.Series.Count)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func (h *harness) pod(name string) *v1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) waitNotes(pod, want string) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, 2*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return h.notes(pod) == want, nil
	})
	if err != nil {
		h.t.Fatalf("events of %s:\n%s\nwant:\n%s", pod, h.notes(pod), want)
	}
}

const (
	noNodes    = "Warning FailedScheduling (Scheduling): no nodes available to schedule pods"
	controlTnt = "node-role.kubernetes.io/control-plane"
)

// TestSchedulesThroughTheAPI follows golden 11-describe-pod.txt and 13-events.txt: a pod created
// before any node fails with "no nodes available", is retried after its back-off, and is bound
// once a node exists.
func TestSchedulesThroughTheAPI(t *testing.T) {
	h := newHarness(t, []cluster.NodeSpec{})
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}})
	h.waitNotes("web", noNodes)
	ev := h.events("web")[0]
	if ev.ReportingController != "default-scheduler" || ev.ReportingInstance != "default-scheduler-controlplane" ||
		ev.Regarding.Kind != "Pod" || ev.Regarding.Name != "web" || !ev.EventTime.Time.Equal(epoch) {
		t.Fatalf("event: %+v", ev)
	}
	h.waitFor("the PodScheduled condition", func() bool {
		return len(h.pod("web").Status.Conditions) == 1
	})
	cond := h.pod("web").Status.Conditions[0]
	want := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: v1.PodReasonUnschedulable,
		Message: "no nodes available to schedule pods", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(epoch)}
	if !cond.LastTransitionTime.Equal(&want.LastTransitionTime) || cond.Type != want.Type || cond.Status != want.Status ||
		cond.Reason != want.Reason || cond.Message != want.Message || cond.ObservedGeneration != want.ObservedGeneration {
		t.Fatalf("condition %+v, want %+v", cond, want)
	}

	// The core/v1 view that kubectl get events and describe read: no source component, the
	// reporting controller instead.
	legacy, err := h.client.CoreV1().Events("default").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(legacy.Items) != 1 || legacy.Items[0].Source.Component != "" || legacy.Items[0].ReportingController != "default-scheduler" ||
		legacy.Items[0].Reason != "FailedScheduling" || legacy.Items[0].Message != "no nodes available to schedule pods" {
		t.Fatalf("core/v1 events: %+v", legacy.Items)
	}

	// The back-off ends at t+1s, the flush at t+2s retries: a second event, since the status
	// update changed the pod's resourceVersion.
	h.step(time.Second)
	if got := h.notes("web"); got != noNodes {
		t.Fatalf("retried before the back-off ended:\n%s", got)
	}
	h.step(time.Second)
	h.waitNotes("web", noNodes+"\n"+noNodes)

	// Nodes appear; the pod, failed for an error, waits out its 2s back-off (until t+4s, flushed
	// at t+5s).
	h.createNode("controlplane", "2", map[string]string{controlTnt: ""}, v1.Taint{Key: controlTnt, Effect: v1.TaintEffectNoSchedule})
	h.createNode("node01", "2", nil)
	h.settle()
	h.step(2 * time.Second)
	if h.pod("web").Spec.NodeName != "" {
		t.Fatal("scheduled before the back-off ended")
	}
	h.step(time.Second)
	h.waitNotes("web", noNodes+"\n"+noNodes+"\nNormal Scheduled (Binding): Successfully assigned default/web to node01")
	if got := h.pod("web").Spec.NodeName; got != "node01" {
		t.Fatalf("nodeName %q", got)
	}

	// A pod that names its node, and a pod for another scheduler, are not ours.
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pinned"}, Spec: v1.PodSpec{NodeName: "controlplane"}})
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: v1.PodSpec{SchedulerName: "my-scheduler"}})
	h.settle()
	if got := h.notes("pinned") + h.notes("other"); got != "" {
		t.Fatalf("events for pods that are not the scheduler's: %s", got)
	}
}

// TestRetriesOnClusterEvents: an unschedulable pod is retried when a node changes in a way its
// rejecting plugin cares about, and every 5 minutes otherwise; repeats of the same event become a
// series. The cluster is the default one, with kubelets keeping its two nodes alive.
func TestRetriesOnClusterEvents(t *testing.T) {
	h := newHarness(t, nil)
	h.waitReady("node01")
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ssd"}, Spec: v1.PodSpec{NodeSelector: map[string]string{"disktype": "ssd"}}})
	msg := "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s). " +
		"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	h.waitNotes("ssd", "Warning FailedScheduling (Scheduling): "+msg)
	h.waitFor("the PodScheduled condition", func() bool {
		c := h.pod("ssd").Status.Conditions
		return len(c) == 1 && c[0].Message == msg && c[0].Reason == v1.PodReasonUnschedulable
	})

	// Five minutes later the flush (every 30s from the scheduler's start) retries it. The first
	// event was about the pod as created; the condition update changed its resourceVersion, so
	// the second is a new event, and only the third repeats it: a series.
	h.step(5 * time.Minute)
	if got := h.notes("ssd"); got != "Warning FailedScheduling (Scheduling): "+msg {
		t.Fatalf("retried too early:\n%s", got)
	}
	h.step(30 * time.Second)
	h.waitNotes("ssd", "Warning FailedScheduling (Scheduling): "+msg+"\nWarning FailedScheduling (Scheduling): "+msg)
	h.step(5 * time.Minute)
	if got := h.notes("ssd"); got != "Warning FailedScheduling (Scheduling): "+msg+"\nWarning FailedScheduling (Scheduling): "+msg {
		t.Fatalf("retried too early:\n%s", got)
	}
	h.step(30 * time.Second)
	failed := "Warning FailedScheduling (Scheduling): " + msg + "\nWarning FailedScheduling (Scheduling): " + msg + " [x2]"
	h.waitNotes("ssd", failed)

	// Labelling a node is an event NodeAffinity's hint queues the pod for.
	h.updateNode("node01", false, func(n *v1.Node) { n.Labels["disktype"] = "ssd" })
	h.waitFor("the pod to be bound", func() bool { return h.pod("ssd").Spec.NodeName == "node01" })
	h.waitNotes("ssd", failed+"\nNormal Scheduled (Binding): Successfully assigned default/ssd to node01")
}

// TestResourcesAndDeletion: requests count against what bound pods hold, and deleting a bound
// pod frees its room for a waiting one.
func TestResourcesAndDeletion(t *testing.T) {
	h := newHarness(t, []cluster.NodeSpec{})
	h.createNode("node01", "2", nil)
	h.settle()
	cpu := func(q string) v1.PodSpec {
		return v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "nginx", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(q)}}}}}
	}
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: cpu("1500m")})
	h.waitFor("big to be bound", func() bool { return h.pod("big").Spec.NodeName == "node01" })
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "small"}, Spec: cpu("1")})
	msg := "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
	h.waitNotes("small", "Warning FailedScheduling (Scheduling): "+msg)

	zero := int64(0)
	if err := h.client.CoreV1().Pods("default").Delete(h.ctx, "big", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("small to be bound", func() bool { return h.pod("small").Spec.NodeName == "node01" })
}

// TestPreemption: a system-cluster-critical pod that does not fit evicts a priority-0 pod,
// waits for it to go, and takes its room.
func TestPreemption(t *testing.T) {
	h := newHarness(t, []cluster.NodeSpec{})
	h.createNode("node01", "2", nil)
	h.settle()
	spec := func(cpu, class string) v1.PodSpec {
		return v1.PodSpec{PriorityClassName: class, Containers: []v1.Container{{Name: "web", Image: "nginx",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}}}}}
	}
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Spec: spec("1500m", "")})
	h.waitFor("low to be bound", func() bool { return h.pod("low").Spec.NodeName == "node01" })
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "high", Namespace: "default"}, Spec: spec("1", "system-cluster-critical")})
	h.waitNotes("high", "Warning FailedScheduling (Scheduling): 0/1 nodes are available: 1 Insufficient cpu. "+
		"preemption: found a potential placement for pod on node node01, preempting 1 victims")
	h.waitFor("high to be nominated", func() bool { return h.pod("high").Status.NominatedNodeName == "node01" })

	// The victim: marked, deleted (it terminates: there is no kubelet here), and told why.
	h.waitFor("low to terminate", func() bool { return h.pod("low").DeletionTimestamp != nil })
	high := h.pod("high")
	h.waitNotes("low", "Normal Scheduled (Binding): Successfully assigned default/low to node01\n"+
		"Normal Preempted (Preempting): Preempted by pod "+string(high.UID)+" on node node01")
	var disruption *v1.PodCondition
	for _, c := range h.pod("low").Status.Conditions {
		if c.Type == v1.DisruptionTarget {
			disruption = &c
		}
	}
	if disruption == nil || disruption.Status != v1.ConditionTrue || disruption.Reason != v1.PodReasonPreemptionByScheduler ||
		disruption.Message != "default-scheduler: preempting to accommodate a higher priority pod" {
		t.Fatalf("DisruptionTarget condition: %+v", disruption)
	}
	if got := h.pod("high").Spec.NodeName; got != "" {
		t.Fatalf("bound to %q while the victim still runs", got)
	}

	// The kubelet would confirm the deletion; the freed room lets the preemptor in.
	zero := int64(0)
	if err := h.client.CoreV1().Pods("default").Delete(h.ctx, "low", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("high to be bound", func() bool { return h.pod("high").Spec.NodeName == "node01" })
}

// TestFastForward: aging the world runs the scheduler's flushes at their virtual moments (the
// cluster's settle waits for the scheduler between moments).
func TestFastForward(t *testing.T) {
	h := newHarness(t, nil)
	h.waitReady("node01")
	h.createPod(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ssd"}, Spec: v1.PodSpec{NodeSelector: map[string]string{"disktype": "ssd"}}})
	msg := "Warning FailedScheduling (Scheduling): 0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
		"1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	h.waitNotes("ssd", msg)
	h.settle()

	// Eleven minutes: retries at 5m30s (a new event: the condition update changed the pod's
	// version) and at 11m (the same event again: a series), each stamped at its moment.
	h.clk.Advance(11 * time.Minute)
	h.waitNotes("ssd", msg+"\n"+msg+" [x2]")
	evs := h.events("ssd")
	if got := epoch.Sub(evs[0].EventTime.Time); got != 11*time.Minute {
		t.Fatalf("first attempt %v ago", got)
	}
	if got := epoch.Sub(evs[1].EventTime.Time); got != 5*time.Minute+30*time.Second {
		t.Fatalf("second attempt %v ago", got)
	}
	if got := evs[1].Series.LastObservedTime.Time; !got.Equal(epoch) {
		t.Fatalf("third attempt at %v", got)
	}
}
