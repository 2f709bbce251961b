package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"mvdan.cc/sh/v3/shell"

	"kubesim.dev/kubesim/internal/admin"
	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/kubectl"
	"kubesim.dev/kubesim/internal/serve"
)

// A client is a kubectl: the embedded one (v1.37) or an installed binary.
type client struct {
	name    string // "embedded", "kubectl", "kubectl.1.27", …
	path    string // empty for the embedded one
	version int    // minor version
}

// clients lists every kubectl the transcripts run with. E2E_CLIENTS (names, comma-separated)
// picks some of them, e.g. to regenerate a version's variant of a block with -rewrite:
//
//	E2E_CLIENTS=kubectl.1.33 go test ./e2e -run TestKubectl -rewrite
func clients(t *testing.T) []client {
	all := []client{{name: "embedded", version: 37}}
	bins := kubectlBinaries(t)
	for _, name := range sortedKeys(bins) {
		v := 0
		if _, err := fmt.Sscanf(name, "kubectl.1.%d", &v); err != nil {
			v = binaryMinor(bins[name])
		}
		all = append(all, client{name: name, path: bins[name], version: v})
	}
	pick := os.Getenv("E2E_CLIENTS")
	if pick == "" {
		return all
	}
	var out []client
	for _, c := range all {
		if contains(strings.Split(pick, ","), c.name) {
			out = append(out, c)
		}
	}
	return out
}

// binaryMinor asks a kubectl binary for its minor version.
func binaryMinor(path string) int {
	out, err := exec.Command(path, "version", "--client", "-o", "json").Output()
	if err != nil {
		return 0
	}
	var minor int
	if m := regexp.MustCompile(`"minor":\s*"(\d+)`).FindSubmatch(out); m != nil {
		fmt.Sscanf(string(m[1]), "%d", &minor)
	}
	return minor
}

// TestKubectl runs every transcript in testdata/kubectl with every kubectl, each run against a
// cluster of its own. A transcript's directives:
//
//	run [only=NAMES] [except=NAMES] [min=MINOR] [max=MINOR] [env=K=V]
//	kubectl ARGS…            (first input line: the command line)
//	stdin lines…             (the rest: its standard input)
//	----
//	exact output (stdout and stderr interleaved), then "[rc=N]" when the status is not 0
//
//	wait pod=NAME phase=Running        (waits, up to 30 s, for a pod condition; prints nothing)
//
//	advance by=DURATION               (ages the cluster: everything due within it happens)
//
//	kubesim                            (kubesim's own commands: registry, node, clock)
//	registry push my-app:1.0
//	----
//	exact output, then "[rc=N]" when the status is not 0
//
//	watch [lines=N]                    (starts kubectl in the background, e.g. get -w; prints nothing)
//	kubectl ARGS…
//	----
//
//	stop [until=TEXT]                  (waits for TEXT, then Ctrl-C: prints what the watch wrote)
//
// Each run has a cluster of its own with a frozen clock, in the default namespace, so outputs are
// exact (ages included); only absolute timestamps show as <time> and resourceVersions as "<rv>"
// (one counter for the whole cluster, which the controllers and kubelets advance concurrently).
func TestKubectl(t *testing.T) {
	cs := clients(t)
	datadriven.Walk(t, "testdata/kubectl", func(t *testing.T, path string) {
		for _, c := range cs {
			t.Run(c.name, func(t *testing.T) {
				s := newSession(t, c, filepath.Base(path))
				datadriven.RunTest(t, path, s.run)
			})
		}
	})
}

// session is one transcript run by one kubectl, against a cluster of its own whose clock is
// frozen: time moves only with the transcript's advance directives, so every output is exact.
type session struct {
	t          *testing.T
	c          client
	inst       *serve.Instance
	kubeconfig string
	cache      string
	watch      *watch // the kubectl running in the background, if any
	// pushed names the digests of the builds `kubesim registry push` made, in order: a build's
	// digest covers its creation time, the moment of the run.
	pushed map[string]string
}

// addonsUp is how long a transcript's cluster has been up at its first command: long enough for
// node01 to pull coredns.
const addonsUp = 10 * time.Second

func newSession(t *testing.T, c client, file string) *session {
	dir := t.TempDir()
	clk := clock.NewFrozen(time.Now().Truncate(time.Second))
	inst, err := serve.Start(serve.Options{DataDir: dir, Seed: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close(context.Background()) })
	s := &session{t: t, c: c, inst: inst, kubeconfig: inst.Kubeconfig, cache: filepath.Join(dir, "cache")}
	ctx := context.Background()
	client := inst.Cluster.Client()
	err = wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default service account: %v", err)
	}
	// The add-ons' pods (coredns, kube-proxy) are placed and running before the transcript's
	// first command, as on a cluster someone hands over: otherwise the transcript's pods race
	// them for nodes, addresses and the image pull queue (node01 pulls coredns).
	err = wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "k8s-app in (kube-dns,kube-proxy)"})
		if err != nil || len(pods.Items) < 4 {
			return false, nil
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the add-ons' pods were never placed: %v", err)
	}
	inst.Cluster.Settle()
	inst.Cluster.Clock.Advance(addonsUp)
	inst.Cluster.Settle()
	return s
}

func (s *session) run(t *testing.T, td *datadriven.TestData) string {
	switch td.Cmd {
	case "run":
		if !s.applies(td) {
			return td.Expected
		}
		line, stdin, _ := strings.Cut(td.Input, "\n")
		if stdin != "" {
			stdin += "\n"
		}
		args, err := shell.Fields(line, nil)
		if err != nil || len(args) == 0 || args[0] != "kubectl" {
			td.Fatalf(t, "the first input line must be a kubectl command line: %q (%v)", line, err)
		}
		out, rc := s.runAnchored(args[1:], stdin, envOf(td))
		out = s.normalize(out)
		if rc != 0 {
			out += fmt.Sprintf("[rc=%d]\n", rc)
		}
		return out
	case "wait":
		s.wait(t, td)
		return ""
	case "kubesim":
		return s.admin(t, td)
	case "watch":
		s.startWatch(t, td)
		return ""
	case "stop":
		return s.stopWatch(t, td)
	case "advance":
		var d string
		td.ScanArgs(t, "by", &d)
		dur, err := time.ParseDuration(d)
		if err != nil {
			td.Fatalf(t, "advance by=%s: %v", d, err)
		}
		s.inst.Cluster.Settle()
		s.inst.Cluster.Clock.Advance(dur)
		s.inst.Cluster.Settle()
		return ""
	default:
		td.Fatalf(t, "unknown directive %q", td.Cmd)
		return ""
	}
}

// admin runs one of kubesim's own command lines (the input, without "kubesim") against the
// session's cluster, as `kubesim registry|node|clock …` does against a running kubesim serve.
func (s *session) admin(t *testing.T, td *datadriven.TestData) string {
	args, err := shell.Fields(strings.TrimSpace(td.Input), nil)
	if err != nil || len(args) == 0 {
		td.Fatalf(t, "the input must be a kubesim command line: %q (%v)", td.Input, err)
	}
	s.inst.Cluster.Settle()
	var out strings.Builder
	rc := admin.Run(context.Background(), s.inst.Cluster, args, &out, &out)
	s.inst.Cluster.Settle()
	for _, m := range pushDigest.FindAllStringSubmatch(out.String(), -1) {
		if _, ok := s.pushed[m[1]]; !ok {
			if s.pushed == nil {
				s.pushed = map[string]string{}
			}
			s.pushed[m[1]] = fmt.Sprintf("sha256:<pushed-%d>", len(s.pushed)+1)
		}
	}
	res := s.normalize(out.String())
	if rc != 0 {
		res += fmt.Sprintf("[rc=%d]\n", rc)
	}
	return res
}

// applies reports whether a directive runs with this session's kubectl.
func (s *session) applies(td *datadriven.TestData) bool {
	for _, a := range td.CmdArgs {
		switch a.Key {
		case "only":
			if !contains(a.Vals, s.c.name) {
				return false
			}
		case "except":
			if contains(a.Vals, s.c.name) {
				return false
			}
		case "min":
			var v int
			fmt.Sscanf(a.Vals[0], "%d", &v)
			if s.c.version < v {
				return false
			}
		case "max":
			var v int
			fmt.Sscanf(a.Vals[0], "%d", &v)
			if s.c.version > v {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func envOf(td *datadriven.TestData) []string {
	var env []string
	for _, a := range td.CmdArgs {
		if a.Key == "env" {
			for _, v := range a.Vals {
				env = append(env, strings.ReplaceAll(v, `\s`, " ")) // \s: a space, which directives cannot hold
			}
		}
	}
	return env
}

// embeddedMu serializes embedded kubectl runs that change the process environment (EDITOR).
var embeddedMu sync.Mutex

// kubectl runs one command line, with stdout and stderr interleaved as a terminal shows them.
func (s *session) kubectl(args []string, stdin string, env []string) (string, int) {
	var out lockedBuffer
	if s.c.path == "" {
		embeddedMu.Lock()
		defer embeddedMu.Unlock()
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			old, had := os.LookupEnv(k)
			os.Setenv(k, v)
			defer func() {
				if had {
					os.Setenv(k, old)
				} else {
					os.Unsetenv(k)
				}
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rc := kubectl.Run(ctx, kubectl.Invocation{Args: args, Stdin: strings.NewReader(stdin),
			Stdout: &out, Stderr: &out, Kubeconfig: s.kubeconfig, CacheDir: s.cache})
		return out.String(), rc
	}
	cmd := exec.Command(s.c.path, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "KUBECACHEDIR="+s.cache, "KUBECTL_KUBERC=false")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("running %s: %v", s.c.path, err)
	}
	return out.String(), rc
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var (
	rfc3339     = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})`)
	describeTS  = regexp.MustCompile(`\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`)
	editTmpFile = regexp.MustCompile(`/tmp/kubectl-edit-\d+\.(yaml|json)`)
	podIP       = regexp.MustCompile(`\b(10\.244\.\d+\.)\d+\b`)
	pushDigest  = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`)
	resourceVer = regexp.MustCompile(`("?resourceVersion"?: ?)"\d+"`)
)

// runAnchored runs a command in a settled cluster whose frozen "now" is the current wall second,
// so that kubectl's ages (its wall clock minus the stored timestamps) are the virtual ones. A
// read-only command that straddled a wall-clock second is run again.
func (s *session) runAnchored(args []string, stdin string, env []string) (string, int) {
	for attempt := 0; ; attempt++ {
		s.inst.Cluster.Settle()
		s.inst.Cluster.Clock.Reanchor()
		second := time.Now().Truncate(time.Second)
		out, rc := s.kubectl(args, stdin, env)
		if time.Now().Truncate(time.Second).Equal(second) || !readOnly(args) || attempt == 3 {
			return out, rc
		}
	}
}

func readOnly(args []string) bool {
	for _, a := range args {
		switch a {
		case "get", "describe", "explain", "api-resources", "api-versions", "version", "logs", "events":
			return true
		}
		if !strings.HasPrefix(a, "-") {
			return false
		}
	}
	return false
}

// normalize replaces what differs between runs: absolute timestamps (the frozen clock starts at
// the wall time of the run), resourceVersions, kubectl edit's temporary file names, the
// digests of pushed builds, and the host part of pod IPs: whether node01 runs a coredns pod,
// and so which addresses its range has given out, depends on whether its kubelet was Ready
// when the add-ons' pods were scheduled.
func (s *session) normalize(out string) string {
	out = rfc3339.ReplaceAllString(out, "<time>")
	out = describeTS.ReplaceAllString(out, "<time>")
	out = editTmpFile.ReplaceAllString(out, "/tmp/kubectl-edit-<n>.$1")
	out = resourceVer.ReplaceAllString(out, `$1"<rv>"`)
	out = podIP.ReplaceAllString(out, "${1}<n>")
	for digest, name := range s.pushed {
		out = strings.ReplaceAll(out, digest, name)
	}
	return out
}

// wait blocks until a pod reaches a phase (pod=NAME phase=PHASE).
func (s *session) wait(t *testing.T, td *datadriven.TestData) {
	var pod, phase string
	td.ScanArgs(t, "pod", &pod)
	td.ScanArgs(t, "phase", &phase)
	client := s.inst.Cluster.Client()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, pod, metav1.GetOptions{})
		return err == nil && string(p.Status.Phase) == phase, nil
	})
	if err != nil {
		td.Fatalf(t, "pod %s never reached %s: %v", pod, phase, err)
	}
}
