package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"k8s.io/apimachinery/pkg/util/wait"

	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/lessons"
	"kubesim.dev/kubesim/internal/session"
	"kubesim.dev/kubesim/internal/terminal"
)

// learner is one browser session: a cluster, a shell bound to it, the shell's output kept for
// reconnects, and the lesson's progress.
type learner struct {
	srv     *Server
	id      string
	cluster *cluster.Cluster
	sess    *session.Session
	ctx     context.Context
	cancel  context.CancelFunc

	in     *io.PipeWriter
	resize chan terminal.Size

	mu       sync.Mutex
	out      []byte // the last outKeep bytes of output
	outEnd   int64  // offset just past out's last byte
	outCh    chan struct{}
	active   time.Time
	conn     *websocket.Conn
	connSeq  int
	lesson   *lessons.Lesson
	lessonID string
	progress *lessons.Progress
	eval     *lessons.Evaluator
	lc       *lessonCluster
	notify   chan struct{} // progress changed
	closed   bool
	shellEnd chan struct{}

	ready      chan struct{} // closed once cluster.New returned
	clusterErr error
}

// outKeep is how much terminal output a session keeps for a page that reconnects.
const outKeep = 64 << 10

func newLearner(s *Server, id string, seed int64) (*learner, error) {
	token, err := cluster.NewToken()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &learner{srv: s, id: id, ctx: ctx, cancel: cancel,
		resize: make(chan terminal.Size, 1), outCh: make(chan struct{}), active: time.Now(),
		notify: make(chan struct{}, 1), shellEnd: make(chan struct{}), ready: make(chan struct{})}
	clusterID := "web-" + id
	sess, err := session.New(session.Config{
		ID:        id,
		Transport: &waitTransport{l: l, base: s.api.InProcessTransport(clusterID)},
		Token:     token,
		Runtime: func(node string) session.Runtime {
			if l.waitCluster() != nil {
				return nil
			}
			if rt := l.cluster.Runtime(node); rt != nil {
				return rt
			}
			return nil
		},
		TempDir: s.opts.TempDir,
	})
	if err != nil {
		cancel()
		return nil, err
	}
	l.sess = sess
	// The shell is there at once; the cluster follows in the background, and commands that
	// need it wait for it.
	go func() {
		defer close(l.ready)
		l.cluster, l.clusterErr = cluster.New(s.api, cluster.Options{ID: clusterID, Seed: seed, Token: token})
	}()
	pr, pw := io.Pipe()
	l.in = pw
	go l.runShell(pr)
	return l, nil
}

// waitCluster waits until the session's cluster has started.
func (l *learner) waitCluster() error {
	select {
	case <-l.ready:
		if l.clusterErr != nil {
			return fmt.Errorf("your cluster could not start: %w", l.clusterErr)
		}
		return nil
	case <-l.ctx.Done():
		return l.ctx.Err()
	}
}

// waitTransport holds requests until the cluster is up.
type waitTransport struct {
	l    *learner
	base http.RoundTripper
}

func (t *waitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	select {
	case <-t.l.ready:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	if t.l.clusterErr != nil {
		return nil, t.l.clusterErr
	}
	return t.base.RoundTrip(req)
}

// runShell runs the interactive shell for as long as the session lives; a shell the learner
// leaves with exit is replaced by a new one.
func (l *learner) runShell(in io.Reader) {
	defer close(l.shellEnd)
	for l.ctx.Err() == nil {
		_ = l.sess.Term.Run(l.ctx, in, outWriter{l}, l.resize)
	}
}

type outWriter struct{ l *learner }

func (w outWriter) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	l.out = append(l.out, p...)
	if len(l.out) > outKeep {
		l.out = append([]byte(nil), l.out[len(l.out)-outKeep:]...)
	}
	l.outEnd += int64(len(p))
	close(l.outCh)
	l.outCh = make(chan struct{})
	l.mu.Unlock()
	return len(p), nil
}

// since returns the output from offset on (or from the oldest kept byte) and the new offset.
func (l *learner) since(off int64) ([]byte, int64, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := l.outEnd - int64(len(l.out))
	if off < start {
		off = start
	}
	if off > l.outEnd {
		off = l.outEnd
	}
	return append([]byte(nil), l.out[off-start:]...), l.outEnd, l.outCh
}

func (l *learner) touch() {
	l.mu.Lock()
	l.active = time.Now()
	l.mu.Unlock()
}

func (l *learner) lastActive() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active
}

func (l *learner) close(why string) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close(websocket.StatusGoingAway, "session ended: "+why)
	}
	l.cancel()
	l.in.Close()
	// Let the command that runs finish before its files go.
	select {
	case <-l.shellEnd:
	case <-time.After(10 * time.Second):
	}
	<-l.ready
	if l.cluster != nil {
		l.cluster.Stop()
	}
	l.sess.Close()
}

// --- the websocket ---

// clientMsg is a control message from the page (text frames; binary frames are keystrokes).
type clientMsg struct {
	Type    string `json:"type"`
	Session string `json:"session,omitempty"`
	Offset  int64  `json:"offset,omitempty"`
	Cols    int    `json:"cols,omitempty"`
	Rows    int    `json:"rows,omitempty"`
	Lesson  string `json:"lesson,omitempty"`
	Action  string `json:"action,omitempty"`
	Step    int    `json:"step,omitempty"`
	Choice  int    `json:"choice,omitempty"`
	Data    string `json:"data,omitempty"`
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(CookieName)
	var l *learner
	if err == nil {
		s.mu.Lock()
		l = s.sessions[c.Value]
		s.mu.Unlock()
	}
	if l == nil {
		// No session (expired, or the page was served by another process): make one. The
		// cookie cannot be set on a websocket response the page can rely on, so say so.
		http.Error(w, "no session: reload the page to start a new cluster", http.StatusUnauthorized)
		return
	}
	conn, err := websocket.Accept(w, r, nil) // same-origin only (the default)
	if err != nil {
		return
	}
	conn.SetReadLimit(1 << 20)
	l.serve(r.Context(), conn)
}

// serve runs one connection of the session's page until it drops or another replaces it.
func (l *learner) serve(ctx context.Context, conn *websocket.Conn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		conn.Close(websocket.StatusGoingAway, "session ended")
		return
	}
	old := l.conn
	l.conn = conn
	l.connSeq++
	seq := l.connSeq
	l.active = time.Now()
	l.mu.Unlock()
	if old != nil {
		old.Close(websocket.StatusPolicyViolation, "this session was opened in another window")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer func() {
		l.mu.Lock()
		if l.connSeq == seq {
			l.conn = nil
		}
		l.mu.Unlock()
	}()
	var wmu sync.Mutex
	send := func(typ websocket.MessageType, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		wctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		return conn.Write(wctx, typ, p)
	}
	sendJSON := func(v any) error {
		b, _ := json.Marshal(v)
		return send(websocket.MessageText, b)
	}
	// The first message says where the page's terminal is: how much output it has seen.
	typ, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	var hello clientMsg
	if typ != websocket.MessageText || json.Unmarshal(data, &hello) != nil || hello.Type != "hello" {
		conn.Close(websocket.StatusPolicyViolation, "the first message must be a hello")
		return
	}
	if hello.Session != "" && hello.Session != l.id {
		conn.Close(websocket.StatusPolicyViolation, "refused: this connection belongs to another session")
		return
	}
	if err := sendJSON(map[string]any{"type": "hello", "session": l.id}); err != nil {
		return
	}
	l.mu.Lock()
	l.lessonID = hello.Lesson
	l.mu.Unlock()
	l.startLesson(hello.Lesson)
	_ = sendJSON(l.progressMsg())
	// Output pump.
	go func() {
		off := hello.Offset
		for {
			data, end, ch := l.since(off)
			if len(data) > 0 {
				if send(websocket.MessageBinary, data) != nil {
					cancel()
					return
				}
			}
			off = end
			select {
			case <-ch:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Lesson checks and progress pushes.
	go func() {
		t := time.NewTicker(l.srv.opts.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if l.check(ctx) {
					_ = sendJSON(l.progressMsg())
				}
			case <-l.notify:
				l.check(ctx)
				_ = sendJSON(l.progressMsg())
			}
		}
	}()
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		l.touch()
		if typ == websocket.MessageBinary {
			if _, err := l.in.Write(data); err != nil {
				return
			}
			continue
		}
		var m clientMsg
		if err := json.Unmarshal(data, &m); err != nil {
			_ = sendJSON(map[string]string{"type": "error", "message": "not a JSON message"})
			continue
		}
		if m.Session != "" && m.Session != l.id {
			_ = sendJSON(map[string]string{"type": "error", "message": "refused: the message names another session"})
			continue
		}
		switch m.Type {
		case "input":
			// Typed text as a JSON string (the binary frame's alternative).
			if _, err := l.in.Write([]byte(m.Data)); err != nil {
				return
			}
		case "resize":
			if m.Cols > 0 && m.Rows > 0 && m.Cols <= 1000 && m.Rows <= 500 {
				select {
				case <-l.resize:
				default:
				}
				l.resize <- terminal.Size{Cols: m.Cols, Rows: m.Rows}
			}
		case "lesson":
			l.lessonAction(m)
		default:
			_ = sendJSON(map[string]string{"type": "error", "message": fmt.Sprintf("unknown message type %q", m.Type)})
		}
	}
}

// --- the lesson ---

func (l *learner) startLesson(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.progress != nil && (id == "" || id == l.lesson.ID) {
		return
	}
	les := l.srv.lesson(id)
	if les == nil {
		return
	}
	if l.lc == nil {
		select {
		case <-l.ready:
		default:
			// The lesson starts once the cluster is up (the next progress tick).
			return
		}
		if l.cluster == nil {
			return
		}
		lc, err := newLessonCluster(l.cluster)
		if err != nil {
			return
		}
		l.lc = lc
	}
	ev, err := lessons.NewEvaluator(les, l.lc)
	if err != nil {
		return
	}
	l.lesson, l.progress, l.eval = les, lessons.NewProgress(les), ev
}

type progressMsg struct {
	Type   string `json:"type"`
	Lesson string `json:"lesson"`
	lessons.View
}

func (l *learner) progressMsg() progressMsg {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.progress == nil {
		return progressMsg{Type: "progress"}
	}
	return progressMsg{Type: "progress", Lesson: l.lesson.ID, View: l.progress.View()}
}

// check runs the lesson's pending checks; it reports whether the progress changed.
func (l *learner) check(ctx context.Context) bool {
	l.mu.Lock()
	started, id := l.progress != nil, l.lessonID
	l.mu.Unlock()
	if !started {
		l.startLesson(id)
		l.mu.Lock()
		started = l.progress != nil
		l.mu.Unlock()
		return started
	}
	l.mu.Lock()
	p, ev := l.progress, l.eval
	var exprs []string
	if p != nil {
		exprs = p.Exprs()
	}
	l.mu.Unlock()
	if p == nil || len(exprs) == 0 {
		return false
	}
	res := ev.Eval(ctx, exprs)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.progress == p && p.Observe(res)
}

func (l *learner) changed() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *learner) lessonAction(m clientMsg) {
	l.mu.Lock()
	p, ev := l.progress, l.eval
	l.mu.Unlock()
	if p == nil {
		return
	}
	switch m.Action {
	case "open":
		l.mu.Lock()
		actions, ok := p.StartSetup(m.Step)
		l.mu.Unlock()
		if ok {
			l.changed()
			go func() {
				err := lessons.RunActions(l.ctx, ev, l.files(), poll, actions)
				l.mu.Lock()
				p.SetupFinished(m.Step, err)
				l.mu.Unlock()
				l.changed()
			}()
		}
	case "tryit":
		l.mu.Lock()
		actions, ok := p.StartTryIt(m.Step)
		l.mu.Unlock()
		if ok {
			l.changed()
			go func() {
				err := lessons.RunActions(l.ctx, ev, l.files(), poll, actions)
				l.mu.Lock()
				p.TryItFinished(m.Step, err)
				l.mu.Unlock()
				l.changed()
			}()
		}
	case "answer":
		l.mu.Lock()
		p.Answer(m.Step, m.Choice)
		l.mu.Unlock()
		l.changed()
	case "reveal":
		l.mu.Lock()
		p.Reveal(m.Step)
		l.mu.Unlock()
		l.changed()
	case "hint":
		l.mu.Lock()
		p.Hint(m.Step)
		l.mu.Unlock()
		l.changed()
	}
}

// files is where a lesson's writeFile actions write: the shell's file system.
func (l *learner) files() lessons.Files { return fsFiles{l} }

type fsFiles struct{ l *learner }

func (f fsFiles) WriteFile(path string, data []byte) error {
	return f.l.sess.Term.FS().WriteFile(path, data, 0o644)
}

// poll waits, in wall time, for a lesson's condition.
func poll(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) { return cond() })
}
