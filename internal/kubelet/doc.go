// Package kubelet is the simulated kubelet of one node: the logic of a real v1.37 kubelet (image
// manager, pod workers and their sync loop, containers, pod status, events, node status) written
// as a pure state machine in the style of go.etcd.io/raft.
//
// The machine does no I/O and owns no clock. A driver feeds it, through Step, the current time,
// the pods bound to its node and the results of the operations it asked for; Step returns a Ready
// value saying what to do: runtime operations to execute (pulls, sandboxes, containers, secret
// reads), pod statuses and node status to write, events to create or patch, pods whose deletion
// can be finished, and when to wake the machine next.
//
// A typical driver loop, all at one virtual instant:
//
//	rd := k.Step(now, inputs...)
//	for {
//		write(rd.PodStatuses, rd.Events, rd.NodeStatus, ...)
//		if len(rd.Ops) == 0 {
//			break
//		}
//		rd = k.Step(now, Execute(rt, api, rd.Ops)...)
//	}
//	wakeAt(rd.NextWake)
//
// Everything that depends on time reads it from the machine, so the same inputs, clock steps and
// seed give byte-identical results. The machine keeps its own monotonic time line; when the
// cluster clock ages the world (clock.Advance), the driver calls Shift and every timestamp the
// machine hands out moves back by the same interval, while its back-off and rate-limit state,
// which upstream keeps in opaque structures, stays valid.
package kubelet
