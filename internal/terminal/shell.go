package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Session is one learner's shell. Its methods are not safe for concurrent use, except SetHost.
type Session struct {
	cfg    Config
	limits Limits
	clock  Clock
	wall   Clock
	rand   *rand.ChaCha8
	hist   *history

	mu    sync.Mutex
	stack []*shell // the outermost shell first
	tty   *tty     // the interactive terminal while Run is active
}

// New creates a session.
func New(cfg Config) (*Session, error) {
	if cfg.Host == "" {
		cfg.Host = "controlplane"
	}
	s := &Session{cfg: cfg, limits: cfg.Limits.withDefaults(), clock: cfg.Clock, wall: cfg.WallClock}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.wall == nil {
		s.wall = realClock{}
	}
	s.rand = rand.NewChaCha8([32]byte{'k', 'u', 'b', 'e', 's', 'i', 'm'})
	s.hist = newHistory(cfg.HistorySize)
	fsys := cfg.FS
	if fsys == nil {
		fsys = NewFS(cfg.FSLimits, cfg.Host, s.clock.Now)
	}
	sh, err := s.newShell(nil, cfg.Host, fsys, cfg.Commands, cfg.Env)
	if err != nil {
		return nil, err
	}
	s.stack = []*shell{sh}
	return s, nil
}

// FS is the file system of the outermost shell.
func (s *Session) FS() *memfs.FS { return s.stack[0].fs }

// Host is the host name of the innermost shell.
func (s *Session) Host() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stack[len(s.stack)-1].host
}

// SetHost renames the host of the innermost shell (the prompt changes at once).
func (s *Session) SetHost(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stack[len(s.stack)-1].host = name
}

// History returns the command history, oldest first.
func (s *Session) History() []string { return s.hist.list() }

// Exec runs a script in the outermost shell, non-interactively (aliases still expand), and
// returns its exit status. The shell state (variables, directory, functions) persists between
// calls. stdin may be nil.
func (s *Session) Exec(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) int {
	return s.stack[0].runScript(ctx, script, runIO{stdin: stdin, stdout: stdout, stderr: stderr})
}

// shell is one interpreter: the outermost one or a nested one (ssh).
type shell struct {
	sess     *Session
	parent   *shell
	runner   *interp.Runner
	fs       *memfs.FS
	host     string
	commands map[string]Command
	env      *sandboxEnv

	mu      sync.Mutex
	funcs   map[string]bool
	aliases map[string]string // alias name → its value, for type and completion
	sources map[string]string // virtual path → instrumented script, for source
	seq     int

	rs            *runState // the command line running now
	exitRequested bool
	exited        bool
	status        int
}

func (s *Session) newShell(parent *shell, host string, fsys *memfs.FS, cmds map[string]Command, extra map[string]string) (*shell, error) {
	sh := &shell{
		sess: s, parent: parent, fs: fsys, host: host, commands: cmds,
		funcs: map[string]bool{}, aliases: map[string]string{}, sources: map[string]string{},
	}
	sh.env = newSandboxEnv(host, extra)
	for _, d := range []string{"/dev"} {
		_ = fsys.MkdirAll(d, 0o755)
	}
	for _, d := range devices {
		if !fsys.Exists("/dev/" + d) {
			if f, err := fsys.OpenFile("/dev/"+d, memfs.O_CREATE|memfs.O_WRONLY, 0o666); err == nil {
				f.Close()
			}
		}
	}
	r, err := interp.New(
		interp.Env(sh.env),
		interp.Interactive(true),
		interp.StdIO(nil, io.Discard, io.Discard),
		interp.CallHandler(sh.call),
		interp.ExecHandlers(func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
			// next (the host's exec) is deliberately never called.
			return sh.exec
		}),
		interp.OpenHandler(sh.open),
		interp.StatHandler(sh.stat),
		interp.ReadDirHandler2(sh.readDir),
		interp.AccessHandler(sh.access),
		interp.Params("--", "-bash"),
	)
	if err != nil {
		return nil, err
	}
	// interp.Dir would stat a host path: set the sandbox's directory directly, then reset while
	// TMPDIR names a path that cannot exist, so the interpreter's private FIFO directory (process
	// substitution, which we refuse anyway) never points at the host's /tmp.
	r.Dir = "/root"
	sh.env.resetting = true
	r.Reset()
	sh.env.resetting = false
	sh.runner = r
	return sh, nil
}

var devices = []string{"null", "zero", "random", "urandom", "stdin", "stdout", "stderr", "tty"}

// runIO are the streams of one command line.
type runIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	terminal       bool // stdout/stderr are the tty (interactive)
}

// runScript parses, checks and runs one command line.
func (sh *shell) runScript(ctx context.Context, script string, rio runIO) int {
	lim := sh.sess.limits
	if len(script) > lim.MaxInput {
		fmt.Fprintf(rio.stderr, "kubesim: input too long (%d bytes; the limit is %d)\n", len(script), lim.MaxInput)
		return sh.setStatus(1)
	}
	file, err := syntax.NewParser().Parse(strings.NewReader(script), "")
	if err != nil {
		fmt.Fprintf(rio.stderr, "bash: %s\n", syntaxMessage(err))
		return sh.setStatus(2)
	}
	if err := sh.prepare(file); err != nil {
		fmt.Fprintf(rio.stderr, "%s\n", err)
		return sh.setStatus(1)
	}
	return sh.runFile(ctx, file, rio)
}

func (sh *shell) setStatus(code int) int {
	sh.status = code
	// Make $? follow, as bash does for a syntax error.
	if sh.runner != nil {
		_ = sh.runner.Run(context.Background(), &syntax.CallExpr{Args: []*syntax.Word{lit(statusCmd), lit(fmt.Sprint(code))}})
	}
	return code
}

func (sh *shell) runFile(ctx context.Context, file *syntax.File, rio runIO) int {
	rs := newRunState(ctx, sh, rio)
	defer rs.finish()
	sh.rs = rs
	defer func() { sh.rs = nil }()
	if rio.terminal && sh.sess.tty != nil {
		defer sh.sess.tty.pushForeground(rs)()
	}
	sh.exitRequested = false
	interp.StdIO(rs.stdinR, rs.stdout, rs.stderr)(sh.runner)
	err := sh.runner.Run(rs.ctx, file)
	code := 0
	var es interp.ExitStatus
	switch {
	case err == nil:
	case errors.As(err, &es):
		code = int(es)
	default:
		code = 1
	}
	if cause := rs.cause(); cause != nil {
		switch {
		case errors.Is(cause, errInterrupt):
			code = 130
		case errors.Is(cause, errSessionDone):
			code = 130
		default:
			code = 1
		}
	} else if err != nil && !errors.As(err, &es) {
		fmt.Fprintf(rs.stderr, "bash: %v\n", err)
	}
	if sh.runner.Exited() && sh.exitRequested {
		sh.exited = true
	}
	if rs.cause() != nil {
		sh.setStatus(code) // $? of an interrupted or stopped command line
	}
	sh.status = code
	return code
}

// syntaxMessage turns a parse error into bash's wording where the two differ only in form.
func syntaxMessage(err error) string {
	var pe syntax.ParseError
	if errors.As(err, &pe) {
		return "syntax error: " + pe.Text
	}
	return err.Error()
}

// sandboxEnv is the interpreter's base environment: the sandbox's own variables, never the
// host's.
type sandboxEnv struct {
	vars      map[string]string
	resetting bool
}

func newSandboxEnv(host string, extra map[string]string) *sandboxEnv {
	vars := map[string]string{
		"HOME":     "/root",
		"PATH":     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"USER":     "root",
		"LOGNAME":  "root",
		"SHELL":    "/bin/bash",
		"TERM":     "xterm-256color",
		"LANG":     "C.UTF-8",
		"HOSTNAME": host,
		"SHLVL":    "1",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return &sandboxEnv{vars: vars}
}

// noHostTmp is what TMPDIR reads while the interpreter resets: an absolute path with a NUL byte,
// which no system call accepts.
const noHostTmp = "/\x00kubesim-no-host-tmp"

func (e *sandboxEnv) Get(name string) expand.Variable {
	switch {
	case name == "TMPDIR" && e.resetting:
		return expand.Variable{Set: true, Kind: expand.String, Str: noHostTmp}
	case strings.HasPrefix(name, "HOME "):
		// ~user: only root exists; any other ~name stays as typed, as bash leaves it for an
		// unknown user. This also keeps the interpreter from asking the host's user database.
		if user := name[len("HOME "):]; user == "root" {
			return expand.Variable{Set: true, Kind: expand.String, Str: "/root"}
		} else {
			return expand.Variable{Set: true, Kind: expand.String, Str: "~" + user}
		}
	case name == "UID" || name == "EUID" || name == "GID":
		return expand.Variable{Set: true, ReadOnly: true, Kind: expand.String, Str: "0"}
	}
	if v, ok := e.vars[name]; ok {
		return expand.Variable{Set: true, Exported: true, Kind: expand.String, Str: v}
	}
	return expand.Variable{}
}

func (e *sandboxEnv) Each(f func(name string, vr expand.Variable) bool) {
	names := make([]string, 0, len(e.vars))
	for k := range e.vars {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !f(k, e.Get(k)) {
			return
		}
	}
	for _, k := range []string{"UID", "EUID", "GID"} {
		if !f(k, e.Get(k)) {
			return
		}
	}
}

// exportedEnv lists the exported variables of a handler context.
func exportedEnv(env expand.Environ) []string {
	m := map[string]string{}
	env.Each(func(name string, vr expand.Variable) bool {
		if vr.Exported && vr.IsSet() && vr.Kind == expand.String {
			m[name] = vr.Str
		} else {
			delete(m, name)
		}
		return true
	})
	return sortedEnv(m)
}

// --- file handlers: everything goes to the session's memfs ---

func (sh *shell) open(ctx context.Context, path string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	hc := interp.HandlerCtx(ctx)
	p := memfs.Resolve(hc.Dir, path)
	if strings.HasPrefix(p, sourceDir) {
		sh.mu.Lock()
		src, ok := sh.sources[p]
		delete(sh.sources, p)
		sh.mu.Unlock()
		if ok {
			return nopRWC{Reader: strings.NewReader(src)}, nil
		}
	}
	rwc, err := sh.openFile(hc, p, flag, perm)
	if err != nil {
		return nil, &os.PathError{Op: "bash:", Path: path, Err: errors.New(memfs.Strerror(err))}
	}
	return rwc, nil
}

// openFile opens a session file, with the few device files a shell expects.
func (sh *shell) openFile(hc interp.HandlerContext, p string, flag int, perm os.FileMode) (io.ReadWriteCloser, error) {
	switch {
	case p == "/dev/null":
		return nopRWC{Reader: strings.NewReader("")}, nil
	case p == "/dev/zero":
		return nopRWC{Reader: zeroReader{}}, nil
	case p == "/dev/random" || p == "/dev/urandom":
		return nopRWC{Reader: sh.sess.rand}, nil
	case p == "/dev/stdout" || p == "/dev/tty" && hc.Stdout != nil:
		return nopRWC{Writer: hc.Stdout}, nil
	case p == "/dev/stderr":
		return nopRWC{Writer: hc.Stderr}, nil
	case p == "/dev/stdin":
		if hc.Stdin == nil {
			return nopRWC{Reader: strings.NewReader("")}, nil
		}
		return nopRWC{Reader: hc.Stdin}, nil
	case strings.HasPrefix(p, "/dev/tcp/") || strings.HasPrefix(p, "/dev/udp/"):
		return nil, syscall.ENETUNREACH
	}
	f, err := sh.fs.OpenFile(p, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

type nopRWC struct {
	io.Reader
	io.Writer
}

func (n nopRWC) Read(p []byte) (int, error) {
	if n.Reader == nil {
		return 0, io.EOF
	}
	return n.Reader.Read(p)
}

func (n nopRWC) Write(p []byte) (int, error) {
	if n.Writer == nil {
		return len(p), nil
	}
	return n.Writer.Write(p)
}

func (nopRWC) Close() error { return nil }

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func (sh *shell) stat(ctx context.Context, name string, followSymlinks bool) (fs.FileInfo, error) {
	hc := interp.HandlerCtx(ctx)
	return sh.fs.Stat(memfs.Resolve(hc.Dir, name))
}

func (sh *shell) readDir(ctx context.Context, path string) ([]fs.DirEntry, error) {
	hc := interp.HandlerCtx(ctx)
	return sh.fs.ReadDir(memfs.Resolve(hc.Dir, path))
}

func (sh *shell) access(ctx context.Context, path string, mode interp.AccessMode) error {
	hc := interp.HandlerCtx(ctx)
	fi, err := sh.fs.Stat(memfs.Resolve(hc.Dir, path))
	if err != nil {
		return err
	}
	if mode&interp.AccessExec != 0 && !fi.IsDir() && fi.Mode()&0o111 == 0 {
		return &fs.PathError{Op: "access", Path: path, Err: syscall.EACCES}
	}
	return nil
}

func lit(s string) *syntax.Word { return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}} }
