package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"

	"kubesim.dev/kubesim/internal/apiserver"
)

var (
	testAPI     *apiserver.Server
	testAPIErr  error
	testAPIOnce sync.Once
)

func sharedAPI(t testing.TB) *apiserver.Server {
	t.Helper()
	testAPIOnce.Do(func() { testAPI, testAPIErr = apiserver.New() })
	if testAPIErr != nil {
		t.Fatal(testAPIErr)
	}
	return testAPI
}

// testAssets is a minimal built page, so the tests do not depend on npm.
var testAssets = fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>kubesim</title>")}}

func startServer(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	opts.Server = sharedAPI(t)
	if opts.Assets == nil {
		opts.Assets = testAssets
	}
	opts.TempDir = t.TempDir()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return s, hs
}

// visitor is a browser: a cookie jar, the page, and its websocket.
type visitor struct {
	t      testing.TB
	hs     *httptest.Server
	client *http.Client
	conn   *websocket.Conn
	mu     sync.Mutex
	screen strings.Builder
	msgs   []map[string]any
	change chan struct{}
}

func visit(t testing.TB, hs *httptest.Server) *visitor {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	v := &visitor{t: t, hs: hs, client: &http.Client{Jar: jar}, change: make(chan struct{}, 1)}
	resp, err := v.client.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %s", resp.Status)
	}
	return v
}

func (v *visitor) connect(hello map[string]any) {
	v.t.Helper()
	conn, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(v.hs.URL, "http")+"/ws", &websocket.DialOptions{HTTPClient: v.client})
	if err != nil {
		v.t.Fatal(err)
	}
	v.conn = conn
	if hello == nil {
		hello = map[string]any{"type": "hello"}
	}
	b, _ := json.Marshal(hello)
	if err := conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		v.t.Fatal(err)
	}
	go func() {
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				v.mu.Lock()
				v.msgs = append(v.msgs, map[string]any{"type": "closed", "error": err.Error()})
				v.mu.Unlock()
				v.notify()
				return
			}
			v.mu.Lock()
			if typ == websocket.MessageBinary {
				v.screen.Write(data)
			} else {
				var m map[string]any
				json.Unmarshal(data, &m)
				v.msgs = append(v.msgs, m)
			}
			v.mu.Unlock()
			v.notify()
		}
	}()
}

func (v *visitor) notify() {
	select {
	case v.change <- struct{}{}:
	default:
	}
}

func (v *visitor) typ(s string) {
	v.t.Helper()
	if err := v.conn.Write(context.Background(), websocket.MessageBinary, []byte(s)); err != nil {
		v.t.Fatal(err)
	}
}

func (v *visitor) send(m map[string]any) {
	v.t.Helper()
	b, _ := json.Marshal(m)
	if err := v.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		v.t.Fatal(err)
	}
}

func (v *visitor) output() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.screen.String()
}

// waitOutput waits until the terminal output holds s (after the from offset).
func (v *visitor) waitOutput(s string, from int) {
	v.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		out := v.output()
		if len(out) >= from && strings.Contains(out[from:], s) {
			return
		}
		select {
		case <-v.change:
		case <-deadline:
			v.t.Fatalf("output never showed %q:\n%s", s, out)
		}
	}
}

func (v *visitor) waitMsg(pred func(map[string]any) bool) map[string]any {
	v.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		v.mu.Lock()
		for _, m := range v.msgs {
			if pred(m) {
				v.mu.Unlock()
				return m
			}
		}
		v.mu.Unlock()
		select {
		case <-v.change:
		case <-deadline:
			v.t.Fatalf("no such message; got %v", v.msgs)
		}
	}
}

// run types a command and waits for its output and the next prompt.
func (v *visitor) run(cmd string) string {
	v.t.Helper()
	from := len(v.output())
	v.typ(cmd + "\r")
	// The line editor switches bracketed paste on each time it shows a new prompt.
	v.waitOutput("\x1b[?2004l", from)
	v.waitOutput("\x1b[?2004h", strings.LastIndex(v.output(), "\x1b[?2004l"))
	out := v.output()[from:]
	return out
}

func TestNotBuiltPage(t *testing.T) {
	_, hs := startServer(t, Options{Assets: fstest.MapFS{"README.md": {Data: []byte("x")}}})
	resp, err := http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "assets not built") || !strings.Contains(string(body), "make build") {
		t.Fatalf("%s: %s", resp.Status, body)
	}
}

func TestLessonAPIHidesAnswers(t *testing.T) {
	_, hs := startServer(t, Options{})
	resp, err := http.Get(hs.URL + "/api/lessons/image-pull-policies")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, leak := range []string{`"answer"`, "explanation", "expr", "tagDigest"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the lesson JSON contains %s", leak)
		}
	}
	if !strings.Contains(string(body), `"title":"Image pull policies"`) {
		t.Fatalf("lesson: %s", body)
	}
}

// TestTwoSessionsAreIsolated: two browsers at once see only their own pods and files.
func TestTwoSessionsAreIsolated(t *testing.T) {
	s, hs := startServer(t, Options{})
	a, b := visit(t, hs), visit(t, hs)
	a.connect(nil)
	b.connect(nil)
	a.waitOutput("controlplane:~$ ", 0)
	b.waitOutput("controlplane:~$ ", 0)
	if n := s.Sessions(); n != 2 {
		t.Fatalf("%d sessions", n)
	}
	a.run("echo secret-of-a > a.txt; kubectl run only-in-a --image=nginx:1.28")
	b.run("echo secret-of-b > b.txt; kubectl run only-in-b --image=nginx:1.28")
	outA := a.run("ls; kubectl get pods -o name")
	outB := b.run("ls; kubectl get pods -o name")
	if !strings.Contains(outA, "a.txt") || !strings.Contains(outA, "pod/only-in-a") || strings.Contains(outA, "b.txt") || strings.Contains(outA, "only-in-b") {
		t.Errorf("session a sees:\n%s", outA)
	}
	if !strings.Contains(outB, "b.txt") || !strings.Contains(outB, "pod/only-in-b") || strings.Contains(outB, "a.txt") || strings.Contains(outB, "only-in-a") {
		t.Errorf("session b sees:\n%s", outB)
	}
	if strings.Contains(b.output(), "secret-of-a") || strings.Contains(a.output(), "secret-of-b") {
		t.Errorf("output crossed sessions")
	}
}

// TestWebEscapes: websocket messages that name another session are refused, and the server
// stays healthy.
func TestWebEscapes(t *testing.T) {
	_, hs := startServer(t, Options{})
	a, b := visit(t, hs), visit(t, hs)
	a.connect(nil)
	a.waitOutput("controlplane:~$ ", 0)
	idA := a.waitMsg(func(m map[string]any) bool { return m["type"] == "hello" })["session"].(string)

	// b names a's session in its hello: the connection is refused.
	b.connect(map[string]any{"type": "hello", "session": idA})
	closed := b.waitMsg(func(m map[string]any) bool { return m["type"] == "closed" })
	if !strings.Contains(closed["error"].(string), "refused: this connection belongs to another session") {
		t.Errorf("hello for another session: %v", closed)
	}
	// A message naming another session on an open connection is refused; the session goes on.
	a.send(map[string]any{"type": "lesson", "action": "answer", "step": 2, "choice": 1, "session": "0123456789abcdef0123456789abcdef"})
	m := a.waitMsg(func(m map[string]any) bool { return m["type"] == "error" })
	if m["message"] != "refused: the message names another session" {
		t.Errorf("message for another session: %v", m)
	}
	// Without the cookie there is no session to attach to.
	resp, err := http.Get(hs.URL + "/ws")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("websocket without a session: %s", resp.Status)
	}
	// A forged cookie does not reach anyone's session.
	req, _ := http.NewRequest("GET", hs.URL+"/ws", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: "../" + idA})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged cookie: %s", resp.Status)
	}
	if out := a.run("kubectl get ns default -o name"); !strings.Contains(out, "namespace/default") {
		t.Errorf("session a after the attempts:\n%s", out)
	}
	resp, err = http.Get(hs.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestReconnectKeepsTheShell: a dropped connection resumes where the page left off, with the
// shell's state intact.
func TestReconnectKeepsTheShell(t *testing.T) {
	_, hs := startServer(t, Options{})
	a := visit(t, hs)
	a.connect(nil)
	a.waitOutput("controlplane:~$ ", 0)
	a.run("export REMEMBER=yes; cd /tmp")
	seen := len(a.output())
	a.conn.Close(websocket.StatusNormalClosure, "network blip")
	a.connect(map[string]any{"type": "hello", "offset": seen})
	out := a.run("echo $REMEMBER; pwd")
	if !strings.Contains(out, "yes") || !strings.Contains(out, "/tmp") {
		t.Fatalf("after reconnecting:\n%s", out)
	}
}

func TestSessionCapAndIdleTimeout(t *testing.T) {
	s, hs := startServer(t, Options{MaxSessions: 1, IdleTimeout: time.Hour})
	visit(t, hs)
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar}).Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "kubesim is full: it holds 1 sessions, its limit (--max-sessions). Try again in a few minutes."
	if resp.StatusCode != http.StatusServiceUnavailable || strings.TrimSpace(string(body)) != want {
		t.Fatalf("beyond the cap: %s %q", resp.Status, body)
	}
	s.reapOnce(time.Now().Add(59 * time.Minute))
	if s.Sessions() != 1 {
		t.Fatal("a session was removed before its idle timeout")
	}
	s.reapOnce(time.Now().Add(61 * time.Minute))
	if s.Sessions() != 0 {
		t.Fatal("an idle session was kept")
	}
}

var _ = fmt.Sprint
