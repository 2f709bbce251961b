// Package web serves kubesim's browser page: a lesson beside a live terminal, each browser
// session with a cluster of its own. The page's assets are embedded (see web/); the terminal
// talks over a websocket; sessions are created on first visit, kept while in use and removed
// after an idle timeout.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/lessons"
	content "kubesim.dev/kubesim/lessons"
	assets "kubesim.dev/kubesim/web"
)

// Options configure the server.
type Options struct {
	// Server is the process's API server, shared by every session's cluster; nil makes one.
	Server *apiserver.Server
	// IdleTimeout removes a session nobody has typed into for this long (default 30m).
	IdleTimeout time.Duration
	// MaxSessions caps the sessions held at once (default 1000); a new visitor beyond it gets
	// 503 with a message.
	MaxSessions int
	// Seed is the first session's cluster seed; each new session takes the next one.
	Seed int64
	// Lessons are the lessons offered; nil loads the ones embedded from lessons/.
	Lessons []*lessons.Lesson
	// Assets is the built page (index.html and its files); nil uses the embedded web/static.
	Assets fs.FS
	// TempDir holds the sessions' private host directories (default os.TempDir()).
	TempDir string
	// CheckInterval is how often a connected session's lesson checks run (default 1.5s).
	CheckInterval time.Duration
	// Logf logs the server's own events (default: nothing).
	Logf func(format string, args ...any)
}

// Server is the web server. It is an http.Handler.
type Server struct {
	opts    Options
	api     *apiserver.Server
	lessons map[string]*lessons.Lesson
	order   []string
	assets  fs.FS
	built   bool
	mux     *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*learner
	pending  int // sessions being created
	seq      atomic.Int64
	closed   chan struct{}
	wg       sync.WaitGroup
}

// CookieName is the cookie that names a browser's session.
const CookieName = "kubesim_session"

// New creates the server and starts its idle reaper.
func New(opts Options) (*Server, error) {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 1000
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = 1500 * time.Millisecond
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	s := &Server{opts: opts, api: opts.Server, sessions: map[string]*learner{}, closed: make(chan struct{}), lessons: map[string]*lessons.Lesson{}}
	if s.api == nil {
		api, err := apiserver.New()
		if err != nil {
			return nil, err
		}
		s.api = api
	}
	ls := opts.Lessons
	if ls == nil {
		var err error
		if ls, err = lessons.LoadDir(content.FS, "."); err != nil {
			return nil, fmt.Errorf("loading the lessons: %w", err)
		}
	}
	for _, l := range ls {
		s.lessons[l.ID] = l
		s.order = append(s.order, l.ID)
	}
	s.assets = opts.Assets
	if s.assets == nil {
		sub, err := fs.Sub(assets.Static, "static")
		if err != nil {
			return nil, err
		}
		s.assets = sub
	}
	_, err := fs.Stat(s.assets, "index.html")
	s.built = err == nil
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /{$}", s.serveIndex)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /api/lessons", s.serveLessons)
	s.mux.HandleFunc("GET /api/lessons/{id}", s.serveLesson)
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.mux.Handle("GET /", http.FileServerFS(s.assets))
	s.wg.Add(1)
	go s.reap()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// Close ends every session and stops the server's goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return
	default:
	}
	close(s.closed)
	ls := make([]*learner, 0, len(s.sessions))
	for _, l := range s.sessions {
		ls = append(ls, l)
	}
	s.sessions = map[string]*learner{}
	s.mu.Unlock()
	for _, l := range ls {
		l.close("the server is shutting down")
	}
	s.wg.Wait()
}

// Sessions is the number of sessions held.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

const notBuiltPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>kubesim</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>kubesim: assets not built</h1>
<p>The browser page's assets are not in this binary: run <code>make build</code> (it installs the
page's npm packages and embeds them), then start <code>kubesim serve</code> again.</p>
</body></html>
`

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	if !s.built {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, notBuiltPage)
		return
	}
	// Start the visitor's cluster now, so that it is ready when the terminal connects.
	l, err := s.sessionFor(w, r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	_ = l
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, s.assets, "index.html")
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ok: %d sessions\n", s.Sessions())
}

// lessonJSON is a lesson as the page gets it: without quiz answers and check expressions.
type lessonJSON struct {
	ID      string     `json:"id"`
	Title   string     `json:"title"`
	Summary string     `json:"summary,omitempty"`
	Intro   string     `json:"intro,omitempty"`
	Outro   string     `json:"outro,omitempty"`
	Steps   []stepJSON `json:"steps"`
}

type stepJSON struct {
	ID       string    `json:"id"`
	Title    string    `json:"title"`
	Text     string    `json:"text,omitempty"`
	HasSetup bool      `json:"hasSetup,omitempty"`
	Hints    []string  `json:"hints,omitempty"`
	Quiz     *quizJSON `json:"quiz,omitempty"`
}

type quizJSON struct {
	Question string   `json:"question"`
	Choices  []string `json:"choices"`
	TryIt    string   `json:"tryIt,omitempty"`
}

func publicLesson(l *lessons.Lesson) lessonJSON {
	out := lessonJSON{ID: l.ID, Title: l.Title, Summary: l.Summary, Intro: l.Intro, Outro: l.Outro}
	for _, st := range l.Steps {
		sj := stepJSON{ID: st.ID, Title: st.Title, Text: st.Text, HasSetup: len(st.Setup) > 0, Hints: st.Hints}
		if q := st.Quiz; q != nil {
			sj.Quiz = &quizJSON{Question: q.Question, Choices: q.Choices}
			if q.TryIt != nil {
				sj.Quiz.TryIt = q.TryIt.Text
			}
		}
		out.Steps = append(out.Steps, sj)
	}
	return out
}

func (s *Server) serveLessons(w http.ResponseWriter, r *http.Request) {
	var out []map[string]string
	for _, id := range s.order {
		l := s.lessons[id]
		out = append(out, map[string]string{"id": l.ID, "title": l.Title, "summary": l.Summary})
	}
	writeJSON(w, out)
}

func (s *Server) serveLesson(w http.ResponseWriter, r *http.Request) {
	l, ok := s.lessons[r.PathValue("id")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	writeJSON(w, publicLesson(l))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// sessionFor returns the visitor's session, creating it (and the cookie) on the first visit.
func (s *Server) sessionFor(w http.ResponseWriter, r *http.Request) (*learner, error) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.mu.Lock()
		l, ok := s.sessions[c.Value]
		s.mu.Unlock()
		if ok {
			return l, nil
		}
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	l, err := s.create(id)
	if err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return l, nil
}

// errFull is what a visitor beyond the cap is told.
type errFull struct{ max int }

func (e errFull) Error() string {
	return fmt.Sprintf("kubesim is full: it holds %d sessions, its limit (--max-sessions). Try again in a few minutes.", e.max)
}

// create makes a session with its own cluster.
func (s *Server) create(id string) (*learner, error) {
	s.mu.Lock()
	select {
	case <-s.closed:
		s.mu.Unlock()
		return nil, fmt.Errorf("the server is shutting down")
	default:
	}
	if len(s.sessions)+s.pending >= s.opts.MaxSessions {
		s.mu.Unlock()
		return nil, errFull{s.opts.MaxSessions}
	}
	s.pending++
	s.mu.Unlock()
	l, err := newLearner(s, id, s.opts.Seed+s.seq.Add(1)-1)
	s.mu.Lock()
	s.pending--
	if err == nil {
		s.sessions[id] = l
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.opts.Logf("session %s created (%d held)", id[:8], s.Sessions())
	return l, nil
}

func (s *Server) remove(l *learner, why string) {
	s.mu.Lock()
	if s.sessions[l.id] == l {
		delete(s.sessions, l.id)
	}
	s.mu.Unlock()
	l.close(why)
	s.opts.Logf("session %s removed: %s", l.id[:8], why)
}

// reap removes sessions idle for longer than the timeout.
func (s *Server) reap() {
	defer s.wg.Done()
	every := min(s.opts.IdleTimeout/4, time.Minute)
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		s.reapOnce(time.Now())
	}
}

func (s *Server) reapOnce(now time.Time) {
	s.mu.Lock()
	var idle []*learner
	for _, l := range s.sessions {
		if now.Sub(l.lastActive()) > s.opts.IdleTimeout {
			idle = append(idle, l)
		}
	}
	s.mu.Unlock()
	sort.Slice(idle, func(i, j int) bool { return idle[i].id < idle[j].id })
	for _, l := range idle {
		s.remove(l, fmt.Sprintf("idle for more than %v", s.opts.IdleTimeout))
	}
}

func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// lesson returns the lesson with the id, or the first one.
func (s *Server) lesson(id string) *lessons.Lesson {
	if l, ok := s.lessons[id]; ok {
		return l
	}
	if len(s.order) > 0 {
		return s.lessons[s.order[0]]
	}
	return nil
}

var _ = strings.TrimSpace
var _ context.Context
