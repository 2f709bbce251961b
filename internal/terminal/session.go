package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"mvdan.cc/sh/v3/syntax"

	"kubesim.dev/kubesim/internal/terminal/editor"
	"kubesim.dev/kubesim/internal/terminal/keys"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Run drives the session as an interactive terminal: in carries what the user types (xterm.js
// over a websocket), out receives what the terminal shows, resize (may be nil) reports size
// changes. Run returns when the user leaves the shell (exit, Ctrl-D), when in ends, or when ctx
// is done. The caller should close in's source afterwards: a Read blocked on it is abandoned.
func (s *Session) Run(ctx context.Context, in io.Reader, out io.Writer, resize <-chan Size) error {
	t := newTTY(out)
	s.mu.Lock()
	if s.tty != nil {
		s.mu.Unlock()
		return errors.New("terminal: session is already running")
	}
	s.tty = t
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.tty = nil
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := in.Read(buf)
			if n > 0 {
				t.feed(buf[:n])
			}
			if err != nil {
				t.closeInput()
				return
			}
		}
	}()
	if resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					t.setSize(sz)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	s.repl(ctx, s.stack[0])
	return ctx.Err()
}

// repl reads and runs command lines in sh until the user leaves it.
func (s *Session) repl(ctx context.Context, sh *shell) int {
	t := s.tty
	for {
		if ctx.Err() != nil {
			return sh.status
		}
		text, err := s.readInput(ctx, sh)
		switch {
		case errors.Is(err, errInterrupt):
			sh.setStatus(130)
			continue
		case err != nil:
			if errors.Is(err, io.EOF) {
				if sh.parent != nil {
					t.write([]byte("logout\n"), true)
				} else {
					t.write([]byte("exit\n"), true)
				}
			}
			return sh.status
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		s.hist.add(historyEntry(text))
		t.takeEchoed()
		code := sh.runScript(ctx, text, runIO{stdout: ttyWriter{t}, stderr: ttyWriter{t}, terminal: true})
		if t.takeEchoed() {
			// bash ends the line after a command killed by Ctrl-C.
			t.write([]byte("\n"), true)
		}
		if sh.exited {
			if sh.parent != nil {
				t.write([]byte("logout\n"), true)
			} else {
				t.write([]byte("exit\n"), true)
			}
			return code
		}
	}
}

// prompt is bash's "\h:\w\$ " for root as the sandbox shows it: controlplane:~$ .
func (sh *shell) prompt() string {
	dir := sh.runner.Dir
	switch {
	case dir == "/root":
		dir = "~"
	case strings.HasPrefix(dir, "/root/"):
		dir = "~" + dir[len("/root"):]
	}
	return fmt.Sprintf("%s:%s$ ", sh.host, dir)
}

// readInput reads one complete command, asking for more lines ("> ") while it is incomplete.
func (s *Session) readInput(ctx context.Context, sh *shell) (string, error) {
	s.mu.Lock()
	prompt := sh.prompt()
	s.mu.Unlock()
	acc := ""
	first := true
	for {
		line, err := s.readLine(ctx, sh, prompt)
		if err != nil {
			if errors.Is(err, io.EOF) && !first {
				s.tty.write([]byte("bash: syntax error: unexpected end of file\n"), true)
				return "", errInterrupt
			}
			return "", err
		}
		if first {
			acc = line
		} else {
			acc += "\n" + line
		}
		first = false
		if !incomplete(acc) || len(acc) > s.limits.MaxInput {
			return acc, nil
		}
		prompt = "> "
	}
}

// incomplete reports whether more lines are needed to finish a command.
func incomplete(src string) bool {
	trailing := len(src) - len(strings.TrimRight(src, `\`))
	if trailing%2 == 1 {
		return true
	}
	_, err := syntax.NewParser().Parse(strings.NewReader(src+"\n"), "")
	return err != nil && syntax.IsIncomplete(err)
}

// historyEntry stores a multi-line command on one line, as bash's cmdhist does.
func historyEntry(text string) string {
	if !strings.Contains(text, "\n") || strings.Contains(text, "<<") {
		return text
	}
	lines := strings.Split(text, "\n")
	var b strings.Builder
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if i > 0 && b.Len() > 0 {
			prev := b.String()
			switch {
			case strings.HasSuffix(prev, "do"), strings.HasSuffix(prev, "then"), strings.HasSuffix(prev, "else"),
				strings.HasSuffix(prev, "{"), strings.HasSuffix(prev, "|"), strings.HasSuffix(prev, "&&"),
				strings.HasSuffix(prev, "||"), strings.HasSuffix(prev, "("), strings.HasSuffix(prev, ";"):
				b.WriteString(" ")
			default:
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func (s *Session) readLine(ctx context.Context, sh *shell, prompt string) (string, error) {
	t := s.tty
	defer t.pushForeground(nil)()
	e := &lineEditor{t: t, prompt: prompt, hist: s.hist.list(), sh: sh}
	e.hidx = len(e.hist)
	t.write([]byte("\x1b[?2004h"), false)
	defer t.write([]byte("\x1b[?2004l"), false)
	return e.read(ctx)
}

// --- nested shells (ssh) ---

func (sh *shell) nest(ctx context.Context, inv *Invocation, opts NestOptions, script *string) int {
	fsys := opts.FS
	if fsys == nil {
		fsys = sh.fs
	}
	cmds := opts.Commands
	if cmds == nil {
		cmds = sh.commands
	}
	env := map[string]string{}
	for k, v := range sh.sess.cfg.Env {
		env[k] = v
	}
	for k, v := range opts.Env {
		env[k] = v
	}
	host := opts.Host
	if host == "" {
		host = sh.host
	}
	child, err := sh.sess.newShell(sh, host, fsys, cmds, env)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "kubesim: %v\n", err)
		return 1
	}
	if script != nil {
		return child.runScript(ctx, *script, runIO{stdin: inv.Stdin, stdout: inv.Stdout, stderr: inv.Stderr})
	}
	s := sh.sess
	if inv.terminal && s.tty != nil {
		s.mu.Lock()
		s.stack = append(s.stack, child)
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			s.stack = s.stack[:len(s.stack)-1]
			s.mu.Unlock()
		}()
		return s.repl(ctx, child)
	}
	data, _ := io.ReadAll(io.LimitReader(inv.Stdin, int64(s.limits.MaxInput)))
	return child.runScript(ctx, string(data), runIO{stdin: strings.NewReader(""), stdout: inv.Stdout, stderr: inv.Stderr})
}

// --- editors ---

func (sh *shell) edit(ctx context.Context, inv *Invocation, editorCmd, file string) error {
	t := sh.sess.tty
	if t == nil || !inv.terminal {
		return errors.New("the editor needs the interactive terminal")
	}
	fields := strings.Fields(editorCmd)
	if len(fields) == 0 {
		fields = []string{"vi"}
	}
	name := path.Base(fields[0])
	defer t.enterRaw()()
	term := &editorTerm{t: t, inv: inv}
	switch name {
	case "nano", "pico":
		return editor.Nano(ctx, term, sh.fs, file)
	case "vi", "vim", "view", "nvim", "vim.basic", "vim.tiny":
		return editor.Vi(ctx, term, sh.fs, file)
	}
	return fmt.Errorf("editor %q is not available in this terminal (nano, vi and vim are)", fields[0])
}

// editorTerm gives an editor the terminal in raw mode.
type editorTerm struct {
	t   *tty
	inv *Invocation
}

func (e *editorTerm) ReadKey(ctx context.Context) (keys.Key, error) {
	defer e.inv.idle()()
	return e.t.readKey(ctx)
}

func (e *editorTerm) Write(p []byte) (int, error) { return e.t.write(p, false) }

func (e *editorTerm) Size() (int, int) {
	s := e.t.getSize()
	return s.Cols, s.Rows
}

func cmdNano(ctx context.Context, inv *Invocation) int {
	return runEditor(ctx, inv, "nano")
}

func cmdVi(ctx context.Context, inv *Invocation) int {
	return runEditor(ctx, inv, "vi")
}

func runEditor(ctx context.Context, inv *Invocation, name string) int {
	var file string
	for _, a := range inv.Args[1:] {
		if strings.HasPrefix(a, "-") || strings.HasPrefix(a, "+") {
			continue
		}
		file = a
		break
	}
	if !inv.IsTerminal() {
		if name == "nano" {
			fmt.Fprintln(inv.Stderr, "Too many errors from stdin")
		} else {
			fmt.Fprintln(inv.Stderr, "Vim: Warning: Output is not to a terminal")
		}
		return 1
	}
	p := ""
	if file != "" {
		p = inv.Path(file)
	}
	if err := inv.sh.edit(ctx, inv, name, p); err != nil {
		fmt.Fprintf(inv.Stderr, "%s: %v\n", name, err)
		return 1
	}
	return 0
}

var _ = memfs.Resolve
