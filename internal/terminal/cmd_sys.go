package terminal

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

func cmdSleep(ctx context.Context, inv *Invocation) int {
	if len(inv.Args) < 2 {
		return inv.usage(1, "missing operand")
	}
	var total time.Duration
	for _, a := range inv.Args[1:] {
		d, ok := parseDuration(a)
		if !ok {
			return inv.usage(1, "invalid time interval '%s'", a)
		}
		total += d
	}
	if !inv.wait(ctx, total) {
		return 130
	}
	return 0
}

// parseDuration parses sleep's NUMBER[smhd] ("infinity" too).
func parseDuration(s string) (time.Duration, bool) {
	if s == "infinity" || s == "inf" {
		return time.Duration(1<<63 - 1), true
	}
	unit := time.Second
	switch {
	case strings.HasSuffix(s, "s"):
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		s, unit = s[:len(s)-1], time.Minute
	case strings.HasSuffix(s, "h"):
		s, unit = s[:len(s)-1], time.Hour
	case strings.HasSuffix(s, "d"):
		s, unit = s[:len(s)-1], 24*time.Hour
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

// cmdWatch re-runs a command every interval until Ctrl-C, redrawing the screen as procps watch
// does. Like the real one, it runs the command with sh -c: a fresh shell without the user's
// aliases and functions.
func cmdWatch(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	interval := 2 * time.Second
	noTitle := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case a == "-n" || a == "--interval":
			if len(args) < 2 {
				return inv.usage(1, "option requires an argument -- 'n'")
			}
			d, err := strconv.ParseFloat(args[1], 64)
			if err != nil {
				fmt.Fprintf(inv.Stderr, "watch: failed to parse argument: '%s'\n", args[1])
				return 1
			}
			interval = time.Duration(max(d, 0.1) * float64(time.Second))
			args = args[1:]
		case strings.HasPrefix(a, "-n"):
			d, err := strconv.ParseFloat(a[2:], 64)
			if err != nil {
				fmt.Fprintf(inv.Stderr, "watch: failed to parse argument: '%s'\n", a[2:])
				return 1
			}
			interval = time.Duration(max(d, 0.1) * float64(time.Second))
		case a == "-t" || a == "--no-title":
			noTitle = true
		case a == "-d" || a == "--differences" || a == "-c" || a == "--color" || a == "-x" || a == "--exec":
		case a == "--":
			args = args[1:]
			goto done
		default:
			fmt.Fprintf(inv.Stderr, "watch: invalid option -- '%s'\n", strings.TrimLeft(a, "-"))
			return 1
		}
		args = args[1:]
	}
done:
	if len(args) == 0 {
		fmt.Fprintf(inv.Stderr, "Usage:\n watch [options] command\n")
		return 1
	}
	if !inv.IsTerminal() {
		fmt.Fprintln(inv.Stderr, "Error opening terminal: unknown.")
		return 1
	}
	cmdline := strings.Join(args, " ")
	t := inv.sh.sess.tty
	defer t.enterAlt()()
	t.write([]byte("\x1b[?1049h"), true)
	defer t.write([]byte("\x1b[?1049l"), true)
	for {
		size := inv.Size()
		var out strings.Builder
		child := inv.sh.child(inv)
		child.runScript(ctx, cmdline, runIO{stdin: strings.NewReader(""), stdout: &out, stderr: &out})
		if ctx.Err() != nil {
			return 0
		}
		var screen strings.Builder
		screen.WriteString("\x1b[H\x1b[2J")
		rows := size.Rows
		if !noTitle {
			left := fmt.Sprintf("Every %.1fs: %s", interval.Seconds(), cmdline)
			right := fmt.Sprintf("%s: %s", inv.Host, inv.sh.sess.clock.Now().Format("Mon Jan _2 15:04:05 2006"))
			pad := size.Cols - utf8.RuneCountInString(left) - utf8.RuneCountInString(right)
			if pad < 1 {
				maxLeft := size.Cols - utf8.RuneCountInString(right) - 1
				if maxLeft > 4 && utf8.RuneCountInString(left) > maxLeft {
					left = string([]rune(left)[:maxLeft-3]) + "..."
				}
				pad = max(size.Cols-utf8.RuneCountInString(left)-utf8.RuneCountInString(right), 1)
			}
			screen.WriteString(left + strings.Repeat(" ", pad) + right + "\n\n")
			rows -= 2
		}
		lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
		if len(lines) > rows {
			lines = lines[:max(rows, 0)]
		}
		for i, l := range lines {
			if r := []rune(l); len(r) > size.Cols {
				l = string(r[:size.Cols])
			}
			screen.WriteString(l)
			if i < len(lines)-1 {
				screen.WriteString("\n")
			}
		}
		inv.Stdout.Write([]byte(screen.String()))
		if !inv.wait(ctx, interval) {
			return 0
		}
	}
}

// child makes a fresh shell for "sh -c"-like runs (watch): same host, files and commands, the
// invocation's exported environment, none of the user's aliases or functions.
func (sh *shell) child(inv *Invocation) *shell {
	env := map[string]string{}
	for _, kv := range inv.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	c, err := sh.sess.newShell(sh, sh.host, sh.fs, sh.commands, env)
	if err != nil {
		return sh
	}
	c.runner.Dir = inv.Dir
	c.sess = sh.sess
	return c
}

func cmdEnv(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	env := append([]string(nil), inv.Env...)
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "-i" || a == "-" || a == "--ignore-environment":
			env = nil
		case a == "-u" && len(args) > 1:
			name := args[1]
			args = args[1:]
			var keep []string
			for _, kv := range env {
				if !strings.HasPrefix(kv, name+"=") {
					keep = append(keep, kv)
				}
			}
			env = keep
		case strings.Contains(a, "=") && !strings.HasPrefix(a, "="):
			k, _, _ := strings.Cut(a, "=")
			var keep []string
			for _, kv := range env {
				if !strings.HasPrefix(kv, k+"=") {
					keep = append(keep, kv)
				}
			}
			env = append(keep, a)
		default:
			goto run
		}
		args = args[1:]
	}
	for _, kv := range env {
		fmt.Fprintln(inv.Stdout, kv)
	}
	return 0
run:
	cmd := inv.sh.lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(inv.Stderr, "env: '%s': No such file or directory\n", args[0])
		return 127
	}
	sub := *inv
	sub.Args, sub.Env = args, env
	return runCommand(ctx, cmd, &sub)
}

func cmdPrintenv(ctx context.Context, inv *Invocation) int {
	if len(inv.Args) == 1 {
		for _, kv := range inv.Env {
			fmt.Fprintln(inv.Stdout, kv)
		}
		return 0
	}
	status := 0
	for _, name := range inv.Args[1:] {
		found := false
		for _, kv := range inv.Env {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				fmt.Fprintln(inv.Stdout, v)
				found = true
			}
		}
		if !found {
			status = 1
		}
	}
	return status
}

func cmdSudo(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-i" || args[0] == "-s" || args[0] == "su" {
			return 0 // already root
		}
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(inv.Stderr, "usage: sudo -h | -K | -k | -V")
		return 1
	}
	cmd := inv.sh.lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(inv.Stderr, "sudo: %s: command not found\n", args[0])
		return 1
	}
	sub := *inv
	sub.Args = args
	return runCommand(ctx, cmd, &sub)
}

func cmdNoShell(ctx context.Context, inv *Invocation) int {
	fmt.Fprintf(inv.Stderr, "kubesim: %s: starting another shell is not supported in this terminal\n", inv.prog())
	return 126
}

func cmdEcho(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	newline, escapes := true, false
	for len(args) > 0 {
		switch args[0] {
		case "-n":
			newline = false
		case "-e":
			escapes = true
		case "-E":
			escapes = false
		default:
			goto out
		}
		args = args[1:]
	}
out:
	s := strings.Join(args, " ")
	if escapes {
		s = strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`, `\r`, "\r", `\a`, "\a").Replace(s)
	}
	if newline {
		s += "\n"
	}
	io.WriteString(inv.Stdout, s)
	return 0
}

func cmdHistory(ctx context.Context, inv *Invocation) int {
	h := inv.sh.sess.hist
	args := inv.Args[1:]
	if len(args) > 0 && args[0] == "-c" {
		h.clear()
		return 0
	}
	entries := h.list()
	start := 0
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			fmt.Fprintf(inv.Stderr, "bash: history: %s: numeric argument required\n", args[0])
			return 1
		}
		start = max(len(entries)-n, 0)
	}
	for i := start; i < len(entries); i++ {
		fmt.Fprintf(inv.Stdout, "%5d  %s\n", h.base+i+1, entries[i])
	}
	return 0
}

func cmdHelp(ctx context.Context, inv *Invocation) int {
	fmt.Fprintln(inv.Stdout, "GNU bash, version 5.2.21(1)-release (x86_64-pc-linux-gnu)")
	fmt.Fprintln(inv.Stdout, "This is kubesim's sandboxed shell. Built-in commands:")
	fmt.Fprint(inv.Stdout, columns(BuiltinNames(), inv.Size().Cols))
	return 0
}

func cmdClear(ctx context.Context, inv *Invocation) int {
	io.WriteString(inv.Stdout, "\x1b[H\x1b[2J\x1b[3J")
	return 0
}

func cmdHostname(ctx context.Context, inv *Invocation) int {
	fmt.Fprintln(inv.Stdout, inv.Host)
	return 0
}

func cmdWhoami(ctx context.Context, inv *Invocation) int {
	fmt.Fprintln(inv.Stdout, "root")
	return 0
}

func cmdId(ctx context.Context, inv *Invocation) int {
	switch {
	case len(inv.Args) > 1 && (inv.Args[1] == "-u" || inv.Args[1] == "-g"):
		fmt.Fprintln(inv.Stdout, "0")
	case len(inv.Args) > 1 && inv.Args[1] == "-un":
		fmt.Fprintln(inv.Stdout, "root")
	default:
		fmt.Fprintln(inv.Stdout, "uid=0(root) gid=0(root) groups=0(root)")
	}
	return 0
}

func cmdUname(ctx context.Context, inv *Invocation) int {
	info := map[rune]string{'s': "Linux", 'n': inv.Host, 'r': "6.8.0-1021-kubesim", 'v': "#1 SMP PREEMPT_DYNAMIC",
		'm': "x86_64", 'p': "x86_64", 'i': "x86_64", 'o': "GNU/Linux"}
	var want []rune
	for _, a := range inv.Args[1:] {
		if a == "-a" || a == "--all" {
			want = []rune("snrvmo")
			break
		}
		want = append(want, []rune(strings.TrimPrefix(a, "-"))...)
	}
	if len(want) == 0 {
		want = []rune{'s'}
	}
	var parts []string
	for _, c := range "snrvmpio" {
		for _, w := range want {
			if w == c {
				parts = append(parts, info[c])
				break
			}
		}
	}
	fmt.Fprintln(inv.Stdout, strings.Join(parts, " "))
	return 0
}

func cmdWhich(ctx context.Context, inv *Invocation) int {
	status := 0
	for _, a := range inv.Args[1:] {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if inv.sh.lookup(a) == nil {
			status = 1
			continue
		}
		if strings.Contains(a, "/") {
			fmt.Fprintln(inv.Stdout, a)
		} else {
			fmt.Fprintln(inv.Stdout, inv.sh.commandPath(a))
		}
	}
	return status
}

func cmdLess(ctx context.Context, inv *Invocation) int {
	var files []string
	for _, a := range inv.Args[1:] {
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
		}
	}
	if len(files) == 0 {
		if inv.IsTerminal() {
			fmt.Fprintln(inv.Stderr, "Missing filename (\"less --help\" for help)")
			return 1
		}
		io.Copy(inv.Stdout, inv.Stdin)
		return 0
	}
	status := 0
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "%s: %s\n", f, strerr(err))
			status = 1
			continue
		}
		inv.Stdout.Write(data)
	}
	return status
}

// cmdXargs runs a command with arguments read from stdin, directly (not through a shell), as
// the real xargs does.
func cmdXargs(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	maxArgs := 0
	replace := ""
	nullSep := false
	noRunEmpty := false
	delim := ""
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		switch {
		case a == "-n" && len(args) > 1:
			maxArgs = atoiDefault(args[1], 0)
			args = args[1:]
		case strings.HasPrefix(a, "-n"):
			maxArgs = atoiDefault(a[2:], 0)
		case a == "-I" && len(args) > 1:
			replace = args[1]
			args = args[1:]
		case strings.HasPrefix(a, "-I"):
			replace = a[2:]
		case a == "-i":
			replace = "{}"
		case a == "-0" || a == "--null":
			nullSep = true
		case a == "-r" || a == "--no-run-if-empty":
			noRunEmpty = true
		case a == "-d" && len(args) > 1:
			delim = strings.ReplaceAll(args[1], `\n`, "\n")
			args = args[1:]
		case a == "-t" || a == "-p":
		default:
			return inv.usage(1, "invalid option -- '%s'", strings.TrimLeft(a, "-"))
		}
		args = args[1:]
	}
	if len(args) == 0 {
		args = []string{"echo"}
	}
	data, _ := io.ReadAll(io.LimitReader(inv.Stdin, inv.sh.sess.limits.MaxOutput))
	var items []string
	switch {
	case nullSep:
		items = strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
	case delim != "":
		items = strings.Split(strings.TrimSuffix(string(data), delim), delim)
	case replace != "":
		items = splitLines(data)
	default:
		items = strings.Fields(string(data))
	}
	if len(items) == 1 && items[0] == "" {
		items = nil
	}
	cmd := inv.sh.lookup(args[0])
	if cmd == nil {
		fmt.Fprintf(inv.Stderr, "xargs: %s: No such file or directory\n", args[0])
		return 127
	}
	run := func(argv []string) int {
		sub := *inv
		sub.Args = argv
		sub.Stdin = strings.NewReader("")
		return runCommand(ctx, cmd, &sub)
	}
	status := 0
	if len(items) == 0 {
		if noRunEmpty || replace != "" {
			return 0
		}
		return run(args)
	}
	switch {
	case replace != "":
		for _, it := range items {
			var argv []string
			for _, a := range args {
				argv = append(argv, strings.ReplaceAll(a, replace, it))
			}
			if run(argv) != 0 {
				status = 123
			}
		}
	default:
		n := maxArgs
		if n <= 0 {
			n = len(items)
		}
		for i := 0; i < len(items); i += n {
			if ctx.Err() != nil {
				return 130
			}
			argv := append(append([]string(nil), args...), items[i:min(i+n, len(items))]...)
			if run(argv) != 0 {
				status = 123
			}
		}
	}
	return status
}

// --- date ---

func cmdDate(ctx context.Context, inv *Invocation) int {
	now := inv.sh.sess.clock.Now()
	format := ""
	utc := false
	for i := 1; i < len(inv.Args); i++ {
		a := inv.Args[i]
		switch {
		case strings.HasPrefix(a, "+"):
			format = a[1:]
		case a == "-u" || a == "--utc" || a == "--universal":
			utc = true
		case a == "-I" || a == "--iso-8601" || a == "-Iseconds" || a == "--iso-8601=seconds":
			if a == "-I" || a == "--iso-8601" {
				format = "%Y-%m-%d"
			} else {
				format = "%Y-%m-%dT%H:%M:%S%:z"
			}
		case a == "-R" || a == "--rfc-email":
			format = "%a, %d %b %Y %H:%M:%S %z"
		case (a == "-d" || a == "--date") && i+1 < len(inv.Args):
			t, ok := parseDate(inv.Args[i+1], now)
			if !ok {
				fmt.Fprintf(inv.Stderr, "date: invalid date '%s'\n", inv.Args[i+1])
				return 1
			}
			now = t
			i++
		case strings.HasPrefix(a, "--date="):
			t, ok := parseDate(a[len("--date="):], now)
			if !ok {
				fmt.Fprintf(inv.Stderr, "date: invalid date '%s'\n", a[len("--date="):])
				return 1
			}
			now = t
		default:
			return inv.usage(1, "invalid date '%s'", a)
		}
	}
	if utc {
		now = now.UTC()
	}
	if format == "" {
		format = "%a %b %e %H:%M:%S %Z %Y"
	}
	fmt.Fprintln(inv.Stdout, strftime(format, now))
	return 0
}

func parseDate(s string, now time.Time) (time.Time, bool) {
	if strings.HasPrefix(s, "@") {
		n, err := strconv.ParseInt(s[1:], 10, 64)
		return time.Unix(n, 0).In(now.Location()), err == nil
	}
	switch s {
	case "now", "":
		return now, true
	case "yesterday":
		return now.AddDate(0, 0, -1), true
	case "tomorrow":
		return now.AddDate(0, 0, 1), true
	}
	for _, layout := range []string{time.RFC3339, time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, now.Location()); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// strftime formats t with the C library's conversion specifications.
func strftime(f string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 >= len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		c := f[i]
		if c == ':' && i+1 < len(f) && f[i+1] == 'z' {
			i++
			b.WriteString(t.Format("-07:00"))
			continue
		}
		switch c {
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'b', 'h':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'c':
			b.WriteString(t.Format("Mon Jan _2 15:04:05 2006"))
		case 'C':
			fmt.Fprintf(&b, "%02d", t.Year()/100)
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'D':
			b.WriteString(t.Format("01/02/06"))
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'k':
			fmt.Fprintf(&b, "%2d", t.Hour())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'n':
			b.WriteByte('\n')
		case 'N':
			fmt.Fprintf(&b, "%09d", t.Nanosecond())
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'R':
			b.WriteString(t.Format("15:04"))
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 't':
			b.WriteByte('\t')
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'u':
			fmt.Fprintf(&b, "%d", (int(t.Weekday())+6)%7+1)
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(c)
		}
	}
	return b.String()
}

// --- history ---

type history struct {
	mu      sync.Mutex
	entries []string
	max     int
	base    int // number of entries dropped from the front
}

func newHistory(max int) *history {
	if max <= 0 {
		max = 1000
	}
	return &history{max: max}
}

func (h *history) add(line string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if strings.TrimSpace(line) == "" {
		return
	}
	h.entries = append(h.entries, line)
	if len(h.entries) > h.max {
		h.entries = h.entries[1:]
		h.base++
	}
}

func (h *history) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.entries...)
}

func (h *history) clear() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.base += len(h.entries)
	h.entries = nil
}

var _ = bufio.NewReader
