package scheduler

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestRecorder runs the transcripts of the events.k8s.io recorder: the events kube-scheduler
// writes, and how repeats become series.
func TestRecorder(t *testing.T) {
	var (
		r     *Recorder
		now   time.Time
		start time.Time
	)
	datadriven.RunTest(t, "testdata/events.txt", func(t *testing.T, d *datadriven.TestData) string {
		if r == nil || d.Cmd == "reset" {
			r = NewRecorder(SchedulerName, "controlplane", rand.New(rand.NewSource(1)))
			now, start = epoch, epoch
		}
		switch d.Cmd {
		case "reset":
			return ""
		case "event":
			pod := &v1.Pod{}
			pod.Namespace, pod.Name = "default", args(d, "pod", "web")
			pod.UID = types.UID("uid-" + pod.Name)
			pod.ResourceVersion = args(d, "rv", "1")
			var related *v1.Pod
			if rel := args(d, "related", ""); rel != "" {
				related = &v1.Pod{}
				related.Namespace, related.Name, related.UID, related.ResourceVersion = "default", rel, types.UID("uid-"+rel), "1"
			}
			return describeWrites(r.Eventf(pod, related, args(d, "type", v1.EventTypeWarning), args(d, "reason", "FailedScheduling"),
				args(d, "action", "Scheduling"), now, "%s", strings.TrimSpace(d.Input)))
		case "tick":
			dur, err := time.ParseDuration(d.CmdArgs[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			// The finish loop, as the scheduler's timer runs it; refreshes are not exercised here.
			target := now.Add(dur)
			var b strings.Builder
			for {
				next := r.NextFinish(start)
				if next.IsZero() || next.After(target) {
					break
				}
				now = next
				if out := describeWrites(r.FinishSeries(now)); out != "" {
					fmt.Fprintf(&b, "t+%v finish\n%s", now.Sub(epoch), out)
				}
			}
			now = target
			return b.String()
		case "refresh":
			return describeWrites(r.RefreshSeries())
		default:
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		}
	})
}

func describeWrites(ws []sinkWrite) string {
	var b strings.Builder
	for _, w := range ws {
		ev := w.Event
		if w.Patch != nil {
			fmt.Fprintf(&b, "patch %s/%s %s\n", ev.Namespace, ev.Name, w.Patch)
			continue
		}
		fmt.Fprintf(&b, "create %s/%s\n", ev.Namespace, ev.Name)
		fmt.Fprintf(&b, "  type=%s reason=%s action=%s eventTime=t+%v\n", ev.Type, ev.Reason, ev.Action, ev.EventTime.Sub(epoch))
		fmt.Fprintf(&b, "  reportingController=%s reportingInstance=%s\n", ev.ReportingController, ev.ReportingInstance)
		fmt.Fprintf(&b, "  regarding=%s %s/%s uid=%s rv=%s\n", ev.Regarding.Kind, ev.Regarding.Namespace, ev.Regarding.Name,
			ev.Regarding.UID, ev.Regarding.ResourceVersion)
		if ev.Related != nil {
			fmt.Fprintf(&b, "  related=%s %s/%s\n", ev.Related.Kind, ev.Related.Namespace, ev.Related.Name)
		}
		fmt.Fprintf(&b, "  note=%s\n", ev.Note)
	}
	return b.String()
}
