package nodelifecycle

import (
	"fmt"
	"math"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	v1helper "k8s.io/kubernetes/pkg/apis/core/v1/helper"
)

// EvictionEffects are the taint eviction controller's writes.
type EvictionEffects interface {
	// Event records a Normal TaintManagerEviction event about the pod (emitPodDeletionEvent,
	// emitCancelPodDeletionEvent).
	Event(pod types.NamespacedName, message string)
	// Delete gives the pod the DisruptionTarget condition and deletes it
	// (addConditionAndDeletePod).
	Delete(pod types.NamespacedName) error
}

// The event reason of the taint eviction controller.
const TaintManagerEviction = "TaintManagerEviction"

// deleteRetries is how often an eviction tries to delete its pod (tainteviction's retries).
const deleteRetries = 5

// Eviction is the taint eviction controller (tainteviction.Controller): it keeps the NoExecute
// taints of every node and, for each pod on a tainted node, schedules its deletion at once (a
// taint it does not tolerate) or after the shortest tolerationSeconds of the tolerations it
// uses, and cancels it when the taints go or the pod does.
type Eviction struct {
	nodes map[string][]v1.Taint // taintedNodes, plus untainted nodes seen (empty)
	work  map[string]*work      // the TimedWorkerQueue, by namespace/name
}

// work is a scheduled eviction (TimedWorker).
type work struct {
	pod       types.NamespacedName
	createdAt time.Time
	fireAt    time.Time // as upstream records it
	due       time.Time // when its timer fires
}

// NewEviction returns a taint eviction controller that knows no node yet.
func NewEviction() *Eviction {
	return &Eviction{nodes: map[string][]v1.Taint{}, work: map[string]*work{}}
}

// NodeChanged feeds a node as added or updated at now, with the pods bound to it; when its
// NoExecute taints changed, every pod on it is (re)considered (handleNodeUpdate).
func (e *Eviction) NodeChanged(now time.Time, node *v1.Node, pods []*v1.Pod, fx EvictionEffects) {
	taints := noExecuteTaints(node.Spec.Taints)
	if old, seen := e.nodes[node.Name]; seen && apiequality.Semantic.DeepEqual(old, taints) {
		return
	}
	e.nodes[node.Name] = taints
	pods = sortedPods(pods)
	if len(taints) == 0 {
		// "All taints were removed from the node. Cancelling all evictions..."
		for _, p := range pods {
			e.cancel(key(p), fx)
		}
		return
	}
	for _, p := range pods {
		e.processPod(now, key(p), p.Spec.Tolerations, taints, fx)
	}
}

// NodeDeleted forgets the node's taints.
func (e *Eviction) NodeDeleted(name string) { delete(e.nodes, name) }

// PodChanged feeds a pod change at now: old is nil for an added pod, pod nil for a deleted one.
// Only a new pod, a deleted one, or a change of its node or tolerations matters (PodUpdated).
func (e *Eviction) PodChanged(now time.Time, old, pod *v1.Pod, fx EvictionEffects) {
	if old != nil && pod != nil && old.Spec.NodeName == pod.Spec.NodeName &&
		apiequality.Semantic.DeepEqual(tolerations(old), tolerations(pod)) {
		return
	}
	if pod == nil {
		e.cancel(key(old), fx) // "Noticed pod deletion"
		return
	}
	if pod.Spec.NodeName == "" {
		return
	}
	taints, ok := e.nodes[pod.Spec.NodeName]
	if !ok || len(taints) == 0 {
		return
	}
	e.processPod(now, key(pod), pod.Spec.Tolerations, taints, fx)
}

func tolerations(p *v1.Pod) []v1.Toleration {
	if p.Spec.Tolerations == nil {
		return []v1.Toleration{}
	}
	return p.Spec.Tolerations
}

// processPod is processPodOnNode.
func (e *Eviction) processPod(now time.Time, pod types.NamespacedName, tols []v1.Toleration, taints []v1.Taint, fx EvictionEffects) {
	if len(taints) == 0 {
		e.cancel(pod, fx)
	}
	allTolerated, used := v1helper.GetMatchingTolerations(klog.Background(), taints, tols)
	if !allTolerated {
		// Not all taints are tolerated: the pod goes at once.
		e.cancel(pod, fx)
		e.add(now, pod, now, now, fx)
		return
	}
	min := minTolerationTime(used)
	if min < 0 {
		// Tolerated forever.
		e.cancel(pod, fx)
		return
	}
	start, trigger := now, now.Add(min)
	if w, ok := e.work[pod.String()]; ok {
		start = w.createdAt
		if start.Add(min).Before(trigger) {
			return
		}
		e.cancel(pod, fx)
	}
	e.add(now, pod, start, trigger, fx)
}

// minTolerationTime is getMinTolerationTime: the shortest tolerationSeconds, 0 for none or a
// non-positive one, -1 when every toleration is forever.
func minTolerationTime(tols []v1.Toleration) time.Duration {
	if len(tols) == 0 {
		return 0
	}
	min := int64(math.MaxInt64)
	for _, t := range tols {
		if t.TolerationSeconds != nil {
			if *t.TolerationSeconds <= 0 {
				return 0
			} else if *t.TolerationSeconds < min {
				min = *t.TolerationSeconds
			}
		}
	}
	if min == math.MaxInt64 {
		return -1
	}
	return time.Duration(min) * time.Second
}

// add is TimedWorkerQueue.AddWork: nothing if the pod has work already. The timer runs for
// fireAt − createdAt from now, as createWorker arms it; work that is due at once runs now.
func (e *Eviction) add(now time.Time, pod types.NamespacedName, createdAt, fireAt time.Time, fx EvictionEffects) {
	if _, ok := e.work[pod.String()]; ok {
		return
	}
	delay := fireAt.Sub(createdAt)
	if delay <= 0 {
		e.evict(pod, fx)
		return
	}
	e.work[pod.String()] = &work{pod: pod, createdAt: createdAt, fireAt: fireAt, due: now.Add(delay)}
}

// cancel is cancelWorkWithEvent.
func (e *Eviction) cancel(pod types.NamespacedName, fx EvictionEffects) {
	if _, ok := e.work[pod.String()]; ok {
		delete(e.work, pod.String())
		fx.Event(pod, fmt.Sprintf("Cancelling deletion of Pod %s", pod))
	}
}

// evict is deletePodHandler.
func (e *Eviction) evict(pod types.NamespacedName, fx EvictionEffects) {
	fx.Event(pod, fmt.Sprintf("Marking for deletion Pod %s", pod))
	for i := 0; i < deleteRetries; i++ {
		if fx.Delete(pod) == nil {
			break
		}
	}
}

// NextWake is when the next scheduled eviction is due; zero when none is.
func (e *Eviction) NextWake() time.Time {
	var next time.Time
	for _, w := range e.work {
		if next.IsZero() || w.due.Before(next) {
			next = w.due
		}
	}
	return next
}

// Wake runs the evictions due at now, in order.
func (e *Eviction) Wake(now time.Time, fx EvictionEffects) {
	var due []*work
	for _, w := range e.work {
		if !w.due.After(now) {
			due = append(due, w)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].due.Equal(due[j].due) {
			return due[i].due.Before(due[j].due)
		}
		return due[i].pod.String() < due[j].pod.String()
	})
	for _, w := range due {
		delete(e.work, w.pod.String())
		e.evict(w.pod, fx)
	}
}

// Shift ages the scheduled evictions by d, as the clock ages the world.
func (e *Eviction) Shift(d time.Duration) {
	for _, w := range e.work {
		w.createdAt, w.fireAt, w.due = w.createdAt.Add(-d), w.fireAt.Add(-d), w.due.Add(-d)
	}
}

// Scheduled is a pending eviction.
type Scheduled struct {
	Pod types.NamespacedName
	Due time.Time
}

// Scheduled lists the pending evictions by pod.
func (e *Eviction) Scheduled() []Scheduled {
	var out []Scheduled
	for _, w := range e.work {
		out = append(out, Scheduled{Pod: w.pod, Due: w.due})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pod.String() < out[j].Pod.String() })
	return out
}

func noExecuteTaints(taints []v1.Taint) []v1.Taint {
	out := []v1.Taint{}
	for _, t := range taints {
		if t.Effect == v1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func key(p *v1.Pod) types.NamespacedName {
	return types.NamespacedName{Namespace: p.Namespace, Name: p.Name}
}

func sortedPods(pods []*v1.Pod) []*v1.Pod {
	pods = append([]*v1.Pod{}, pods...)
	sort.Slice(pods, func(i, j int) bool { return key(pods[i]).String() < key(pods[j]).String() })
	return pods
}
