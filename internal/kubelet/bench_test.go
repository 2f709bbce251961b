package kubelet

import (
	"fmt"
	"math/rand"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// loadNode starts a kubelet running n nginx pods whose image is on the node, and returns a
// function that advances the virtual time by d, counting the status writes.
func loadNode(tb testing.TB, n int) (*Kubelet, func(d time.Duration) int) {
	rt := newFakeRuntime()
	if err := rt.push("nginx:1.28", 72195292); err != nil {
		tb.Fatal(err)
	}
	if err := rt.load("nginx:1.28"); err != nil {
		tb.Fatal(err)
	}
	now := epoch
	k, err := New(Config{}, Node{Name: "node-1", InternalIP: "192.168.1.11", PodCIDR: "10.244.0.0/16"}, rand.New(rand.NewSource(1)), now)
	if err != nil {
		tb.Fatal(err)
	}
	writes := 0
	var next time.Time
	drive := func(in ...Input) {
		rd := k.Step(now, in...)
		for {
			writes += len(rd.PodStatuses)
			if len(rd.Ops) == 0 {
				next = rd.NextWake
				return
			}
			rd = k.Step(now, rt.exec(rd.Ops, nil)...)
		}
	}
	for i := range n {
		name := fmt.Sprintf("web-%d", i)
		drive(PodUpsert{Pod: &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1},
			Spec: v1.PodSpec{
				Containers:                    []v1.Container{{Name: "web", Image: "nginx:1.28", ImagePullPolicy: v1.PullIfNotPresent}},
				RestartPolicy:                 v1.RestartPolicyAlways,
				TerminationGracePeriodSeconds: ptr.To[int64](30),
			},
		}})
	}
	advance := func(d time.Duration) int {
		writes = 0
		target := now.Add(d)
		for !next.IsZero() && !next.After(target) {
			if next.After(now) {
				now = next
			}
			drive()
		}
		now = target
		drive()
		return writes
	}
	advance(10 * time.Second)
	return k, advance
}

// BenchmarkSync1000Pods measures the steady state of a node running 1,000 pods: every pod is
// synced every 60-90 s, and the node reports its status and renews its lease.
func BenchmarkSync1000Pods(b *testing.B) {
	defer func(v bool) { verifySteadySyncs = v }(verifySteadySyncs)
	verifySteadySyncs = false
	_, advance := loadNode(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		advance(90 * time.Second) // every pod syncs at least once
	}
	reportCPU(b, cpu)
}

// cpuTime is the process's CPU time (user and system, all threads). Benchmarks report it next
// to the wall time, which a shared machine inflates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// TestMemoryPer1000Pods keeps the per-pod state small: a node with 1,000 running pods holds well
// under 10 KiB per pod.
func TestMemoryPer1000Pods(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	k, advance := loadNode(t, 1000)
	advance(2 * time.Minute)
	runtime.GC()
	runtime.ReadMemStats(&after)
	perPod := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / 1000
	if perPod > 10<<10 {
		t.Errorf("%d bytes per pod", perPod)
	}
	t.Logf("%d bytes of heap per pod", perPod)
	runtime.KeepAlive(k)
}

// TestDeterministic runs the same session twice with the same seed: the transcripts are
// byte-identical.
func TestDeterministic(t *testing.T) {
	run := func() string {
		_, advance := loadNode(t, 50)
		var b strings.Builder
		for range 20 {
			fmt.Fprintf(&b, "%d ", advance(37*time.Second))
		}
		return b.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("runs differ:\n%s\n%s", a, b)
	}
}

// weekNode starts a kubelet running n pods and returns a function that fast-forwards it by d in
// one Step call (and the follow-up calls that answer its operations, all at the interval's end),
// as the node driver does during clock.Advance. It returns the number of pod status writes and
// event records handed out.
func weekNode(tb testing.TB, n int) func(d time.Duration) (statuses, events int) {
	k, advance := loadNode(tb, n)
	rt := newFakeRuntime()
	if err := rt.push("nginx:1.28", 72195292); err != nil {
		tb.Fatal(err)
	}
	if err := rt.load("nginx:1.28"); err != nil {
		tb.Fatal(err)
	}
	now := k.wall(k.now)
	_ = advance
	return func(d time.Duration) (int, int) {
		now = now.Add(d)
		statuses, events := 0, 0
		rd := k.Step(now)
		for {
			statuses += len(rd.PodStatuses)
			events += len(rd.Events)
			if len(rd.Ops) == 0 {
				return statuses, events
			}
			rd = k.Step(now, rt.exec(rd.Ops, nil)...)
		}
	}
}

// BenchmarkWeek measures a fast-forward of a week (clock.Advance(168h)) on a node running 0, 10
// and 1,000 pods: the driver calls Step once with the interval's end.
func BenchmarkWeek(b *testing.B) {
	defer func(v bool) { verifySteadySyncs = v }(verifySteadySyncs)
	verifySteadySyncs = false
	for _, n := range []int{0, 10, 1000} {
		b.Run(fmt.Sprintf("pods=%d", n), func(b *testing.B) {
			week := weekNode(b, n)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			var statuses, events int
			for range b.N {
				statuses, events = week(168 * time.Hour)
			}
			reportCPU(b, cpu)
			b.ReportMetric(float64(statuses), "statuses/op")
			b.ReportMetric(float64(events), "events/op")
		})
	}
}
