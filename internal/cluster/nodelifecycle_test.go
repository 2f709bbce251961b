package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/clock"
)

// lifecycleEpoch is when the frozen clusters of these tests start: the node lifecycle
// controller's passes run at lifecycleEpoch + k·5s.
var lifecycleEpoch = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// lifecycle is a default cluster (controlplane, node01) on a frozen clock with a Deployment "web"
// of one replica running on node01.
type lifecycle struct {
	t      *testing.T
	ctx    context.Context
	c      *Cluster
	client kubernetes.Interface
	pod    string // the Deployment's pod
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	testServerOnce.Do(func() { testServer, testServerErr = apiserver.New() })
	if testServerErr != nil {
		t.Fatal(testServerErr)
	}
	c, err := New(testServer, Options{ID: fmt.Sprintf("t%d", testClusters.Add(1)), Seed: 1, Clock: clock.NewFrozen(lifecycleEpoch)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	l := &lifecycle{t: t, ctx: context.Background(), c: c, client: c.Client()}
	waitFor(t, "the default service account", func() bool {
		_, err := l.client.CoreV1().ServiceAccounts("default").Get(l.ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	l.step(time.Second)
	_, err = l.client.AppsV1().Deployments("default").Create(l.ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.28"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.stepUntil("the Deployment's pod running on node01", func() bool {
		for _, p := range l.pods() {
			if p.Spec.NodeName == "node01" && p.Status.Phase == corev1.PodRunning && podReady(&p) {
				l.pod = p.Name
				return true
			}
		}
		return false
	})
	return l
}

// step moves the clock and lets the cluster act on it.
func (l *lifecycle) step(d time.Duration) {
	l.c.Settle()
	l.c.Clock.Step(d)
	l.c.Settle()
}

// stepTo moves the clock to t.
func (l *lifecycle) stepTo(t time.Time) {
	l.t.Helper()
	if d := t.Sub(l.c.Clock.Now()); d > 0 {
		l.step(d)
	} else if d < 0 {
		l.t.Fatalf("the clock is at %v, past %v", l.c.Clock.Now(), t)
	}
}

// stepUntil steps the clock a second at a time, for at most 5 virtual minutes, until cond holds.
func (l *lifecycle) stepUntil(what string, cond func() bool) {
	l.t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		l.step(time.Second)
	}
	l.t.Fatalf("waiting for %s: not after 5 minutes", what)
}

func (l *lifecycle) node(name string) *corev1.Node {
	l.t.Helper()
	n, err := l.client.CoreV1().Nodes().Get(l.ctx, name, metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

func (l *lifecycle) pods() []corev1.Pod {
	l.t.Helper()
	list, err := l.client.CoreV1().Pods("default").List(l.ctx, metav1.ListOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

func (l *lifecycle) getPod(name string) *corev1.Pod {
	l.t.Helper()
	p, err := l.client.CoreV1().Pods("default").Get(l.ctx, name, metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	return p
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// events lists the events about an object as "source type reason: message", oldest first.
func (l *lifecycle) events(namespace, name string) []string {
	l.t.Helper()
	list, err := l.client.CoreV1().Events(namespace).List(l.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil {
		l.t.Fatal(err)
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return list.Items[i].FirstTimestamp.Before(&list.Items[j].FirstTimestamp)
	})
	var out []string
	for _, e := range list.Items {
		out = append(out, fmt.Sprintf("%s %s %s: %s", e.Source.Component, e.Type, e.Reason, e.Message))
	}
	return out
}

// hasEvents checks that the events about an object include want, in order.
func (l *lifecycle) hasEvents(namespace, name string, want ...string) {
	l.t.Helper()
	got := l.events(namespace, name)
	i := 0
	for _, e := range got {
		if i < len(want) && e == want[i] {
			i++
		}
	}
	if i < len(want) {
		l.t.Fatalf("events of %s: missing %q in\n%s", name, want[i], strings.Join(got, "\n"))
	}
}

func (l *lifecycle) lacksEvent(namespace, name, event string) {
	l.t.Helper()
	for _, e := range l.events(namespace, name) {
		if e == event {
			l.t.Fatalf("events of %s: unexpected %q", name, event)
		}
	}
}

// conditions prints a node's conditions.
func conditions(n *corev1.Node, since time.Time) string {
	var out []string
	for _, c := range n.Status.Conditions {
		out = append(out, fmt.Sprintf("%s %s %s %q heartbeat=%s transition=%s", c.Type, c.Status, c.Reason, c.Message,
			c.LastHeartbeatTime.Sub(since), c.LastTransitionTime.Sub(since)))
	}
	return strings.Join(out, "\n")
}

// taints prints a node's taints with the time they were added.
func taints(n *corev1.Node, since time.Time) string {
	var out []string
	for _, t := range n.Spec.Taints {
		added := "-"
		if t.TimeAdded != nil {
			added = t.TimeAdded.Sub(since).String()
		}
		out = append(out, fmt.Sprintf("%s added=%s", t.ToString(), added))
	}
	return strings.Join(out, "\n")
}

// nodeStatusColumn is the STATUS column of `kubectl get nodes` for the node: the API server's
// table, which kubectl prints.
func (l *lifecycle) nodeStatusColumn(name string) string {
	l.t.Helper()
	body, err := l.client.CoreV1().RESTClient().Get().Resource("nodes").Name(name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(l.ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil {
		l.t.Fatal(err)
	}
	for i, col := range table.ColumnDefinitions {
		if col.Name == "Status" && len(table.Rows) == 1 {
			return fmt.Sprint(table.Rows[0].Cells[i])
		}
	}
	l.t.Fatalf("no Status column in %s", body)
	return ""
}

// notReadyAt is when the node lifecycle controller finds node01 silent: at the first pass (every
// 5 s from the epoch) more than the 50 s grace period after the pass that saw its last lease
// renewal or heartbeat.
func (l *lifecycle) notReadyAt() time.Time {
	l.t.Helper()
	lease, err := l.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(l.ctx, "node01", metav1.GetOptions{})
	if err != nil {
		l.t.Fatal(err)
	}
	last := lease.Spec.RenewTime.Time
	for _, c := range l.node("node01").Status.Conditions {
		if c.Type == corev1.NodeReady && c.LastHeartbeatTime.After(last) {
			last = c.LastHeartbeatTime.Time
		}
	}
	const period = 5 * time.Second
	seen := lifecycleEpoch.Add((last.Sub(lifecycleEpoch) + period - 1) / period * period)
	return seen.Add(55 * time.Second)
}

// TestNodeStopped stops node01's kubelet: after the grace period the node lifecycle controller
// marks it Unknown and taints it unreachable, its pod is evicted 300 s after the NoExecute taint
// (the DefaultTolerationSeconds toleration), the ReplicaSet replaces it, and when the kubelet
// starts again the node is Ready, untainted, and runs the replacement.
func TestNodeStopped(t *testing.T) {
	l := newLifecycle(t)
	l.hasEvents("default", "node01",
		"node-controller Normal RegisteredNode: Node node01 event: Registered Node node01 in Controller")
	l.hasEvents("default", "controlplane",
		"node-controller Normal RegisteredNode: Node controlplane event: Registered Node controlplane in Controller")

	var heartbeat time.Time // the kubelet's last status
	for _, c := range l.node("node01").Status.Conditions {
		if c.Type == corev1.NodeReady {
			heartbeat = c.LastHeartbeatTime.Time
		}
	}
	if err := l.c.StopNode("node01"); err != nil {
		t.Fatal(err)
	}
	if running, _ := l.c.NodeRunning("node01"); running {
		t.Fatal("node01's kubelet still runs")
	}
	at := l.notReadyAt()
	l.stepTo(at.Add(-time.Second))
	if s := l.nodeStatusColumn("node01"); s != "Ready" {
		t.Fatalf("a second before the grace period ends node01 is %s", s)
	}
	if got := taints(l.node("node01"), at); got != "" {
		t.Fatalf("taints before the grace period ends:\n%s", got)
	}

	l.step(time.Second)
	n := l.node("node01")
	hb := heartbeat.Sub(at)
	want := strings.Join([]string{
		fmt.Sprintf(`MemoryPressure Unknown NodeStatusUnknown "Kubelet stopped posting node status." heartbeat=%s transition=0s`, hb),
		fmt.Sprintf(`DiskPressure Unknown NodeStatusUnknown "Kubelet stopped posting node status." heartbeat=%s transition=0s`, hb),
		fmt.Sprintf(`PIDPressure Unknown NodeStatusUnknown "Kubelet stopped posting node status." heartbeat=%s transition=0s`, hb),
		fmt.Sprintf(`Ready Unknown NodeStatusUnknown "Kubelet stopped posting node status." heartbeat=%s transition=0s`, hb),
	}, "\n")
	if got := conditions(n, at); got != want {
		t.Fatalf("conditions of node01:\n%s\nwant:\n%s", got, want)
	}
	if s := l.nodeStatusColumn("node01"); s != "NotReady" {
		t.Fatalf("kubectl get nodes shows node01 %s", s)
	}
	l.hasEvents("default", "node01", "node-controller Normal NodeNotReady: Node node01 status is now: NodeNotReady")
	l.hasEvents("default", l.pod, "node-controller Warning NodeNotReady: Node is not ready")
	if p := l.getPod(l.pod); podReady(p) {
		t.Fatal("the pod on node01 is still Ready")
	}

	// The NoExecute taint lands with the tainting pass, 100 ms later (timeAdded shows whole seconds).
	l.step(time.Second)
	if got, want := taints(l.node("node01"), at), "node.kubernetes.io/unreachable:NoSchedule added=0s\nnode.kubernetes.io/unreachable:NoExecute added=0s"; got != want {
		t.Fatalf("taints of node01:\n%s\nwant:\n%s", got, want)
	}

	// The pod tolerates the taint for 300 s (its DefaultTolerationSeconds toleration).
	l.stepTo(at.Add(300 * time.Second))
	if p := l.getPod(l.pod); p.DeletionTimestamp != nil {
		t.Fatalf("the pod was deleted at %v, before its 300 s", p.DeletionTimestamp)
	}
	l.lacksEvent("default", l.pod, "taint-eviction-controller Normal TaintManagerEviction: Marking for deletion Pod default/"+l.pod)
	l.step(time.Second)
	evicted := l.getPod(l.pod)
	if evicted.DeletionTimestamp == nil {
		t.Fatal("the pod was not deleted 300 s after the taint")
	}
	l.hasEvents("default", l.pod, "taint-eviction-controller Normal TaintManagerEviction: Marking for deletion Pod default/"+l.pod)
	var disruption *corev1.PodCondition
	for i := range evicted.Status.Conditions {
		if c := &evicted.Status.Conditions[i]; c.Type == corev1.DisruptionTarget {
			disruption = c
		}
	}
	if disruption == nil || disruption.Status != corev1.ConditionTrue || disruption.Reason != "DeletionByTaintManager" ||
		disruption.Message != "Taint manager: deleting due to NoExecute taint" {
		t.Fatalf("DisruptionTarget condition of the evicted pod: %+v", disruption)
	}
	// The kubelet is stopped: the pod stays Terminating; the ReplicaSet makes a replacement, which
	// has nowhere to go (controlplane is tainted too).
	var replacement string
	l.stepUntil("a replacement pod", func() bool {
		for _, p := range l.pods() {
			if p.Name != l.pod && p.DeletionTimestamp == nil {
				replacement = p.Name
				return true
			}
		}
		return false
	})
	if p := l.getPod(replacement); p.Spec.NodeName != "" {
		t.Fatalf("the replacement was bound to %s", p.Spec.NodeName)
	}

	// The kubelet starts again: it reports Ready, the taints go, the evicted pod finishes
	// terminating and the replacement runs on node01.
	if err := l.c.StartNode("node01"); err != nil {
		t.Fatal(err)
	}
	l.stepUntil("node01 Ready and untainted", func() bool {
		n := l.node("node01")
		return l.nodeStatusColumn("node01") == "Ready" && len(n.Spec.Taints) == 0
	})
	l.hasEvents("default", "node01",
		"kubelet Normal Starting: Starting kubelet.",
		"kubelet Normal NodeReady: Node node01 status is now: NodeReady")
	l.stepUntil("the replacement running on node01", func() bool {
		p := l.getPod(replacement)
		return p.Spec.NodeName == "node01" && p.Status.Phase == corev1.PodRunning
	})
	l.stepUntil("the evicted pod gone", func() bool {
		_, err := l.client.CoreV1().Pods("default").Get(l.ctx, l.pod, metav1.GetOptions{})
		return err != nil
	})
}

// TestNodeBackBeforeEviction starts the kubelet again before the pod's toleration runs out: the
// taint goes and the scheduled eviction is cancelled, with its event; the pod is Ready again.
func TestNodeBackBeforeEviction(t *testing.T) {
	l := newLifecycle(t)
	if err := l.c.StopNode("node01"); err != nil {
		t.Fatal(err)
	}
	at := l.notReadyAt()
	l.stepTo(at.Add(time.Minute))
	if err := l.c.StartNode("node01"); err != nil {
		t.Fatal(err)
	}
	l.stepUntil("node01 untainted", func() bool { return len(l.node("node01").Spec.Taints) == 0 })
	l.hasEvents("default", l.pod,
		"taint-eviction-controller Normal TaintManagerEviction: Cancelling deletion of Pod default/"+l.pod)
	l.stepUntil("the pod Ready again", func() bool { return podReady(l.getPod(l.pod)) })
	l.stepTo(at.Add(10 * time.Minute))
	if p := l.getPod(l.pod); p.DeletionTimestamp != nil {
		t.Fatal("the pod was evicted after all")
	}
	l.lacksEvent("default", l.pod, "taint-eviction-controller Normal TaintManagerEviction: Marking for deletion Pod default/"+l.pod)
}

// TestNodeStoppedFastForward stops node01 and fast-forwards ten minutes: the node is marked and
// tainted, and the pod evicted, at the moments they would have had in real time.
func TestNodeStoppedFastForward(t *testing.T) {
	l := newLifecycle(t)
	if err := l.c.StopNode("node01"); err != nil {
		t.Fatal(err)
	}
	at := l.notReadyAt()
	before := l.c.Clock.Now()
	l.c.Settle()
	l.c.Clock.Advance(10 * time.Minute)
	l.c.Settle()
	// Everything was aged by 10 minutes: the moments are as many minutes earlier.
	at = at.Add(-10 * time.Minute)
	n := l.node("node01")
	for _, c := range n.Status.Conditions {
		if c.Status != corev1.ConditionUnknown || !c.LastTransitionTime.Time.Equal(at) {
			t.Fatalf("after a fast-forward node01's %s is %s since %v, want Unknown since %v (%v before the end)",
				c.Type, c.Status, c.LastTransitionTime, at, before.Sub(at))
		}
	}
	if got, want := taints(n, at), "node.kubernetes.io/unreachable:NoSchedule added=0s\nnode.kubernetes.io/unreachable:NoExecute added=0s"; got != want {
		t.Fatalf("taints of node01:\n%s\nwant:\n%s", got, want)
	}
	p := l.getPod(l.pod)
	if p.DeletionTimestamp == nil {
		t.Fatal("the pod was not evicted")
	}
	// Evicted 300 s after the taint (its DisruptionTarget condition and event carry the moment).
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && !c.LastTransitionTime.Time.Equal(at.Add(300*time.Second)) {
			t.Fatalf("the pod was evicted at %v, want %v", c.LastTransitionTime, at.Add(300*time.Second))
		}
	}
	list, err := l.client.CoreV1().Events("default").List(l.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("reason", "TaintManagerEviction").String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || !list.Items[0].FirstTimestamp.Time.Equal(at.Add(300*time.Second)) {
		t.Fatalf("TaintManagerEviction events: %+v", list.Items)
	}
}
