// Package node runs a simulated node: its container runtime (internal/runtime) and its kubelet
// (internal/kubelet, a state machine that does no I/O), with the driver that connects the kubelet
// to the cluster's API as a real one is connected: it registers the Node and its Lease, watches the
// pods bound to the node, feeds them to the machine, carries out the machine's runtime operations,
// writes pod status, events and node status, and wakes the machine when it asks to be woken.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	nodeutil "k8s.io/component-helpers/node/util"
	"k8s.io/klog/v2"
	podutil "k8s.io/kubernetes/pkg/util/pod"
	k8sclock "k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/kubelet"
	"kubesim.dev/kubesim/internal/runtime"
)

// Config describes a node to start.
type Config struct {
	Machine kubelet.Node   // name, addresses, pod CIDR, capacity, control-plane role
	Kubelet kubelet.Config // the kubelet's configuration (KubeletConfiguration field names)
	Runtime *runtime.Runtime
	Client  *rest.Config // the kubelet's API client (in-process)
	Clock   *clock.Clock
	Rand    *rand.Rand
}

// Node is a running simulated node.
type Node struct {
	Name    string
	Runtime *runtime.Runtime

	client kubernetes.Interface
	clock  *clock.Clock
	ctx    context.Context

	mu       sync.Mutex // serializes Steps and their I/O
	machine  *kubelet.Kubelet
	wake     k8sclock.Timer
	wakeAt   time.Time
	statuses map[types.UID]v1.PodStatus // the last status written per pod
	node     *v1.Node                   // the Node object as last written
	lease    *coordinationv1.Lease
	config   kubelet.Config
	busy     atomic.Int64 // informer events not yet fed to the machine
	stopped  atomic.Bool
	pods     cache.Store // the pods bound to the node, as the informer has them

	seenMu sync.Mutex
	seen   map[string]string // namespace/name → resourceVersion of each pod change fed to the machine

	// kubeletStopped: the kubelet process is stopped (StopKubelet). The machine still runs (its
	// containers do), but nothing it asks to write is written and it sees no pod changes: those
	// are held until StartKubelet.
	kubeletStopped bool
	held           []kubelet.Input
}

// Start registers the node with the API server and starts its kubelet.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	client, err := kubernetes.NewForConfig(cfg.Client)
	if err != nil {
		return nil, err
	}
	cfg.Kubelet.Default()
	machine, err := kubelet.New(cfg.Kubelet, cfg.Machine, cfg.Rand, cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	n := &Node{
		Name:     cfg.Machine.Name,
		Runtime:  cfg.Runtime,
		client:   client,
		clock:    cfg.Clock,
		ctx:      ctx,
		machine:  machine,
		statuses: map[types.UID]v1.PodStatus{},
		config:   cfg.Kubelet,
	}
	if err := n.register(ctx); err != nil {
		return nil, fmt.Errorf("registering node %s: %w", n.Name, err)
	}
	cfg.Clock.OnShift(func(d time.Duration) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.machine.Shift(d)
		// The clock moved the wake-up timer with the world; wakeAt names it in the new frame.
		if !n.wakeAt.IsZero() {
			n.wakeAt = n.wakeAt.Add(-d)
		}
	})
	n.step()
	if err := n.watchPods(ctx); err != nil {
		return nil, err
	}
	go func() {
		<-ctx.Done()
		n.stopped.Store(true)
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.wake != nil {
			n.wake.Stop()
		}
	}()
	return n, nil
}

// register creates the Node object, as the kubelet's registerWithAPIServer does, and its Lease.
func (n *Node) register(ctx context.Context) error {
	obj := n.machine.NodeObject()
	created, err := n.client.CoreV1().Nodes().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = n.client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	n.node = created
	return nil
}

// watchPods feeds the machine every change of the pods bound to this node.
func (n *Node) watchPods(ctx context.Context) error {
	factory := informers.NewSharedInformerFactoryWithOptions(n.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", n.Name).String()
		}))
	inf := factory.Core().V1().Pods().Informer()
	n.seen = map[string]string{}
	feed := func(in kubelet.Input, pod *v1.Pod, removed bool) {
		n.busy.Add(1)
		defer n.busy.Add(-1)
		n.step(in)
		n.seenMu.Lock()
		defer n.seenMu.Unlock()
		if key := pod.Namespace + "/" + pod.Name; removed {
			delete(n.seen, key)
		} else {
			n.seen[key] = pod.ResourceVersion
		}
	}
	upsert := func(obj any) {
		pod := obj.(*v1.Pod)
		feed(kubelet.PodUpsert{Pod: pod}, pod, false)
	}
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    upsert,
		UpdateFunc: func(_, obj any) { upsert(obj) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				feed(kubelet.PodRemoved{UID: pod.UID}, pod, true)
			}
		},
	})
	if err != nil {
		return err
	}
	n.pods = inf.GetStore()
	factory.Start(ctx.Done())
	return nil
}

// StopKubelet stops the node's kubelet, as `systemctl stop kubelet` does: it no longer renews its
// Lease, posts node or pod status, records events or acts on pod changes. The containers keep
// running. The node lifecycle controller sees the node go silent.
func (n *Node) StopKubelet() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.kubeletStopped = true
}

// StartKubelet starts a stopped kubelet again, as `systemctl start kubelet` does: it reads its
// Node, reports the node's conditions afresh, renews its Lease, acts on the pod changes it missed
// and writes every pod's status again (kubelet.Kubelet.Restart).
func (n *Node) StartKubelet() error {
	n.mu.Lock()
	if !n.kubeletStopped {
		n.mu.Unlock()
		return nil
	}
	node, err := n.client.CoreV1().Nodes().Get(n.ctx, n.Name, metav1.GetOptions{})
	if err != nil {
		n.mu.Unlock()
		return err
	}
	// The next writes patch what the API server has now.
	n.node = node
	for _, obj := range n.pods.List() {
		if pod, ok := obj.(*v1.Pod); ok {
			if _, written := n.statuses[pod.UID]; written {
				n.statuses[pod.UID] = pod.Status
			}
		}
	}
	n.machine.Restart(n.clock.Now(), node)
	n.kubeletStopped = false
	held := n.held
	n.held = nil
	n.mu.Unlock()
	n.step(held...)
	return nil
}

// KubeletRunning reports whether the node's kubelet runs (it is not stopped).
func (n *Node) KubeletRunning() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.kubeletStopped
}

// SeenPods is the resourceVersion of each pod bound to the node, as last fed to the machine (by
// namespace/name). With the API's own versions it tells whether the kubelet has caught up.
func (n *Node) SeenPods() map[string]string {
	n.seenMu.Lock()
	defer n.seenMu.Unlock()
	return maps.Clone(n.seen)
}

// Idle reports whether every pod change the informer received has been fed to the machine.
func (n *Node) Idle() bool { return n.busy.Load() == 0 }

// Config is the node's kubelet configuration, as /configz shows it.
func (n *Node) Config() kubelet.Config { return n.config }

// step feeds inputs to the machine at the current time, carries out everything it asks for, and
// schedules its next wake-up.
func (n *Node) step(in ...kubelet.Input) {
	if n.stopped.Load() {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.kubeletStopped {
		n.held = append(n.held, in...)
		in = nil
	}
	now := n.clock.Now()
	if end, ok := n.clock.ReplayEnd(); ok && len(in) == 0 {
		// A fast-forward: the machine runs everything due until its end in one Step (its own
		// timers stay in order; its output carries their own moments).
		now = end
	}
	var out kubelet.Ready
	rd := n.machine.Step(now, in...)
	for {
		merge(&out, rd)
		if len(rd.Ops) == 0 {
			break
		}
		results := kubelet.Execute(n.ctx, n.Runtime, n.getSecret, rd.Ops)
		rd = n.machine.Step(now, results...)
	}
	out.NextWake = rd.NextWake
	coalesce(&out)
	if !n.kubeletStopped {
		n.write(out)
	}
	n.schedule(out.NextWake)
}

// merge adds what a follow-up Step returned to what the first one did.
func merge(into *kubelet.Ready, rd kubelet.Ready) {
	into.PodStatuses = append(into.PodStatuses, rd.PodStatuses...)
	into.Events = append(into.Events, rd.Events...)
	into.DeletePods = append(into.DeletePods, rd.DeletePods...)
	into.MirrorPods = append(into.MirrorPods, rd.MirrorPods...)
	if rd.NodeStatus != nil {
		into.NodeStatus = rd.NodeStatus
	}
	if rd.RenewLease != nil {
		into.RenewLease = rd.RenewLease
	}
}

// coalesce keeps, of the writes a long Step produced, only the last status of each pod and the
// last record of each event: the intermediate ones would be overwritten at once anyway. An event
// first created in this batch is still created (with its final content).
func coalesce(rd *kubelet.Ready) {
	if len(rd.PodStatuses) > 1 {
		last := map[types.UID]int{}
		for i, s := range rd.PodStatuses {
			last[s.UID] = i
		}
		kept := rd.PodStatuses[:0]
		for i, s := range rd.PodStatuses {
			if last[s.UID] == i {
				kept = append(kept, s)
			}
		}
		rd.PodStatuses = kept
	}
	if len(rd.Events) > 1 {
		last := map[string]int{}
		created := map[string]bool{}
		for i, e := range rd.Events {
			key := e.Event.Namespace + "/" + e.Event.Name
			last[key] = i
			if !e.Update {
				created[key] = true
			}
		}
		kept := rd.Events[:0]
		for i, e := range rd.Events {
			key := e.Event.Namespace + "/" + e.Event.Name
			if last[key] == i {
				if created[key] {
					e.Update = false
				}
				kept = append(kept, e)
			}
		}
		rd.Events = kept
	}
}

// schedule arranges the next Step at t on the cluster clock.
func (n *Node) schedule(t time.Time) {
	if t.IsZero() || (n.wake != nil && n.wakeAt.Equal(t)) {
		return
	}
	if n.wake != nil {
		n.wake.Stop()
	}
	d := t.Sub(n.clock.Now())
	if d < 0 {
		d = 0
	}
	n.wakeAt = t
	var wake k8sclock.Timer
	wake = n.clock.AfterFunc(d, func() {
		// A fired timer no longer stands for wakeAt: the next schedule must set a new one,
		// even for the same moment.
		n.mu.Lock()
		if n.wake == wake {
			n.wake, n.wakeAt = nil, time.Time{}
		}
		n.mu.Unlock()
		n.step()
	})
	n.wake = wake
}

func (n *Node) getSecret(namespace, name string) (*v1.Secret, error) {
	return n.client.CoreV1().Secrets(namespace).Get(n.ctx, name, metav1.GetOptions{})
}

// write carries out the machine's API writes, status writes and events in the order it made them.
func (n *Node) write(out kubelet.Ready) {
	for _, p := range out.MirrorPods {
		n.createMirrorPod(p)
	}
	type write struct {
		seq uint64
		do  func()
	}
	var writes []write
	for _, s := range out.PodStatuses {
		s := s
		writes = append(writes, write{s.Seq, func() { n.writePodStatus(s) }})
	}
	for _, e := range out.Events {
		e := e
		writes = append(writes, write{e.Seq, func() { n.writeEvent(e) }})
	}
	sort.SliceStable(writes, func(i, j int) bool { return writes[i].seq < writes[j].seq })
	for _, w := range writes {
		w.do()
	}
	for _, p := range out.DeletePods {
		n.deletePod(p)
	}
	if out.NodeStatus != nil {
		n.writeNodeStatus(*out.NodeStatus)
	}
	if out.RenewLease != nil {
		n.renewLease(*out.RenewLease)
	}
}

func (n *Node) createMirrorPod(p *v1.Pod) {
	// A mirror pod is owned by its Node, whose UID only the registered object knows.
	p = p.DeepCopy()
	for i := range p.OwnerReferences {
		if ref := &p.OwnerReferences[i]; ref.Kind == "Node" && ref.UID == "" {
			ref.UID = n.node.UID
		}
	}
	_, err := n.client.CoreV1().Pods(p.Namespace).Create(n.ctx, p, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		n.logf("creating mirror pod %s/%s: %v", p.Namespace, p.Name, err)
	}
}

// writePodStatus patches the pod's status as the kubelet's status manager does (a strategic merge
// patch from the last written status, with the pod's UID as precondition).
func (n *Node) writePodStatus(s kubelet.PodStatusUpdate) {
	if s.UID == "" {
		return // a static pod whose mirror pod has not been seen yet
	}
	old := n.statuses[s.UID]
	_, _, _, err := podutil.PatchPodStatus(n.ctx, n.client, s.Namespace, s.Name, s.UID, old, s.Status)
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			n.logf("writing the status of pod %s/%s: %v", s.Namespace, s.Name, err)
		}
		return
	}
	n.statuses[s.UID] = s.Status
}

// writeEvent stores a kubelet event: a new one is created, a repeated one patched (count,
// message, lastTimestamp), as client-go's event recorder does.
func (n *Node) writeEvent(r kubelet.EventRecord) {
	ev := r.Event
	ns := ev.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
		ev.Namespace = ns
	}
	events := n.client.CoreV1().Events(ns)
	if r.Update {
		patch, _ := json.Marshal(map[string]any{
			"count":         ev.Count,
			"message":       ev.Message,
			"lastTimestamp": ev.LastTimestamp,
		})
		_, err := events.Patch(n.ctx, ev.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		if err == nil || !apierrors.IsNotFound(err) {
			return
		}
		// expired (the event TTL) or never stored: create it again, as the recorder does
	}
	ev = ev.DeepCopy()
	ev.ResourceVersion = ""
	if _, err := events.Create(n.ctx, ev, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) &&
		!errors.Is(err, context.Canceled) && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		n.logf("recording event %s: %v", ev.Name, err)
	}
}

// deletePod finishes a graceful deletion once the pod's containers have stopped.
func (n *Node) deletePod(p kubelet.PodRef) {
	opts := metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0), Preconditions: metav1.NewUIDPreconditions(string(p.UID))}
	err := n.client.CoreV1().Pods(p.Namespace).Delete(n.ctx, p.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		n.logf("deleting pod %s/%s: %v", p.Namespace, p.Name, err)
	}
	delete(n.statuses, p.UID)
}

func (n *Node) writeNodeStatus(status v1.NodeStatus) {
	updated := n.node.DeepCopy()
	updated.Status = status
	patched, _, err := nodeutil.PatchNodeStatus(n.client.CoreV1(), types.NodeName(n.Name), n.node, updated)
	if err != nil {
		n.logf("writing node status: %v", err)
		return
	}
	n.node = patched
}

// renewLease creates or renews the node's Lease in kube-node-lease, as the kubelet's lease
// controller does.
func (n *Node) renewLease(renew time.Time) {
	leases := n.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	t := metav1.NewMicroTime(renew)
	if n.lease == nil {
		existing, err := leases.Get(n.ctx, n.Name, metav1.GetOptions{})
		if err == nil {
			n.lease = existing
			n.renewLease(renew)
			return
		}
		lease := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{
				Name: n.Name,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.node.UID,
				}},
			},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(n.Name),
				LeaseDurationSeconds: ptr.To(n.config.NodeLeaseDurationSeconds),
				RenewTime:            &t,
			},
		}
		created, err := leases.Create(n.ctx, lease, metav1.CreateOptions{})
		if err != nil {
			n.logf("creating lease: %v", err)
			return
		}
		n.lease = created
		return
	}
	lease := n.lease.DeepCopy()
	lease.Spec.RenewTime = &t
	updated, err := leases.Update(n.ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		n.lease = nil
		n.renewLease(renew)
		return
	}
	if err != nil {
		n.logf("renewing lease: %v", err)
		return
	}
	n.lease = updated
}

// logf reports a failed write. The kubelet retries on its own schedule, as a real one does, so
// nothing else is done about it.
func (n *Node) logf(format string, args ...any) {
	if n.stopped.Load() || n.ctx.Err() != nil {
		return
	}
	klog.ErrorS(fmt.Errorf(format, args...), "kubelet", "node", n.Name)
}
