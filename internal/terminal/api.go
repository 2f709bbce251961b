package terminal

import (
	"context"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	k8sclock "k8s.io/utils/clock"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Command is a program run by the shell: a built-in (ls, grep, nano) or one the caller injects
// (kubectl, crictl, ssh). It returns the exit status. It must return promptly once ctx is done
// (Ctrl-C, a limit, or the session closing) and must do all its I/O through inv: the session's
// file system, stdin, stdout and stderr, never the host's.
type Command func(ctx context.Context, inv *Invocation) int

// Invocation is one run of a Command.
type Invocation struct {
	// Args are the command line after expansion; Args[0] is the name as typed (after alias
	// expansion), e.g. "kubectl" or "/usr/bin/kubectl".
	Args []string
	// Stdin is the command's standard input: a pipe, a file of the session, or the terminal
	// (line-buffered, ends with Ctrl-D). Reads return io.EOF when ctx is done.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Env holds the exported shell variables, "NAME=value", sorted.
	Env []string
	// Dir is the working directory, an absolute path in FS.
	Dir string
	// FS is the file system of the shell running the command.
	FS *memfs.FS
	// Host is the host name shown in the prompt ("controlplane", "node01").
	Host string

	sh       *shell
	terminal bool // stdin and stdout are the interactive terminal
}

// Getenv returns the value of an exported variable, or "".
func (inv *Invocation) Getenv(name string) string {
	for _, kv := range inv.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

// Path resolves a file name given on the command line against the working directory.
func (inv *Invocation) Path(name string) string { return memfs.Resolve(inv.Dir, name) }

// IsTerminal reports whether the command's stdin and stdout are the interactive terminal, as
// isatty(0) && isatty(1) would.
func (inv *Invocation) IsTerminal() bool { return inv.terminal }

// Size is the terminal's size, or 80x24 when there is no terminal.
func (inv *Invocation) Size() Size {
	if t := inv.sh.sess.tty; t != nil {
		return t.getSize()
	}
	return Size{Cols: 80, Rows: 24}
}

// Edit runs a full-screen editor (nano, vi or vim: editor is a command line such as "vim" or
// "nano -w", as in $EDITOR or $KUBE_EDITOR) on path, a file of the session, and returns when the
// user leaves it. kubectl edit uses it. It fails when there is no interactive terminal.
func (inv *Invocation) Edit(ctx context.Context, editor, path string) error {
	return inv.sh.edit(ctx, inv, editor, inv.Path(path))
}

// Nest runs a nested shell (what ssh to another host gives) on the same terminal and returns its
// exit status once the user leaves it with exit, logout or Ctrl-D. Without a terminal it reads
// its commands from inv.Stdin instead. The nested shell has its own variables, functions, aliases
// and working directory; its prompt shows opts.Host.
func (inv *Invocation) Nest(ctx context.Context, opts NestOptions) int {
	return inv.sh.nest(ctx, inv, opts, nil)
}

// RunIn runs script in a fresh nested shell (as "ssh node01 crictl ps" does) with the
// invocation's stdio and returns its exit status.
func (inv *Invocation) RunIn(ctx context.Context, opts NestOptions, script string) int {
	return inv.sh.nest(ctx, inv, opts, &script)
}

// NestOptions describe a nested shell.
type NestOptions struct {
	Host string // prompt host name, e.g. "node01"
	// FS is the nested host's file system; nil shares the current one.
	FS *memfs.FS
	// Commands replace the caller-provided commands of the parent shell when non-nil (a node has
	// crictl but perhaps no kubectl). Built-ins are always there.
	Commands map[string]Command
	// Env adds exported variables.
	Env map[string]string
}

// Completer completes the words of one command (kubectl: subcommands, resource types, names).
type Completer interface {
	Complete(ctx context.Context, req CompletionRequest) Completion
}

// CompleterFunc adapts a function to Completer.
type CompleterFunc func(ctx context.Context, req CompletionRequest) Completion

// Complete implements Completer.
func (f CompleterFunc) Complete(ctx context.Context, req CompletionRequest) Completion {
	return f(ctx, req)
}

// CompletionRequest is the command line being completed.
type CompletionRequest struct {
	// Args are the words before the one being completed; Args[0] is the command name with aliases
	// resolved ("k get" with alias k=kubectl gives ["kubectl", "get"]).
	Args []string
	// Word is the partial word under the cursor (possibly empty).
	Word string
	Dir  string
	FS   *memfs.FS
	Env  []string
}

// Completion is a completer's answer.
type Completion struct {
	// Candidates are whole words that may replace Word. The shell keeps those starting with Word.
	Candidates []string
	// NoSpace: do not add a space after a unique candidate (e.g. it ends with "/" or "=").
	NoSpace bool
	// Files: complete file names instead (or too, when Candidates is empty).
	Files bool
}

// Size is a terminal size in character cells.
type Size struct {
	Cols, Rows int
}

// Clock is the time source of date, sleep, watch and tail -f. internal/clock.Clock and
// k8s.io/utils/clock/testing.FakeClock satisfy it.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) k8sclock.Timer
}

// Limits bound what one command line may use. Zero fields take the defaults.
type Limits struct {
	// CommandTime is the busy time one command line may use: wall time, not counting time spent
	// waiting in sleep, watch or tail -f, reading the terminal, or inside injected commands
	// (default 60s).
	CommandTime time.Duration
	// MaxCommandTime bounds a command line's total wall time, waits included (default 6h).
	MaxCommandTime time.Duration
	// MaxOutput is the number of bytes one command line may write to the terminal or into one
	// command substitution (default 4 MiB).
	MaxOutput int64
	// MaxVarBytes bounds the total size of the shell's variables (default 4 MiB).
	MaxVarBytes int64
	// MaxNesting bounds function, eval and source nesting (default 200).
	MaxNesting int
	// MaxPipes bounds the pipeline stages alive at once (default 64).
	MaxPipes int
	// MaxInput bounds the size of one script or input line (default 256 KiB).
	MaxInput int
	// MaxYes bounds how many lines yes prints (default 100000).
	MaxYes int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int64, d int64) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.CommandTime <= 0 {
		l.CommandTime = 60 * time.Second
	}
	if l.MaxCommandTime <= 0 {
		l.MaxCommandTime = 6 * time.Hour
	}
	def(&l.MaxOutput, 4<<20)
	def(&l.MaxVarBytes, 4<<20)
	defInt(&l.MaxNesting, 200)
	defInt(&l.MaxPipes, 64)
	defInt(&l.MaxInput, 256<<10)
	defInt(&l.MaxYes, 100000)
	return l
}

// Config configures a Session.
type Config struct {
	// Host is the host name in the prompt and of hostname (default "controlplane").
	Host string
	// Env adds exported variables (KUBECONFIG, ...) to the sandbox's own (HOME=/root, PATH, ...).
	// The host's environment is never used.
	Env map[string]string
	// Commands are the caller's programs, by name: kubectl, crictl, ssh, kubesim, ... They take
	// precedence over built-ins of the same name.
	Commands map[string]Command
	// Completers complete the arguments of commands, by command name (e.g. "kubectl").
	Completers map[string]Completer
	// FS is the session's file system; nil makes a fresh one (with FSLimits) holding a small
	// plausible tree (/root, /tmp, /etc/hostname, ...).
	FS       *memfs.FS
	FSLimits memfs.Limits
	// Clock drives date, sleep, watch and tail -f (default: the wall clock).
	Clock Clock
	// WallClock measures the CommandTime budget (default: the wall clock). Tests use a fake one.
	WallClock Clock
	Limits    Limits
	// HistorySize is the number of history entries kept (default 1000).
	HistorySize int
}

type realClock struct{ k8sclock.RealClock }

// NewFS returns a file system with the sandbox's initial tree for host.
func NewFS(limits memfs.Limits, host string, now func() time.Time) *memfs.FS {
	f := memfs.New(limits, now)
	for _, d := range []string{"/root", "/tmp", "/etc", "/home", "/var/log", "/var/tmp", "/usr/bin", "/usr/local/bin", "/opt"} {
		_ = f.MkdirAll(d, 0o755)
	}
	_ = f.Chmod("/tmp", 0o777)
	_ = f.Chmod("/root", 0o700)
	_ = f.WriteFile("/etc/hostname", []byte(host+"\n"), 0o644)
	_ = f.WriteFile("/etc/hosts", []byte("127.0.0.1 localhost\n127.0.1.1 "+host+"\n"), 0o644)
	_ = f.WriteFile("/root/.bashrc", []byte("# ~/.bashrc: executed by bash(1) for non-login shells.\n"), 0o644)
	return f
}

// sortedEnv turns a map into sorted NAME=value pairs.
func sortedEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

var _ = os.O_RDONLY
