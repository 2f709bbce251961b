package scheduler

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTruncateMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		tail string
	}{
		{in: "short", want: 5, tail: "short"},
		{in: strings.Repeat("x", 1024), want: 1024, tail: "xxxx"},
		{in: strings.Repeat("x", 1025), want: 1024, tail: "x ..."},
	} {
		got := truncateMessage(tc.in)
		if len(got) != tc.want || !strings.HasSuffix(got, tc.tail) {
			t.Errorf("truncateMessage(%d chars) = %d chars ending %q", len(tc.in), len(got), got[len(got)-5:])
		}
	}
}

// TestStatusPatch pins the pods/status patches handleSchedulingFailure sends: the condition as
// UpdatePodCondition leaves it, and nothing when nothing changes.
func TestStatusPatch(t *testing.T) {
	pending := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 1}}
	failed := pending.DeepCopy()
	failed.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse, Reason: "Unschedulable",
		Message: "no nodes available to schedule pods", ObservedGeneration: 1, LastTransitionTime: metav1.NewTime(epoch)}}
	nominated := failed.DeepCopy()
	nominated.Status.NominatedNodeName = "node01"
	later := epoch.Add(time.Minute)
	for _, tc := range []struct {
		name     string
		pod      *v1.Pod
		msg      string
		nominate *string
		want     string
	}{
		{"first failure", pending, "no nodes available to schedule pods", ptr(""),
			`{"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-11-25T06:23:30Z","message":"no nodes available to schedule pods","observedGeneration":1,"reason":"Unschedulable","status":"False","type":"PodScheduled"}]}}`},
		{"same failure again", failed, "no nodes available to schedule pods", ptr(""), ``},
		{"new message keeps the transition time", failed, "0/1 nodes are available: 1 node(s) had untolerated taint(s).", nil,
			`{"status":{"$setElementOrder/conditions":[{"type":"PodScheduled"}],"conditions":[{"message":"0/1 nodes are available: 1 node(s) had untolerated taint(s).","type":"PodScheduled"}]}}`},
		{"nomination", failed, "no nodes available to schedule pods", ptr("node01"), `{"status":{"nominatedNodeName":"node01"}}`},
		{"clearing a nomination", nominated, "no nodes available to schedule pods", ptr(""), `{"status":{"nominatedNodeName":null}}`},
	} {
		cond := unschedulableCondition(tc.pod, v1.PodReasonUnschedulable, tc.msg)
		patch, err := statusPatch(tc.pod, &cond, tc.nominate, later)
		if err != nil {
			t.Fatal(err)
		}
		if string(patch) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, patch, tc.want)
		}
	}
}
