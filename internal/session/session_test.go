package session

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/terminal/vt"
)

var (
	testServer     *apiserver.Server
	testServerErr  error
	testServerOnce sync.Once
	testClusters   atomic.Int64
)

// newTestSession starts a cluster on the package's shared API server and a session bound to it.
func newTestSession(t testing.TB) (*Session, *cluster.Cluster) {
	t.Helper()
	testServerOnce.Do(func() { testServer, testServerErr = apiserver.New() })
	if testServerErr != nil {
		t.Fatal(testServerErr)
	}
	n := testClusters.Add(1)
	c, err := cluster.New(testServer, cluster.Options{ID: fmt.Sprintf("s%d", n), Seed: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	s, err := New(Config{
		ID:        c.ID,
		Transport: testServer.InProcessTransport(c.ID),
		Token:     c.Token,
		Runtime: func(node string) Runtime {
			if rt := c.Runtime(node); rt != nil {
				return rt
			}
			return nil
		},
		TempDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	waitFor(t, "the default service account", func() bool {
		_, err := c.Client().CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil
	})
	return s, c
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 60*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// TestTranscripts runs shell scripts in a session against a real cluster. Each file is one
// session; "run" prints what the script wrote and its exit status when it is not 0.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s, _ := newTestSession(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "run":
				var out bytes.Buffer
				code := s.Term.Exec(context.Background(), d.Input, nil, &out, &out)
				res := out.String()
				if code != 0 {
					res += fmt.Sprintf("[exit %d]\n", code)
				}
				return res
			case "wait":
				// wait until a script prints what is expected
				want := strings.TrimSpace(d.Expected)
				var got string
				deadline := time.Now().Add(60 * time.Second)
				for time.Now().Before(deadline) {
					var out bytes.Buffer
					s.Term.Exec(context.Background(), d.Input, nil, &out, &out)
					got = out.String()
					if strings.TrimSpace(got) == want {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				return got
			}
			return "unknown command " + d.Cmd
		})
	})
}

// screen drives a session's interactive terminal and reads it through a VT emulator.
type screen struct {
	t       *testing.T
	in      *io.PipeWriter
	mu      sync.Mutex
	scr     *vt.Screen
	changed chan struct{}
}

func (h *screen) Write(p []byte) (int, error) {
	h.mu.Lock()
	h.scr.Write(p)
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (h *screen) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scr.String()
}

func (h *screen) waitFor(s string) {
	h.t.Helper()
	deadline := time.After(60 * time.Second)
	for !strings.Contains(h.text(), s) {
		select {
		case <-h.changed:
		case <-deadline:
			h.t.Fatalf("the screen never showed %q:\n%s", s, h.text())
		}
	}
}

func (h *screen) typ(s string) {
	h.t.Helper()
	if _, err := h.in.Write([]byte(s)); err != nil {
		h.t.Fatal(err)
	}
}

func startScreen(t *testing.T, s *Session) *screen {
	h := &screen{t: t, scr: vt.New(100, 30), changed: make(chan struct{}, 1)}
	pr, pw := io.Pipe()
	h.in = pw
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Term.Run(ctx, pr, h, nil); close(done) }()
	t.Cleanup(func() { cancel(); pw.Close(); <-done })
	h.waitFor("controlplane:~$")
	return h
}

// TestKubectlEditOpensTheTerminalsEditor edits an object with kubectl edit in vi and in nano:
// the editor is the terminal's own, on /tmp/kubectl-edit-*.yaml, and the change reaches the
// cluster.
func TestKubectlEditOpensTheTerminalsEditor(t *testing.T) {
	s, c := newTestSession(t)
	var out bytes.Buffer
	if code := s.Term.Exec(context.Background(), "kubectl create configmap colors --from-literal=color=blue", nil, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	h := startScreen(t, s)
	h.typ("kubectl edit configmap colors\r")
	h.waitFor("/tmp/kubectl-edit-")
	h.waitFor("color: blue")
	// vi: find blue, change the word, write and quit.
	h.typ("/blue\r")
	h.typ("cwgreen\x1b")
	h.typ(":wq\r")
	h.waitFor("configmap/colors edited")
	cm, err := c.Client().CoreV1().ConfigMaps("default").Get(context.Background(), "colors", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "green" {
		t.Fatalf("after vi: %v %v", cm.Data, err)
	}
	// nano through KUBE_EDITOR in the session.
	h.typ("clear\r")
	h.typ("KUBE_EDITOR=nano kubectl edit cm colors\r")
	h.waitFor("GNU nano")
	h.typ("\x17green\r") // Ctrl-W: search
	h.typ("\x0b")        // Ctrl-K cuts the line
	h.typ("  color: red\r")
	h.typ("\x0f\r") // Ctrl-O, Enter: write
	h.typ("\x18")   // Ctrl-X
	h.waitFor("configmap/colors edited")
	cm, err = c.Client().CoreV1().ConfigMaps("default").Get(context.Background(), "colors", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "red" {
		t.Fatalf("after nano: %v %v\n%s", cm.Data, err, h.text())
	}
	// kubectl removed its temporary file, and so did the session.
	waitFor(t, "kubectl's temporary file to leave the session's /tmp", func() bool {
		data, err := s.Term.FS().ReadDir("/tmp")
		if err != nil {
			return false
		}
		for _, e := range data {
			if strings.HasPrefix(e.Name(), "kubectl-edit-") {
				return false
			}
		}
		return true
	})
	// Leaving the editor without a change.
	h.typ("clear\r")
	h.typ("kubectl edit cm colors\r")
	h.waitFor("/tmp/kubectl-edit-")
	h.typ(":q\r")
	h.waitFor("Edit cancelled, no changes made.")
}

// TestKubectlEditWithoutTerminal: kubectl edit in a script has no terminal for the editor.
func TestKubectlEditWithoutTerminal(t *testing.T) {
	s, _ := newTestSession(t)
	var out bytes.Buffer
	s.Term.Exec(context.Background(), "kubectl create configmap a --from-literal=x=1 >/dev/null; kubectl edit cm a", nil, &out, &out)
	want := "kubesim: the editor needs the interactive terminal\nerror: there was a problem with the editor \"vi\"\n"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}

// TestMain runs the tests with a HOME of their own and checks that no session wrote to it: the
// learner's kubectl must never touch the host user's ~/.kube.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "kubesim-session-home-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	os.Unsetenv("KUBECONFIG")
	code := m.Run()
	if ents, _ := os.ReadDir(home); len(ents) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "sessions wrote to the host's HOME: %v\n", ents)
		code = 1
	}
	os.RemoveAll(home)
	os.Exit(code)
}

// TestKubectlWatchStopsOnCtrlC: kubectl get -w prints changes as they come, and Ctrl-C ends it
// at once, even when no change is on its way, and gives the prompt back (a watch used to hold
// the terminal for good: kubectl ends it only on a signal to its process).
func TestKubectlWatchStopsOnCtrlC(t *testing.T) {
	s, _ := newTestSession(t)
	var out bytes.Buffer
	if code := s.Term.Exec(context.Background(), "kubectl create configmap watched --from-literal=a=1", nil, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	h := startScreen(t, s)
	h.typ("kubectl get configmaps -w\r")
	h.waitFor("watched            1      0s")
	out.Reset()
	if code := s.Term.Exec(context.Background(), "kubectl create configmap another --from-literal=b=2", nil, &out, &out); code != 0 {
		t.Fatal(out.String())
	}
	h.waitFor("another            1      0s")
	h.typ("\x03")
	h.waitFor("^C\ncontrolplane:~$")
}
