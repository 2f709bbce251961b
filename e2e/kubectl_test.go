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
	"k8s.io/client-go/tools/clientcmd"
	"mvdan.cc/sh/v3/shell"

	corev1 "k8s.io/api/core/v1"

	"kubesim.dev/kubesim/internal/kubectl"
)

// A client is a kubectl: the embedded one (v1.37) or an installed binary.
type client struct {
	name    string // "embedded", "kubectl", "kubectl.1.27", …
	path    string // empty for the embedded one
	version int    // minor version
}

// clients lists every kubectl the transcripts run with.
func clients(t *testing.T) []client {
	out := []client{{name: "embedded", version: 37}}
	if os.Getenv("E2E_EMBEDDED_ONLY") != "" { // e.g. to regenerate transcripts with -rewrite
		return out
	}
	bins := kubectlBinaries(t)
	for _, name := range sortedKeys(bins) {
		v := 0
		if _, err := fmt.Sscanf(name, "kubectl.1.%d", &v); err != nil {
			v = binaryMinor(bins[name])
		}
		out = append(out, client{name: name, path: bins[name], version: v})
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

// TestKubectl runs every transcript in testdata/kubectl with every kubectl, each in a namespace
// of its own. A transcript's directives:
//
//	run [only=NAMES] [except=NAMES] [min=MINOR] [max=MINOR] [env=K=V]
//	kubectl ARGS…            (first input line: the command line)
//	stdin lines…             (the rest: its standard input)
//	----
//	exact output (stdout and stderr interleaved), then "[rc=N]" when the status is not 0
//
//	wait pod=NAME phase=Running        (waits, up to 30 s, for a pod condition; prints nothing)
//
// The namespace is shown as <ns>; ages and timestamps, which depend on the wall clock of each
// kubectl, as <age> and <time>.
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

// session is one transcript run by one kubectl.
type session struct {
	t          *testing.T
	c          client
	ns         string
	kubeconfig string
	cache      string
}

var namespaces sync.Map

func newSession(t *testing.T, c client, file string) *session {
	ns := strings.NewReplacer(".txt", "", ".", "-", "_", "-").Replace("e2e-" + file + "-" + c.name)
	if _, loaded := namespaces.LoadOrStore(ns, true); loaded {
		t.Fatalf("namespace %s used twice", ns)
	}
	ctx := context.Background()
	client := inst.Cluster.Client()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default service account in %s: %v", ns, err)
	}
	// a kubeconfig whose context namespace is the session's
	cfg, err := clientcmd.LoadFromFile(inst.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = ns
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return &session{t: t, c: c, ns: ns, kubeconfig: path, cache: filepath.Join(dir, "cache")}
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
		out, rc := s.kubectl(args[1:], stdin, envOf(td))
		out = s.normalize(out)
		if rc != 0 {
			out += fmt.Sprintf("[rc=%d]\n", rc)
		}
		return out
	case "wait":
		s.wait(t, td)
		return ""
	default:
		td.Fatalf(t, "unknown directive %q", td.Cmd)
		return ""
	}
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
	ageToken    = regexp.MustCompile(`^((\d+[ywdhms])+|<invalid>|<unknown>)(\)?)$`)
	editTmpFile = regexp.MustCompile(`/tmp/kubectl-edit-\d+\.(yaml|json)`)
)

// normalize replaces what differs between runs: the namespace, wall-clock ages and timestamps.
func (s *session) normalize(out string) string {
	out = strings.ReplaceAll(out, s.ns, "<ns>")
	out = rfc3339.ReplaceAllString(out, "<time>")
	out = describeTS.ReplaceAllString(out, "<time>")
	out = editTmpFile.ReplaceAllString(out, "/tmp/kubectl-edit-<n>.$1")
	return squeezeTables(out)
}

var tableHeader = regexp.MustCompile(`^[A-Z][A-Z0-9_.()/-]*( [A-Z][A-Z0-9_.()/-]*)*( {2,}[A-Z][A-Z0-9_.()/-]*( [A-Z][A-Z0-9_.()/-]*)*)+\s*$`)

// squeezeTables normalizes tables as the conformance corpus does: in a table (a header line of
// upper-case titles, up to a blank line) and in describe's Events section, ages become <age> and
// runs of spaces one space, since an age's width moves the columns after it.
func squeezeTables(out string) string {
	lines := strings.Split(out, "\n")
	in := false
	for i, line := range lines {
		switch {
		case tableHeader.MatchString(line), strings.HasPrefix(line, "Events:") && strings.TrimSpace(line) != "Events:  <none>":
			in = true
		case strings.TrimSpace(line) == "":
			in = false
		}
		if !in {
			continue
		}
		fields := strings.Fields(line)
		for j, f := range fields {
			fields[j] = ageToken.ReplaceAllString(f, "<age>$3")
		}
		indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
		lines[i] = indent + strings.Join(fields, " ")
	}
	return strings.Join(lines, "\n")
}

// wait blocks until a pod reaches a phase (pod=NAME phase=PHASE).
func (s *session) wait(t *testing.T, td *datadriven.TestData) {
	var pod, phase string
	td.ScanArgs(t, "pod", &pod)
	td.ScanArgs(t, "phase", &phase)
	client := inst.Cluster.Client()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(s.ns).Get(ctx, pod, metav1.GetOptions{})
		return err == nil && string(p.Status.Phase) == phase, nil
	})
	if err != nil {
		td.Fatalf(t, "pod %s never reached %s: %v", pod, phase, err)
	}
}
