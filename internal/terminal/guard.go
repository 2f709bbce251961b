package terminal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Internal command names. The instrumented program calls them; a user cannot define functions or
// aliases with the reserved prefix.
const (
	reservedPrefix = "__kubesim_"
	tickCmd        = "__kubesim_tick"   // checkpoint: tick loop|func NAME|stage
	statusCmd      = "__kubesim_status" // exits with the given status
	runCmd         = "__kubesim_cmd"    // runs one of our commands shadowed by a shell builtin
	sourceDir      = "/dev/kubesim-source/"
)

// prepare checks a parsed program and instruments it: it refuses what the sandbox cannot allow
// and inserts checkpoints into loops, function bodies and pipeline stages.
func (sh *shell) prepare(node syntax.Node) error {
	var err error
	fail := func(e error) {
		if err == nil {
			err = e
		}
	}
	syntax.Walk(node, func(n syntax.Node) bool {
		if err != nil {
			return false
		}
		switch n := n.(type) {
		case *syntax.Stmt:
			if isCompletionSource(n) {
				// "source <(kubectl completion bash)": completion is built in already.
				n.Cmd = &syntax.CallExpr{Args: []*syntax.Word{lit(":")}}
				n.Redirs = nil
				return false
			}
			switch {
			case n.Background || n.Disown:
				fail(errors.New("kubesim: background jobs (&) are not supported in this terminal"))
			case n.Coprocess:
				fail(errors.New("kubesim: coproc is not supported in this terminal"))
			}
		case *syntax.CoprocClause:
			fail(errors.New("kubesim: coproc is not supported in this terminal"))
		case *syntax.ProcSubst:
			fail(errors.New("kubesim: process substitution <(...) is not supported in this terminal"))
		case *syntax.FuncDecl:
			name := n.Name.Value
			if strings.HasPrefix(name, reservedPrefix) {
				fail(fmt.Errorf("bash: `%s': not a valid identifier", name))
				return false
			}
			sh.mu.Lock()
			sh.funcs[name] = true
			sh.mu.Unlock()
			n.Body = withTick(n.Body, "func", name)
		case *syntax.WhileClause:
			n.Do = append([]*syntax.Stmt{tickStmt("loop")}, n.Do...)
		case *syntax.ForClause:
			n.Do = append([]*syntax.Stmt{tickStmt("loop")}, n.Do...)
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				n.X = withTick(n.X, "stage")
				n.Y = withTick(n.Y, "stage")
			}
		case *syntax.Lit:
			// no-op; literal words are safe
		}
		return true
	})
	return err
}

func tickStmt(args ...string) *syntax.Stmt {
	words := []*syntax.Word{lit(tickCmd)}
	for _, a := range args {
		words = append(words, lit(a))
	}
	return &syntax.Stmt{Cmd: &syntax.CallExpr{Args: words}}
}

// withTick wraps a statement into { tick ARGS; STMT; }.
func withTick(st *syntax.Stmt, args ...string) *syntax.Stmt {
	return &syntax.Stmt{Cmd: &syntax.Block{Stmts: []*syntax.Stmt{tickStmt(args...), st}}}
}

func isCompletionSource(st *syntax.Stmt) bool {
	call, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(call.Args) != 2 {
		return false
	}
	if name := call.Args[0].Lit(); name != "source" && name != "." {
		return false
	}
	if len(call.Args[1].Parts) != 1 {
		return false
	}
	ps, ok := call.Args[1].Parts[0].(*syntax.ProcSubst)
	if !ok || len(ps.Stmts) != 1 {
		return false
	}
	inner, ok := ps.Stmts[0].Cmd.(*syntax.CallExpr)
	return ok && len(inner.Args) >= 2 && inner.Args[1].Lit() == "completion"
}

// instrumentSource parses, checks and instruments shell source given at run time (eval, source,
// alias, trap) and prints it back for the interpreter.
func (sh *shell) instrumentSource(src, name string) (string, error) {
	if len(src) > sh.sess.limits.MaxInput {
		return "", fmt.Errorf("kubesim: %s: input too long", name)
	}
	file, err := syntax.NewParser().Parse(strings.NewReader(src), "")
	if err != nil {
		return "", fmt.Errorf("bash: %s: %s", name, syntaxMessage(err))
	}
	if err := sh.prepare(file); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := syntax.NewPrinter().Print(&buf, file); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// status makes the call handler's answer for "this call is done, with this exit status".
func status(code int) []string { return []string{statusCmd, strconv.Itoa(code)} }

// call is the interpreter's call handler: it sees every simple command (builtins and functions
// included) after expansion and may rewrite it.
func (sh *shell) call(ctx context.Context, args []string) ([]string, error) {
	if args[0] == statusCmd || args[0] == tickCmd || sh.rs == nil {
		return args, nil
	}
	hc := interp.HandlerCtx(ctx)
	return sh.intercept(ctx, hc, args), nil
}

func (sh *shell) intercept(ctx context.Context, hc interp.HandlerContext, args []string) []string {
	rs := sh.rs
	errf := func(format string, a ...any) { fmt.Fprintf(hc.Stderr, format, a...) }
	switch args[0] {
	case "command", "builtin":
		if len(args) == 1 {
			return status(0)
		}
		if args[0] == "command" && (args[1] == "-v" || args[1] == "-V") {
			return sh.commandV(hc, args[1] == "-V", args[2:])
		}
		rest := args[1:]
		if len(rest) > 0 && rest[0] == "-p" {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return status(0)
		}
		out := sh.intercept(ctx, hc, rest)
		if out[0] == statusCmd || out[0] == runCmd {
			return out
		}
		return append([]string{args[0]}, out...)
	case "type":
		return sh.typeCmd(hc, args[1:])
	case "hash":
		for _, a := range args[1:] {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if sh.lookup(a) == nil {
				errf("bash: hash: %s: not found\n", a)
				return status(1)
			}
		}
		if len(args) == 1 {
			fmt.Fprintln(hc.Stdout, "hash: hash table empty")
		}
		return status(0)
	case "exec":
		if len(args) == 1 {
			return args
		}
		errf("kubesim: exec: replacing the shell is not supported in this terminal\n")
		return status(1)
	case "eval":
		if msg := sh.nestingError("eval", "eval: maximum eval nesting level exceeded"); msg != "" {
			rs.stop(&limitError{msg})
			return status(1)
		}
		src, err := sh.instrumentSource(strings.Join(args[1:], " "), "eval")
		if err != nil {
			errf("%s\n", err)
			return status(1)
		}
		return []string{"eval", src}
	case "source", ".":
		return sh.source(hc, args)
	case "alias":
		return sh.alias(hc, args)
	case "unalias":
		sh.mu.Lock()
		for _, a := range args[1:] {
			delete(sh.aliases, a)
		}
		sh.mu.Unlock()
		return args
	case "trap":
		if len(args) == 1 || args[1] == "-p" || args[1] == "-l" {
			return args
		}
		errf("kubesim: trap: signal handlers are not supported in this terminal\n")
		return status(1)
	case "kill":
		return sh.kill(hc, args)
	case "ulimit":
		return sh.ulimit(hc, args)
	case "umask":
		if len(args) == 1 {
			fmt.Fprintln(hc.Stdout, "0022")
		}
		return status(0)
	case "fg", "bg", "disown":
		errf("bash: %s: current: no such job\n", args[0])
		return status(1)
	case "jobs", "wait", "complete", "compopt":
		return status(0)
	case "suspend":
		errf("bash: suspend: cannot suspend a login shell\n")
		return status(1)
	case "enable":
		errf("kubesim: enable: changing shell builtins is not supported in this terminal\n")
		return status(1)
	case "history", "help":
		return append([]string{runCmd}, args...)
	case "cd":
		return sh.cd(hc, args)
	case "pwd":
		return []string{"pwd"}
	case "printf":
		if est := printfSize(args[1:]); est > sh.sess.limits.MaxOutput {
			rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: output exceeded %s (limit)", humanBytes(sh.sess.limits.MaxOutput))})
			return status(1)
		}
	case "exit", "logout":
		sh.exitRequested = true
		if args[0] == "logout" {
			return append([]string{"exit"}, args[1:]...)
		}
	case "read", "mapfile", "readarray":
		if f, ok := hc.Stdin.(*os.File); ok && f == rs.stdinR {
			rs.feed(args[0] != "read")
		}
	}
	return args
}

// nestingError reports when function, eval or source calls are nested too deeply. The depth is
// measured on the Go stack, which is what deep nesting would exhaust.
func (sh *shell) nestingError(name, text string) string {
	lim := sh.sess.limits.MaxNesting
	if stackDepth(lim*framesPerLevel+baseFrames) < lim*framesPerLevel+baseFrames {
		return ""
	}
	return fmt.Sprintf("bash: %s (%d)", text, lim)
}

const (
	framesPerLevel = 12
	baseFrames     = 200
)

var pcPool = sync.Pool{New: func() any { return new([]uintptr) }}

// stackDepth counts the frames of the calling goroutine, up to max.
func stackDepth(max int) int {
	p := pcPool.Get().(*[]uintptr)
	defer pcPool.Put(p)
	if cap(*p) < max {
		*p = make([]uintptr, max)
	}
	return runtime.Callers(0, (*p)[:max])
}

func (sh *shell) source(hc interp.HandlerContext, args []string) []string {
	errf := func(format string, a ...any) { fmt.Fprintf(hc.Stderr, format, a...) }
	if len(args) < 2 {
		errf("bash: %s: filename argument required\n%s: usage: %s filename [arguments]\n", args[0], args[0], args[0])
		return status(2)
	}
	if msg := sh.nestingError("source", args[0]+": maximum source nesting level exceeded"); msg != "" {
		sh.rs.stop(&limitError{msg})
		return status(1)
	}
	p := memfs.Resolve(hc.Dir, args[1])
	data, err := sh.fs.ReadFile(p)
	if err != nil {
		errf("bash: %s: %s\n", args[1], memfs.Strerror(err))
		return status(1)
	}
	src, err := sh.instrumentSource(string(data), args[1])
	if err != nil {
		errf("%s\n", err)
		return status(1)
	}
	sh.mu.Lock()
	sh.seq++
	vpath := fmt.Sprintf("%s%d", sourceDir, sh.seq)
	sh.sources[vpath] = src
	sh.mu.Unlock()
	return append([]string{"source", vpath}, args[2:]...)
}

func (sh *shell) alias(hc interp.HandlerContext, args []string) []string {
	out := []string{"alias"}
	for _, a := range args[1:] {
		name, val, ok := strings.Cut(a, "=")
		if !ok {
			out = append(out, a)
			continue
		}
		if strings.HasPrefix(name, reservedPrefix) {
			fmt.Fprintf(hc.Stderr, "bash: alias: `%s': invalid alias name\n", name)
			return status(1)
		}
		var words []*syntax.Word
		for w, err := range syntax.NewParser().WordsSeq(strings.NewReader(val)) {
			if err != nil {
				fmt.Fprintf(hc.Stderr, "bash: alias: %s: %s\n", name, syntaxMessage(err))
				return status(1)
			}
			words = append(words, w)
		}
		call := &syntax.CallExpr{Args: words}
		if err := sh.prepare(call); err != nil {
			fmt.Fprintf(hc.Stderr, "%s\n", err)
			return status(1)
		}
		var buf bytes.Buffer
		if len(words) > 0 {
			syntax.NewPrinter().Print(&buf, call)
		}
		if strings.TrimRight(val, " \t") != val {
			buf.WriteByte(' ')
		}
		sh.mu.Lock()
		sh.aliases[name] = buf.String()
		sh.mu.Unlock()
		out = append(out, name+"="+buf.String())
	}
	return out
}

func (sh *shell) kill(hc interp.HandlerContext, args []string) []string {
	if len(args) == 1 {
		fmt.Fprintln(hc.Stderr, "kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]")
		return status(2)
	}
	code := 0
	for _, a := range args[1:] {
		switch {
		case a == "-l" || a == "-L":
			fmt.Fprintln(hc.Stdout, " 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP\n 6) SIGABRT\t 7) SIGBUS\t 8) SIGFPE\t 9) SIGKILL\t10) SIGUSR1\n11) SIGSEGV\t12) SIGUSR2\t13) SIGPIPE\t14) SIGALRM\t15) SIGTERM")
		case strings.HasPrefix(a, "-"):
		case strings.HasPrefix(a, "%"):
			fmt.Fprintf(hc.Stderr, "bash: kill: %s: no such job\n", a)
			code = 1
		default:
			if _, err := strconv.Atoi(a); err != nil {
				fmt.Fprintf(hc.Stderr, "bash: kill: %s: arguments must be process or job IDs\n", a)
			} else {
				fmt.Fprintf(hc.Stderr, "bash: kill: (%s) - No such process\n", a)
			}
			code = 1
		}
	}
	return status(code)
}

var ulimitNames = map[byte]string{
	'c': "core file size", 'd': "data seg size", 'f': "file size", 'l': "max locked memory",
	'm': "max memory size", 'n': "open files", 's': "stack size", 't': "cpu time",
	'u': "max user processes", 'v': "virtual memory",
}

func (sh *shell) ulimit(hc interp.HandlerContext, args []string) []string {
	opt := byte('f')
	var value string
	for _, a := range args[1:] {
		if strings.HasPrefix(a, "-") && len(a) >= 2 {
			opt = a[len(a)-1]
			if opt == 'a' {
				fmt.Fprintln(hc.Stdout, "kubesim: resource limits are managed by the sandbox")
				return status(0)
			}
			continue
		}
		value = a
	}
	if value == "" {
		fmt.Fprintln(hc.Stdout, "unlimited")
		return status(0)
	}
	name, ok := ulimitNames[opt]
	if !ok {
		name = "limit"
	}
	fmt.Fprintf(hc.Stderr, "bash: ulimit: %s: cannot modify limit: Operation not permitted\n", name)
	return status(1)
}

func (sh *shell) cd(hc interp.HandlerContext, args []string) []string {
	if len(args) > 2 {
		fmt.Fprintln(hc.Stderr, "bash: cd: too many arguments")
		return status(1)
	}
	if len(args) == 1 || args[1] == "-" {
		return args
	}
	p := memfs.Resolve(hc.Dir, args[1])
	fi, err := sh.fs.Stat(p)
	switch {
	case err != nil:
		fmt.Fprintf(hc.Stderr, "bash: cd: %s: %s\n", args[1], memfs.Strerror(err))
		return status(1)
	case !fi.IsDir():
		fmt.Fprintf(hc.Stderr, "bash: cd: %s: Not a directory\n", args[1])
		return status(1)
	}
	return args
}

// printfSize estimates the output of printf FORMAT ARGS, to refuse a format whose padding would
// make huge strings before any output limit could see them.
func printfSize(args []string) int64 {
	if len(args) == 0 {
		return 0
	}
	format, rest := args[0], args[1:]
	if format == "-v" && len(args) >= 3 {
		format, rest = args[2], args[3:]
	}
	var widths int64
	specs := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		num := int64(0)
		for j < len(format) && strings.IndexByte("-+ #0123456789.*", format[j]) >= 0 {
			if format[j] >= '0' && format[j] <= '9' {
				num = num*10 + int64(format[j]-'0')
				if num > 1<<40 {
					num = 1 << 40
				}
			} else {
				widths += num
				num = 0
			}
			j++
		}
		widths += num
		specs++
		i = j
	}
	cycles := int64(1)
	if specs > 0 && len(rest) > specs {
		cycles = int64((len(rest) + specs - 1) / specs)
	}
	var argLen int64
	for _, a := range rest {
		argLen += int64(len(a))
	}
	return (int64(len(format))+widths)*cycles + argLen
}

// --- command lookup, type, command -v ---

// lookup finds one of our commands by name or by a path in the sandbox's bin directories.
func (sh *shell) lookup(name string) Command {
	base := name
	if strings.Contains(name, "/") {
		dir, b := name[:strings.LastIndex(name, "/")], name[strings.LastIndex(name, "/")+1:]
		switch dir {
		case "/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin":
			base = b
		default:
			return nil
		}
	}
	if c, ok := sh.commands[base]; ok {
		return c
	}
	if c, ok := builtins[base]; ok {
		return c
	}
	return nil
}

func (sh *shell) commandPath(name string) string {
	if _, ok := sh.commands[name]; ok {
		return "/usr/local/bin/" + name
	}
	return "/usr/bin/" + name
}

func (sh *shell) isFunc(name string) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.funcs[name]
}

func (sh *shell) typeCmd(hc interp.HandlerContext, args []string) []string {
	mode := ""
	var names []string
	for _, a := range args {
		switch a {
		case "-t", "-p", "-P", "-a":
			mode = a
		default:
			names = append(names, a)
		}
	}
	code := 0
	for _, n := range names {
		sh.mu.Lock()
		_, isAlias := sh.aliases[n]
		sh.mu.Unlock()
		switch {
		case mode != "-p" && mode != "-P" && isAlias:
			if mode == "-t" {
				fmt.Fprintln(hc.Stdout, "alias")
			} else {
				fmt.Fprintf(hc.Stdout, "%s is aliased to `%s'\n", n, sh.aliasText(n))
			}
		case mode != "-p" && mode != "-P" && syntax.IsKeyword(n):
			if mode == "-t" {
				fmt.Fprintln(hc.Stdout, "keyword")
			} else {
				fmt.Fprintf(hc.Stdout, "%s is a shell keyword\n", n)
			}
		case mode != "-p" && mode != "-P" && sh.isFunc(n):
			if mode == "-t" {
				fmt.Fprintln(hc.Stdout, "function")
			} else {
				fmt.Fprintf(hc.Stdout, "%s is a function\n", n)
			}
		case mode != "-p" && mode != "-P" && isShellBuiltin(n):
			if mode == "-t" {
				fmt.Fprintln(hc.Stdout, "builtin")
			} else {
				fmt.Fprintf(hc.Stdout, "%s is a shell builtin\n", n)
			}
		case sh.lookup(n) != nil:
			switch mode {
			case "-t":
				fmt.Fprintln(hc.Stdout, "file")
			case "-p", "-P":
				fmt.Fprintln(hc.Stdout, sh.commandPath(n))
			default:
				fmt.Fprintf(hc.Stdout, "%s is %s\n", n, sh.commandPath(n))
			}
		default:
			if mode == "" || mode == "-a" {
				fmt.Fprintf(hc.Stderr, "bash: type: %s: not found\n", n)
			}
			code = 1
		}
	}
	return status(code)
}

func (sh *shell) aliasText(name string) string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.aliases[name]
}

func isShellBuiltin(name string) bool {
	switch name {
	case "history", "help":
		return true
	}
	return interp.IsBuiltin(name)
}

func (sh *shell) commandV(hc interp.HandlerContext, verbose bool, names []string) []string {
	code := 0
	for _, n := range names {
		sh.mu.Lock()
		_, isAlias := sh.aliases[n]
		sh.mu.Unlock()
		switch {
		case isAlias:
			if verbose {
				fmt.Fprintf(hc.Stdout, "%s is aliased to `%s'\n", n, sh.aliasText(n))
			} else {
				fmt.Fprintf(hc.Stdout, "alias %s='%s'\n", n, sh.aliasText(n))
			}
		case sh.isFunc(n) || isShellBuiltin(n) || syntax.IsKeyword(n):
			if verbose {
				kind := "a shell builtin"
				if sh.isFunc(n) {
					kind = "a function"
				} else if syntax.IsKeyword(n) {
					kind = "a shell keyword"
				}
				fmt.Fprintf(hc.Stdout, "%s is %s\n", n, kind)
			} else {
				fmt.Fprintln(hc.Stdout, n)
			}
		case sh.lookup(n) != nil:
			if verbose {
				fmt.Fprintf(hc.Stdout, "%s is %s\n", n, sh.commandPath(n))
			} else {
				fmt.Fprintln(hc.Stdout, sh.commandPath(n))
			}
		default:
			if verbose {
				fmt.Fprintf(hc.Stderr, "bash: command: %s: not found\n", n)
			}
			code = 1
		}
	}
	return status(code)
}

// --- exec handler: our commands, and the checkpoints ---

func (sh *shell) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	switch args[0] {
	case statusCmd:
		code, _ := strconv.Atoi(args[1])
		return exitStatus(code)
	case tickCmd:
		return sh.tick(hc, args[1:])
	case runCmd:
		args = args[1:]
	}
	rs := sh.rs
	if rs == nil {
		return exitStatus(1)
	}
	cmd := sh.lookup(args[0])
	if args[0] == "history" || args[0] == "help" {
		cmd = builtins[args[0]]
	}
	if cmd == nil {
		if strings.Contains(args[0], "/") {
			fi, err := sh.fs.Stat(memfs.Resolve(hc.Dir, args[0]))
			switch {
			case err != nil:
				fmt.Fprintf(hc.Stderr, "bash: %s: %s\n", args[0], memfs.Strerror(err))
			case fi.IsDir():
				fmt.Fprintf(hc.Stderr, "bash: %s: Is a directory\n", args[0])
				return exitStatus(126)
			default:
				fmt.Fprintf(hc.Stderr, "bash: %s: Permission denied\n", args[0])
				return exitStatus(126)
			}
			return exitStatus(127)
		}
		fmt.Fprintf(hc.Stderr, "bash: %s: command not found\n", args[0])
		return exitStatus(127)
	}
	inv := &Invocation{
		Args: args, Env: exportedEnv(hc.Env), Dir: hc.Dir, FS: sh.fs, Host: sh.host, sh: sh,
	}
	inv.Stdin, inv.terminal = sh.stdinFor(ctx, hc)
	inv.Stdout = sh.writerFor(ctx, hc.Stdout)
	inv.Stderr = sh.writerFor(ctx, hc.Stderr)
	inv.terminal = inv.terminal && rs.terminal && hc.Stdout == rs.stdout
	if _, caller := sh.commands[inv.Args[0]]; caller {
		defer rs.budget.enterIdle()()
	}
	code := runCommand(ctx, cmd, inv)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return exitStatus(code)
}

// runCommand runs a command, turning a panic into an error message so one broken command cannot
// take the process down.
func runCommand(ctx context.Context, cmd Command, inv *Invocation) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(inv.Stderr, "%s: internal error: %v\n", inv.Args[0], p)
			code = 1
		}
	}()
	return cmd(ctx, inv)
}

func exitStatus(code int) error {
	if code == 0 {
		return nil
	}
	return interp.ExitStatus(uint8(code))
}

func (sh *shell) stdinFor(ctx context.Context, hc interp.HandlerContext) (io.Reader, bool) {
	rs := sh.rs
	switch f := hc.Stdin.(type) {
	case nil:
		return strings.NewReader(""), false
	case *os.File:
		if f == rs.stdinR {
			return rs.input, true
		}
		return ctxReader{ctx: ctx, f: f}, false
	default:
		return hc.Stdin, false
	}
}

func (sh *shell) writerFor(ctx context.Context, w io.Writer) io.Writer {
	switch w := w.(type) {
	case *os.File:
		return ctxWriter{ctx: ctx, f: w}
	case *strings.Builder:
		return builderWriter{rs: sh.rs, b: w}
	}
	return w
}

// tick is the checkpoint inserted into loops, function bodies and pipeline stages. It passes the
// previous exit status through, so it is invisible to $? and to conditions.
func (sh *shell) tick(hc interp.HandlerContext, args []string) error {
	rs := sh.rs
	if rs == nil {
		return exitStatus(hc.LastExitStatus)
	}
	if rs.ctx.Err() != nil {
		return rs.ctx.Err()
	}
	lim := sh.sess.limits
	if len(args) >= 2 && args[0] == "func" {
		if msg := sh.nestingError(args[1], args[1]+": maximum function nesting level exceeded"); msg != "" {
			rs.stop(&limitError{msg})
			return rs.ctx.Err()
		}
	}
	if len(args) >= 1 && args[0] == "stage" {
		if !rs.trackPipes(lim.MaxPipes, hc.Stdin, hc.Stdout) {
			rs.stop(&limitError{"bash: fork: retry: Resource temporarily unavailable\nbash: fork: Resource temporarily unavailable"})
			return rs.ctx.Err()
		}
	}
	var size int64
	hc.Env.Each(func(name string, vr expand.Variable) bool {
		size += int64(len(name) + len(vr.Str))
		for _, s := range vr.List {
			size += int64(len(s))
		}
		for k, v := range vr.Map {
			size += int64(len(k) + len(v))
		}
		return true
	})
	if size > lim.MaxVarBytes {
		rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: shell variables exceed %s (limit)", humanBytes(lim.MaxVarBytes))})
		return rs.ctx.Err()
	}
	if b, ok := hc.Stdout.(*strings.Builder); ok && int64(b.Len()) > lim.MaxOutput {
		rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: output exceeded %s (limit)", humanBytes(lim.MaxOutput))})
		return rs.ctx.Err()
	}
	return exitStatus(hc.LastExitStatus)
}

// trackPipes records the pipe ends a pipeline stage runs with and reports whether the number of
// live ones stays within max.
func (rs *runState) trackPipes(max int, stdin io.Reader, stdout io.Writer) bool {
	rs.pipeMu.Lock()
	defer rs.pipeMu.Unlock()
	for _, x := range []any{stdin, stdout} {
		if f, ok := x.(*os.File); ok && f != rs.stdinR {
			rs.pipes = append(rs.pipes, f)
		}
	}
	if len(rs.pipes) <= max {
		return true
	}
	live := rs.pipes[:0]
	for _, f := range rs.pipes {
		if fileOpen(f) {
			live = append(live, f)
		}
	}
	clear(rs.pipes[len(live):])
	rs.pipes = live
	return len(live) <= max
}

// fileOpen reports whether f is still open, without a system call.
func fileOpen(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	return rc.Control(func(uintptr) {}) == nil
}
