package kubelet

import (
	"fmt"
	"math/rand"
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"

	"kubesim.dev/kubesim/internal/eventname"
)

// Node describes the machine a kubelet runs on.
type Node struct {
	Name         string
	UID          types.UID // the Node object's UID, for events about the node; may be empty
	InternalIP   string    // the node's IP, reported as hostIP of its pods
	PodCIDR      string    // pod IPs are allocated from it, in order, from .2 on
	ControlPlane bool      // a kubeadm control-plane node: runs the static control-plane pods

	CPU    string // capacity, e.g. "4"
	Memory string // capacity, e.g. "8Gi"
}

// Input is something the driver feeds to Step: a pod change or an operation's result.
type Input interface{ isInput() }

// PodUpsert adds a pod bound to this node or replaces the kubelet's copy with a newer version. A
// pod with a deletion timestamp is terminated gracefully.
type PodUpsert struct{ Pod *v1.Pod }

// PodRemoved says that the pod object is gone from the API server.
type PodRemoved struct{ UID types.UID }

func (PodUpsert) isInput()  {}
func (PodRemoved) isInput() {}

// PodStatusUpdate is a pod status to write (the status subresource), complete: conditions owned by
// other components are carried over from the pod the driver last fed. For a static pod the status
// goes to its mirror pod (UID is the mirror pod's), once the driver has fed that mirror pod.
type PodStatusUpdate struct {
	Namespace, Name string
	UID             types.UID
	Status          v1.PodStatus
	Seq             uint64 // the order of status writes and events, which Ready keeps apart
}

// EventRecord is an Event to store: created when Update is false, otherwise an existing event of
// the same name whose count, message and lastTimestamp change (the correlator's patch).
type EventRecord struct {
	Event  *v1.Event
	Update bool
	Seq    uint64 // the order of status writes and events, which Ready keeps apart
}

// PodRef names a pod.
type PodRef struct {
	Namespace, Name string
	UID             types.UID
}

// Ready is what the machine wants done after a Step.
//
// A Step called late (a fast-forward: the driver steps once to the end of a long interval) runs
// everything that fell due in between, in order, and sums it up rather than replaying it. While
// it stops short of its target to wait for operations, its Readys carry only the operations (and
// NextWake); the writes are held back for the Ready that ends the Step (no operation pending, or
// the target reached). There, of the pod statuses and event records made at different moments,
// only those of the latest moment are kept for each pod (by namespace, name and UID) and each
// event (by namespace and name): the earlier ones would be overwritten at once anyway. Records
// made at the same moment are all kept, so a driver that steps at every NextWake gets every
// write, as before. An event whose first record in the Ready was a create is still created: its
// first kept record becomes the create, with the final content (count, message, timestamps).
// Kept records keep their Seq, so the order of status writes and events is the order of the
// moments they were last made at. DeletePods and MirrorPods are kept whole; NodeStatus and
// RenewLease are the last ones.
type Ready struct {
	Ops         []Op
	PodStatuses []PodStatusUpdate
	Events      []EventRecord
	// DeletePods lists pods with a deletion timestamp whose containers have all stopped: the
	// driver finishes deleting them (grace period 0, UID precondition), as the status manager does.
	DeletePods []PodRef
	// MirrorPods are mirror pods of static pods to create.
	MirrorPods []*v1.Pod
	// NodeStatus, when set, is the node status to write.
	NodeStatus *v1.NodeStatus
	// RenewLease, when set, is the renewTime of the node's Lease.
	RenewLease *time.Time
	// NextWake is when Step should be called next (zero: only on input).
	NextWake time.Time
}

// Kubelet is the state machine of one node's kubelet.
type Kubelet struct {
	cfg  Config
	node Node
	rand *rand.Rand

	offset time.Duration // how far the world has been aged (Shift)
	now    time.Time     // the machine's own time line
	start  time.Time

	timers  timerHeap
	seq     uint64
	opSeq   uint64
	outSeq  uint64
	waiting map[uint64]func(OpResult)
	inbox   []Input
	out     Ready
	outAt   outMoments
	target  time.Time // the time the last Step runs to, on the machine's time line

	pods     map[types.UID]*podState
	relist   *timer      // the generic PLEG's next relist, while some pod changed
	podOrder []types.UID // insertion order, for deterministic iteration

	imageBackOff *flowcontrol.Backoff
	crashBackOff *flowcontrol.Backoff
	prevPullErr  map[string]string
	pullLimiter  flowcontrol.RateLimiter // nil: unlimited
	puller       puller
	pulled       map[string]*pullRecord // KEP-2535 pull records, by image ID
	intents      map[string]int         // KEP-2535 pull intents, by image as written

	nodeState nodeState
	gc        imageGC

	events      *record.EventCorrelator
	eventStamps *eventname.Stamper // the nanosecond stamps of event names

	ipam ipam
}

// New returns the kubelet of node, started at now. cfg is defaulted and validated; rnd is the
// cluster's seeded random source.
func New(cfg Config, node Node, rnd *rand.Rand, now time.Time) (*Kubelet, error) {
	cfg.Default()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if node.Name == "" {
		return nil, fmt.Errorf("kubelet: node name is required")
	}
	k := &Kubelet{
		cfg:         cfg,
		node:        node,
		rand:        rnd,
		now:         now,
		start:       now,
		waiting:     map[uint64]func(OpResult){},
		pods:        map[types.UID]*podState{},
		prevPullErr: map[string]string{},
		pulled:      map[string]*pullRecord{},
	}
	clk := monoClock{k}
	// pkg/kubelet/kubelet.go: imageBackOff and crashLoopBackOff.
	k.imageBackOff = flowcontrol.NewBackOff(imageBackOffPeriod, maxImageBackOff)
	k.imageBackOff.Clock = clk
	k.crashBackOff = flowcontrol.NewBackOff(initialCrashLoopBackOff, cfg.CrashLoopBackOff.MaxContainerRestartPeriod.Duration)
	k.crashBackOff.Clock = clk
	k.crashBackOff.HasExpiredFunc = func(eventTime, lastUpdate time.Time, _ time.Duration) bool {
		return eventTime.Sub(lastUpdate) > 600*time.Second
	}
	if qps := ptr.Deref(cfg.RegistryPullQPS, 0); qps > 0 {
		k.pullLimiter = flowcontrol.NewTokenBucketRateLimiterWithClock(float32(qps), int(cfg.RegistryBurst), clk)
	}
	k.puller = newPuller(cfg)
	k.events = record.NewEventCorrelatorWithOptions(record.CorrelatorOptions{Clock: clk})
	k.eventStamps = eventname.New(eventname.Kubelet)
	if node.PodCIDR != "" {
		prefix, err := netip.ParsePrefix(node.PodCIDR)
		if err != nil {
			return nil, fmt.Errorf("kubelet: invalid pod CIDR %q: %w", node.PodCIDR, err)
		}
		k.ipam = newIPAM(prefix)
	}
	k.startNode()
	k.startImageGC()
	return k, nil
}

// Timing constants from pkg/kubelet/kubelet.go and pod_workers.go.
const (
	imageBackOffPeriod      = 10 * time.Second
	maxImageBackOff         = 300 * time.Second
	initialCrashLoopBackOff = 10 * time.Second
	syncErrorBackOff        = 10 * time.Second // backOffPeriod
	workerJitterFactor      = 0.5
	housekeepingPeriod      = time.Second // the sync loop's ticker, which also drains the work queue
	relistPeriod            = time.Second // generic PLEG
)

// Shift ages the machine's view of the world by d: every timestamp it emits from now on is d
// earlier than it would have been. Register it with the cluster clock's OnShift.
func (k *Kubelet) Shift(d time.Duration) { k.offset += d }

// Step feeds inputs at wall time now and returns what to do. Operation results are applied at the
// moment their operations were issued; other inputs at now.
func (k *Kubelet) Step(now time.Time, in ...Input) Ready {
	target := k.mono(now)
	for _, i := range in {
		if r, ok := i.(OpResult); ok {
			if then, ok := k.waiting[r.ID]; ok {
				delete(k.waiting, r.ID)
				then(r)
			}
			continue
		}
		k.inbox = append(k.inbox, i)
	}
	k.target = target
	k.run(target)
	return k.ready()
}

// ready hands out what the Step produced. While a late Step has stopped short of its target to
// wait for operations, only the operations go out: the writes are held back, coalesced as they
// pile up, until the Ready that ends the Step.
func (k *Kubelet) ready() Ready {
	if len(k.waiting) > 0 && k.now.Before(k.target) {
		rd := Ready{Ops: k.out.Ops, NextWake: k.wall(k.now)}
		k.out.Ops = nil
		k.outAt.compact(&k.out)
		return rd
	}
	rd := k.out
	k.out = Ready{}
	k.outAt.coalesce(&rd)
	k.nodeReady(&rd)
	if len(k.waiting) > 0 {
		rd.NextWake = k.wall(k.now)
	} else if k.timers.Len() > 0 {
		rd.NextWake = k.wall(k.timers[0].at)
	}
	return rd
}

func (k *Kubelet) apply(in Input) {
	switch in := in.(type) {
	case PodUpsert:
		k.upsertPod(in.Pod)
	case PodRemoved:
		k.removePod(in.UID)
	}
}
