package terminal

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// builtins are the commands every shell has, by name. Injected commands take precedence.
var builtins map[string]Command

func init() {
	builtins = map[string]Command{
		"cat": cmdCat, "ls": cmdLs, "cp": cmdCp, "mv": cmdMv, "rm": cmdRm, "mkdir": cmdMkdir,
		"rmdir": cmdRmdir, "touch": cmdTouch, "tee": cmdTee, "chmod": cmdChmod, "basename": cmdBasename,
		"dirname": cmdDirname, "find": cmdFind, "ln": cmdLn, "realpath": cmdRealpath,
		"grep": cmdGrep, "egrep": cmdEgrep, "fgrep": cmdFgrep, "head": cmdHead, "tail": cmdTail,
		"wc": cmdWc, "sort": cmdSort, "uniq": cmdUniq, "cut": cmdCut, "tr": cmdTr, "seq": cmdSeq,
		"yes": cmdYes, "base64": cmdBase64, "diff": cmdDiff, "tac": cmdTac, "rev": cmdRev, "nl": cmdNl,
		"md5sum": cmdSum("md5sum"), "sha1sum": cmdSum("sha1sum"), "sha256sum": cmdSum("sha256sum"),
		"sha512sum": cmdSum("sha512sum"),
		"sed":       cmdSed, "awk": cmdAwk, "gawk": cmdAwk, "mawk": cmdAwk, "jq": cmdJq,
		"sleep": cmdSleep, "watch": cmdWatch, "env": cmdEnv, "printenv": cmdPrintenv,
		"history": cmdHistory, "help": cmdHelp, "clear": cmdClear, "date": cmdDate, "hostname": cmdHostname,
		"whoami": cmdWhoami, "id": cmdId, "uname": cmdUname, "which": cmdWhich, "less": cmdLess,
		"more": cmdLess, "xargs": cmdXargs, "sudo": cmdSudo, "echo": cmdEcho, "true": cmdTrue,
		"false": cmdFalse, "bash": cmdNoShell, "sh": cmdNoShell, "dash": cmdNoShell, "zsh": cmdNoShell,
		"nano": cmdNano, "vi": cmdVi, "vim": cmdVi, "view": cmdVi, "pwd": cmdPwd,
	}
}

// BuiltinNames lists the built-in commands.
func BuiltinNames() []string {
	out := make([]string, 0, len(builtins))
	for k := range builtins {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// --- helpers shared by the commands ---

func (inv *Invocation) errorf(format string, a ...any) {
	fmt.Fprintf(inv.Stderr, inv.Args[0]+": "+format+"\n", a...)
}

func (inv *Invocation) prog() string {
	n := inv.Args[0]
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// fail prints "prog: msg" and returns code.
func (inv *Invocation) fail(code int, format string, a ...any) int {
	fmt.Fprintf(inv.Stderr, inv.prog()+": "+format+"\n", a...)
	return code
}

// usage prints GNU's "Try 'prog --help'" hint after msg.
func (inv *Invocation) usage(code int, format string, a ...any) int {
	fmt.Fprintf(inv.Stderr, inv.prog()+": "+format+"\n", a...)
	fmt.Fprintf(inv.Stderr, "Try '%s --help' for more information.\n", inv.prog())
	return code
}

// open opens an operand for reading: "-" is stdin; device files behave as in the shell.
func (inv *Invocation) open(name string) (io.ReadCloser, error) {
	if name == "-" {
		return io.NopCloser(inv.Stdin), nil
	}
	p := inv.Path(name)
	switch p {
	case "/dev/stdin":
		return io.NopCloser(inv.Stdin), nil
	case "/dev/null":
		return io.NopCloser(strings.NewReader("")), nil
	case "/dev/zero":
		return io.NopCloser(zeroReader{}), nil
	case "/dev/urandom", "/dev/random":
		return io.NopCloser(inv.sh.sess.rand), nil
	}
	fi, err := inv.FS.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	return inv.FS.Open(p)
}

var errIsDir = fmt.Errorf("Is a directory")

// readAll reads an operand completely, bounded so a read of /dev/zero cannot exhaust memory.
func (inv *Invocation) readAll(name string) ([]byte, error) {
	r, err := inv.open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	lim := inv.sh.sess.limits.MaxOutput * 4
	data, err := io.ReadAll(io.LimitReader(r, lim+1))
	if int64(len(data)) > lim {
		return nil, fmt.Errorf("File too large")
	}
	return data, err
}

// strerr is the message for an error from the file system.
func strerr(err error) string {
	if err == errIsDir {
		return "Is a directory"
	}
	var pe *fs.PathError
	if e, ok := err.(*fs.PathError); ok {
		pe = e
		if pe.Err == errIsDir {
			return "Is a directory"
		}
	}
	return memfs.Strerror(err)
}

// writeFile creates or truncates a session file.
func (inv *Invocation) create(name string, appendTo bool) (io.WriteCloser, error) {
	p := inv.Path(name)
	switch p {
	case "/dev/null":
		return nopRWC{}, nil
	case "/dev/stdout":
		return nopRWC{Writer: inv.Stdout}, nil
	case "/dev/stderr":
		return nopRWC{Writer: inv.Stderr}, nil
	}
	flag := memfs.O_WRONLY | memfs.O_CREATE | memfs.O_TRUNC
	if appendTo {
		flag = memfs.O_WRONLY | memfs.O_CREATE | memfs.O_APPEND
	}
	return inv.FS.OpenFile(p, flag, 0o644)
}

// getopt parses GNU-style options: clustered short flags, "--long[=value]", "--", and options
// mixed with operands. short lists the letters; a letter followed by ':' takes a value. long maps
// long names to letters (a value-taking long option also ends with ':' in short).
type options struct {
	count map[rune]int
	vals  map[rune][]string
	args  []string
}

func (o *options) has(c rune) bool { return o.count[c] > 0 }
func (o *options) val(c rune) string {
	v := o.vals[c]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func (inv *Invocation) getopt(short string, long map[string]rune) (*options, int) {
	o := &options{count: map[rune]int{}, vals: map[rune][]string{}}
	takes := map[rune]bool{}
	known := map[rune]bool{}
	rs := []rune(short)
	for i, c := range rs {
		if c == ':' {
			continue
		}
		known[c] = true
		if i+1 < len(rs) && rs[i+1] == ':' {
			takes[c] = true
		}
	}
	args := inv.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			o.args = append(o.args, args[i+1:]...)
			return o, -1
		case strings.HasPrefix(a, "--"):
			name, val, hasVal := strings.Cut(a[2:], "=")
			c, ok := long[name]
			if !ok {
				// Unambiguous prefixes are accepted, as getopt_long does.
				var match []string
				for k := range long {
					if strings.HasPrefix(k, name) {
						match = append(match, k)
					}
				}
				if len(match) == 1 {
					c, ok = long[match[0]], true
				}
			}
			if !ok {
				return nil, inv.usage(usageCode(inv), "unrecognized option '%s'", a)
			}
			if takes[c] && !hasVal {
				if i+1 >= len(args) {
					return nil, inv.usage(usageCode(inv), "option '--%s' requires an argument", name)
				}
				i++
				val = args[i]
			}
			o.count[c]++
			if takes[c] {
				o.vals[c] = append(o.vals[c], val)
			}
		case strings.HasPrefix(a, "-") && a != "-":
			cs := []rune(a[1:])
			for j := 0; j < len(cs); j++ {
				c := cs[j]
				if !known[c] {
					return nil, inv.usage(usageCode(inv), "invalid option -- '%c'", c)
				}
				o.count[c]++
				if takes[c] {
					val := string(cs[j+1:])
					if val == "" {
						if i+1 >= len(args) {
							return nil, inv.usage(usageCode(inv), "option requires an argument -- '%c'", c)
						}
						i++
						val = args[i]
					}
					o.vals[c] = append(o.vals[c], val)
					break
				}
			}
		default:
			o.args = append(o.args, a)
		}
	}
	return o, -1
}

func usageCode(inv *Invocation) int {
	switch inv.prog() {
	case "ls", "grep", "diff", "egrep", "fgrep", "sort":
		return 2
	}
	return 1
}

// lines splits text into lines without their newlines; a final unterminated line counts.
func splitLines(data []byte) []string {
	s := string(data)
	if s == "" {
		return nil
	}
	s = strings.TrimSuffix(s, "\n")
	return strings.Split(s, "\n")
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// idle marks a wait (sleep, terminal input) that does not count against the time budget.
func (inv *Invocation) idle() func() {
	if rs := inv.sh.rs; rs != nil {
		return rs.budget.enterIdle()
	}
	return func() {}
}

func cmdTrue(ctx context.Context, inv *Invocation) int  { return 0 }
func cmdFalse(ctx context.Context, inv *Invocation) int { return 1 }

func cmdPwd(ctx context.Context, inv *Invocation) int {
	fmt.Fprintln(inv.Stdout, inv.Dir)
	return 0
}

var _ = os.Stdout
