package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// Every test checks that the syncs steadySync short-cuts would indeed have changed nothing.
func init() { verifySteadySyncs = true }

// TestLongStep: a node stepped once to the end of a long interval (a fast-forward) ends in the
// same state as one stepped through it a second at a time: the same pod statuses, events (count,
// first and last timestamps, message) and node status.
func TestLongStep(t *testing.T) {
	workload := []string{
		"registry push=(nginx:1.28, busybox:1.36, reg.example.com/app:v1)",
		"secret name=regcred registry=reg.example.com user=u password=p",
		"add-pod name=web-1 image=nginx:1.28",
		"add-pod name=web-2 image=nginx:1.28",
		"add-pod name=private image=reg.example.com/app:v1 secrets=(regcred)",
		"add-pod name=crash image=busybox:1.36 command=(sh, -c, exit 1)",
		"add-pod name=done image=busybox:1.36 command=(sleep, 45)",
		"add-pod name=job image=busybox:1.36 command=(sleep, 300) restart=Never",
		"add-pod name=missing image=nginx:0.0.404",
		"add-pod name=sleeper image=busybox:1.36 command=(sleep, infinity)",
		"step 30s",
		"delete-pod sleeper",
	}
	for _, tc := range []struct {
		name  string
		setup []string
		d     time.Duration
	}{
		{"idle", []string{"new"}, 7 * 24 * time.Hour},
		{"workload", append([]string{"new"}, workload...), 6 * time.Hour},
		{"control-plane", append([]string{
			"registry push=(registry.k8s.io/etcd:3.7.0-0, registry.k8s.io/kube-apiserver:v1.37.2, registry.k8s.io/kube-controller-manager:v1.37.2, registry.k8s.io/kube-scheduler:v1.37.2) size=30000000",
			"new node=controlplane control-plane preload-static",
		}, workload...), 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fine := playLongStep(t, tc.setup, func(h *harness) {
				for range int(tc.d / time.Second) {
					h.step(time.Second)
				}
			})
			long := playLongStep(t, tc.setup, func(h *harness) {
				before := h.writes
				h.now = h.now.Add(tc.d)
				checkLongStep(t, h)
				h.feed()
				h.onReady = nil
				if h.writes.orphanUpdates != before.orphanUpdates {
					t.Errorf("%d updates of events never created", h.writes.orphanUpdates-before.orphanUpdates)
				}
			})
			if testing.Verbose() {
				t.Log(fine)
			}
			if fine != long {
				t.Errorf("one step of %v ends elsewhere than steps of 1s:\n--- 1s steps\n%s\n--- one step\n%s", tc.d, fine, long)
			}
		})
	}
}

// playLongStep runs the setup commands, then run, and describes the final state.
func playLongStep(t *testing.T, setup []string, run func(h *harness)) string {
	h := newHarness(t)
	for _, line := range setup {
		cmd, args, err := datadriven.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		h.run(&datadriven.TestData{Cmd: cmd, CmdArgs: args})
	}
	run(h)
	var b strings.Builder
	names := make([]string, 0, len(h.pods))
	for name := range h.pods {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "pod %s:\n%s", name, h.status(h.pods[name]))
	}
	events := append([]string(nil), strings.SplitAfter(h.printEvents("", false)+h.printEvents("", true), "\n")...)
	events = pairs(events)
	sort.Strings(events)
	fmt.Fprintf(&b, "%d events:\n%s", len(events), strings.Join(events, ""))
	node, err := yaml.Marshal(h.node)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "node:\n%s", withOffsets(string(node)))
	if h.lease != nil {
		fmt.Fprintf(&b, "lease: t+%v\n", h.lease.Sub(epoch))
	}
	return b.String()
}

// pairs joins printEvents' two lines per event.
func pairs(lines []string) []string {
	var out []string
	for i := 0; i+1 < len(lines); i += 2 {
		out = append(out, lines[i]+lines[i+1])
	}
	return out
}

// checkLongStep has h check the Readys of its next step, a long one: while the machine catches up,
// they carry only operations; then, until the step ends, a pod gets at most a status or two (made
// at one moment), an event one record, the node a status and a lease renewal (and maybe another
// made at the step's end).
func checkLongStep(t *testing.T, h *harness) {
	statuses, events := map[types.UID]int{}, map[string]int{}
	nodes, leases, done := 0, 0, false
	h.onReady = func(rd Ready) {
		if done {
			return
		}
		done = len(rd.Ops) == 0
		if rd.NextWake.Before(h.now) {
			if len(rd.PodStatuses)+len(rd.Events)+len(rd.DeletePods)+len(rd.MirrorPods) > 0 || rd.NodeStatus != nil || rd.RenewLease != nil {
				t.Fatalf("writes handed out at %v, before the end of the step", rd.NextWake.Sub(epoch))
			}
			return
		}
		for _, u := range rd.PodStatuses {
			if statuses[u.UID]++; statuses[u.UID] > 2 {
				t.Errorf("%d statuses of pod %s", statuses[u.UID], u.Name)
			}
		}
		for _, e := range rd.Events {
			if events[e.Event.Name]++; events[e.Event.Name] > 1 {
				t.Errorf("%d records of event %s %s", events[e.Event.Name], e.Event.Reason, e.Event.Message)
			}
		}
		if rd.NodeStatus != nil {
			nodes++
		}
		if rd.RenewLease != nil {
			leases++
		}
		// The last one held back, and maybe one made at the step's end itself.
		if done && (nodes < 1 || nodes > 2 || leases < 1 || leases > 2) {
			t.Errorf("%d node statuses, %d lease renewals", nodes, leases)
		}
	}
}
