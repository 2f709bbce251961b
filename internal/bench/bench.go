// Package bench measures kubesim: how fast a process and a cluster start, what a cluster costs in
// memory, how fast the API creates pods. Each figure is reported next to a baseline measured in
// the same run, so that the ratios mean the same on any machine.
package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/serve"
)

// Result is one measured figure.
type Result struct {
	Name     string
	Value    float64
	Unit     string
	Baseline string // what it is compared with, measured in the same run
	Ratio    float64
	Target   string
}

func (r Result) String() string {
	s := fmt.Sprintf("%-44s %10.1f %-8s", r.Name, r.Value, r.Unit)
	if r.Baseline != "" {
		s += fmt.Sprintf("  %.2fx %s", r.Ratio, r.Baseline)
	}
	if r.Target != "" {
		s += "  (target " + r.Target + ")"
	}
	return s
}

// ProcessStart starts the kubesim binary `serve` n times and measures the time from exec to a
// successful GET /readyz. Baseline: exec to exit of `kubesim --help` (the binary's own start).
func ProcessStart(binary string, n int) ([]Result, error) {
	var ready, help []time.Duration
	for i := 0; i < n; i++ {
		d, err := startToReady(binary)
		if err != nil {
			return nil, err
		}
		ready = append(ready, d)
		start := time.Now()
		if err := exec.Command(binary, "--help").Run(); err != nil {
			return nil, err
		}
		help = append(help, time.Since(start))
	}
	r, h := median(ready), median(help)
	return []Result{{
		Name: "process start to /readyz (median)", Value: ms(r), Unit: "ms",
		Baseline: "of `kubesim --help`", Ratio: float64(r) / float64(h), Target: "≤ 50 ms; kube-apiserver+etcd: 3.5–4.8 s",
	}}, nil
}

func startToReady(binary string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "kubesim-bench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	cmd := exec.Command(binary, "serve", "--data-dir", dir, "--secure-port", strconv.Itoa(port), "--registry-address", "")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: time.Second}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", port)
	for time.Since(start) < 30*time.Second {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("kubesim serve did not become ready within 30 s")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ClusterStart starts n clusters on one API server, one after the other, and measures the median
// start and the memory they hold once idle. Baseline for the start: the API server's own start.
func ClusterStart(n int) ([]Result, error) {
	t0 := time.Now()
	srv, err := apiserver.New()
	if err != nil {
		return nil, err
	}
	serverStart := time.Since(t0)
	base := rss()
	var starts []time.Duration
	var clusters []*cluster.Cluster
	defer func() {
		for _, c := range clusters {
			c.Stop()
		}
	}()
	var firstRSS uint64
	for i := 0; i < n; i++ {
		start := time.Now()
		c, err := cluster.New(srv, cluster.Options{ID: fmt.Sprintf("bench%d", i), Seed: int64(i + 1)})
		if err != nil {
			return nil, err
		}
		starts = append(starts, time.Since(start))
		clusters = append(clusters, c)
		if i == 0 {
			settleAll(clusters)
			firstRSS = rss()
		}
	}
	settleAll(clusters)
	all := rss()
	perExtra := float64(all-firstRSS) / float64(max(n-1, 1))
	med := median(starts)
	return []Result{
		{Name: "in-process cluster start (median)", Value: ms(med), Unit: "ms",
			Baseline: "of the API server's start", Ratio: float64(med) / float64(serverStart), Target: "≤ 50 ms"},
		{Name: "RSS of the process with one idle cluster", Value: mib(firstRSS), Unit: "MiB",
			Baseline: "of the process before any cluster", Ratio: float64(firstRSS) / float64(base), Target: "kube-apiserver+etcd: ~325 MiB"},
		{Name: fmt.Sprintf("RSS per extra idle cluster (%d clusters)", n), Value: perExtra / (1 << 20), Unit: "MiB",
			Baseline: "of the first cluster's share", Ratio: perExtra / float64(max(firstRSS-base, 1)), Target: "≤ 3 MiB"},
	}, nil
}

// settleAll waits for the clusters' start-up work (controllers, kubelets) to quiet down, then
// returns memory to the OS so that RSS shows what is held.
func settleAll(cs []*cluster.Cluster) {
	time.Sleep(2 * time.Second)
	runtime.GC()
	debug.FreeOSMemory()
}

// PodCreation creates total pods with workers concurrent client-go clients over HTTPS, and measures
// pods per second. Baseline: the same clients doing GET /version (transport and TLS alone).
func PodCreation(workers, total int) ([]Result, error) {
	dir, err := os.MkdirTemp("", "kubesim-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	inst, err := serve.Start(serve.Options{DataDir: dir, Seed: 1})
	if err != nil {
		return nil, err
	}
	defer inst.Close(context.Background())
	cfg, err := clientcmd.BuildConfigFromFlags("", inst.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = -1, 0
	if os.Getenv("BENCH_HTTP1") != "" {
		cfg.NextProtos = []string{"http/1.1"}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	ns := "bench"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	for {
		if _, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	versionRate, err := parallel(workers, total, func(int) error {
		_, err := client.Discovery().ServerVersion()
		return err
	})
	if err != nil {
		return nil, err
	}
	// BENCH_CPUPROFILE=file writes a pprof CPU profile of the pod-create phase.
	if f := os.Getenv("BENCH_CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			return nil, err
		}
		defer func() {
			pprof.StopCPUProfile()
			out.Close()
		}()
	}
	podRate, err := parallel(workers, total, func(i int) error {
		_, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)},
			Spec: corev1.PodSpec{
				NodeName:   "nowhere", // not run: only the API's cost is measured
				Containers: []corev1.Container{{Name: "web", Image: "nginx:1.28"}},
			},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return []Result{{
		Name: fmt.Sprintf("pods created per second (%d workers, %d pods)", workers, total), Value: podRate, Unit: "pods/s",
		Baseline: "of GET /version per second", Ratio: podRate / versionRate, Target: "≥ 5,000; kube-apiserver+etcd: 765",
	}}, nil
}

// parallel runs f for 0..total-1 on workers goroutines and returns calls per second.
func parallel(workers, total int, f func(i int) error) (float64, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if err := f(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// rss is the process's resident set size (Linux).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration{}, ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b uint64) float64       { return float64(b) / (1 << 20) }

// Executable is the running kubesim binary, for ProcessStart.
func Executable() string {
	p, err := os.Executable()
	if err != nil {
		return "kubesim"
	}
	abs, _ := filepath.Abs(p)
	return abs
}
