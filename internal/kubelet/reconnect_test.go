package kubelet

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRestart stops a kubelet (the driver steps it but writes nothing), lets the node lifecycle
// controller mark the node Unknown and the pod not ready, and starts it again: the node's
// conditions and the pod's Ready condition come back at the moment of the start, with the
// kubelet's start and transition events.
func TestRestart(t *testing.T) {
	h := newHarness(t)
	h.run(&datadriven.TestData{Cmd: "new", CmdArgs: []datadriven.CmdArg{{Key: "node-log"}}})
	h.run(&datadriven.TestData{Cmd: "registry", CmdArgs: []datadriven.CmdArg{{Key: "push", Vals: []string{"docker.io/library/nginx:1.28"}}}})
	h.run(&datadriven.TestData{Cmd: "add-pod", CmdArgs: []datadriven.CmdArg{
		{Key: "name", Vals: []string{"web"}}, {Key: "image", Vals: []string{"nginx:1.28"}}}})
	h.step(time.Minute)
	if p := h.pods["web"]; p.Status.Phase != v1.PodRunning {
		t.Fatalf("web is %s", p.Status.Phase)
	}

	// Stopped for 10 minutes: the machine runs, nothing it wants written is written.
	stoppedAt := h.now
	for h.now.Before(stoppedAt.Add(10 * time.Minute)) {
		h.now = h.now.Add(time.Second)
		rd := h.k.Step(h.now)
		for len(rd.Ops) > 0 {
			rd = h.k.Step(h.now, h.rt.exec(rd.Ops, h.secrets)...)
		}
	}
	// What the node lifecycle controller wrote meanwhile.
	marked := metav1.NewTime(stoppedAt.Add(55 * time.Second))
	node := &v1.Node{Status: *h.node.DeepCopy()}
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		c.Status, c.Reason, c.Message, c.LastTransitionTime = v1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.", marked
	}
	pod := h.pods["web"]
	for i := range pod.Status.Conditions {
		if c := &pod.Status.Conditions[i]; c.Type == v1.PodReady {
			c.Status, c.LastTransitionTime = v1.ConditionFalse, marked
		}
	}
	pod.ResourceVersion = h.rv()
	events := len(h.events)

	h.k.Restart(h.now, node)
	h.feed(PodUpsert{Pod: pod.DeepCopy()})
	at := fmtDur(h.now.Sub(epoch))

	var got []string
	for _, e := range h.events[events:] {
		got = append(got, fmt.Sprintf("%s %s %s/%s: %s first=%s", e.Type, e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name,
			e.Message, fmtDur(e.FirstTimestamp.Sub(epoch))))
	}
	want := []string{
		"Normal Starting Node/node-1: Starting kubelet. first=" + at,
		"Normal NodeAllocatableEnforced Node/node-1: Updated Node Allocatable limit across pods first=" + at,
		"Normal NodeHasSufficientMemory Node/node-1: Node node-1 status is now: NodeHasSufficientMemory first=" + at,
		"Normal NodeHasNoDiskPressure Node/node-1: Node node-1 status is now: NodeHasNoDiskPressure first=" + at,
		"Normal NodeHasSufficientPID Node/node-1: Node node-1 status is now: NodeHasSufficientPID first=" + at,
		"Normal NodeReady Node/node-1: Node node-1 status is now: NodeReady first=" + at,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events after the restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range h.node.Conditions {
		if c.Status == v1.ConditionUnknown || !c.LastTransitionTime.Time.Equal(h.now) || !c.LastHeartbeatTime.Time.Equal(h.now) {
			t.Fatalf("after the restart the node's %s is %s, changed at %s, heartbeat %s", c.Type, c.Status,
				fmtDur(c.LastTransitionTime.Sub(epoch)), fmtDur(c.LastHeartbeatTime.Sub(epoch)))
		}
	}
	if h.lease == nil || !h.lease.Equal(h.now) {
		t.Fatalf("the lease was not renewed at the restart: %v", h.lease)
	}
	for _, c := range h.pods["web"].Status.Conditions {
		if c.Type == v1.PodReady && (c.Status != v1.ConditionTrue || !c.LastTransitionTime.Time.Equal(h.now)) {
			t.Fatalf("after the restart web is Ready=%s since %s", c.Status, fmtDur(c.LastTransitionTime.Sub(epoch)))
		}
	}
}
