// Package scheduler is the kube-scheduler of a simulated cluster.
//
// It runs in-process as a client-go component, the way kube-scheduler v1.37 runs against a real
// API server: informers watch pods and nodes, a scheduling queue holds the pending pods of the
// default-scheduler profile, each pod goes through the upstream filter and score plugins
// (framework.go, algorithm.go), and the chosen node is bound through pods/binding. Failures
// record FailedScheduling events and the PodScheduled=False condition exactly as upstream does,
// and pods are retried on the cluster events, back-offs and flushes that retry them upstream
// (queue.go). Time comes from the cluster's clock and randomness from its seeded source.
package scheduler

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"sort"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	fwk "k8s.io/kube-scheduler/framework"
	apipod "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	k8sclock "k8s.io/utils/clock"

	"kubesim.dev/kubesim/internal/clock"
)

// Config configures a cluster's scheduler.
type Config struct {
	// Client reaches the cluster's API.
	Client *rest.Config
	// Clock is the cluster's clock.
	Clock *clock.Clock
	// Rand is the scheduler's seeded random source; the scheduler owns it from now on.
	Rand *rand.Rand
	// Host is the machine the scheduler runs on (the control-plane node): events report
	// "default-scheduler-<Host>" as their reportingInstance. Empty means "controlplane".
	Host string
}

// Scheduler is a running scheduler.
type Scheduler struct {
	client    kubernetes.Interface
	clock     *clock.Clock
	rnd       *rand.Rand
	fw        *Framework
	podLister corelisters.PodLister
	informers informers.SharedInformerFactory

	mu          sync.Mutex
	queue       *Queue
	recorder    *Recorder
	start       time.Time // origin of the periodic flush loops
	nodes       []*v1.Node
	bound       map[string]*v1.Pod // pods the API shows bound, by namespace/name
	assumed     map[string]*v1.Pod // pods bound by us that the informer does not show bound yet
	synced      bool
	busy        bool
	timer       k8sclock.Timer
	timerAt     time.Time
	nextRefresh time.Time
	wake        chan struct{}

	seenMu sync.Mutex
	seen   map[string]string // namespace/name → resourceVersion of each pod change handled
}

// dueTimes are the next moments of the periodic loops upstream runs: the backoffQ flush, the
// unschedulable pool flush, and the event broadcaster's series finishing and refreshing.
type dueTimes struct {
	backoff, unschedulable, finish, refresh time.Time
}

// Run starts a scheduler; it stops with ctx.
func Run(ctx context.Context, cfg *rest.Config, clk *clock.Clock, rnd *rand.Rand) error {
	_, err := Start(ctx, Config{Client: cfg, Clock: clk, Rand: rnd})
	return err
}

// Start starts a scheduler and returns without waiting for its informers; it stops with ctx.
// The cluster's settle function should wait for Idle too: a flush the clock runs at a virtual
// moment only queues pods, and the attempts (API writes) follow on the scheduling goroutine.
func Start(ctx context.Context, cfg Config) (*Scheduler, error) {
	client, err := kubernetes.NewForConfig(cfg.Client)
	if err != nil {
		return nil, err
	}
	host := cfg.Host
	if host == "" {
		host = "controlplane"
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	factory.InformerFor(&v1.Pod{}, newPodInformer)
	fw, err := NewFramework(withServedOnly(factory, client.Discovery()))
	if err != nil {
		return nil, err
	}
	fw.Now = cfg.Clock.Now
	s := &Scheduler{
		client:    client,
		clock:     cfg.Clock,
		rnd:       cfg.Rand,
		fw:        fw,
		podLister: factory.Core().V1().Pods().Lister(),
		informers: factory,
		queue:     NewQueue(fw),
		recorder:  NewRecorder(SchedulerName, host, rand.New(rand.NewSource(cfg.Rand.Int63()))),
		start:     cfg.Clock.Now(),
		bound:     map[string]*v1.Pod{},
		assumed:   map[string]*v1.Pod{},
		wake:      make(chan struct{}, 1),
	}
	s.seen = map[string]string{}
	if _, err := factory.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { s.addPod(obj); s.saw(obj, false) },
		UpdateFunc: func(oldObj, newObj interface{}) { s.updatePod(oldObj, newObj); s.saw(newObj, false) },
		DeleteFunc: func(obj interface{}) { s.deletePod(obj); s.saw(obj, true) },
	}); err != nil {
		return nil, err
	}
	if _, err := factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: s.addNode, UpdateFunc: s.updateNode, DeleteFunc: s.deleteNode,
	}); err != nil {
		return nil, err
	}
	cfg.Clock.OnShift(s.shift)
	factory.Start(ctx.Done())
	go s.run(ctx)
	return s, nil
}

// newPodInformer is scheduler.go newPodInformer: finished pods are not the scheduler's concern,
// and managed fields are dropped.
func newPodInformer(cs kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
	inf := coreinformers.NewFilteredPodInformer(cs, metav1.NamespaceAll, resync, cache.Indexers{
		cache.NamespaceIndex: cache.MetaNamespaceIndexFunc,
	}, func(o *metav1.ListOptions) {
		o.FieldSelector = fmt.Sprintf("status.phase!=%v,status.phase!=%v", v1.PodSucceeded, v1.PodFailed)
	})
	_ = inf.SetTransform(func(obj interface{}) (interface{}, error) {
		if a, err := meta.Accessor(obj); err == nil && a.GetManagedFields() != nil {
			a.SetManagedFields(nil)
		}
		return obj, nil
	})
	return inf
}

// saw records that a pod change was handled.
func (s *Scheduler) saw(obj interface{}, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	if key := pod.Namespace + "/" + pod.Name; deleted {
		delete(s.seen, key)
	} else {
		s.seen[key] = pod.ResourceVersion
	}
}

// SeenPods is the resourceVersion of each unfinished pod as the scheduler last handled it (by
// namespace/name). With the API's own versions it tells whether the scheduler has caught up.
func (s *Scheduler) SeenPods() map[string]string {
	s.seenMu.Lock()
	defer s.seenMu.Unlock()
	return maps.Clone(s.seen)
}

// Idle reports whether the scheduler has nothing to do until the next cluster event or timer.
func (s *Scheduler) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced && !s.busy && !s.queue.Pending() && len(s.wake) == 0
}

// run waits for the informers, as kube-scheduler does before its first cycle, then schedules
// until ctx ends.
func (s *Scheduler) run(ctx context.Context) {
	defer func() {
		s.mu.Lock()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.mu.Unlock()
		s.informers.Shutdown()
	}()
	// Plumbing, not simulation: the informers fill from the in-process API within milliseconds.
	// Scheduling waits for pods and nodes; the listers the plugins read (namespaces, services,
	// replica sets...) fill as they come.
	pods := s.informers.Core().V1().Pods().Informer()
	nodes := s.informers.Core().V1().Nodes().Informer()
	err := wait.PollUntilContextCancel(ctx, time.Millisecond, true, func(context.Context) (bool, error) {
		return pods.HasSynced() && nodes.HasSynced(), nil
	})
	if err != nil {
		return
	}
	s.mu.Lock()
	s.synced = true
	s.mu.Unlock()
	s.kick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for ctx.Err() == nil && s.scheduleNext(ctx) {
		}
	}
}

// kick wakes the scheduling loop.
func (s *Scheduler) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// scheduleNext runs one scheduling cycle; it reports whether there may be more to do. Periodic
// work runs only on the clock's timer (onTimer), so that a fast-forward runs it at its virtual
// moment, never late at whatever time the loop happens to wake.
func (s *Scheduler) scheduleNext(ctx context.Context) bool {
	s.mu.Lock()
	now := s.clock.Now()
	qp, ok := s.queue.Pop(now)
	if !ok {
		s.busy = false
		s.rearmLocked(now)
		s.mu.Unlock()
		return false
	}
	s.busy = true
	nodes, pods := s.snapshotLocked()
	s.mu.Unlock()
	s.scheduleOne(ctx, qp, nodes, pods)
	return true
}

// snapshotLocked lists the nodes in the order the scheduler learnt them and every bound or
// assumed pod.
func (s *Scheduler) snapshotLocked() ([]*v1.Node, []*v1.Pod) {
	nodes := append([]*v1.Node(nil), s.nodes...)
	pods := make([]*v1.Pod, 0, len(s.bound)+len(s.assumed))
	for _, k := range sortedPodKeys(s.bound) {
		if _, ok := s.assumed[k]; !ok {
			pods = append(pods, s.bound[k])
		}
	}
	for _, k := range sortedPodKeys(s.assumed) {
		pods = append(pods, s.assumed[k])
	}
	return nodes, pods
}

// scheduleOne is scheduleOnePod: one scheduling cycle and, on success, the binding cycle.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod, nodes []*v1.Node, pods []*v1.Pod) {
	pod := qp.pod
	if pod.DeletionTimestamp != nil {
		s.mu.Lock()
		writes := s.recorder.Eventf(pod, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", s.clock.Now(),
			"skip schedule deleting pod: %v/%v", pod.Namespace, pod.Name)
		s.queue.Done(pod.UID)
		s.mu.Unlock()
		s.send(ctx, writes)
		return
	}
	s.mu.Lock()
	_, assumed := s.assumed[key(pod)]
	if assumed {
		s.queue.Done(pod.UID)
	}
	s.mu.Unlock()
	if assumed {
		return
	}
	r := s.fw.Schedule(ctx, pod, nodes, pods, s.rnd)
	if !r.Status.IsSuccess() {
		s.handleFailure(ctx, qp, r)
		return
	}
	s.bind(ctx, qp, r.Node)
}

// bind is the binding cycle: assume the pod on the node, bind it through pods/binding (the
// DefaultBinder plugin) and record Scheduled.
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, node string) {
	assumed := qp.pod.DeepCopy()
	assumed.Spec.NodeName = node
	s.mu.Lock()
	s.assumed[key(assumed)] = assumed
	s.queue.Done(assumed.UID)
	s.mu.Unlock()
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		// handleBindingCycleError: forget the pod, tell the queue its room is free again, retry it.
		status := fwk.AsStatus(fmt.Errorf("running Bind plugin %q: %w", "DefaultBinder", err))
		s.mu.Lock()
		delete(s.assumed, key(assumed))
		s.queue.MoveAll(framework.EventAssignedPodDelete, assumed, nil, nil, s.clock.Now())
		s.mu.Unlock()
		s.handleFailure(ctx, qp, Result{Status: status, Nominate: ptr("")})
		return
	}
	s.mu.Lock()
	writes := s.recorder.Eventf(assumed, nil, v1.EventTypeNormal, "Scheduled", "Binding", s.clock.Now(),
		"Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, node)
	s.mu.Unlock()
	s.send(ctx, writes)
}

// handleFailure is handleSchedulingFailure: requeue the pod (in its latest version), record
// FailedScheduling, set PodScheduled=False and carry out a preemption the cycle decided.
func (s *Scheduler) handleFailure(ctx context.Context, qp *queuedPod, r Result) {
	reason := v1.PodReasonSchedulerError
	if r.Status.IsRejected() {
		reason = v1.PodReasonUnschedulable
	}
	msg := r.Message()
	s.mu.Lock()
	now := s.clock.Now()
	pod := qp.pod
	cached, err := s.podLister.Pods(pod.Namespace).Get(pod.Name)
	switch {
	case err != nil || cached.Spec.NodeName != "":
		s.queue.Done(pod.UID)
	case cached.UID != pod.UID:
		s.queue.Done(pod.UID)
		s.mu.Unlock()
		return
	default:
		pod = cached.DeepCopy()
		s.queue.AddUnschedulable(qp, pod, r, now)
	}
	// Upstream passes the message as Eventf's format with no arguments; no scheduler message
	// contains a verb, so the note is the message.
	writes := s.recorder.Eventf(pod, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", now, "%s", truncateMessage(msg))
	cond := unschedulableCondition(pod, reason, msg)
	patch, perr := statusPatch(pod, &cond, r.Nominate, now)
	s.rearmLocked(now)
	s.mu.Unlock()
	s.send(ctx, writes)
	if perr == nil && patch != nil {
		_, _ = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	}
	if r.Preemption != nil {
		s.preempt(ctx, pod, r.Preemption)
	}
}

// preempt is the preemption Executor's PreemptPod for every victim: mark it DisruptionTarget,
// delete it, and record Preempted.
func (s *Scheduler) preempt(ctx context.Context, preemptor *v1.Pod, p *Preemption) {
	for _, victim := range p.Victims {
		if victim.DeletionTimestamp != nil {
			continue
		}
		s.mu.Lock()
		now := s.clock.Now()
		cond := v1.PodCondition{
			Type:               v1.DisruptionTarget,
			ObservedGeneration: apipod.CalculatePodConditionObservedGeneration(&victim.Status, victim.Generation, v1.DisruptionTarget),
			Status:             v1.ConditionTrue,
			Reason:             v1.PodReasonPreemptionByScheduler,
			Message:            fmt.Sprintf("%s: preempting to accommodate a higher priority %s", preemptor.Spec.SchedulerName, fwk.PodKeyType),
		}
		patch, _ := statusPatch(victim, &cond, nil, now)
		s.mu.Unlock()
		pods := s.client.CoreV1().Pods(victim.Namespace)
		if patch != nil {
			if _, err := pods.Patch(ctx, victim.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
				continue
			}
		}
		if err := pods.Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
			continue // gone already, or the API refused: upstream records nothing either
		}
		s.mu.Lock()
		writes := s.recorder.Eventf(victim, preemptor, v1.EventTypeNormal, "Preempted", "Preempting", s.clock.Now(),
			"Preempted by %s %v on node %v", fwk.PodKeyType, preemptor.UID, p.Node)
		s.mu.Unlock()
		s.send(ctx, writes)
	}
}

// send writes events as the broadcaster's sink does: a series patch that finds no event
// creates it; a rejected event is dropped.
func (s *Scheduler) send(ctx context.Context, writes []sinkWrite) {
	for _, w := range writes {
		events := s.client.EventsV1().Events(w.Event.Namespace)
		if w.Patch != nil {
			_, err := events.Patch(ctx, w.Event.Name, types.StrategicMergePatchType, w.Patch, metav1.PatchOptions{})
			if err == nil || !apierrors.IsNotFound(err) {
				continue
			}
		}
		ev := w.Event.DeepCopy()
		ev.ResourceVersion = ""
		_, _ = events.Create(ctx, ev, metav1.CreateOptions{})
	}
}

// runDueLocked runs the periodic loops whose moment has come.
func (s *Scheduler) runDueLocked(now time.Time) []sinkWrite {
	due := s.dueLocked(now)
	reached := func(t time.Time) bool { return !t.IsZero() && !t.After(now) }
	var writes []sinkWrite
	if reached(due.backoff) {
		s.queue.FlushBackoff(now)
	}
	if reached(due.unschedulable) {
		s.queue.FlushUnschedulable(now)
	}
	if reached(due.finish) {
		writes = append(writes, s.recorder.FinishSeries(now)...)
	}
	if reached(due.refresh) {
		writes = append(writes, s.recorder.RefreshSeries()...)
		s.nextRefresh = nextTick(s.start, seriesRefreshTime, now)
	}
	return writes
}

// dueLocked is when each periodic loop next has work to do (zero: nothing to do).
func (s *Scheduler) dueLocked(now time.Time) dueTimes {
	if !s.recorder.HasSeries() {
		s.nextRefresh = time.Time{}
	} else if s.nextRefresh.IsZero() {
		s.nextRefresh = nextTick(s.start, seriesRefreshTime, now)
	}
	return dueTimes{
		backoff:       s.queue.NextBackoffFlush(),
		unschedulable: s.queue.NextUnschedulableFlush(s.start),
		finish:        s.recorder.NextFinish(s.start),
		refresh:       s.nextRefresh,
	}
}

// rearmLocked sets one clock timer for the earliest moment a periodic loop has work. Upstream's
// loops tick all the time; ticking only when something is due gives the same outcome without
// waking a fast-forwarded clock every second.
func (s *Scheduler) rearmLocked(now time.Time) {
	due := s.dueLocked(now)
	var next time.Time
	for _, t := range []time.Time{due.backoff, due.unschedulable, due.finish, due.refresh} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if s.timer != nil && s.timerAt.Equal(next) {
		return
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if next.IsZero() {
		return
	}
	s.timerAt = next
	s.timer = s.clock.AfterFunc(max(next.Sub(now), 0), s.onTimer)
}

// onTimer runs on the clock, at the moment a periodic loop is due: the queue moves happen at
// that virtual moment, then the scheduling loop picks up the pods.
func (s *Scheduler) onTimer() {
	s.mu.Lock()
	s.timer = nil
	now := s.clock.Now()
	writes := s.runDueLocked(now)
	s.rearmLocked(now)
	s.mu.Unlock()
	s.send(context.Background(), writes)
	s.kick()
}

// shift ages the scheduler's timestamps with the world's.
func (s *Scheduler) shift(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = s.start.Add(-d)
	s.timerAt = s.timerAt.Add(-d)
	if !s.nextRefresh.IsZero() {
		s.nextRefresh = s.nextRefresh.Add(-d)
	}
	s.queue.Shift(d)
	s.recorder.Shift(d)
}

func assigned(p *v1.Pod) bool { return p.Spec.NodeName != "" }

func responsible(p *v1.Pod) bool { return p.Spec.SchedulerName == SchedulerName }

// The informer handlers are eventhandlers.go's, on the scheduler's cache and queue.

func (s *Scheduler) addPod(obj interface{}) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if responsible(pod) && !assigned(pod) {
		s.queue.Add(pod, now)
	}
	if assigned(pod) {
		s.addAssignedLocked(pod, now)
	}
}

func (s *Scheduler) addAssignedLocked(pod *v1.Pod, now time.Time) {
	s.bound[key(pod)] = pod
	delete(s.assumed, key(pod))
	s.queue.MoveAll(framework.EventAssignedPodAdd, nil, pod, nil, now)
}

func (s *Scheduler) updatePod(oldObj, newObj interface{}) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	newPod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	now := s.clock.Now()
	switch {
	case assigned(oldPod):
		s.bound[key(newPod)] = newPod
		for _, e := range framework.PodSchedulingPropertiesChange(newPod, oldPod, false) {
			s.queue.MoveAll(e, oldPod, newPod, nil, now)
		}
	case assigned(newPod):
		s.addAssignedLocked(newPod, now)
		if responsible(oldPod) {
			s.queue.Delete(oldPod)
		}
	case responsible(oldPod):
		if oldPod.ResourceVersion == newPod.ResourceVersion {
			return
		}
		if _, ok := s.assumed[key(newPod)]; ok {
			if newPod.DeletionTimestamp != nil && oldPod.DeletionTimestamp == nil {
				s.forgetAssumedLocked(newPod, now)
			}
			return
		}
		s.queue.Update(oldPod, newPod, now)
		if oldPod.Status.NominatedNodeName != "" && oldPod.Status.NominatedNodeName != newPod.Status.NominatedNodeName {
			s.queue.MoveAll(framework.EventAssignedPodDelete, oldPod, nil, lowerOrEqualPriority(oldPod), now)
		}
	}
}

// forgetAssumedLocked is handleAssumedPodDeletion: the room an assumed pod held is free again.
func (s *Scheduler) forgetAssumedLocked(pod *v1.Pod, now time.Time) {
	assumed, ok := s.assumed[key(pod)]
	if !ok {
		return
	}
	delete(s.assumed, key(pod))
	s.queue.MoveAll(framework.EventAssignedPodDelete, assumed, nil, nil, now)
}

// lowerOrEqualPriority is getLEPriorityPreCheck.
func lowerOrEqualPriority(p *v1.Pod) func(*v1.Pod) bool {
	prio := corev1helpers.PodPriority(p)
	return func(q *v1.Pod) bool { return corev1helpers.PodPriority(q) <= prio }
}

func (s *Scheduler) deletePod(obj interface{}) {
	var pod *v1.Pod
	stale := false
	switch t := obj.(type) {
	case *v1.Pod:
		pod = t
	case cache.DeletedFinalStateUnknown:
		p, ok := t.Obj.(*v1.Pod)
		if !ok {
			return
		}
		pod, stale = p, true
	default:
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	now := s.clock.Now()
	if assigned(pod) || stale {
		delete(s.bound, key(pod))
		delete(s.assumed, key(pod))
		s.queue.MoveAll(framework.EventAssignedPodDelete, pod, nil, nil, now)
	}
	if (!assigned(pod) || stale) && responsible(pod) {
		s.queue.Delete(pod)
		if _, ok := s.assumed[key(pod)]; ok {
			s.forgetAssumedLocked(pod, now)
			return
		}
		if pod.Status.NominatedNodeName != "" {
			s.queue.MoveAll(framework.EventAssignedPodDelete, pod, nil, lowerOrEqualPriority(pod), now)
		}
	}
}

func (s *Scheduler) addNode(obj interface{}) {
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	s.nodes = append(s.nodes, node)
	s.queue.MoveAll(fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Add}, nil, node, nil, s.clock.Now())
}

func (s *Scheduler) updateNode(oldObj, newObj interface{}) {
	oldNode, ok1 := oldObj.(*v1.Node)
	newNode, ok2 := newObj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	for i, n := range s.nodes {
		if n.Name == newNode.Name {
			s.nodes[i] = newNode
		}
	}
	now := s.clock.Now()
	for _, e := range framework.NodeSchedulingPropertiesChange(newNode, oldNode) {
		s.queue.MoveAll(e, oldNode, newNode, nil, now)
	}
}

func (s *Scheduler) deleteNode(obj interface{}) {
	var node *v1.Node
	switch t := obj.(type) {
	case *v1.Node:
		node = t
	case cache.DeletedFinalStateUnknown:
		n, ok := t.Obj.(*v1.Node)
		if !ok {
			return
		}
		node = n
	default:
		return
	}
	s.mu.Lock()
	defer s.kick()
	defer s.mu.Unlock()
	s.queue.MoveAll(fwk.ClusterEvent{Resource: fwk.Node, ActionType: fwk.Delete}, node, nil, nil, s.clock.Now())
	for i, n := range s.nodes {
		if n.Name == node.Name {
			s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
			break
		}
	}
}

func sortedPodKeys(m map[string]*v1.Pod) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
