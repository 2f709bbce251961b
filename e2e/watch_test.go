package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"mvdan.cc/sh/v3/shell"

	"kubesim.dev/kubesim/internal/kubectl"
)

// A watch is a kubectl left running in the background (kubectl get -w) while the transcript goes
// on; "stop" ends it as Ctrl-C does and prints what it wrote.
type watch struct {
	out  lockedBuffer
	stop func()
}

// startWatch runs the directive's kubectl command line in the background and returns once it
// has printed its first lines=N lines (default 2: the header and an object as it is), so that
// what happens next reaches it as changes.
func (s *session) startWatch(t *testing.T, td *datadriven.TestData) {
	if s.watch != nil {
		td.Fatalf(t, "a watch is running already")
	}
	args, err := shell.Fields(strings.TrimSpace(td.Input), nil)
	if err != nil || len(args) == 0 || args[0] != "kubectl" {
		td.Fatalf(t, "the input must be a kubectl command line: %q (%v)", td.Input, err)
	}
	s.inst.Cluster.Settle()
	s.anchorEarly(t)
	w := &watch{}
	if s.c.path == "" {
		w.stop = s.startEmbedded(t, args[1:], &w.out)
	} else {
		cmd := exec.Command(s.c.path, args[1:]...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "KUBECACHEDIR="+s.cache, "KUBECTL_KUBERC=false")
		cmd.Stdout, cmd.Stderr = &w.out, &w.out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		w.stop = func() {
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
	}
	s.watch = w
	t.Cleanup(func() {
		if s.watch != nil {
			s.watch.stop()
		}
	})
	lines := 2 // a table's header and its first row
	if td.HasArg("lines") {
		td.ScanArgs(t, "lines", &lines)
	}
	waitUntil(t, td, "the watch to print its first lines", func() bool { return strings.Count(w.out.String(), "\n") >= lines })
}

// startEmbedded runs the embedded kubectl in the background. Its watch ends only on a signal to
// the process, so stopping it closes its streams instead, as the browser terminal does.
func (s *session) startEmbedded(t *testing.T, args []string, out io.Writer) func() {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	transport := &closingTransport{ctx: ctx, base: &http.Transport{TLSClientConfig: tlsConfig, ForceAttemptHTTP2: true}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		kubectl.Run(ctx, kubectl.Invocation{Args: args, Stdout: out, Stderr: out,
			Kubeconfig: s.kubeconfig, CacheDir: s.cache, Transport: transport})
	}()
	return func() {
		cancel()
		<-done
	}
}

// closingTransport closes its responses when ctx ends.
type closingTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t *closingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err == nil {
		body := resp.Body
		stop := context.AfterFunc(t.ctx, func() { body.Close() })
		resp.Body = &stoppingBody{ReadCloser: body, stop: stop}
	}
	return resp, err
}

type stoppingBody struct {
	io.ReadCloser
	stop func() bool
}

func (b *stoppingBody) Close() error {
	b.stop()
	return b.ReadCloser.Close()
}

// stopWatch waits until the watch printed until=TEXT when given, stops it and returns what it
// printed.
func (s *session) stopWatch(t *testing.T, td *datadriven.TestData) string {
	w := s.watch
	if w == nil {
		td.Fatalf(t, "no watch is running")
	}
	if td.HasArg("until") {
		var until string
		td.ScanArgs(t, "until", &until)
		waitUntil(t, td, "the watch to print "+until, func() bool { return strings.Contains(w.out.String(), until) })
	}
	s.inst.Cluster.Settle()
	// What it printed until Ctrl-C: the embedded kubectl, whose streams are closed under it,
	// reports that as an error a signalled process never prints.
	out := w.out.String()
	w.stop()
	s.watch = nil
	return s.normalize(out)
}

// anchorEarly reanchors the frozen clock at the start of a wall-clock second, so that what a
// watch prints within the next 900 ms shows the ages of the virtual world: kubectl computes ages
// from the host's clock, which a test cannot step. It is done once, before the watch starts: a
// reanchor moves every stored timestamp, and a watch would print each object again.
func (s *session) anchorEarly(t *testing.T) {
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 2*time.Second, true,
		func(context.Context) (bool, error) { return time.Now().Nanosecond() < 100e6, nil })
	if err != nil {
		t.Fatal(err)
	}
	s.inst.Cluster.Clock.Reanchor()
}

func waitUntil(t *testing.T, td *datadriven.TestData, what string, cond func() bool) {
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		td.Fatalf(t, "waiting for %s: %v", what, err)
	}
}
