package terminal

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"kubesim.dev/kubesim/internal/terminal/vt"
)

// term drives a Session through Run with raw keystrokes and reads the screen through a VT
// emulator. It never sleeps: it waits for the screen to change, with a deadline.
type term struct {
	t       *testing.T
	s       *Session
	in      *io.PipeWriter
	mu      sync.Mutex
	scr     *vt.Screen
	changed chan struct{}
	done    chan error
	resize  chan Size
	clock   *clocktesting.FakeClock
}

func startTerm(t *testing.T, cfg Config) *term {
	t.Helper()
	return startTermSize(t, cfg, 80, 24)
}

func startTermSize(t *testing.T, cfg Config, cols, rows int) *term {
	t.Helper()
	clock := clocktesting.NewFakeClock(testEpoch)
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	h := &term{t: t, scr: vt.New(cols, rows), changed: make(chan struct{}, 1), done: make(chan error, 1),
		resize: make(chan Size, 1), clock: clock}
	h.s = newTestSession(t, cfg)
	if cols != 80 || rows != 24 {
		h.resize <- Size{Cols: cols, Rows: rows}
	}
	pr, pw := io.Pipe()
	h.in = pw
	go func() { h.done <- h.s.Run(context.Background(), pr, h, h.resize) }()
	t.Cleanup(func() { pw.Close() })
	h.waitFor("controlplane:~$ ")
	deadline := time.Now().Add(10 * time.Second)
	for (cols != 80 || rows != 24) && h.s.tty.getSize() != (Size{Cols: cols, Rows: rows}) {
		if time.Now().After(deadline) {
			t.Fatal("resize was not applied")
		}
		runtime.Gosched()
	}
	return h
}

func (h *term) Write(p []byte) (int, error) {
	h.mu.Lock()
	h.scr.Write(p)
	h.mu.Unlock()
	select {
	case h.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (h *term) screen() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.scr.String()
}

func (h *term) send(keys ...string) {
	for _, k := range keys {
		if _, err := h.in.Write([]byte(k)); err != nil {
			h.t.Fatal(err)
		}
	}
}

// waitUntil waits until cond holds for the screen.
func (h *term) waitUntil(what string, cond func(string) bool) {
	h.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if cond(h.screen()) {
			return
		}
		select {
		case <-h.changed:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// waitFor waits until the screen ends with text (trailing spaces ignored).
func (h *term) waitFor(text string) {
	h.t.Helper()
	want := strings.TrimRight(text, " \n")
	h.waitUntil(strconvQuote(text), func(s string) bool { return strings.HasSuffix(s, want) })
}

func strconvQuote(s string) string { return "\"" + strings.ReplaceAll(s, "\n", `\n`) + "\"" }

const (
	up    = "\x1b[A"
	left  = "\x1b[D"
	right = "\x1b[C"
	home  = "\x1b[H"
	end   = "\x1b[F"
	ctrlA = "\x01"
	ctrlC = "\x03"
	ctrlD = "\x04"
	ctrlK = "\x0b"
	ctrlO = "\x0f"
	ctrlU = "\x15"
	ctrlW = "\x17"
	ctrlX = "\x18"
	esc   = "\x1b"
	tab   = "\t"
)

func TestPromptAndLineEditing(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("echo wrld", left, left, left, "o", end, "!!\r")
	h.waitFor("$ echo world!!\nworld!!\ncontrolplane:~$ ")
	h.send("foo bar baz", ctrlW, "qux", home, "echo ", "\r")
	h.waitFor("foo bar qux\ncontrolplane:~$ ")
	h.send("garbage", ctrlA, ctrlK, "echo kept", ctrlA, right, right, right, right, ctrlK, " cut", ctrlU, "echo ok\r")
	h.waitFor("$ echo ok\nok\ncontrolplane:~$ ")
	h.send(up, up, "\r")
	h.waitFor("foo bar qux\ncontrolplane:~$ ")
	h.send("cd /etc\r")
	h.waitFor("controlplane:/etc$ ")
	h.send("cd\r")
	h.waitFor("controlplane:~$ ")
}

func TestCtrlCInterruptsCommands(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("sleep 100\r")
	h.waitFor("$ sleep 100\n")
	h.send(ctrlC)
	h.waitFor("^C\ncontrolplane:~$ ")
	h.send("echo $?\r")
	h.waitFor("130\ncontrolplane:~$ ")
	h.send("while true; do :; done\r")
	h.waitFor("done\n")
	h.send(ctrlC)
	h.waitFor("^C\ncontrolplane:~$ ")
	h.send("kubectl wait --for=condition=Ready pod/x\r")
	h.waitFor("pod/x\n")
	h.send(ctrlC)
	h.waitFor("^C\ncontrolplane:~$ ")
	// Ctrl-C on a line being typed abandons it.
	h.send("echo never", ctrlC)
	h.waitFor("$ echo never^C\ncontrolplane:~$ ")
	h.send("echo alive\r")
	h.waitFor("alive\ncontrolplane:~$ ")
}

func TestTabCompletion(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("kub", tab)
	h.waitFor("$ kubectl ")
	h.send("g", tab)
	h.waitFor("$ kubectl get ")
	h.send("po", tab)
	h.waitFor("$ kubectl get pods ")
	h.send("ng", tab)
	h.waitFor("$ kubectl get pods nginx")
	h.send(tab, tab)
	h.waitFor("nginx    nginx-2\ncontrolplane:~$ kubectl get pods nginx")
	h.send(ctrlU, "alias k=kubectl\r")
	h.waitFor("controlplane:~$ ")
	h.send("k desc", tab)
	h.waitFor("$ k describe ")
	h.send(ctrlU, "echo x > pod.yaml; mkdir -p manifests\r")
	h.waitFor("controlplane:~$ ")
	h.send("cat po", tab)
	h.waitFor("$ cat pod.yaml ")
	h.send(ctrlU, "ls man", tab)
	h.waitFor("$ ls manifests/")
	h.send(ctrlU, "ech", tab)
	h.waitFor("$ echo ")
}

func TestMultiLineAndStdin(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("for i in 1 2\r")
	h.waitFor("\n> ")
	h.send("do echo n$i\r")
	h.waitFor("\n> ")
	h.send("done\r")
	h.waitFor("n1\nn2\ncontrolplane:~$ ")
	h.send("cat > notes.txt\r", "hello\r", "world\r", ctrlD)
	h.waitFor("world\ncontrolplane:~$ ")
	h.send("cat notes.txt\r")
	h.waitFor("$ cat notes.txt\nhello\nworld\ncontrolplane:~$ ")
	h.send("read -r name\r")
	h.waitFor("read -r name\n")
	h.send("bob\r")
	h.waitFor("controlplane:~$ ")
	h.send("echo hi $name\r")
	h.waitFor("hi bob\ncontrolplane:~$ ")
	h.send("history\r")
	h.waitFor("    2  cat > notes.txt\n    3  cat notes.txt\n    4  read -r name\n    5  echo hi $name\n    6  history\ncontrolplane:~$ ")
	h.send(ctrlD)
	h.waitFor("exit")
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
}

func TestNano(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("nano pod.yaml\r")
	h.waitUntil("nano", func(s string) bool { return strings.Contains(s, "GNU nano 7.2") && strings.Contains(s, "[ New File ]") })
	h.send("kind: Pod\rname: web\rimage: nginx")
	h.waitUntil("typing", func(s string) bool { return strings.Contains(s, "image: nginx") && strings.Contains(s, "Modified") })
	if !strings.Contains(h.screen(), "^X Exit") || !strings.Contains(h.screen(), "^O Write Out") {
		t.Fatalf("help bars missing:\n%s", h.screen())
	}
	h.send(ctrlO)
	h.waitUntil("write prompt", func(s string) bool { return strings.Contains(s, "File Name to Write: pod.yaml") })
	h.send("\r")
	h.waitUntil("wrote", func(s string) bool { return strings.Contains(s, "[ Wrote 3 lines ]") })
	// Cut the "name" line and paste it at the top; search; then exit saving.
	h.send(up, ctrlK, up, ctrlU)
	h.send(ctrlW, "image\r")
	h.waitUntil("search", func(s string) bool { return strings.Contains(s, "Modified") })
	h.send(ctrlX)
	h.waitUntil("save prompt", func(s string) bool { return strings.Contains(s, "Save modified buffer?") })
	h.send("y")
	h.waitUntil("file name prompt", func(s string) bool { return strings.Contains(s, "File Name to Write: pod.yaml") })
	h.send("\r")
	h.waitFor("controlplane:~$ nano pod.yaml\ncontrolplane:~$ ")
	data, err := h.s.FS().ReadFile("/root/pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "name: web\nkind: Pod\nimage: nginx\n"; got != want {
		t.Fatalf("pod.yaml = %q, want %q", got, want)
	}
}

func TestNanoExitWithoutSaving(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("echo keep > f.txt; nano f.txt\r")
	h.waitUntil("read", func(s string) bool { return strings.Contains(s, "[ Read 1 line ]") })
	h.send("junk ", ctrlX)
	h.waitUntil("save prompt", func(s string) bool { return strings.Contains(s, "Save modified buffer?") })
	h.send("n")
	h.waitFor("controlplane:~$ ")
	if data, _ := h.s.FS().ReadFile("/root/f.txt"); string(data) != "keep\n" {
		t.Fatalf("f.txt = %q", data)
	}
}

func TestVi(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("printf 'one\\ntwo\\nthree\\n' > list.txt; vi list.txt\r")
	h.waitUntil("vi", func(s string) bool { return strings.Contains(s, `"list.txt" 3L, 14B`) && strings.Contains(s, "~") })
	// Move the first line below the second (dd p), append to line 3, open a line, undo a change.
	h.send("dd", "p")
	h.send("G", "A", "!", esc)
	h.waitUntil("append", func(s string) bool { return strings.Contains(s, "three!") })
	h.send("o", "four", esc)
	h.send("x", "u")
	h.waitUntil("undo", func(s string) bool { return strings.Contains(s, "four") })
	h.send("/thr\r", "x")
	h.waitUntil("search+x", func(s string) bool { return strings.Contains(s, "hree!") })
	h.send(":q\r")
	h.waitUntil("E37", func(s string) bool { return strings.Contains(s, "E37: No write since last change (add ! to override)") })
	h.send("gg", "yy", "G", "P", "i", "- ", esc)
	h.send(":wq\r")
	h.waitFor("; vi list.txt\ncontrolplane:~$ ")
	data, _ := h.s.FS().ReadFile("/root/list.txt")
	if got, want := string(data), "two\none\nhree!\n- two\nfour\n"; got != want {
		t.Fatalf("list.txt = %q, want %q", got, want)
	}
	h.send("vi list.txt\r")
	h.waitUntil("vi again", func(s string) bool { return strings.Contains(s, `"list.txt" 5L`) })
	h.send("dd", ":q!\r")
	h.waitFor("controlplane:~$ ")
	if data2, _ := h.s.FS().ReadFile("/root/list.txt"); !bytes.Equal(data, data2) {
		t.Fatalf(":q! changed the file: %q", data2)
	}
}

// TestEditForKubectl shows how the caller's kubectl edit runs the editor through Invocation.Edit.
func TestEditForKubectl(t *testing.T) {
	edit := func(ctx context.Context, inv *Invocation) int {
		p := "/tmp/kubectl-edit-123.yaml"
		inv.FS.WriteFile(p, []byte("replicas: 1\n"), 0o600)
		if err := inv.Edit(ctx, inv.Getenv("KUBE_EDITOR"), p); err != nil {
			inv.Stderr.Write([]byte(err.Error() + "\n"))
			return 1
		}
		data, _ := inv.FS.ReadFile(p)
		inv.Stdout.Write([]byte("edited: " + string(data)))
		return 0
	}
	h := startTerm(t, Config{Commands: map[string]Command{"kubectl": edit}, Env: map[string]string{"KUBE_EDITOR": "vim"}})
	h.send("kubectl edit deploy web\r")
	h.waitUntil("vim", func(s string) bool { return strings.Contains(s, "replicas: 1") })
	h.send("$", "r", "3", ":wq\r")
	h.waitFor("edited: replicas: 3\ncontrolplane:~$ ")
}

func TestNestedShellForSSH(t *testing.T) {
	ssh := func(ctx context.Context, inv *Invocation) int {
		host := inv.Args[1]
		opts := NestOptions{Host: host, Commands: map[string]Command{}}
		if len(inv.Args) > 2 {
			return inv.RunIn(ctx, opts, strings.Join(inv.Args[2:], " "))
		}
		code := inv.Nest(ctx, opts)
		inv.Stdout.Write([]byte("Connection to " + host + " closed.\n"))
		return code
	}
	h := startTerm(t, Config{Commands: map[string]Command{"ssh": ssh, "kubectl": fakeKubectl}})
	h.send("ssh node01 hostname\r")
	h.waitFor("node01\ncontrolplane:~$ ")
	h.send("ssh node01\r")
	h.waitFor("node01:~$ ")
	h.send("hostname; kubectl get pods\r")
	h.waitFor("node01\nbash: kubectl: command not found\nnode01:~$ ")
	h.send("exit\r")
	h.waitFor("logout\nConnection to node01 closed.\ncontrolplane:~$ ")
	h.send("ssh node01\r")
	h.waitFor("node01:~$ ")
	h.send(ctrlD)
	h.waitFor("logout\nConnection to node01 closed.\ncontrolplane:~$ ")
}

func TestWatch(t *testing.T) {
	h := startTerm(t, Config{})
	h.send("echo before\r")
	h.waitFor("before\ncontrolplane:~$ ")
	h.send("watch -n 5 kubectl get pods\r")
	h.waitUntil("watch", func(s string) bool {
		return strings.HasPrefix(s, "Every 5.0s: kubectl get pods              controlplane: Tue Jun  3 10:00:00 2025\n\nNAME")
	})
	h.waitUntil("waiting", func(string) bool { return h.clock.HasWaiters() })
	h.clock.Step(5 * time.Second)
	h.waitUntil("redraw", func(s string) bool { return strings.Contains(s, "10:00:05 2025") })
	h.send(ctrlC)
	h.waitFor("before\ncontrolplane:~$ watch -n 5 kubectl get pods\ncontrolplane:~$ ")
}

func TestResizeWrapsLines(t *testing.T) {
	h := startTermSize(t, Config{}, 30, 10)
	h.send("echo " + strings.Repeat("a", 30))
	h.waitFor("controlplane:~$ echo aaaaaaaaa\naaaaaaaaaaaaaaaaaaaaa")
	h.send(ctrlA, "# ")
	h.waitFor("controlplane:~$ # echo aaaaaaa\naaaaaaaaaaaaaaaaaaaaaaa")
	h.send("\r")
	h.waitFor("aaaaaaaaaaaaaaaaaaaaaaa\ncontrolplane:~$ ")
}

func TestSessionsAreIsolated(t *testing.T) {
	a := newTestSession(t, Config{})
	b := newTestSession(t, Config{})
	var out bytes.Buffer
	a.Exec(context.Background(), "export SECRET=1; echo x > /tmp/a; alias k=kubectl; cd /tmp", nil, &out, &out)
	out.Reset()
	code := b.Exec(context.Background(), "echo \"[$SECRET]\"; cat /tmp/a; type k; pwd", nil, &out, &out)
	want := "[]\ncat: /tmp/a: No such file or directory\nbash: type: k: not found\n/root\n"
	if out.String() != want || code != 0 {
		t.Fatalf("second session sees the first one's state: %q (exit %d)", out.String(), code)
	}
}

func TestCommandTimeLimit(t *testing.T) {
	wall := clocktesting.NewFakeClock(testEpoch)
	s := newTestSession(t, Config{WallClock: wall, Limits: Limits{CommandTime: 10 * time.Second}})
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- s.Exec(context.Background(), "while true; do :; done", nil, &out, &out) }()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for !wall.HasWaiters() {
		select {
		case <-deadline.C:
			t.Fatal("the time budget never armed")
		default:
		}
	}
	wall.Step(11 * time.Second)
	select {
	case code := <-done:
		if code != 1 || out.String() != "kubesim: command stopped: it ran longer than 10s (limit)\n" {
			t.Fatalf("exit %d, output %q", code, out.String())
		}
	case <-deadline.C:
		t.Fatal("busy loop was not stopped")
	}
	out.Reset()
	if code := s.Exec(context.Background(), "echo healthy", nil, &out, &out); code != 0 || out.String() != "healthy\n" {
		t.Fatalf("after the limit: %d %q", code, out.String())
	}
}
