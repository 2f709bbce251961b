package controllers

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
	apipod "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/controller"
	nodeutil "k8s.io/kubernetes/pkg/controller/util/node"
	utilpod "k8s.io/kubernetes/pkg/util/pod"
	taintutils "k8s.io/kubernetes/pkg/util/taints"
	k8sclock "k8s.io/utils/clock"

	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/nodelifecycle"
)

// The condition taints the node lifecycle controller keeps in step with each node's conditions
// (pkg/controller/nodelifecycle: nodeConditionToTaintKeyStatusMap).
var conditionTaints = map[v1.NodeConditionType]map[v1.ConditionStatus]string{
	v1.NodeReady:              {v1.ConditionFalse: v1.TaintNodeNotReady, v1.ConditionUnknown: v1.TaintNodeUnreachable},
	v1.NodeMemoryPressure:     {v1.ConditionTrue: v1.TaintNodeMemoryPressure},
	v1.NodeDiskPressure:       {v1.ConditionTrue: v1.TaintNodeDiskPressure},
	v1.NodeNetworkUnavailable: {v1.ConditionTrue: v1.TaintNodeNetworkUnavailable},
	v1.NodePIDPressure:        {v1.ConditionTrue: v1.TaintNodePIDPressure},
}

var taintConditions = map[string]bool{
	v1.TaintNodeNotReady: true, v1.TaintNodeUnreachable: true, v1.TaintNodeNetworkUnavailable: true,
	v1.TaintNodeMemoryPressure: true, v1.TaintNodeDiskPressure: true, v1.TaintNodePIDPressure: true,
}

// The event sources of the two controllers: the node lifecycle controller's recorder
// (NewNodeLifecycleController) and the taint eviction controller's, named after the controller
// (names.TaintEvictionController), which runs on its own since SeparateTaintEvictionController.
const (
	nodeControllerSource  = "node-controller"
	taintEvictionSource   = "taint-eviction-controller"
	catchUpLimit          = 2 * time.Second
	catchUpPollInterval   = 100 * time.Microsecond
	nodeLeaseNamespaceKey = v1.NamespaceNodeLease + "/"
)

// nodeLifecycle runs kube-controller-manager's node lifecycle controller and taint eviction
// controller on the cluster clock: internal/nodelifecycle decides, this driver feeds it the
// informers' nodes, leases and pods, wakes it when it asks, and writes what it decides, with
// timestamps from the cluster clock. It also keeps the NoSchedule condition taints
// (doNoScheduleTaintingPass), on every node change.
//
// The node lifecycle controller's own writes are fed back to both machines at once, so that the
// taint eviction controller schedules evictions at the moment a NoExecute taint lands, without
// waiting for an informer.
type nodeLifecycle struct {
	ctx    context.Context
	client kubernetes.Interface
	clock  *clock.Clock
	pods   cache.Indexer

	nodeEvents  *recorder
	taintEvents *recorder

	mu       sync.Mutex
	monitor  *nodelifecycle.Monitor
	eviction *nodelifecycle.Eviction
	timer    k8sclock.Timer
	timerAt  time.Time
	seen     map[string]string // the resourceVersion of each node and lease the handlers last fed
}

func startNodeLifecycle(ctx context.Context, client kubernetes.Interface, clk *clock.Clock, factory informers.SharedInformerFactory) error {
	pods := factory.Core().V1().Pods().Informer()
	if err := controller.AddPodNodeNameIndexer(pods); err != nil {
		return err
	}
	c := &nodeLifecycle{
		ctx:         ctx,
		client:      client,
		clock:       clk,
		pods:        pods.GetIndexer(),
		nodeEvents:  newRecorder(ctx, client, clk, nodeControllerSource),
		taintEvents: newRecorder(ctx, client, clk, taintEvictionSource),
		monitor:     nodelifecycle.NewMonitor(nodelifecycle.DefaultConfig(), clk.Now()),
		eviction:    nodelifecycle.NewEviction(),
		seen:        map[string]string{},
	}
	if _, err := factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeChanged(obj.(*v1.Node)) },
		UpdateFunc: func(_, obj any) { c.nodeChanged(obj.(*v1.Node)) },
		DeleteFunc: func(obj any) {
			if node, ok := unwrap(obj).(*v1.Node); ok {
				c.nodeDeleted(node)
			}
		},
	}); err != nil {
		return err
	}
	if _, err := factory.Coordination().V1().Leases().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.leaseChanged(obj) },
		UpdateFunc: func(_, obj any) { c.leaseChanged(obj) },
	}); err != nil {
		return err
	}
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podChanged(nil, obj.(*v1.Pod)) },
		UpdateFunc: func(old, obj any) { c.podChanged(old.(*v1.Pod), obj.(*v1.Pod)) },
		DeleteFunc: func(obj any) {
			if pod, ok := unwrap(obj).(*v1.Pod); ok {
				c.podChanged(pod, nil)
			}
		},
	}); err != nil {
		return err
	}
	clk.OnShift(c.shift)
	c.mu.Lock()
	c.rearm()
	c.mu.Unlock()
	return nil
}

func unwrap(obj any) any {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}

func (c *nodeLifecycle) nodeChanged(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[node.Name] = node.ResourceVersion
	c.reconcileNoSchedule(node)
	now := c.clock.Now()
	c.monitor.NodeChanged(now, node)
	c.eviction.NodeChanged(now, node, c.podsOn(node.Name), c)
	c.rearm()
}

func (c *nodeLifecycle) nodeDeleted(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.monitor.NodeDeleted(c.clock.Now(), node.Name)
	c.eviction.NodeDeleted(node.Name)
	c.rearm()
}

func (c *nodeLifecycle) leaseChanged(obj any) {
	lease, ok := obj.(*coordinationv1.Lease)
	if !ok || lease.Namespace != v1.NamespaceNodeLease {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[nodeLeaseNamespaceKey+lease.Name] = lease.ResourceVersion
	c.monitor.LeaseChanged(lease)
	c.rearm()
}

// podChanged feeds the taint eviction controller, and marks a pod bound to a node that is not
// Ready not ready itself (the node lifecycle controller's processPod).
func (c *nodeLifecycle) podChanged(old, pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.eviction.PodChanged(c.clock.Now(), old, pod, c)
	if pod != nil && pod.Spec.NodeName != "" && (old == nil || old.Spec.NodeName != pod.Spec.NodeName) {
		if ready := c.monitor.Ready(pod.Spec.NodeName); ready != nil && ready.Status != v1.ConditionTrue {
			if err := c.markPodsNotReady([]*v1.Pod{pod}, pod.Spec.NodeName); err != nil {
				klog.FromContext(c.ctx).Info("Unable to mark pod NotReady on node", "pod", klog.KObj(pod), "err", err)
			}
		}
	}
	c.rearm()
}

// rearm sets the timer to the machines' next wake-up. The caller holds mu.
func (c *nodeLifecycle) rearm() {
	next := c.monitor.NextWake()
	if t := c.eviction.NextWake(); !t.IsZero() && (next.IsZero() || t.Before(next)) {
		next = t
	}
	if c.timer != nil && c.timerAt.Equal(next) {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.timerAt = next
	if next.IsZero() || c.ctx.Err() != nil {
		return
	}
	d := next.Sub(c.clock.Now())
	if d < 0 {
		d = 0
	}
	c.timer = c.clock.AfterFunc(d, c.wake)
}

func (c *nodeLifecycle) wake() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	c.timer, c.timerAt = nil, time.Time{}
	now := c.clock.Now()
	c.monitor.Wake(now, c)
	c.eviction.Wake(now, c)
	c.rearm()
}

// shift ages the controllers' times with the world's, and waits until the handlers have seen
// the store's aged nodes and leases: the machines must not take an informer's earlier copy for
// news once the replay of the interval runs.
func (c *nodeLifecycle) shift(d time.Duration) {
	c.mu.Lock()
	c.monitor.Shift(d)
	c.eviction.Shift(d)
	c.mu.Unlock()
	c.nodeEvents.shift(d)
	c.taintEvents.shift(d)
	c.catchUp()
}

// catchUp waits, in wall time and for at most catchUpLimit, until the handlers have fed every
// node and node lease at the version the API server has now.
func (c *nodeLifecycle) catchUp() {
	want := map[string]string{}
	nodes, err := c.client.CoreV1().Nodes().List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, n := range nodes.Items {
		want[n.Name] = n.ResourceVersion
	}
	leases, err := c.client.CoordinationV1().Leases(v1.NamespaceNodeLease).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, l := range leases.Items {
		want[nodeLeaseNamespaceKey+l.Name] = l.ResourceVersion
	}
	deadline := time.Now().Add(catchUpLimit)
	for time.Now().Before(deadline) && c.ctx.Err() == nil {
		if c.caughtUp(want) {
			return
		}
		time.Sleep(catchUpPollInterval)
	}
}

func (c *nodeLifecycle) caughtUp(want map[string]string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, rv := range want {
		if !atLeast(c.seen[k], rv) {
			return false
		}
	}
	return true
}

// atLeast reports whether resourceVersion a is b or later (kubesim's store numbers them).
func atLeast(a, b string) bool {
	if a == b {
		return true
	}
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x >= y
}

func (c *nodeLifecycle) podsOn(node string) []*v1.Pod {
	objs, err := c.pods.ByIndex(controller.PodNodeNameKeyIndex, node)
	if err != nil {
		return nil
	}
	pods := make([]*v1.Pod, 0, len(objs))
	for _, obj := range objs {
		if p, ok := obj.(*v1.Pod); ok {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool {
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	return pods
}

// reconcileNoSchedule is doNoScheduleTaintingPass: the node carries exactly the NoSchedule
// taints its conditions (and spec.unschedulable) call for. This is also what removes the
// not-ready taint a node is registered with once its kubelet reports Ready.
func (c *nodeLifecycle) reconcileNoSchedule(node *v1.Node) {
	var want []v1.Taint
	for _, cond := range node.Status.Conditions {
		if key, ok := conditionTaints[cond.Type][cond.Status]; ok {
			want = append(want, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule})
	}
	have := taintutils.TaintSetFilter(node.Spec.Taints, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoSchedule && (t.Key == v1.TaintNodeUnschedulable || taintConditions[t.Key])
	})
	add, del := taintutils.TaintSetDiff(want, have)
	if len(add) == 0 && len(del) == 0 {
		return
	}
	if _, err := c.swapTaints(node.Name, deref(add), deref(del)); err != nil {
		klog.FromContext(c.ctx).Error(err, "Failed to taint NoSchedule on node", "node", node.Name)
	}
}

func deref(taints []*v1.Taint) []v1.Taint {
	out := make([]v1.Taint, len(taints))
	for i, t := range taints {
		out[i] = *t
	}
	return out
}

// swapTaints is SwapNodeControllerTaint with timeAdded from the cluster clock: in one patch of
// the node as the API server has it, taints of add that it lacks (by key and effect) are appended
// and those of del removed. It returns the node as stored after the change, or nil when nothing
// changed.
func (c *nodeLifecycle) swapTaints(name string, add, del []v1.Taint) (*v1.Node, error) {
	var patched bool
	err := retry.RetryOnConflict(controller.UpdateTaintBackoff, func() error {
		node, err := c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		updated := node.DeepCopy()
		now := metav1.NewTime(c.clock.Now())
		changed := false
		for _, t := range add {
			if !taintutils.TaintExists(updated.Spec.Taints, &t) {
				t.TimeAdded = &now
				updated.Spec.Taints = append(updated.Spec.Taints, t)
				changed = true
			}
		}
		for _, t := range del {
			kept := taintutils.TaintSetFilter(updated.Spec.Taints, func(have *v1.Taint) bool { return !have.MatchTaint(&t) })
			changed = changed || len(kept) != len(updated.Spec.Taints)
			updated.Spec.Taints = kept
		}
		if !changed {
			return nil
		}
		patched = true
		return controller.PatchNodeTaints(c.ctx, c.client, name, node, updated)
	})
	if err != nil || !patched {
		return nil, err
	}
	return c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
}

// fed gives both machines a node the controller just wrote.
func (c *nodeLifecycle) fed(node *v1.Node) {
	if node == nil {
		return
	}
	now := c.clock.Now()
	c.monitor.NodeChanged(now, node)
	c.eviction.NodeChanged(now, node, c.podsOn(node.Name), c)
}

// The node lifecycle controller's writes (nodelifecycle.Effects). The caller holds mu.

func (c *nodeLifecycle) UpdateNodeStatus(node *v1.Node) (*v1.Node, error) {
	updated, err := c.client.CoreV1().Nodes().UpdateStatus(c.ctx, node, metav1.UpdateOptions{})
	if err != nil {
		klog.FromContext(c.ctx).Error(err, "Error updating node", "node", klog.KObj(node))
		return nil, err
	}
	// The NoSchedule taint of the new condition, before the NoExecute one the tainting pass adds.
	c.reconcileNoSchedule(updated)
	return updated, nil
}

func (c *nodeLifecycle) GetNode(name string) (*v1.Node, error) {
	return c.client.CoreV1().Nodes().Get(c.ctx, name, metav1.GetOptions{})
}

func (c *nodeLifecycle) SwapTaints(node *v1.Node, add, del []v1.Taint) (*v1.Node, bool) {
	updated, err := c.swapTaints(node.Name, add, del)
	if err != nil {
		klog.FromContext(c.ctx).Error(err, "unable to taint unresponsive Node", "node", node.Name)
		return nil, false
	}
	c.fed(updated)
	return updated, true
}

func (c *nodeLifecycle) RemoveTaints(node *v1.Node, taints ...v1.Taint) (*v1.Node, error) {
	present := false
	for i := range taints {
		present = present || taintutils.TaintExists(node.Spec.Taints, &taints[i])
	}
	if !present {
		return nil, nil // RemoveTaintOffNode's short cut: no API call
	}
	updated, err := c.swapTaints(node.Name, nil, taints)
	if err != nil {
		klog.FromContext(c.ctx).Error(err, "Failed to remove taint from node", "node", node.Name)
		return nil, err
	}
	c.fed(updated)
	return updated, nil
}

func (c *nodeLifecycle) MarkPodsNotReady(node string) error {
	return c.markPodsNotReady(c.podsOn(node), node)
}

// markPodsNotReady is MarkPodsNotReady with the transition time from the cluster clock: each
// pod's Ready condition turns False, with a NodeNotReady event.
func (c *nodeLifecycle) markPodsNotReady(pods []*v1.Pod, node string) error {
	var errs []error
	for _, p := range pods {
		if p.Spec.NodeName != node {
			continue
		}
		pod := p.DeepCopy()
		for _, cond := range pod.Status.Conditions {
			if cond.Type != v1.PodReady {
				continue
			}
			cond.Status = v1.ConditionFalse
			if !updatePodCondition(&pod.Status, &cond, c.clock.Now()) {
				break
			}
			if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(c.ctx, pod, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsNotFound(err) {
					continue
				}
				errs = append(errs, err)
			}
			c.nodeEvents.Event(pod, v1.EventTypeWarning, "NodeNotReady", "Node is not ready")
			break
		}
	}
	return utilerrors.NewAggregate(errs)
}

// updatePodCondition is apipod.UpdatePodCondition with the transition time now: it sets the
// condition, keeping its transition time if its status did not change, and reports whether
// anything changed.
func updatePodCondition(status *v1.PodStatus, cond *v1.PodCondition, now time.Time) bool {
	cond.LastTransitionTime = metav1.NewTime(now)
	i, old := apipod.GetPodCondition(status, cond.Type)
	if old == nil {
		status.Conditions = append(status.Conditions, *cond)
		return true
	}
	if cond.Status == old.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	equal := cond.Status == old.Status && cond.Reason == old.Reason && cond.Message == old.Message &&
		cond.LastProbeTime.Equal(&old.LastProbeTime) && cond.LastTransitionTime.Equal(&old.LastTransitionTime)
	status.Conditions[i] = *cond
	return !equal
}

func (c *nodeLifecycle) NodeEvent(node *v1.Node, reason string) {
	logger := klog.FromContext(c.ctx)
	switch reason {
	case nodelifecycle.RegisteredNode:
		nodeutil.RecordNodeEvent(c.ctx, c.nodeEvents, node.Name, string(node.UID), v1.EventTypeNormal, reason,
			fmt.Sprintf("Registered Node %v in Controller", node.Name))
	case nodelifecycle.RemovingNode:
		nodeutil.RecordNodeEvent(c.ctx, c.nodeEvents, node.Name, string(node.UID), v1.EventTypeNormal, reason,
			fmt.Sprintf("Removing Node %v from Controller", node.Name))
	case nodelifecycle.NodeNotReady:
		nodeutil.RecordNodeStatusChange(logger, c.nodeEvents, node, reason)
	}
}

// The taint eviction controller's writes (nodelifecycle.EvictionEffects). The caller holds mu.

func (c *nodeLifecycle) Event(pod types.NamespacedName, message string) {
	ref := &v1.ObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, Namespace: pod.Namespace}
	c.taintEvents.Event(ref, v1.EventTypeNormal, nodelifecycle.TaintManagerEviction, message)
}

// Delete is addConditionAndDeletePod: the DisruptionTarget condition, then a delete with the
// pod's own grace period.
func (c *nodeLifecycle) Delete(name types.NamespacedName) error {
	pods := c.client.CoreV1().Pods(name.Namespace)
	pod, err := pods.Get(c.ctx, name.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	status := pod.Status.DeepCopy()
	if updatePodCondition(status, &v1.PodCondition{
		Type:               v1.DisruptionTarget,
		ObservedGeneration: apipod.CalculatePodConditionObservedGeneration(&pod.Status, pod.Generation, v1.DisruptionTarget),
		Status:             v1.ConditionTrue,
		Reason:             "DeletionByTaintManager",
		Message:            "Taint manager: deleting due to NoExecute taint",
	}, c.clock.Now()) {
		if _, _, _, err := utilpod.PatchPodStatus(c.ctx, c.client, pod.Namespace, pod.Name, pod.UID, pod.Status, *status); err != nil {
			return err
		}
	}
	return pods.Delete(c.ctx, name.Name, metav1.DeleteOptions{})
}
