package scheduler

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// queueWorld drives a Queue the way the scheduler does: cluster events, scheduling attempts and
// the periodic flushes at their moments.
type queueWorld struct {
	q      *Queue
	now    time.Time
	start  time.Time
	pods   map[string]*v1.Pod
	nodes  map[string]*v1.Node
	popped map[string]*queuedPod
	uid    int
}

// TestQueue runs the scheduling queue transcripts: back-off timings, the unschedulable pool and
// its flush, requeueing by the plugins' queueing hints, scheduling gates and ordering.
func TestQueue(t *testing.T) {
	var w *queueWorld
	datadriven.RunTest(t, "testdata/queue.txt", func(t *testing.T, d *datadriven.TestData) string {
		if w == nil || d.Cmd == "reset" {
			fw, err := NewFramework(informers.NewSharedInformerFactory(nil, 0))
			if err != nil {
				t.Fatal(err)
			}
			w = &queueWorld{q: NewQueue(fw), now: epoch, start: epoch, pods: map[string]*v1.Pod{},
				nodes: map[string]*v1.Node{}, popped: map[string]*queuedPod{}}
		}
		return w.run(t, d)
	})
}

func (w *queueWorld) run(t *testing.T, d *datadriven.TestData) string {
	name := args(d, "name", "web")
	switch d.Cmd {
	case "reset":
		return ""
	case "add":
		w.uid++
		p := &v1.Pod{}
		p.Name, p.Namespace, p.UID = name, "default", types.UID(fmt.Sprintf("uid-%d", w.uid))
		p.ResourceVersion = "1"
		p.Spec.SchedulerName = v1.DefaultSchedulerName
		p.Spec.Containers = []v1.Container{{Name: "web", Image: "nginx", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(args(d, "cpu", "100m"))},
		}}}
		if v := args(d, "priority", ""); v != "" {
			var prio int32
			fmt.Sscan(v, &prio)
			p.Spec.Priority = &prio
		}
		for _, g := range listArg(d, "gates") {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, v1.PodSchedulingGate{Name: g})
		}
		w.pods[name] = p
		w.q.Add(p, w.now)
	case "ungate":
		old := w.pods[name]
		p := old.DeepCopy()
		p.Spec.SchedulingGates = nil
		p.ResourceVersion = "2"
		w.pods[name] = p
		w.q.Update(old, p, w.now)
	case "pop":
		qp, ok := w.q.Pop(w.now)
		if !ok {
			return w.stamp() + "nothing to pop\n" + w.state()
		}
		w.popped[qp.pod.Name] = qp
		return fmt.Sprintf("%spopped %s (attempt %d)\n%s", w.stamp(), qp.pod.Name, qp.attempts, w.state())
	case "fail":
		qp := w.popped[name]
		delete(w.popped, name)
		r := Result{UnschedulablePlugins: sets.New(listArg(d, "plugins")...)}
		w.q.AddUnschedulable(qp, w.pods[name], r, w.now)
	case "node":
		n := testNode(name, args(d, "cpu", "2"), args(d, "memory", "4Gi"), "110", listArg(d, "labels"), listArg(d, "taints"))
		n.Spec.Unschedulable = d.HasArg("unschedulable")
		if old, ok := w.nodes[name]; ok {
			for _, e := range framework.NodeSchedulingPropertiesChange(n, old) {
				w.q.MoveAll(e, old, n, nil, w.now)
			}
		} else {
			w.q.MoveAll(fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add}, nil, n, nil, w.now)
		}
		w.nodes[name] = n
	case "delete-bound":
		p := &v1.Pod{}
		p.Name, p.Namespace = name, "default"
		p.Spec.NodeName = args(d, "node", "node01")
		p.Spec.Containers = []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(args(d, "cpu", "1"))},
		}}}
		w.q.MoveAll(framework.EventAssignedPodDelete, p, nil, nil, w.now)
	case "tick":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		return w.advance(w.now.Add(dur))
	case "state":
	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
	return w.state()
}

// advance runs the backoffQ and unschedulable flushes at the moments the scheduler's timer would,
// up to target, printing what each moves.
func (w *queueWorld) advance(target time.Time) string {
	var b strings.Builder
	for {
		due := earliest(w.q.NextBackoffFlush(), w.q.NextUnschedulableFlush(w.start))
		if due.IsZero() || due.After(target) {
			break
		}
		if due.After(w.now) {
			w.now = due
		}
		before := w.state()
		if t := w.q.NextBackoffFlush(); !t.IsZero() && !t.After(w.now) {
			w.q.FlushBackoff(w.now)
		}
		if t := w.q.NextUnschedulableFlush(w.start); !t.IsZero() && !t.After(w.now) {
			w.q.FlushUnschedulable(w.now)
		}
		if after := w.state(); after != before {
			b.WriteString(w.stamp() + "flush\n" + after)
		}
	}
	w.now = target
	return b.String() + w.stamp() + "\n" + w.state()
}

func earliest(ts ...time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}

func (w *queueWorld) stamp() string { return fmt.Sprintf("t+%v ", w.now.Sub(epoch)) }

// state lists the queue's places; back-off entries show when their back-off ends.
func (w *queueWorld) state() string {
	list := func(m map[string]*queuedPod, backoff bool) string {
		var out []string
		for _, k := range sortedKeys(m) {
			qp := m[k]
			s := qp.pod.Name
			if backoff {
				s += fmt.Sprintf("(until t+%v)", w.q.backoffTime(qp).Sub(epoch))
			}
			if qp.gated() {
				s += "(gated by " + qp.gatingPlugin + ")"
			}
			out = append(out, s)
		}
		sort.Strings(out)
		return "[" + strings.Join(out, " ") + "]"
	}
	return fmt.Sprintf("active=%s backoff=%s errorBackoff=%s unschedulable=%s\n",
		list(w.q.active, false), list(w.q.backoff, true), list(w.q.errorBackoff, true), list(w.q.unschedulable, false))
}
