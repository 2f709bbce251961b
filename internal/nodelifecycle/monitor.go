// Package nodelifecycle is the decision-making of two kube-controller-manager controllers, as
// state machines that own no clock: the node lifecycle controller's health monitoring
// (pkg/controller/nodelifecycle: a node whose kubelet stops renewing its Lease and posting its
// status turns Unknown and gets the unreachable NoExecute taint, rate-limited per zone) in
// Monitor, and the taint eviction controller (pkg/controller/tainteviction: pods that do not
// tolerate a node's NoExecute taints are deleted, at once or after their tolerationSeconds) in
// Eviction.
//
// Upstream measures both with the wall clock. Here a driver (internal/controllers) feeds them the
// informers' objects and the cluster clock's time, wakes them when they ask, and carries out
// their writes through an Effects interface, so that they run at virtual moments and can be
// fast-forwarded.
package nodelifecycle

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodetopology "k8s.io/component-helpers/node/topology"
	taintutils "k8s.io/kubernetes/pkg/util/taints"
)

// Config is the node lifecycle controller's configuration (kube-controller-manager flags).
type Config struct {
	MonitorPeriod          time.Duration // --node-monitor-period
	MonitorGracePeriod     time.Duration // --node-monitor-grace-period
	StartupGracePeriod     time.Duration // --node-startup-grace-period
	EvictionRate           float64       // --node-eviction-rate
	SecondaryEvictionRate  float64       // --secondary-node-eviction-rate
	LargeClusterThreshold  int           // --large-cluster-size-threshold
	UnhealthyZoneThreshold float64       // --unhealthy-zone-threshold
}

// DefaultConfig is kube-controller-manager v1.37's defaults
// (nodelifecycle/config/v1alpha1/defaults.go and options/nodelifecyclecontroller.go).
func DefaultConfig() Config {
	return Config{
		MonitorPeriod:          5 * time.Second,
		MonitorGracePeriod:     50 * time.Second,
		StartupGracePeriod:     60 * time.Second,
		EvictionRate:           0.1,
		SecondaryEvictionRate:  0.01,
		LargeClusterThreshold:  50,
		UnhealthyZoneThreshold: 0.55,
	}
}

// The tainting pass runs this often while nodes wait in a zone's queue
// (nodelifecycle/scheduler.NodeEvictionPeriod); a failed attempt is retried after retryWait.
const (
	evictionPeriod = 100 * time.Millisecond
	retryWait      = 50 * time.Millisecond
)

// The NoExecute taints the controller keeps in step with the Ready condition
// (UnreachableTaintTemplate, NotReadyTaintTemplate).
var (
	UnreachableTaint = v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute}
	NotReadyTaint    = v1.Taint{Key: v1.TaintNodeNotReady, Effect: v1.TaintEffectNoExecute}
)

// The conditions the controller turns Unknown when a node goes silent; NetworkUnavailable is
// the control plane's and stays.
var monitoredConditions = []v1.NodeConditionType{v1.NodeReady, v1.NodeMemoryPressure, v1.NodeDiskPressure, v1.NodePIDPressure}

// The label that keeps a node out of the zone disruption count.
const labelNodeDisruptionExclusion = "node.kubernetes.io/exclude-disruption"

// Effects are the node lifecycle controller's writes. The driver carries them out against the
// API; a write that fails is reported back, as the upstream helpers report it. Writes that
// change a node return it as stored, so that the monitor does not wait for its informer to see
// its own writes.
type Effects interface {
	// UpdateNodeStatus writes node's status (Nodes().UpdateStatus).
	UpdateNodeStatus(node *v1.Node) (*v1.Node, error)
	// GetNode reads the node afresh, to retry a failed status update.
	GetNode(name string) (*v1.Node, error)
	// SwapTaints adds add, each stamped with the current time, and removes del
	// (SwapNodeControllerTaint); it reports success and the node as it is then (nil if unknown).
	SwapTaints(node *v1.Node, add, del []v1.Taint) (*v1.Node, bool)
	// RemoveTaints removes taints from the node if it has them (RemoveTaintOffNode); it returns
	// the node when it changed it.
	RemoveTaints(node *v1.Node, taints ...v1.Taint) (*v1.Node, error)
	// MarkPodsNotReady turns the Ready condition of the node's pods False (MarkPodsNotReady).
	MarkPodsNotReady(node string) error
	// NodeEvent records an event about node: RegisteredNode, RemovingNode (RecordNodeEvent) or
	// NodeNotReady (RecordNodeStatusChange).
	NodeEvent(node *v1.Node, reason string)
}

// The reasons of NodeEvent.
const (
	RegisteredNode = "RegisteredNode"
	RemovingNode   = "RemovingNode"
	NodeNotReady   = "NodeNotReady"
)

// Zone states (nodelifecycle.ZoneState).
const (
	stateInitial           = "Initial"
	stateNormal            = "Normal"
	stateFullDisruption    = "FullDisruption"
	statePartialDisruption = "PartialDisruption"
)

// Monitor is monitorNodeHealth and the NoExecute tainting of the node lifecycle controller.
//
// Upstream runs a health pass every MonitorPeriod and notes, per node, the local time at which it
// last saw the node's Lease renewed or its Ready heartbeat change (the probe timestamp); a node
// whose probe is older than the grace period is marked Unknown. Passes here run at the same
// moments (origin + k·MonitorPeriod), but only those that can change something: after a node
// changed, and when a node's grace period runs out. The probe is the first pass at or after the
// renewal, which is when upstream would have seen it.
type Monitor struct {
	cfg    Config
	origin time.Time // the first pass; passes run at origin + k·MonitorPeriod
	last   time.Time // the last pass's moment, zero before the first
	dirty  time.Time // the pass that must look at a change, zero when none must

	nodes  map[string]*nodeView
	known  map[string]*v1.Node // knownNodeSet: nodes observed by a pass, as first observed
	zones  map[string]*zone    // zoneNoExecuteTainter
	states map[string]string   // zoneStates

	taintAt time.Time // the next tainting pass while some zone's queue waits
}

// nodeView is what the monitor knows of a node.
type nodeView struct {
	node    *v1.Node  // as the informer has it
	renew   time.Time // its Lease's renewTime (zero: no lease)
	leaseRV string    // the version of the Lease renew comes from
	floor   time.Time // the probe's lower bound: when the node was first seen, or the last reset
	// ready is the Ready condition the last pass left (nodeHealth.status); nil before the first
	// pass or while the kubelet never posted one.
	ready  *v1.NodeCondition
	probed bool // a pass has seen the node (nodeHealth exists)
	retry  bool // nodesToRetry
}

// NewMonitor returns a monitor whose first pass is at start.
func NewMonitor(cfg Config, start time.Time) *Monitor {
	return &Monitor{cfg: cfg, origin: start, dirty: start, nodes: map[string]*nodeView{},
		known: map[string]*v1.Node{}, zones: map[string]*zone{}, states: map[string]string{}}
}

// NodeChanged feeds a node as added or updated at now; the next pass looks at it.
func (m *Monitor) NodeChanged(now time.Time, node *v1.Node) {
	if m.observe(node) {
		m.markDirty(now)
	}
}

// NodeDeleted says the node is gone at now.
func (m *Monitor) NodeDeleted(now time.Time, name string) {
	if v, ok := m.nodes[name]; ok && v.node != nil {
		v.node = nil
		m.markDirty(now)
	}
}

// observe keeps node as the monitor's copy unless its copy is newer (its own write, seen before
// the informer delivered an earlier change); it reports whether it kept it.
func (m *Monitor) observe(node *v1.Node) bool {
	v := m.view(node.Name)
	if v.node != nil && olderVersion(node.ResourceVersion, v.node.ResourceVersion) {
		return false
	}
	v.node = node
	return true
}

// olderVersion reports whether resourceVersion a is older than b. kubesim's store numbers its
// versions; anything else is taken as newer.
func olderVersion(a, b string) bool {
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil && x < y
}

// markDirty asks for a pass at the first pass moment at or after now.
func (m *Monitor) markDirty(now time.Time) {
	t := m.tickAtOrAfter(now)
	if !m.last.IsZero() && !t.After(m.last) {
		t = m.tickAfter(m.last)
	}
	if m.dirty.IsZero() || t.Before(m.dirty) {
		m.dirty = t
	}
}

// LeaseChanged feeds a node Lease (kube-node-lease). A renewal only moves the node's deadline
// later, so it does not call for a pass by itself.
func (m *Monitor) LeaseChanged(lease *coordinationv1.Lease) {
	v := m.view(lease.Name)
	if olderVersion(lease.ResourceVersion, v.leaseRV) {
		return
	}
	v.renew, v.leaseRV = time.Time{}, lease.ResourceVersion
	if lease.Spec.RenewTime != nil {
		v.renew = lease.Spec.RenewTime.Time
	}
}

func (m *Monitor) view(name string) *nodeView {
	v, ok := m.nodes[name]
	if !ok {
		v = &nodeView{}
		m.nodes[name] = v
	}
	return v
}

// Ready is the node's Ready condition as the last pass left it (nodeHealth.status), nil when the
// monitor has no health data for it.
func (m *Monitor) Ready(name string) *v1.NodeCondition {
	if v, ok := m.nodes[name]; ok && v.probed {
		return v.ready
	}
	return nil
}

// Shift ages the monitor's times by d, as the clock ages the world.
func (m *Monitor) Shift(d time.Duration) {
	m.origin = m.origin.Add(-d)
	m.last = shiftTime(m.last, d)
	m.dirty = shiftTime(m.dirty, d)
	m.taintAt = shiftTime(m.taintAt, d)
	for _, v := range m.nodes {
		v.renew = shiftTime(v.renew, d)
		v.floor = shiftTime(v.floor, d)
		if v.node != nil {
			// The informer's copy until the store's aged one arrives.
			v.node = shiftNode(v.node, d)
		}
		if v.ready != nil {
			v.ready.LastHeartbeatTime.Time = shiftTime(v.ready.LastHeartbeatTime.Time, d)
			v.ready.LastTransitionTime.Time = shiftTime(v.ready.LastTransitionTime.Time, d)
		}
	}
	for _, z := range m.zones {
		z.shift(d)
	}
}

func shiftTime(t time.Time, d time.Duration) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(-d)
}

// shiftNode returns a copy of node with the times the monitor reads aged by d.
func shiftNode(node *v1.Node, d time.Duration) *v1.Node {
	node = node.DeepCopy()
	node.CreationTimestamp.Time = shiftTime(node.CreationTimestamp.Time, d)
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		c.LastHeartbeatTime.Time = shiftTime(c.LastHeartbeatTime.Time, d)
		c.LastTransitionTime.Time = shiftTime(c.LastTransitionTime.Time, d)
	}
	return node
}

// tickAtOrBefore is the last pass moment at or before t (zero before the first).
func (m *Monitor) tickAtOrBefore(t time.Time) time.Time {
	if t.Before(m.origin) {
		return time.Time{}
	}
	return m.origin.Add(t.Sub(m.origin) / m.cfg.MonitorPeriod * m.cfg.MonitorPeriod)
}

// tickAtOrAfter is the first pass moment at or after t.
func (m *Monitor) tickAtOrAfter(t time.Time) time.Time {
	return alignUp(m.origin, m.cfg.MonitorPeriod, t, false)
}

// tickAfter is the first pass moment strictly after t.
func (m *Monitor) tickAfter(t time.Time) time.Time {
	return alignUp(m.origin, m.cfg.MonitorPeriod, t, true)
}

// alignUp is the first moment origin + k·period (k ≥ 0) at or (strict) after t.
func alignUp(origin time.Time, period time.Duration, t time.Time, strict bool) time.Time {
	if t.Before(origin) {
		return origin
	}
	k := t.Sub(origin) / period
	at := origin.Add(k * period)
	if at.Before(t) || (strict && at.Equal(t)) {
		at = at.Add(period)
	}
	return at
}

// NextWake is when the monitor wants Wake called: the next pass it needs or the next tainting
// pass; zero when nothing is due.
func (m *Monitor) NextWake() time.Time {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	// A pass moment runs at most one pass.
	pass := func(t time.Time) {
		if !t.IsZero() && !m.last.IsZero() && !t.After(m.last) {
			t = m.tickAfter(m.last)
		}
		earliest(t)
	}
	pass(m.dirty)
	if m.anyRetry() {
		pass(m.tickAfter(m.last))
	}
	for _, v := range m.nodes {
		pass(m.deadline(v))
	}
	earliest(m.taintAt)
	return next
}

func (m *Monitor) anyRetry() bool {
	for _, v := range m.nodes {
		if v.retry {
			return true
		}
	}
	return false
}

// probe is the node's probe timestamp: the pass that first saw its latest sign of life.
func (m *Monitor) probe(v *nodeView) time.Time {
	p := v.floor
	if _, ready := getCondition(&v.node.Status, v1.NodeReady); ready != nil && !ready.LastHeartbeatTime.IsZero() {
		if t := m.tickAtOrAfter(ready.LastHeartbeatTime.Time); t.After(p) {
			p = t
		}
	}
	if !v.renew.IsZero() {
		if t := m.tickAtOrAfter(v.renew); t.After(p) {
			p = t
		}
	}
	return p
}

func (m *Monitor) gracePeriod(node *v1.Node) time.Duration {
	if _, ready := getCondition(&node.Status, v1.NodeReady); ready == nil {
		return m.cfg.StartupGracePeriod
	}
	return m.cfg.MonitorGracePeriod
}

// deadline is the pass at which the node turns out stale, if that would change a condition.
func (m *Monitor) deadline(v *nodeView) time.Time {
	if v.node == nil || !v.probed {
		return time.Time{} // a new node makes the monitor dirty; a pass sees it first
	}
	changes := false
	for _, t := range monitoredConditions {
		if _, c := getCondition(&v.node.Status, t); c == nil || c.Status != v1.ConditionUnknown {
			changes = true
		}
	}
	if !changes {
		return time.Time{}
	}
	return m.tickAfter(m.probe(v).Add(m.gracePeriod(v.node)))
}

// Wake runs what is due at now: the health pass of the latest pass moment if the monitor needs
// it, and the tainting pass if it is due.
func (m *Monitor) Wake(now time.Time, fx Effects) {
	if tick := m.tickAtOrBefore(now); m.passDue(tick) {
		m.pass(now, tick, fx)
	}
	if !m.taintAt.IsZero() && !now.Before(m.taintAt) {
		m.taintPass(now, fx)
	}
}

func (m *Monitor) passDue(tick time.Time) bool {
	if tick.IsZero() || (!m.last.IsZero() && !tick.After(m.last)) {
		return false
	}
	if (!m.dirty.IsZero() && !tick.Before(m.dirty)) || m.anyRetry() {
		return true
	}
	for _, v := range m.nodes {
		if d := m.deadline(v); !d.IsZero() && !tick.Before(d) {
			return true
		}
	}
	return false
}

// pass is monitorNodeHealth, at now (the pass moment tick, or a little later when the driver's
// clock runs in real time).
func (m *Monitor) pass(now, tick time.Time, fx Effects) {
	m.last, m.dirty = tick, time.Time{}
	var nodes []*v1.Node
	for _, name := range m.names() {
		if v := m.nodes[name]; v.node != nil {
			nodes = append(nodes, v.node)
		}
	}
	added, deleted, newZones := m.classify(nodes)
	for _, n := range newZones {
		m.addZone(n, now)
	}
	for _, n := range added {
		fx.NodeEvent(n, RegisteredNode)
		m.known[n.Name] = n
		m.addZone(n, now)
		m.markReachable(n, fx)
	}
	for _, n := range deleted {
		fx.NodeEvent(n, RemovingNode)
		delete(m.known, n.Name)
		if v, ok := m.nodes[n.Name]; ok && v.node == nil {
			delete(m.nodes, n.Name)
		}
	}
	zoneConditions := map[string][]*v1.NodeCondition{}
	for _, n := range nodes {
		m.updateNode(now, n, fx, zoneConditions)
	}
	m.handleDisruption(now, zoneConditions, nodes, fx)
}

func (m *Monitor) names() []string {
	names := make([]string, 0, len(m.nodes))
	for name := range m.nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// classify is classifyNodes.
func (m *Monitor) classify(nodes []*v1.Node) (added, deleted, newZones []*v1.Node) {
	present := map[string]bool{}
	for _, n := range nodes {
		present[n.Name] = true
		if _, ok := m.known[n.Name]; !ok {
			added = append(added, n)
		} else if _, ok := m.states[nodetopology.GetZoneKey(n)]; !ok {
			newZones = append(newZones, n)
		}
	}
	var gone []string
	for name := range m.known {
		if !present[name] {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		deleted = append(deleted, m.known[name])
	}
	return added, deleted, newZones
}

// updateNode is one node's part of a pass (monitorNodeHealth's updateNodeFunc).
func (m *Monitor) updateNode(now time.Time, node *v1.Node, fx Effects, zoneConditions map[string][]*v1.NodeCondition) {
	v := m.nodes[node.Name]
	var observed v1.NodeCondition
	var current *v1.NodeCondition
	var err error
	for try := 0; try < nodeHealthUpdateRetry; try++ {
		if observed, current, err = m.tryUpdateHealth(now, v, node.DeepCopy(), fx); err == nil {
			break
		}
		if node, err = fx.GetNode(node.Name); err != nil {
			break
		}
	}
	if err != nil {
		return // "Update health of Node from Controller error, Skipping - no pods will be evicted"
	}
	if _, excluded := node.Labels[labelNodeDisruptionExclusion]; !excluded {
		zone := nodetopology.GetZoneKey(node)
		zoneConditions[zone] = append(zoneConditions[zone], current)
	}
	if current != nil {
		m.processTaintBasedEviction(now, node, current, fx)
		switch {
		case current.Status != v1.ConditionTrue && observed.Status == v1.ConditionTrue:
			fx.NodeEvent(node, NodeNotReady)
			fallthrough
		case v.retry && observed.Status != v1.ConditionTrue:
			if err := fx.MarkPodsNotReady(node.Name); err != nil {
				v.retry = true
				return
			}
		}
	}
	v.retry = false
}

// nodeHealthUpdateRetry is how often a pass tries to write a node's health
// (nodelifecycle/scheduler.NodeHealthUpdateRetry).
const nodeHealthUpdateRetry = 5

// tryUpdateHealth is tryUpdateNodeHealth: it returns the Ready condition as observed and as it
// is now, after marking a silent node's conditions Unknown.
func (m *Monitor) tryUpdateHealth(now time.Time, v *nodeView, node *v1.Node, fx Effects) (v1.NodeCondition, *v1.NodeCondition, error) {
	var observed v1.NodeCondition
	_, current := getCondition(&node.Status, v1.NodeReady)
	if current == nil {
		// Never posted: a stand-in condition as of the node's creation.
		observed = v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionUnknown,
			LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: node.CreationTimestamp}
		if !v.probed {
			v.floor = node.CreationTimestamp.Time
		}
	} else {
		observed = *current
		if !v.probed || v.ready == nil {
			// "Missing timestamp for Node" / "Creating timestamp entry for newly observed Node".
			v.floor = now
		}
	}
	v.probed = true
	v.ready = copyCondition(current)
	probe := m.probe(&nodeView{node: node, renew: v.renew, floor: v.floor})
	if !now.After(probe.Add(m.gracePeriod(node))) {
		return observed, current, nil
	}
	stamp := metav1.NewTime(now)
	for _, t := range monitoredConditions {
		_, c := getCondition(&node.Status, t)
		if c == nil {
			node.Status.Conditions = append(node.Status.Conditions, v1.NodeCondition{
				Type: t, Status: v1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
				Message:           "Kubelet never posted node status.",
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: stamp,
			})
		} else if c.Status != v1.ConditionUnknown {
			c.Status, c.Reason, c.Message, c.LastTransitionTime =
				v1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.", stamp
		}
	}
	_, current = getCondition(&node.Status, v1.NodeReady)
	if !apiequality.Semantic.DeepEqual(current, &observed) {
		updated, err := fx.UpdateNodeStatus(node)
		if err != nil {
			return observed, current, err
		}
		m.observe(updated)
		v.ready = copyCondition(current)
	}
	return observed, current, nil
}

func copyCondition(c *v1.NodeCondition) *v1.NodeCondition {
	if c == nil {
		return nil
	}
	cc := *c
	return &cc
}

func getCondition(status *v1.NodeStatus, t v1.NodeConditionType) (int, *v1.NodeCondition) {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return i, &status.Conditions[i]
		}
	}
	return -1, nil
}

// processTaintBasedEviction is processTaintBaseEviction: a node that is not Ready waits in its
// zone's queue for the NoExecute taint (or swaps the opposite one at once); a Ready one loses
// both.
func (m *Monitor) processTaintBasedEviction(now time.Time, node *v1.Node, ready *v1.NodeCondition, fx Effects) {
	switch ready.Status {
	case v1.ConditionFalse:
		if taintutils.TaintExists(node.Spec.Taints, &UnreachableTaint) {
			m.swap(node, NotReadyTaint, UnreachableTaint, fx)
		} else {
			m.markForTainting(now, node, v1.ConditionFalse)
		}
	case v1.ConditionUnknown:
		if taintutils.TaintExists(node.Spec.Taints, &NotReadyTaint) {
			m.swap(node, UnreachableTaint, NotReadyTaint, fx)
		} else {
			m.markForTainting(now, node, v1.ConditionUnknown)
		}
	case v1.ConditionTrue:
		m.markReachable(node, fx)
	}
}

// swap replaces a NoExecute condition taint by the other one.
func (m *Monitor) swap(node *v1.Node, add, del v1.Taint, fx Effects) bool {
	updated, ok := fx.SwapTaints(node, []v1.Taint{add}, []v1.Taint{del})
	if updated != nil {
		m.observe(updated)
	}
	return ok
}

// markForTainting is markNodeForTainting: the node joins its zone's queue unless it is there
// already; a node that lost its taint is queued anew.
func (m *Monitor) markForTainting(now time.Time, node *v1.Node, status v1.ConditionStatus) {
	z := m.zones[nodetopology.GetZoneKey(node)]
	if status == v1.ConditionFalse && !taintutils.TaintExists(node.Spec.Taints, &NotReadyTaint) ||
		status == v1.ConditionUnknown && !taintutils.TaintExists(node.Spec.Taints, &UnreachableTaint) {
		z.queue.remove(node.Name)
	}
	if z.queue.add(node.Name, string(node.UID), now) {
		m.armTainting(now.Add(evictionPeriod))
	}
}

// markReachable is markNodeAsReachable: the NoExecute condition taints go and the node leaves its
// zone's queue.
func (m *Monitor) markReachable(node *v1.Node, fx Effects) {
	for _, t := range []v1.Taint{UnreachableTaint, NotReadyTaint} {
		updated, err := fx.RemoveTaints(node, t)
		if err != nil {
			return
		}
		if updated != nil {
			m.observe(updated)
			node = updated
		}
	}
	if z, ok := m.zones[nodetopology.GetZoneKey(node)]; ok {
		z.queue.remove(node.Name)
	}
}

func (m *Monitor) armTainting(t time.Time) {
	if m.taintAt.IsZero() || t.Before(m.taintAt) {
		m.taintAt = t
	}
}

// taintPass is doNoExecuteTaintingPass: each zone's queue, as far as its rate limiter allows.
func (m *Monitor) taintPass(now time.Time, fx Effects) {
	m.taintAt = time.Time{}
	for _, name := range m.zoneNames() {
		z := m.zones[name]
		z.try(now, func(node string) (bool, time.Duration) {
			v, ok := m.nodes[node]
			if !ok || v.node == nil {
				return true, 0 // "Node no longer present in nodeLister"
			}
			_, ready := getCondition(&v.node.Status, v1.NodeReady)
			if ready == nil {
				return false, retryWait
			}
			switch ready.Status {
			case v1.ConditionFalse:
				return m.swap(v.node, NotReadyTaint, UnreachableTaint, fx), 0
			case v1.ConditionUnknown:
				return m.swap(v.node, UnreachableTaint, NotReadyTaint, fx), 0
			default:
				return true, 0 // "Node was in a taint queue, but it's ready now"
			}
		})
		if next := z.nextTry(now); !next.IsZero() {
			// The pass runs every evictionPeriod; the first one that can do something.
			m.armTainting(alignUp(now, evictionPeriod, next, false))
		}
	}
}

func (m *Monitor) zoneNames() []string {
	names := make([]string, 0, len(m.zones))
	for name := range m.zones {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// addZone is addPodEvictorForNewZone: a zone without a state starts anew.
func (m *Monitor) addZone(node *v1.Node, now time.Time) {
	key := nodetopology.GetZoneKey(node)
	if _, ok := m.states[key]; !ok {
		m.states[key] = stateInitial
		m.zones[key] = &zone{limiter: newBucket(m.cfg.EvictionRate, now), queue: &timedQueue{}}
	}
}

// handleDisruption adjusts each zone's tainting rate to its health and stops all tainting when
// every node of every zone is down (the control plane is the likelier culprit then).
func (m *Monitor) handleDisruption(now time.Time, zoneConditions map[string][]*v1.NodeCondition, nodes []*v1.Node, fx Effects) {
	newStates := map[string]string{}
	allAreFullyDisrupted := true
	for _, name := range sortedKeys(zoneConditions) {
		state := m.zoneState(zoneConditions[name])
		if state != stateFullDisruption {
			allAreFullyDisrupted = false
		}
		newStates[name] = state
		if _, ok := m.states[name]; !ok {
			m.states[name] = stateInitial // "Setting initial state for unseen zone"
		}
		if _, ok := m.zones[name]; !ok {
			m.zones[name] = &zone{limiter: newBucket(m.cfg.EvictionRate, now), queue: &timedQueue{}}
		}
	}
	allWasFullyDisrupted := true
	for _, name := range sortedKeys(m.states) {
		if _, ok := zoneConditions[name]; !ok {
			delete(m.states, name)
			continue
		}
		if m.states[name] != stateFullDisruption {
			allWasFullyDisrupted = false
			break
		}
	}
	if allAreFullyDisrupted && allWasFullyDisrupted {
		return
	}
	if allAreFullyDisrupted {
		// "Controller detected that all Nodes are not-Ready. Entering master disruption mode"
		for _, n := range nodes {
			m.markReachable(n, fx)
		}
		for name := range m.states {
			m.zones[name].limiter.swap(0, now)
			m.states[name] = stateFullDisruption
		}
		return
	}
	if allWasFullyDisrupted {
		// "Controller detected that some Nodes are Ready. Exiting master disruption mode": every
		// node gets a fresh probe.
		for _, n := range nodes {
			if v, ok := m.nodes[n.Name]; ok {
				v.floor = now
			}
		}
		for _, name := range sortedKeys(m.states) {
			m.setZoneLimiter(name, len(zoneConditions[name]), newStates[name], now)
			m.states[name] = newStates[name]
		}
		return
	}
	for _, name := range sortedKeys(m.states) {
		if m.states[name] == newStates[name] {
			continue
		}
		m.setZoneLimiter(name, len(zoneConditions[name]), newStates[name], now)
		m.states[name] = newStates[name]
	}
}

// zoneState is ComputeZoneState.
func (m *Monitor) zoneState(conditions []*v1.NodeCondition) string {
	ready, notReady := 0, 0
	for _, c := range conditions {
		if c != nil && c.Status == v1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return stateFullDisruption
	case notReady > 2 && float64(notReady)/float64(notReady+ready) >= m.cfg.UnhealthyZoneThreshold:
		return statePartialDisruption
	default:
		return stateNormal
	}
}

// setZoneLimiter is setLimiterInZone with HealthyQPSFunc and ReducedQPSFunc.
func (m *Monitor) setZoneLimiter(name string, size int, state string, now time.Time) {
	z := m.zones[name]
	switch state {
	case stateNormal, stateFullDisruption:
		z.limiter.swap(m.cfg.EvictionRate, now)
	case statePartialDisruption:
		qps := 0.0
		if size > m.cfg.LargeClusterThreshold {
			qps = m.cfg.SecondaryEvictionRate
		}
		z.limiter.swap(qps, now)
	}
	if !z.queue.empty() {
		m.armTainting(alignUp(now, evictionPeriod, now, true))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// String describes the monitor's state for transcripts.
func (m *Monitor) String() string {
	s := ""
	for _, name := range m.zoneNames() {
		z := m.zones[name]
		s += fmt.Sprintf("zone %q: %s, %.2f/s, queue %v\n", name, m.states[name], z.limiter.qps, z.queue.names())
	}
	return s
}
