package kubelet

import (
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubernetes/pkg/kubelet/events"
)

// Restart is the kubelet process starting again at now, after it was stopped (`systemctl stop
// kubelet`, then `start`) while the node's containers ran on. While it was stopped the driver
// stepped the machine but wrote nothing it asked for and held back the pod changes; node is the
// Node as the API server has it now. At now (after the held pod changes, which the driver feeds
// with the same Step) the kubelet does what a starting kubelet does:
//
//   - it records "Starting kubelet." and the allocatable enforcement, as at its first start, with
//     a new event recorder (new events, not repeats of the old ones);
//   - its node status setters start from the node's conditions as the API server has them, as
//     tryUpdateNodeStatus starts from the Node it reads, and the status is updated and the Lease
//     renewed at once: conditions the node lifecycle controller turned Unknown go back, with
//     their events (NodeHasSufficientMemory, ..., NodeReady);
//   - the status manager, whose cache a new process starts without, writes every pod's status
//     again over the API's: a Ready condition the node lifecycle controller turned False comes
//     back, with a new transition time.
func (k *Kubelet) Restart(now time.Time, node *v1.Node) {
	k.at(k.mono(now), func() {
		// A new process records with a new recorder: nothing it records repeats an earlier event.
		k.events = record.NewEventCorrelatorWithOptions(record.CorrelatorOptions{Clock: monoClock{k}})
		ref := k.nodeRef()
		k.event(ref, v1.EventTypeNormal, events.StartingKubelet, "Starting kubelet.")
		k.event(ref, v1.EventTypeNormal, events.SuccessfulNodeAllocatableEnforcement, "Updated Node Allocatable limit across pods")
		ns := &k.nodeState
		if node != nil && ns.status != nil {
			conds := make([]v1.NodeCondition, len(node.Status.Conditions))
			for i, c := range node.Status.Conditions {
				c.LastHeartbeatTime = metav1.NewTime(k.mono(c.LastHeartbeatTime.Time))
				c.LastTransitionTime = metav1.NewTime(k.mono(c.LastTransitionTime.Time))
				conds[i] = c
			}
			ns.status.Conditions, ns.settled = conds, false
		}
		for _, t := range []*timer{ns.statusTick, ns.leaseTick} {
			if k.stop(t) {
				k.rearm(t, k.now)
			}
		}
		k.resyncPodStatuses()
	})
}

// resyncPodStatuses writes every pod's status again, with transition times against the API's
// status (a static pod's status, which goes to its mirror pod, as it was).
func (k *Kubelet) resyncPodStatuses() {
	for _, uid := range k.podOrder {
		p, ok := k.pods[uid]
		if !ok || p.removed || p.status == nil {
			continue
		}
		p.written = nil
		if isStatic(p.pod) {
			k.flushStatus(p)
			continue
		}
		cached := *p.status.DeepCopy()
		p.status = nil // the basis of transition times becomes the API's status
		k.setStatus(p, cached)
	}
}
