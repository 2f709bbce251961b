package kubelet

import (
	"bytes"
	"maps"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podState is everything the kubelet keeps about one pod: the latest spec, its view of the pod's
// sandbox and containers in the runtime, the start-failure reasons of the last sync, the status it
// last wrote, and its pod worker's state.
type podState struct {
	pod     *v1.Pod
	sandbox *sandboxRec
	ctrs    []*ctrRec // oldest first; at most two per container name
	reasons map[string]reasonItem
	status  *v1.PodStatus // the status manager's cache, on the machine's time line
	written []byte        // the last status written to the API (merged), protobuf-encoded

	// pod worker
	working  bool
	pending  bool   // an update arrived while a sync was running
	resync   *timer // the work queue entry, while it is pending
	resyncer *timer // the timer resync reuses
	dirty    bool   // the runtime changed since PLEG last looked
	run      *syncRun

	// rev counts changes to what the pod's status is computed from: the pod object (spec and API
	// status), the runtime's sandbox and containers, the start failures, the mirror pod. steady
	// records the last sync that left the status as it was (see steadySync).
	rev    uint64
	steady steadyMark

	// termination
	terminating        bool // terminating: termination requested or the pod reached a terminal phase
	terminateAfterSync bool // termination requested during a sync: it starts when the sync ends
	terminated         bool // all containers stopped, sandbox stopped
	deleted            bool // the pod has a deletion timestamp
	removed            bool // the pod object is gone from the API server
	deleteSent         bool

	mirrorUID types.UID // a static pod's mirror pod, once the driver has fed it
}

type sandboxRec struct {
	id        string
	ip        string
	attempt   uint32
	ready     bool
	createdAt time.Time
}

// reasonItem is a reason cache entry: why the last attempt to start a container failed.
type reasonItem struct {
	err error
	msg string
}

// latest returns the most recently created container of that name.
func (p *podState) latest(name string) *ctrRec {
	for i := len(p.ctrs) - 1; i >= 0; i-- {
		if p.ctrs[i].name == name {
			return p.ctrs[i]
		}
	}
	return nil
}

// addCtr records a new container and returns the one it displaces: the runtime keeps the latest
// two containers of each name for status (container GC removes older ones).
func (p *podState) addCtr(c *ctrRec) *ctrRec {
	p.ctrs = append(p.ctrs, c)
	n := 0
	for i := len(p.ctrs) - 1; i >= 0; i-- {
		if p.ctrs[i].name != c.name {
			continue
		}
		n++
		if n > 2 {
			old := p.ctrs[i]
			p.ctrs = append(p.ctrs[:i], p.ctrs[i+1:]...)
			return old
		}
	}
	return nil
}

func (k *Kubelet) upsertPod(pod *v1.Pod) {
	if static, ok := isMirror(pod); ok {
		k.upsertMirror(static, pod)
		return
	}
	pod = pod.DeepCopy()
	p, ok := k.pods[pod.UID]
	if !ok {
		p = &podState{pod: pod, reasons: map[string]reasonItem{}}
		k.pods[pod.UID] = p
		k.podOrder = append(k.podOrder, pod.UID)
		if pod.DeletionTimestamp != nil {
			p.deleted = true
			k.terminate(p)
			return
		}
		k.podUpdate(p)
		return
	}
	old := p.pod
	p.pod = pod
	p.rev++
	if p.removed {
		return
	}
	if pod.DeletionTimestamp != nil && !p.deleted {
		p.deleted = true
		if p.terminated {
			k.finishDeletion(p) // a pod that already finished goes at once
			return
		}
		k.terminate(p)
		return
	}
	// Status-only changes (including the kubelet's own writes coming back) do not make a sync.
	if specEqual(&old.Spec, &pod.Spec) && maps.Equal(old.Labels, pod.Labels) && maps.Equal(old.Annotations, pod.Annotations) {
		return
	}
	k.podUpdate(p)
}

func (k *Kubelet) removePod(uid types.UID) {
	p, ok := k.pods[uid]
	if !ok {
		k.removeMirror(uid)
		return
	}
	p.removed = true
	if !p.terminated {
		k.terminate(p)
		return
	}
	k.forget(p)
}

// forget drops a terminated pod whose object is gone, and has the runtime clean up after it.
func (k *Kubelet) forget(p *podState) {
	k.gc.ctrsRev++
	for _, c := range p.ctrs {
		k.call(RemoveContainerOp{OpBase: k.nextID(), ContainerID: c.id}, nil)
	}
	if p.sandbox != nil {
		k.call(RemoveSandboxOp{OpBase: k.nextID(), SandboxID: p.sandbox.id}, nil)
		k.ipam.release(p.sandbox.ip)
	}
	k.stop(p.resync)
	uid := p.pod.UID
	delete(k.pods, uid)
	for i, u := range k.podOrder {
		if u == uid {
			k.podOrder = append(k.podOrder[:i], k.podOrder[i+1:]...)
			break
		}
	}
}

// podUpdate is the pod worker's UpdatePod for a pod that is not terminating: sync now, or right
// after the sync in progress.
func (k *Kubelet) podUpdate(p *podState) {
	if p.terminating {
		return
	}
	if p.working {
		p.pending = true
		return
	}
	k.syncPod(p)
}

// enqueue is the pod workers' work queue: the pod is synced again after delay, at the first tick
// of the sync loop's one-second housekeeping ticker that finds it due.
func (k *Kubelet) enqueue(p *podState, delay time.Duration) {
	k.stop(p.resync)
	due := k.tick(k.now.Add(delay), housekeepingPeriod, false)
	if p.resyncer == nil {
		p.resyncer = &timer{index: -1, fn: func() {
			p.resync = nil
			k.podUpdate(p)
		}}
	}
	p.resync = k.rearm(p.resyncer, due)
}

// tick returns the first tick of a ticker started with the kubelet, with the given period, at or
// (when strict) after t.
func (k *Kubelet) tick(t time.Time, period time.Duration, strict bool) time.Time {
	since := t.Sub(k.start)
	if since < 0 {
		n := since / period
		at := k.start.Add(n * period)
		if at.Before(t) || (strict && at.Equal(t)) {
			at = at.Add(period)
		}
		return at
	}
	// The same, with one time addition.
	at := since - since%period
	if at < since || strict {
		at += period
	}
	return k.start.Add(at)
}

// changed notes a runtime change in the pod (a sandbox or container started or ended): the
// generic PLEG notices it at its next relist and sends the pod worker an update.
func (k *Kubelet) changed(p *podState) {
	p.dirty = true
	p.rev++
	if k.relist != nil {
		return
	}
	k.relist = k.at(k.tick(k.now, relistPeriod, true), func() {
		k.relist = nil
		for _, uid := range k.podOrder {
			if q := k.pods[uid]; q != nil && q.dirty {
				q.dirty = false
				k.podUpdate(q)
			}
		}
	})
}

// relistPod is PLEG's on-demand relist of one pod, requested after a sync that changed something
// and succeeded.
func (k *Kubelet) relistPod(p *podState) {
	if p.dirty {
		p.dirty = false
		k.podUpdate(p)
	}
}

// upsertMirror notes a static pod's mirror pod: statuses go to it, and its status is the API's.
func (k *Kubelet) upsertMirror(static types.UID, mirror *v1.Pod) {
	p, ok := k.pods[static]
	if !ok {
		return
	}
	first := p.mirrorUID == ""
	p.mirrorUID = mirror.UID
	p.pod.Status = *mirror.Status.DeepCopy()
	p.rev++
	if first {
		p.written = nil
		k.flushStatus(p)
	}
}

// removeMirror recreates a deleted mirror pod, as the kubelet's mirror pod reconciliation does.
func (k *Kubelet) removeMirror(uid types.UID) {
	for _, id := range k.podOrder {
		if p := k.pods[id]; p.mirrorUID == uid {
			p.mirrorUID = ""
			p.rev++
			k.out.MirrorPods = append(k.out.MirrorPods, k.mirrorPod(p.pod))
			return
		}
	}
}

// specEqual compares two pod specs by their protobuf encoding.
func specEqual(a, b *v1.PodSpec) bool {
	x, err1 := a.Marshal()
	y, err2 := b.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
