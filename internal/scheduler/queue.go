package scheduler

import (
	"context"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Queue timing, as kube-scheduler v1.37 defaults it (apis/config/v1 defaults.go, backend/queue).
const (
	PodInitialBackoff          = 1 * time.Second
	PodMaxBackoff              = 10 * time.Second
	PodMaxInUnschedulablePods  = 5 * time.Minute
	unschedulableFlushInterval = 30 * time.Second
	backoffOrderingWindow      = time.Second
)

// queuedPod is framework.QueuedPodInfo for a single pod.
type queuedPod struct {
	pod                  *v1.Pod
	timestamp            time.Time // when it was last added or returned to the queue
	initialAttempt       time.Time
	attempts             int
	unschedulableCount   int
	consecutiveErrors    int
	backoffExpiration    time.Time // cached; zero means not computed yet
	unschedulablePlugins sets.Set[string]
	pendingPlugins       sets.Set[string]
	gatingPlugin         string
	gatingEvents         []fwk.ClusterEvent
	flushed              bool
	flushTimestamp       time.Time
}

func (q *queuedPod) gated() bool { return q.gatingPlugin != "" }

// clusterEvent is an event seen while a pod was being scheduled.
type clusterEvent struct {
	event          fwk.ClusterEvent
	oldObj, newObj interface{}
}

// strategy is backend/queue queueingStrategy.
type strategy int

const (
	queueSkip strategy = iota
	queueAfterBackoff
	queueImmediately
)

// Queue is kube-scheduler's PriorityQueue (backend/queue) for single pods, as a state machine that
// owns no clock: every operation is given the time. It has the three places of the upstream
// queue: activeQ (ordered by priority, then by time queued: the PrioritySort plugin), backoffQ
// (split, as upstream, into pods rejected by plugins and pods that hit an error) and the
// unschedulable pool, and moves pods between them on cluster events through the plugins' queueing
// hints, after their back-off, and after five minutes in the pool. It is not safe for concurrent use.
type Queue struct {
	fw            *Framework
	active        map[string]*queuedPod
	backoff       map[string]*queuedPod
	errorBackoff  map[string]*queuedPod
	unschedulable map[string]*queuedPod
	inFlight      map[types.UID][]clusterEvent
	hintOrder     []fwk.ClusterEvent
}

// NewQueue returns an empty queue that requeues by fw's queueing hints.
func NewQueue(fw *Framework) *Queue {
	return &Queue{
		fw:            fw,
		active:        map[string]*queuedPod{},
		backoff:       map[string]*queuedPod{},
		errorBackoff:  map[string]*queuedPod{},
		unschedulable: map[string]*queuedPod{},
		inFlight:      map[types.UID][]clusterEvent{},
	}
}

func key(p *v1.Pod) string { return p.Namespace + "/" + p.Name }

// Add queues a new unscheduled pod.
func (q *Queue) Add(pod *v1.Pod, now time.Time) {
	qp := &queuedPod{pod: pod, timestamp: now, unschedulablePlugins: sets.New[string](), pendingPlugins: sets.New[string]()}
	q.moveToActive(qp, now)
}

// Update is PriorityQueue.Update: a queued pod changed.
func (q *Queue) Update(oldPod, newPod *v1.Pod, now time.Time) {
	events := framework.PodSchedulingPropertiesChange(newPod, oldPod, true)
	if _, ok := q.inFlight[newPod.UID]; ok {
		for _, e := range events {
			q.recordInFlight(clusterEvent{event: e, oldObj: oldPod, newObj: newPod})
		}
		return
	}
	k := key(oldPod)
	for _, m := range []map[string]*queuedPod{q.active, q.backoff, q.errorBackoff} {
		if qp, ok := m[k]; ok {
			qp.pod = newPod
			return
		}
	}
	if qp, ok := q.unschedulable[k]; ok {
		qp.pod = newPod
		for _, e := range events {
			if to := q.requeue(qp, q.worthRequeuing(qp, e, oldPod, newPod), now); to != "unschedulable" {
				break
			}
		}
		return
	}
	q.Add(newPod, now)
}

// Delete forgets a pod.
func (q *Queue) Delete(pod *v1.Pod) {
	k := key(pod)
	delete(q.active, k)
	delete(q.backoff, k)
	delete(q.errorBackoff, k)
	delete(q.unschedulable, k)
}

// MoveAll is MoveAllToActiveOrBackoffQueue: a cluster event may make unschedulable pods
// schedulable. preCheck, when set, limits the pods considered.
func (q *Queue) MoveAll(event fwk.ClusterEvent, oldObj, newObj interface{}, preCheck func(*v1.Pod) bool, now time.Time) {
	if !q.interested(event) {
		return
	}
	for _, k := range sortedKeys(q.unschedulable) {
		qp := q.unschedulable[k]
		if preCheck != nil && !preCheck(qp.pod) {
			continue
		}
		if qp.gated() && !framework.ClusterEventIsWildCard(event) && !framework.MatchAnyClusterEvent(event, qp.gatingEvents) {
			continue
		}
		s := q.worthRequeuing(qp, event, oldObj, newObj)
		if s == queueSkip {
			continue
		}
		delete(q.unschedulable, k)
		q.requeue(qp, s, now)
	}
	if len(q.inFlight) > 0 {
		q.recordInFlight(clusterEvent{event: event, oldObj: oldObj, newObj: newObj})
	}
}

func (q *Queue) recordInFlight(e clusterEvent) {
	for uid := range q.inFlight {
		q.inFlight[uid] = append(q.inFlight[uid], e)
	}
}

// interested is isEventOfInterest: some plugin registered the event.
func (q *Queue) interested(event fwk.ClusterEvent) bool {
	if framework.ClusterEventIsWildCard(event) {
		return true
	}
	for e := range q.fw.hints {
		if framework.MatchClusterEvents(e, event) {
			return true
		}
	}
	return false
}

// Pop takes the next pod to schedule: the head of activeQ or, when activeQ is empty, the head of
// backoffQ (SchedulerPopFromBackoffQ, beta and on in v1.37). It reports false when there is none.
func (q *Queue) Pop(now time.Time) (*queuedPod, bool) {
	var qp *queuedPod
	switch {
	case len(q.active) > 0:
		qp = q.head(q.active, q.lessActive)
		delete(q.active, key(qp.pod))
	case len(q.backoff) > 0:
		qp = q.head(q.backoff, func(a, b *queuedPod) bool {
			ba, bb := q.backoffTime(a), q.backoffTime(b)
			if !ba.Equal(bb) {
				return ba.Before(bb)
			}
			return q.lessActive(a, b)
		})
		delete(q.backoff, key(qp.pod))
	default:
		return nil, false
	}
	qp.attempts++
	if qp.initialAttempt.IsZero() {
		qp.initialAttempt = now
	}
	q.inFlight[qp.pod.UID] = nil
	return qp, true
}

// Done ends the in-flight tracking of a popped pod.
func (q *Queue) Done(uid types.UID) { delete(q.inFlight, uid) }

// lessActive is the PrioritySort plugin: higher priority first, then earlier queued.
func (q *Queue) lessActive(a, b *queuedPod) bool {
	pa, pb := corev1helpers.PodPriority(a.pod), corev1helpers.PodPriority(b.pod)
	if pa != pb {
		return pa > pb
	}
	return a.timestamp.Before(b.timestamp)
}

func (q *Queue) head(m map[string]*queuedPod, less func(a, b *queuedPod) bool) *queuedPod {
	var best *queuedPod
	for _, k := range sortedKeys(m) {
		if qp := m[k]; best == nil || less(qp, best) {
			best = qp
		}
	}
	return best
}

// AddUnschedulable is AddUnschedulablePodIfNotPresent: a popped pod failed to schedule. r is the
// cycle's result; pod is the latest version of the pod, which replaces the queued one.
func (q *Queue) AddUnschedulable(qp *queuedPod, pod *v1.Pod, r Result, now time.Time) {
	defer q.Done(qp.pod.UID)
	qp.pod = pod
	qp.unschedulablePlugins = sets.New[string]()
	qp.pendingPlugins = sets.New[string]()
	if r.UnschedulablePlugins != nil {
		qp.unschedulablePlugins = r.UnschedulablePlugins.Clone()
	}
	if r.PendingPlugins != nil {
		qp.pendingPlugins = r.PendingPlugins.Clone()
	}
	if qp.unschedulablePlugins.Len() == 0 && qp.pendingPlugins.Len() == 0 {
		qp.consecutiveErrors++
	} else {
		qp.unschedulableCount++
		qp.consecutiveErrors = 0
	}
	qp.timestamp = now
	qp.backoffExpiration = time.Time{}
	qp.flushed = false
	qp.flushTimestamp = time.Time{}
	q.requeue(qp, q.hintForInFlight(qp), now)
}

// hintForInFlight is determineSchedulingHintForInFlightPod: did anything happen while the pod was
// being scheduled that may make it schedulable?
func (q *Queue) hintForInFlight(qp *queuedPod) strategy {
	if qp.unschedulablePlugins.Len() == 0 && qp.pendingPlugins.Len() == 0 {
		return queueAfterBackoff
	}
	result := queueSkip
	for _, e := range q.inFlight[qp.pod.UID] {
		switch q.worthRequeuing(qp, e.event, e.oldObj, e.newObj) {
		case queueImmediately:
			return queueImmediately
		case queueAfterBackoff:
			result = queueAfterBackoff
			if qp.pendingPlugins.Len() == 0 {
				return queueAfterBackoff
			}
		}
	}
	return result
}

// worthRequeuing is isPodWorthRequeuing: ask the queueing hints of the plugins that rejected the pod.
func (q *Queue) worthRequeuing(qp *queuedPod, event fwk.ClusterEvent, oldObj, newObj interface{}) strategy {
	rejectors := qp.unschedulablePlugins.Union(qp.pendingPlugins)
	if rejectors.Len() == 0 {
		return queueAfterBackoff
	}
	if framework.ClusterEventIsWildCard(event) {
		if newObj != nil {
			if p, ok := newObj.(*v1.Pod); !ok || p.UID != qp.pod.UID {
				return queueSkip
			}
		}
		return queueAfterBackoff
	}
	logger := klog.Background()
	result := queueSkip
	for _, e := range q.sortedHintEvents() {
		if !framework.MatchClusterEvents(e, event) {
			continue
		}
		for _, h := range q.fw.hints[e] {
			if !rejectors.Has(h.plugin) {
				continue
			}
			hint, err := h.fn(logger, qp.pod, oldObj, newObj)
			if err != nil {
				hint = fwk.Queue
			}
			if hint == fwk.QueueSkip {
				continue
			}
			if qp.pendingPlugins.Has(h.plugin) {
				return queueImmediately
			}
			if qp.pendingPlugins.Len() == 0 {
				return queueAfterBackoff
			}
			result = queueAfterBackoff
		}
	}
	return result
}

// sortedHintEvents lists the registered events in a fixed order (upstream ranges over a map).
func (q *Queue) sortedHintEvents() []fwk.ClusterEvent {
	if len(q.hintOrder) != len(q.fw.hints) {
		q.hintOrder = q.hintOrder[:0]
		for e := range q.fw.hints {
			q.hintOrder = append(q.hintOrder, e)
		}
		sort.Slice(q.hintOrder, func(i, j int) bool {
			a, b := q.hintOrder[i], q.hintOrder[j]
			if a.Resource != b.Resource {
				return a.Resource < b.Resource
			}
			return a.ActionType < b.ActionType
		})
	}
	return q.hintOrder
}

// requeue is requeueEntityWithQueueingStrategy; it reports where the pod went.
func (q *Queue) requeue(qp *queuedPod, s strategy, now time.Time) string {
	if s == queueSkip {
		q.unschedulable[key(qp.pod)] = qp
		return "unschedulable"
	}
	if s == queueAfterBackoff && q.backingOff(qp, now) {
		if q.moveToBackoff(qp) {
			return "backoff"
		}
		return "unschedulable"
	}
	if q.moveToActive(qp, now) {
		return "active"
	}
	return "unschedulable"
}

// preEnqueue runs the PreEnqueue plugins (SchedulingGates); a rejection gates the pod.
func (q *Queue) preEnqueue(qp *queuedPod) {
	ctx := context.Background()
	for _, pl := range q.fw.preEnqueue {
		if s := pl.PreEnqueue(ctx, qp.pod); !s.IsSuccess() {
			qp.unschedulablePlugins.Insert(pl.Name())
			qp.gatingPlugin = pl.Name()
			qp.gatingEvents = q.pluginEvents(pl.Name())
			return
		}
	}
	qp.gatingPlugin = ""
	qp.gatingEvents = nil
}

// pluginEvents are the events a plugin registered (pluginToEventsMap).
func (q *Queue) pluginEvents(plugin string) []fwk.ClusterEvent {
	var events []fwk.ClusterEvent
	for _, e := range q.sortedHintEvents() {
		for _, h := range q.fw.hints[e] {
			if h.plugin == plugin {
				events = append(events, e)
				break
			}
		}
	}
	return events
}

// moveToActive is moveToActiveQ: a gated pod goes to the unschedulable pool instead.
func (q *Queue) moveToActive(qp *queuedPod, now time.Time) bool {
	k := key(qp.pod)
	q.preEnqueue(qp)
	if qp.gated() {
		qp.flushed = false
		q.unschedulable[k] = qp
		return false
	}
	if qp.initialAttempt.IsZero() {
		qp.initialAttempt = now
	}
	delete(q.unschedulable, k)
	delete(q.backoff, k)
	delete(q.errorBackoff, k)
	q.active[k] = qp
	return true
}

// moveToBackoff is moveToBackoffQ: PreEnqueue runs on the way in.
func (q *Queue) moveToBackoff(qp *queuedPod) bool {
	k := key(qp.pod)
	q.preEnqueue(qp)
	if qp.gated() {
		qp.flushed = false
		q.unschedulable[k] = qp
		return false
	}
	delete(q.unschedulable, k)
	if qp.unschedulablePlugins.Len() == 0 && qp.pendingPlugins.Len() == 0 {
		delete(q.backoff, k)
		q.errorBackoff[k] = qp
	} else {
		delete(q.errorBackoff, k)
		q.backoff[k] = qp
	}
	return true
}

// backoffTime is backoffQueue.getBackoffTime: the end of the pod's back-off, aligned down to the
// one-second ordering window. Zero means no back-off.
func (q *Queue) backoffTime(qp *queuedPod) time.Time {
	count := qp.unschedulableCount
	if qp.consecutiveErrors > 0 {
		count = qp.consecutiveErrors
	}
	if count == 0 {
		return time.Time{}
	}
	if qp.backoffExpiration.IsZero() {
		qp.backoffExpiration = qp.timestamp.Add(backoffDuration(count)).Truncate(backoffOrderingWindow)
	}
	return qp.backoffExpiration
}

// backoffDuration is calculateBackoffDuration for a single pod: 1s doubling up to 10s.
func backoffDuration(count int) time.Duration {
	shift := count - 1
	if PodInitialBackoff > PodMaxBackoff>>shift {
		return PodMaxBackoff
	}
	return PodInitialBackoff << shift
}

// backingOff is isEntityBackingoff: a back-off that ends in the current ordering window still runs.
func (q *Queue) backingOff(qp *queuedPod, now time.Time) bool {
	return !q.backoffTime(qp).Before(now.Truncate(backoffOrderingWindow))
}

// FlushBackoff is flushBackoffQCompleted, which upstream runs at every whole second: pods whose
// back-off is over go to activeQ.
func (q *Queue) FlushBackoff(now time.Time) {
	for _, m := range []map[string]*queuedPod{q.backoff, q.errorBackoff} {
		for _, k := range sortedKeys(m) {
			qp := m[k]
			if q.backingOff(qp, now) {
				continue
			}
			delete(m, k)
			q.moveToActiveFromBackoff(qp, now)
		}
	}
}

// moveToActiveFromBackoff skips PreEnqueue: it ran when the pod entered backoffQ.
func (q *Queue) moveToActiveFromBackoff(qp *queuedPod, now time.Time) {
	if qp.gated() {
		q.unschedulable[key(qp.pod)] = qp
		return
	}
	if qp.initialAttempt.IsZero() {
		qp.initialAttempt = now
	}
	q.active[key(qp.pod)] = qp
}

// FlushUnschedulable is flushUnschedulableEntitiesLeftover, which upstream runs every 30 seconds:
// pods that stayed in the pool longer than five minutes are retried.
func (q *Queue) FlushUnschedulable(now time.Time) {
	var moved []*queuedPod
	for _, k := range sortedKeys(q.unschedulable) {
		qp := q.unschedulable[k]
		if now.Sub(q.lastScheduleTime(qp)) > PodMaxInUnschedulablePods {
			qp.flushed = true
			qp.flushTimestamp = now
			moved = append(moved, qp)
		}
	}
	event := framework.EventUnschedulableTimeout
	for _, qp := range moved {
		s := q.worthRequeuing(qp, event, nil, nil)
		delete(q.unschedulable, key(qp.pod))
		q.requeue(qp, s, now)
	}
}

func (q *Queue) lastScheduleTime(qp *queuedPod) time.Time {
	if qp.flushTimestamp.After(qp.timestamp) {
		return qp.flushTimestamp
	}
	return qp.timestamp
}

// Pending reports whether a pod is ready to be popped.
func (q *Queue) Pending() bool { return len(q.active) > 0 || len(q.backoff) > 0 }

// NextBackoffFlush is the first whole second at which FlushBackoff moves a pod, or zero.
func (q *Queue) NextBackoffFlush() time.Time {
	var next time.Time
	for _, m := range []map[string]*queuedPod{q.backoff, q.errorBackoff} {
		for _, qp := range m {
			t := q.backoffTime(qp).Add(backoffOrderingWindow)
			if next.IsZero() || t.Before(next) {
				next = t
			}
		}
	}
	return next
}

// NextUnschedulableFlush is the first tick (start + k×30s) at which FlushUnschedulable moves a
// pod, or zero.
func (q *Queue) NextUnschedulableFlush(start time.Time) time.Time {
	var next time.Time
	for _, qp := range q.unschedulable {
		if qp.gated() {
			continue // only a wildcard event could move it, and that would only gate it again
		}
		due := q.lastScheduleTime(qp).Add(PodMaxInUnschedulablePods)
		ticks := due.Sub(start)/unschedulableFlushInterval + 1
		t := start.Add(ticks * unschedulableFlushInterval)
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Shift moves every stored time back by d, as the clock ages the world.
func (q *Queue) Shift(d time.Duration) {
	back := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.Add(-d)
	}
	for _, m := range []map[string]*queuedPod{q.active, q.backoff, q.errorBackoff, q.unschedulable} {
		for _, qp := range m {
			qp.timestamp = back(qp.timestamp)
			qp.initialAttempt = back(qp.initialAttempt)
			qp.backoffExpiration = back(qp.backoffExpiration)
			qp.flushTimestamp = back(qp.flushTimestamp)
		}
	}
}

func sortedKeys(m map[string]*queuedPod) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
