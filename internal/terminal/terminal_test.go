package terminal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	k8sclock "k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// testEpoch is the frozen time of test sessions.
var testEpoch = time.Date(2025, 6, 3, 10, 0, 0, 0, time.UTC)

// autoClock is a clock whose timers fire at once and move time forward: sleep 5 takes no wall
// time in tests and date shows the advanced time.
type autoClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *autoClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *autoClock) NewTimer(d time.Duration) k8sclock.Timer {
	c.mu.Lock()
	if d > 1000*time.Hour {
		d = 1000 * time.Hour
	}
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return &firedTimer{ch: ch}
}

type firedTimer struct{ ch chan time.Time }

func (t *firedTimer) C() <-chan time.Time        { return t.ch }
func (t *firedTimer) Stop() bool                 { return false }
func (t *firedTimer) Reset(d time.Duration) bool { return false }
func (t *firedTimer) Chan() <-chan time.Time     { return t.ch }

// fakeKubectl stands in for the caller's kubectl: it echoes its arguments and reads -f files
// from the session.
func fakeKubectl(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "apply" {
		for i, a := range args {
			if a == "-f" && i+1 < len(args) {
				var data []byte
				var err error
				if args[i+1] == "-" {
					data, err = io.ReadAll(inv.Stdin)
				} else {
					data, err = inv.FS.ReadFile(inv.Path(args[i+1]))
				}
				if err != nil {
					fmt.Fprintf(inv.Stderr, "error: the path %q does not exist\n", args[i+1])
					return 1
				}
				for _, l := range strings.Split(string(data), "\n") {
					if name, ok := strings.CutPrefix(strings.TrimSpace(l), "name: "); ok {
						fmt.Fprintf(inv.Stdout, "pod/%s created\n", name)
					}
				}
				return 0
			}
		}
	}
	if len(args) > 0 && args[0] == "get" {
		fmt.Fprintln(inv.Stdout, "NAME    READY   STATUS    RESTARTS   AGE")
		fmt.Fprintln(inv.Stdout, "nginx   1/1     Running   0          5s")
		return 0
	}
	if len(args) > 0 && args[0] == "wait" {
		<-ctx.Done()
		return 130
	}
	fmt.Fprintf(inv.Stdout, "kubectl %s\n", strings.Join(args, " "))
	return 0
}

var kubectlCompleter = CompleterFunc(func(ctx context.Context, req CompletionRequest) Completion {
	switch len(req.Args) {
	case 1:
		return Completion{Candidates: []string{"apply", "create", "delete", "describe", "edit", "get", "logs"}}
	case 2:
		return Completion{Candidates: []string{"pods", "deployments", "nodes", "services", "secrets"}}
	case 3:
		return Completion{Candidates: []string{"nginx", "nginx-2", "redis"}}
	}
	return Completion{Files: true}
})

func newTestSession(t testing.TB, cfg Config) *Session {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = &autoClock{now: testEpoch}
	}
	if cfg.WallClock == nil {
		cfg.WallClock = clocktesting.NewFakeClock(testEpoch)
	}
	if cfg.Commands == nil {
		cfg.Commands = map[string]Command{"kubectl": fakeKubectl}
	}
	if cfg.Completers == nil {
		cfg.Completers = map[string]Completer{"kubectl": kubectlCompleter}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTranscripts runs the data-driven transcripts in testdata: each "run" executes its input in
// one session per file and shows stdout and stderr as the terminal would, then the exit status
// when it is not zero.
func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := newTestSession(t, Config{
			Limits:   Limits{MaxOutput: 64 << 10, MaxVarBytes: 256 << 10, MaxYes: 1000},
			FSLimits: memfs.Limits{MaxBytes: 1 << 20, MaxFiles: 200},
		})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "run":
				var out bytes.Buffer
				stdin := ""
				tail := 0
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "stdin":
						stdin = strings.Join(a.Vals, " ") + "\n"
					case "tail":
						fmt.Sscan(a.Vals[0], &tail)
					}
				}
				code := s.Exec(context.Background(), d.Input, strings.NewReader(stdin), &out, &out)
				res := out.String()
				if lines := strings.SplitAfter(res, "\n"); tail > 0 && len(lines) > tail+1 {
					res = fmt.Sprintf("... (%d lines)\n", len(lines)-1-tail) + strings.Join(lines[len(lines)-1-tail:], "")
				}
				if code != 0 {
					res += fmt.Sprintf("[exit %d]\n", code)
				}
				return res
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}
