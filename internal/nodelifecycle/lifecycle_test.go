package nodelifecycle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var epoch = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// world drives a Monitor and an Eviction the way internal/controllers does, over a fake API:
// nodes, their kubelets (which renew their Lease every 10 s and post a Ready status while they
// run), node Leases and pods. Every write the controllers make is applied to the world, printed,
// and fed back to them as their informers would.
type world struct {
	t        *testing.T
	now      time.Time
	m        *Monitor
	e        *Eviction
	nodes    map[string]*v1.Node
	kubelets map[string]*kubelet
	pods     map[string]*v1.Pod
	leases   map[string]time.Time
	offset   time.Duration // how far the world was aged: times print as they were before
	rv       int
	out      strings.Builder
	failures map[string]int // writes that fail, by effect name, how many times
}

type kubelet struct {
	running bool
	renew   time.Time // the next lease renewal
}

// TestTranscripts runs the node lifecycle transcripts.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var w *world
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if w == nil || d.Cmd == "reset" {
				w = newWorld(t)
			}
			w.out.Reset()
			w.run(d)
			return w.out.String()
		})
	})
}

func newWorld(t *testing.T) *world {
	return &world{t: t, now: epoch, m: NewMonitor(DefaultConfig(), epoch), e: NewEviction(),
		nodes: map[string]*v1.Node{}, kubelets: map[string]*kubelet{}, pods: map[string]*v1.Pod{},
		leases: map[string]time.Time{}, failures: map[string]int{}}
}

func arg(d *datadriven.TestData, key, def string) string {
	for _, a := range d.CmdArgs {
		if a.Key == key && len(a.Vals) > 0 {
			return a.Vals[0]
		}
	}
	return def
}

func (w *world) run(d *datadriven.TestData) {
	name := arg(d, "name", "node01")
	switch d.Cmd {
	case "reset":
	case "node":
		// A node registers (with the kubelet's first status unless status=none) and its kubelet starts.
		w.rv++
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name),
			ResourceVersion: strconv.Itoa(w.rv), CreationTimestamp: metav1.NewTime(w.now), Labels: map[string]string{}}}
		if z := arg(d, "zone", ""); z != "" {
			n.Labels[v1.LabelTopologyZone] = z
		}
		w.nodes[name] = n
		w.kubelets[name] = &kubelet{running: true, renew: w.now}
		if arg(d, "status", "ready") != "none" {
			w.postStatus(name, v1.ConditionTrue)
		} else {
			w.m.NodeChanged(w.now, n)
			w.e.NodeChanged(w.now, n, w.podsOn(name), w)
		}
	case "stop":
		w.kubelets[name].running = false
	case "start":
		k := w.kubelets[name]
		k.running, k.renew = true, w.now
		w.postStatus(name, v1.ConditionTrue)
	case "status":
		// The kubelet reports Ready=status (True, False).
		w.postStatus(name, v1.ConditionStatus(arg(d, "ready", "True")))
	case "delete-node":
		delete(w.nodes, name)
		w.m.NodeDeleted(w.now, name)
		w.e.NodeDeleted(name)
	case "taint":
		// kubectl taint: key:effect, or key:effect- to remove.
		n := w.nodes[name].DeepCopy()
		spec := arg(d, "taint", "")
		if k, ok := strings.CutSuffix(spec, "-"); ok {
			kk, eff, _ := strings.Cut(k, ":")
			var kept []v1.Taint
			for _, t := range n.Spec.Taints {
				if t.Key != kk || string(t.Effect) != eff {
					kept = append(kept, t)
				}
			}
			n.Spec.Taints = kept
		} else {
			kk, eff, _ := strings.Cut(spec, ":")
			now := metav1.NewTime(w.now)
			n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: kk, Effect: v1.TaintEffect(eff), TimeAdded: &now})
		}
		w.store(n)
	case "pod":
		// A pod bound to node; tolerate=SECONDS adds the default not-ready/unreachable
		// tolerations (DefaultTolerationSeconds), forever=true tolerations without a limit.
		pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: arg(d, "pod", "web"), Namespace: "default"},
			Spec: v1.PodSpec{NodeName: name}}
		if s := arg(d, "tolerate", ""); s != "" {
			secs, _ := strconv.ParseInt(s, 10, 64)
			for _, k := range []string{v1.TaintNodeNotReady, v1.TaintNodeUnreachable} {
				pod.Spec.Tolerations = append(pod.Spec.Tolerations, v1.Toleration{Key: k, Operator: v1.TolerationOpExists,
					Effect: v1.TaintEffectNoExecute, TolerationSeconds: ptr.To(secs)})
			}
		}
		if arg(d, "forever", "") == "true" {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, v1.Toleration{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute})
		}
		old := w.pods[pod.Namespace+"/"+pod.Name]
		w.pods[pod.Namespace+"/"+pod.Name] = pod
		w.e.PodChanged(w.now, old, pod, w)
	case "delete-pod":
		k := "default/" + arg(d, "pod", "web")
		old := w.pods[k]
		delete(w.pods, k)
		w.e.PodChanged(w.now, old, nil, w)
	case "fail":
		// The next N writes of an effect fail.
		n, _ := strconv.Atoi(arg(d, "times", "1"))
		w.failures[arg(d, "effect", "")] += n
	case "run":
		dur, err := time.ParseDuration(arg(d, "for", "0s"))
		if err != nil {
			w.t.Fatal(err)
		}
		w.advance(w.now.Add(dur))
	case "shift":
		// The clock ages the world by the duration (a fast-forward): every stored time and every
		// pending timer moves back by it, then everything due until now runs at its moment.
		dur, err := time.ParseDuration(arg(d, "by", "0s"))
		if err != nil {
			w.t.Fatal(err)
		}
		w.shift(dur)
	case "show":
		w.show(name)
	case "zones":
		w.out.WriteString(w.m.String())
	case "evictions":
		for _, s := range w.e.Scheduled() {
			fmt.Fprintf(&w.out, "%s at %s\n", s.Pod, w.since(s.Due))
		}
	default:
		w.t.Fatalf("unknown command %s", d.Cmd)
	}
}

// advance runs everything due until target, in order: kubelet renewals, monitor and eviction
// wake-ups.
func (w *world) advance(target time.Time) {
	for i := 0; i < 100000; i++ {
		next := target
		consider := func(t time.Time) {
			if !t.IsZero() && t.Before(next) {
				next = t
			}
		}
		for _, k := range w.kubelets {
			if k.running {
				consider(k.renew)
			}
		}
		consider(w.m.NextWake())
		consider(w.e.NextWake())
		if next.Before(w.now) {
			next = w.now
		}
		w.now = next
		for _, name := range sortedKeys(w.kubelets) {
			if k := w.kubelets[name]; k.running && !k.renew.After(w.now) {
				w.renew(name)
				k.renew = w.now.Add(10 * time.Second)
			}
		}
		if t := w.m.NextWake(); !t.IsZero() && !t.After(w.now) {
			w.m.Wake(w.now, w)
		}
		if t := w.e.NextWake(); !t.IsZero() && !t.After(w.now) {
			w.e.Wake(w.now, w)
		}
		if w.now.Equal(target) && (w.m.NextWake().IsZero() || w.m.NextWake().After(target)) &&
			(w.e.NextWake().IsZero() || w.e.NextWake().After(target)) {
			return
		}
	}
	w.t.Fatal("advance does not end")
}

func (w *world) shift(d time.Duration) {
	age := func(t *metav1.Time) {
		if t != nil && !t.IsZero() {
			t.Time = t.Add(-d)
		}
	}
	for _, name := range sortedKeys(w.nodes) {
		n := w.nodes[name].DeepCopy()
		age(&n.CreationTimestamp)
		for i := range n.Status.Conditions {
			age(&n.Status.Conditions[i].LastHeartbeatTime)
			age(&n.Status.Conditions[i].LastTransitionTime)
		}
		for i := range n.Spec.Taints {
			age(n.Spec.Taints[i].TimeAdded)
		}
		w.nodes[name] = n
	}
	for _, k := range w.kubelets {
		k.renew = k.renew.Add(-d)
	}
	for name, t := range w.leases {
		w.leases[name] = t.Add(-d)
	}
	w.m.Shift(d)
	w.e.Shift(d)
	w.offset += d
	end := w.now
	w.now = w.now.Add(-d)
	// The store's aged copies reach the informers.
	for _, name := range sortedKeys(w.leases) {
		w.lease(name, w.leases[name])
	}
	for _, name := range sortedKeys(w.nodes) {
		w.store(w.nodes[name])
	}
	w.advance(end)
}

func (w *world) renew(name string) {
	w.lease(name, w.now)
}

func (w *world) lease(name string, renew time.Time) {
	w.leases[name] = renew
	w.rv++
	t := metav1.NewMicroTime(renew)
	w.m.LeaseChanged(&coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: strconv.Itoa(w.rv)},
		Spec: coordinationv1.LeaseSpec{RenewTime: &t}})
}

// postStatus is the kubelet's status update: conditions from the API's node, heartbeats now.
func (w *world) postStatus(name string, ready v1.ConditionStatus) {
	n := w.nodes[name].DeepCopy()
	now := metav1.NewTime(w.now)
	set := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) {
		_, c := getCondition(&n.Status, t)
		if c == nil {
			n.Status.Conditions = append(n.Status.Conditions, v1.NodeCondition{Type: t})
			c = &n.Status.Conditions[len(n.Status.Conditions)-1]
		}
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastHeartbeatTime = s, reason, msg, now
	}
	set(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available")
	set(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	set(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available")
	if ready == v1.ConditionTrue {
		set(v1.NodeReady, ready, "KubeletReady", "kubelet is posting ready status")
	} else {
		set(v1.NodeReady, ready, "KubeletNotReady", "container runtime is down")
	}
	w.store(n)
}

// store writes a node and delivers it to both controllers, as their informers would.
func (w *world) store(n *v1.Node) *v1.Node {
	w.rv++
	n.ResourceVersion = strconv.Itoa(w.rv)
	w.nodes[n.Name] = n
	w.m.NodeChanged(w.now, n)
	w.e.NodeChanged(w.now, n, w.podsOn(n.Name), w)
	return n
}

func (w *world) podsOn(node string) []*v1.Pod {
	var pods []*v1.Pod
	for _, p := range w.pods {
		if p.Spec.NodeName == node {
			pods = append(pods, p)
		}
	}
	return pods
}

// at and since print times as offsets from the epoch, in the frame of the world before it was
// aged, so that a fast-forward prints what a run in real time would.
func (w *world) at() string { return w.since(w.now) }

func (w *world) since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return "t+" + t.Add(w.offset).Sub(epoch).String()
}

func (w *world) fail(effect string) error {
	if w.failures[effect] > 0 {
		w.failures[effect]--
		fmt.Fprintf(&w.out, "%s %s fails\n", w.at(), effect)
		return apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, "x", fmt.Errorf("the object has been modified"))
	}
	return nil
}

// Effects.

func (w *world) UpdateNodeStatus(node *v1.Node) (*v1.Node, error) {
	if err := w.fail("status"); err != nil {
		return nil, err
	}
	n := w.nodes[node.Name].DeepCopy()
	n.Status = node.Status
	var cs []string
	for _, c := range sortedConditions(n) {
		cs = append(cs, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	fmt.Fprintf(&w.out, "%s status %s: %s\n", w.at(), node.Name, strings.Join(cs, " "))
	return w.store(n), nil
}

func (w *world) GetNode(name string) (*v1.Node, error) { return w.nodes[name].DeepCopy(), nil }

func (w *world) SwapTaints(node *v1.Node, add, del []v1.Taint) (*v1.Node, bool) {
	if w.fail("taint") != nil {
		return nil, false
	}
	n := w.nodes[node.Name].DeepCopy()
	now := metav1.NewTime(w.now)
	var changes []string
	for _, t := range add {
		t.TimeAdded = &now
		n.Spec.Taints = append(n.Spec.Taints, t)
		changes = append(changes, "+"+t.ToString())
	}
	for _, t := range del {
		changes = append(changes, w.removeTaint(n, t)...)
	}
	fmt.Fprintf(&w.out, "%s taints %s: %s\n", w.at(), node.Name, strings.Join(changes, " "))
	return w.store(n), true
}

func (w *world) removeTaint(n *v1.Node, t v1.Taint) []string {
	var kept []v1.Taint
	var gone []string
	for _, have := range n.Spec.Taints {
		if have.MatchTaint(&t) {
			gone = append(gone, "-"+t.ToString())
			continue
		}
		kept = append(kept, have)
	}
	n.Spec.Taints = kept
	return gone
}

func (w *world) RemoveTaints(node *v1.Node, taints ...v1.Taint) (*v1.Node, error) {
	n := w.nodes[node.Name].DeepCopy()
	var gone []string
	for _, t := range taints {
		gone = append(gone, w.removeTaint(n, t)...)
	}
	if len(gone) == 0 {
		return nil, nil
	}
	fmt.Fprintf(&w.out, "%s taints %s: %s\n", w.at(), node.Name, strings.Join(gone, " "))
	return w.store(n), nil
}

func (w *world) MarkPodsNotReady(node string) error {
	if err := w.fail("pods"); err != nil {
		return err
	}
	fmt.Fprintf(&w.out, "%s pods of %s not ready\n", w.at(), node)
	return nil
}

func (w *world) NodeEvent(node *v1.Node, reason string) {
	fmt.Fprintf(&w.out, "%s event %s %s\n", w.at(), node.Name, reason)
}

// EvictionEffects.

func (w *world) Event(pod types.NamespacedName, message string) {
	fmt.Fprintf(&w.out, "%s event %s %s: %s\n", w.at(), pod, TaintManagerEviction, message)
}

func (w *world) Delete(pod types.NamespacedName) error {
	if err := w.fail("delete"); err != nil {
		return err
	}
	fmt.Fprintf(&w.out, "%s delete %s\n", w.at(), pod)
	return nil
}

// show prints a node's conditions and taints.
func (w *world) show(name string) {
	n := w.nodes[name]
	for _, c := range sortedConditions(n) {
		fmt.Fprintf(&w.out, "%s %s %s %q heartbeat=%s transition=%s\n", c.Type, c.Status, c.Reason, c.Message,
			w.since(c.LastHeartbeatTime.Time), w.since(c.LastTransitionTime.Time))
	}
	for _, t := range n.Spec.Taints {
		added := "-"
		if t.TimeAdded != nil {
			added = w.since(t.TimeAdded.Time)
		}
		fmt.Fprintf(&w.out, "taint %s added=%s\n", t.ToString(), added)
	}
}

func sortedConditions(n *v1.Node) []v1.NodeCondition {
	conds := append([]v1.NodeCondition{}, n.Status.Conditions...)
	sort.SliceStable(conds, func(i, j int) bool { return conds[i].Type < conds[j].Type })
	return conds
}
