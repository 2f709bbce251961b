package terminal

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// --- regular expressions: POSIX BRE/ERE onto Go's RE2 ---

// posixToGo converts a POSIX regular expression (basic unless extended) to Go syntax.
func posixToGo(p string, extended bool) string {
	var b strings.Builder
	atStart := true
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '[' {
			// Copy a bracket expression verbatim: "]" first is literal, [:class:] is kept.
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			if j < len(p) && p[j] == ']' {
				j++
			}
			for j < len(p) && p[j] != ']' {
				if p[j] == '[' && j+1 < len(p) && (p[j+1] == ':' || p[j+1] == '.' || p[j+1] == '=') {
					if k := strings.Index(p[j+2:], string(p[j+1])+"]"); k >= 0 {
						j += k + 4
						continue
					}
				}
				j++
			}
			if j >= len(p) {
				b.WriteString(regexp.QuoteMeta(p[i:]))
				return b.String()
			}
			seg := p[i : j+1]
			seg = strings.ReplaceAll(seg, `\`, `\\`)
			if strings.HasPrefix(seg, "[^]") || strings.HasPrefix(seg, "[]") {
				seg = strings.Replace(seg, "]", `\]`, 1)
			}
			b.WriteString(seg)
			i = j
			atStart = false
			continue
		}
		if c == '\\' && i+1 < len(p) {
			n := p[i+1]
			i++
			if !extended && strings.IndexByte("(){}|+?", n) >= 0 {
				b.WriteByte(n)
				atStart = n == '(' || n == '|'
				continue
			}
			switch n {
			case '<', '>':
				b.WriteString(`\b`)
			case 'n':
				b.WriteString(`\n`)
			case 't':
				b.WriteString(`\t`)
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			atStart = false
			continue
		}
		switch {
		case !extended && strings.IndexByte("(){}|+?", c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '*' && atStart:
			b.WriteString(`\*`)
		case extended && c == '{' && !validInterval(p[i:]):
			b.WriteString(`\{`)
		default:
			b.WriteByte(c)
		}
		atStart = c == '^' && atStart || extended && (c == '(' || c == '|')
	}
	return b.String()
}

var intervalRe = regexp.MustCompile(`^\{[0-9]*(,[0-9]*)?\}`)

func validInterval(s string) bool { return intervalRe.MatchString(s) }

// --- grep ---

func cmdEgrep(ctx context.Context, inv *Invocation) int {
	inv.Args = append([]string{"grep", "-E"}, inv.Args[1:]...)
	return cmdGrep(ctx, inv)
}

func cmdFgrep(ctx context.Context, inv *Invocation) int {
	inv.Args = append([]string{"grep", "-F"}, inv.Args[1:]...)
	return cmdGrep(ctx, inv)
}

type grepOpts struct {
	re                                         *regexp.Regexp
	invert, number, count, only, list, listNot bool
	quiet, names, noMsgs                       bool
	after, before                              int
	matched                                    bool
	maxCount                                   int
}

func cmdGrep(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("EFGPivncorRlLwxhHqsA:B:C:e:m:Za", map[string]rune{
		"extended-regexp": 'E', "fixed-strings": 'F', "basic-regexp": 'G', "perl-regexp": 'P',
		"ignore-case": 'i', "invert-match": 'v', "line-number": 'n', "count": 'c', "only-matching": 'o',
		"recursive": 'r', "dereference-recursive": 'R', "files-with-matches": 'l',
		"files-without-match": 'L', "word-regexp": 'w', "line-regexp": 'x', "no-filename": 'h',
		"with-filename": 'H', "quiet": 'q', "silent": 'q', "no-messages": 's', "after-context": 'A',
		"before-context": 'B', "context": 'C', "regexp": 'e', "max-count": 'm', "color": 'K', "colour": 'K',
		"text": 'a',
	})
	if o == nil {
		return code
	}
	args := o.args
	pats := o.vals['e']
	if len(pats) == 0 {
		if len(args) == 0 {
			fmt.Fprintf(inv.Stderr, "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n")
			return 2
		}
		pats, args = strings.Split(args[0], "\n"), args[1:]
	}
	extended := o.has('E') || o.has('P')
	var alts []string
	for _, p := range pats {
		switch {
		case o.has('F'):
			alts = append(alts, regexp.QuoteMeta(p))
		default:
			alts = append(alts, posixToGo(p, extended))
		}
	}
	expr := "(?:" + strings.Join(alts, ")|(?:") + ")"
	if o.has('w') {
		expr = `(?:^|\b)(?:` + expr + `)(?:\b|$)`
	}
	if o.has('x') {
		expr = "^(?:" + expr + ")$"
	}
	if o.has('i') {
		expr = "(?i)" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "grep: %s\n", regexpError(err))
		return 2
	}
	g := &grepOpts{re: re, invert: o.has('v'), number: o.has('n'), count: o.has('c'), only: o.has('o'),
		list: o.has('l'), listNot: o.has('L'), quiet: o.has('q'), noMsgs: o.has('s'), maxCount: -1}
	if v := o.val('C'); v != "" {
		g.after, g.before = atoiDefault(v, 0), atoiDefault(v, 0)
	}
	if v := o.val('A'); v != "" {
		g.after = atoiDefault(v, 0)
	}
	if v := o.val('B'); v != "" {
		g.before = atoiDefault(v, 0)
	}
	if v := o.val('m'); v != "" {
		g.maxCount = atoiDefault(v, -1)
	}
	recursive := o.has('r') || o.has('R')
	implicit := false
	if len(args) == 0 {
		if recursive {
			args, implicit = []string{"."}, true
		} else {
			args = []string{"-"}
		}
	}
	g.names = (len(args) > 1 || recursive) && !o.has('h') || o.has('H')
	status := 1
	trouble := false
	var search func(name, display string)
	search = func(name, display string) {
		if ctx.Err() != nil || g.quiet && g.matched {
			return
		}
		if name != "-" {
			p := inv.Path(name)
			fi, err := inv.FS.Stat(p)
			if err != nil {
				if !g.noMsgs {
					fmt.Fprintf(inv.Stderr, "grep: %s: %s\n", display, strerr(err))
				}
				trouble = true
				return
			}
			if fi.IsDir() {
				if !recursive {
					if !g.noMsgs {
						fmt.Fprintf(inv.Stderr, "grep: %s: Is a directory\n", display)
					}
					trouble = true
					return
				}
				ents, _ := inv.FS.ReadDir(p)
				for _, e := range ents {
					child := strings.TrimSuffix(display, "/") + "/" + e.Name()
					if implicit && display == "." {
						child = e.Name()
					}
					search(path.Join(name, e.Name()), child)
				}
				return
			}
		}
		r, err := inv.open(name)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "grep: %s: %s\n", display, strerr(err))
			trouble = true
			return
		}
		defer r.Close()
		if display == "-" {
			display = "(standard input)"
		}
		if inv.grepReader(ctx, g, r, display) {
			status = 0
		}
	}
	for _, a := range args {
		search(a, a)
	}
	if trouble && !(g.quiet && status == 0) {
		return 2
	}
	return status
}

func regexpError(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "missing closing )"):
		return "Unmatched ( or \\("
	case strings.Contains(s, "unexpected )"):
		return "Unmatched ) or \\)"
	case strings.Contains(s, "missing closing ]"):
		return "Unmatched [, [^, [:, [., or [="
	case strings.Contains(s, "invalid escape sequence"):
		return "Invalid back reference"
	}
	return s
}

func (inv *Invocation) grepReader(ctx context.Context, g *grepOpts, r io.Reader, name string) bool {
	br := bufio.NewReader(r)
	out := inv.Stdout
	prefix := func(n int, sep string) string {
		s := ""
		if g.names {
			s += name + sep
		}
		if g.number {
			s += strconv.Itoa(n) + sep
		}
		return s
	}
	count := 0
	var before []string
	lastPrinted := 0
	afterLeft := 0
	printedAny := false
	for n := 1; ; n++ {
		if ctx.Err() != nil {
			break
		}
		line, err := br.ReadString('\n')
		if line == "" && err != nil {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		match := g.re.MatchString(line) != g.invert
		if match && (g.maxCount < 0 || count < g.maxCount) {
			count++
			g.matched = true
			if g.quiet {
				return true
			}
			if g.list || g.listNot || g.count {
				before = nil
				continue
			}
			if printedAny && (g.before > 0 || g.after > 0) && n-len(before) > lastPrinted+1 {
				fmt.Fprintln(out, "--")
			}
			for i, b := range before {
				fmt.Fprintf(out, "%s%s\n", prefix(n-len(before)+i, "-"), b)
			}
			before = nil
			if g.only && !g.invert {
				for _, m := range g.re.FindAllString(line, -1) {
					if m != "" {
						fmt.Fprintf(out, "%s%s\n", prefix(n, ":"), m)
					}
				}
			} else {
				fmt.Fprintf(out, "%s%s\n", prefix(n, ":"), line)
			}
			lastPrinted, afterLeft, printedAny = n, g.after, true
		} else if afterLeft > 0 && !g.count && !g.list && !g.listNot {
			fmt.Fprintf(out, "%s%s\n", prefix(n, "-"), line)
			lastPrinted = n
			afterLeft--
		} else if g.before > 0 {
			before = append(before, line)
			if len(before) > g.before {
				before = before[1:]
			}
		}
		if g.maxCount >= 0 && count >= g.maxCount && afterLeft == 0 {
			break
		}
		if err != nil {
			break
		}
	}
	switch {
	case g.count:
		if g.names {
			fmt.Fprintf(out, "%s:%d\n", name, count)
		} else {
			fmt.Fprintf(out, "%d\n", count)
		}
	case g.list && count > 0:
		fmt.Fprintln(out, name)
	case g.listNot && count == 0:
		fmt.Fprintln(out, name)
	}
	return count > 0
}

// --- head, tail ---

// numArg parses the -N shorthand of head and tail (head -5) by rewriting it to -n 5.
func numShorthand(args []string) []string {
	out := []string{args[0]}
	for _, a := range args[1:] {
		if len(a) > 1 && a[0] == '-' && a[1] >= '0' && a[1] <= '9' {
			out = append(out, "-n", a[1:])
			continue
		}
		out = append(out, a)
	}
	return out
}

func cmdHead(ctx context.Context, inv *Invocation) int {
	inv.Args = numShorthand(inv.Args)
	o, code := inv.getopt("n:c:qv", map[string]rune{"lines": 'n', "bytes": 'c', "quiet": 'q', "verbose": 'v'})
	if o == nil {
		return code
	}
	n, bytesMode := int64(10), false
	spec := o.val('n')
	if o.has('c') {
		spec, bytesMode = o.val('c'), true
	}
	if spec != "" {
		v, err := parseSize(spec)
		if err != nil {
			what := "lines"
			if bytesMode {
				what = "bytes"
			}
			return inv.fail(1, "invalid number of %s: '%s'", what, spec)
		}
		n = v
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for i, f := range files {
		r, err := inv.open(f)
		if err != nil {
			status = inv.fail(1, "cannot open '%s' for reading: %s", f, strerr(err))
			continue
		}
		if (len(files) > 1 || o.has('v')) && !o.has('q') {
			if i > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			label := f
			if f == "-" {
				label = "standard input"
			}
			fmt.Fprintf(inv.Stdout, "==> %s <==\n", label)
		}
		switch {
		case bytesMode && n >= 0:
			if _, err := io.Copy(inv.Stdout, io.LimitReader(r, n)); err != nil && errors.Is(err, syscall.ENOSPC) {
				status = inv.fail(1, "error writing 'standard output': No space left on device")
			}
		case n >= 0 && !strings.HasPrefix(spec, "-"):
			br := bufio.NewReader(r)
			for k := int64(0); k < n; k++ {
				line, err := br.ReadString('\n')
				io.WriteString(inv.Stdout, line)
				if err != nil {
					break
				}
			}
		default:
			data, _ := io.ReadAll(io.LimitReader(r, inv.sh.sess.limits.MaxOutput*4))
			if bytesMode {
				if k := int64(len(data)) + n; k > 0 {
					inv.Stdout.Write(data[:k])
				}
			} else {
				lines := splitKeep(data)
				if k := int64(len(lines)) + n; k > 0 {
					io.WriteString(inv.Stdout, strings.Join(lines[:k], ""))
				}
			}
		}
		r.Close()
	}
	return status
}

// parseSize parses a count with an optional sign and a K/M/G suffix.
func parseSize(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimLeft(s, "+-")
	mult := int64(1)
	for suf, m := range map[string]int64{"K": 1024, "k": 1024, "M": 1 << 20, "G": 1 << 30, "KB": 1000, "MB": 1000000} {
		if strings.HasSuffix(t, suf) && len(t) > len(suf) {
			t, mult = strings.TrimSuffix(t, suf), m
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, err
	}
	if neg {
		v = -v
	}
	return v * mult, nil
}

// splitKeep splits text into lines keeping their newlines.
func splitKeep(data []byte) []string {
	var out []string
	s := string(data)
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func cmdTail(ctx context.Context, inv *Invocation) int {
	inv.Args = numShorthand(inv.Args)
	o, code := inv.getopt("n:c:fFqvs:", map[string]rune{"lines": 'n', "bytes": 'c', "follow": 'f', "quiet": 'q', "verbose": 'v', "sleep-interval": 's'})
	if o == nil {
		return code
	}
	spec, bytesMode := "10", false
	if o.has('n') {
		spec = o.val('n')
	}
	if o.has('c') {
		spec, bytesMode = o.val('c'), true
	}
	fromStart := strings.HasPrefix(spec, "+")
	n, err := parseSize(strings.TrimPrefix(spec, "-"))
	if err != nil {
		what := "lines"
		if bytesMode {
			what = "bytes"
		}
		return inv.fail(1, "invalid number of %s: '%s'", what, spec)
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	follow := o.has('f') || o.has('F')
	offsets := map[string]int64{}
	for i, f := range files {
		if len(files) > 1 || o.has('v') {
			if i > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			fmt.Fprintf(inv.Stdout, "==> %s <==\n", f)
		}
		data, err := inv.readAll(f)
		if err != nil {
			status = inv.fail(1, "cannot open '%s' for reading: %s", f, strerr(err))
			continue
		}
		offsets[f] = int64(len(data))
		if bytesMode {
			switch {
			case fromStart && n > 0:
				if n-1 < int64(len(data)) {
					inv.Stdout.Write(data[n-1:])
				}
			case n < int64(len(data)):
				inv.Stdout.Write(data[int64(len(data))-n:])
			default:
				inv.Stdout.Write(data)
			}
			continue
		}
		lines := splitKeep(data)
		switch {
		case fromStart:
			if n < 1 {
				n = 1
			}
			if n-1 < int64(len(lines)) {
				io.WriteString(inv.Stdout, strings.Join(lines[n-1:], ""))
			}
		case n < int64(len(lines)):
			io.WriteString(inv.Stdout, strings.Join(lines[int64(len(lines))-n:], ""))
		default:
			io.WriteString(inv.Stdout, strings.Join(lines, ""))
		}
	}
	if !follow || status != 0 {
		return status
	}
	// Follow: poll the files once a second on the session clock until Ctrl-C.
	interval := time.Second
	if v := o.val('s'); v != "" {
		if d, err := strconv.ParseFloat(v, 64); err == nil && d > 0 {
			interval = time.Duration(d * float64(time.Second))
		}
	}
	var followed []string
	for _, f := range files {
		if f != "-" {
			followed = append(followed, f)
		}
	}
	if len(followed) == 0 {
		return status
	}
	for {
		if !inv.wait(ctx, interval) {
			return 130
		}
		for _, f := range followed {
			data, err := inv.FS.ReadFile(inv.Path(f))
			if err != nil {
				continue
			}
			off := offsets[f]
			if int64(len(data)) < off {
				fmt.Fprintf(inv.Stderr, "tail: %s: file truncated\n", f)
				off = 0
			}
			if int64(len(data)) > off {
				inv.Stdout.Write(data[off:])
			}
			offsets[f] = int64(len(data))
		}
	}
}

// wait sleeps d on the session clock; false means ctx ended first. The wait is idle time.
func (inv *Invocation) wait(ctx context.Context, d time.Duration) bool {
	defer inv.idle()()
	t := inv.sh.sess.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// --- wc ---

func cmdWc(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("lwcmL", map[string]rune{"lines": 'l', "words": 'w', "bytes": 'c', "chars": 'm', "max-line-length": 'L'})
	if o == nil {
		return code
	}
	show := []rune{}
	for _, c := range "lwmcL" {
		if o.has(c) {
			show = append(show, c)
		}
	}
	if len(show) == 0 {
		show = []rune{'l', 'w', 'c'}
	}
	files := o.args
	stdin := len(files) == 0
	if stdin {
		files = []string{"-"}
	}
	type counts map[rune]int64
	var rows []counts
	var names []string
	total := counts{}
	status := 0
	var sizeSum int64
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			status = inv.fail(1, "%s: %s", f, strerr(err))
			continue
		}
		c := counts{'l': int64(bytes.Count(data, []byte("\n"))), 'w': int64(len(bytes.Fields(data))),
			'c': int64(len(data)), 'm': int64(utf8.RuneCount(data))}
		for _, l := range splitLines(data) {
			c['L'] = max(c['L'], int64(utf8.RuneCountInString(l)))
		}
		for k, v := range c {
			if k == 'L' {
				total[k] = max(total[k], v)
			} else {
				total[k] += v
			}
		}
		sizeSum += int64(len(data))
		rows = append(rows, c)
		if f == "-" && stdin {
			names = append(names, "")
		} else {
			names = append(names, f)
		}
	}
	if len(rows) > 1 {
		rows = append(rows, total)
		names = append(names, "total")
	}
	width := len(strconv.FormatInt(sizeSum, 10))
	if stdin {
		width = 7
	}
	if len(show) == 1 && len(files) == 1 {
		width = 1
	}
	for i, c := range rows {
		var parts []string
		for _, k := range show {
			parts = append(parts, fmt.Sprintf("%*d", width, c[k]))
		}
		line := strings.Join(parts, " ")
		if names[i] != "" {
			line += " " + names[i]
		}
		fmt.Fprintln(inv.Stdout, line)
	}
	return status
}

// --- sort, uniq ---

type sortKey struct {
	f1, c1, f2, c2 int
	numeric, rev   bool
	human, fold    bool
}

func cmdSort(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("nrut:k:fbhVso:c", map[string]rune{"numeric-sort": 'n', "reverse": 'r', "unique": 'u',
		"field-separator": 't', "key": 'k', "ignore-case": 'f', "human-numeric-sort": 'h', "version-sort": 'V',
		"stable": 's', "output": 'o', "check": 'c', "ignore-leading-blanks": 'b'})
	if o == nil {
		return code
	}
	sep := ""
	if o.has('t') {
		sep = o.val('t')
		if len([]rune(sep)) != 1 {
			return inv.fail(2, "multi-character tab '%s'", sep)
		}
	}
	var keys []sortKey
	for _, k := range o.vals['k'] {
		key, ok := parseSortKey(k)
		if !ok {
			return inv.fail(2, "invalid number at field start: invalid count at start of '%s'", k)
		}
		keys = append(keys, key)
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	var lines []string
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			return inv.fail(2, "cannot read: %s: %s", f, strerr(err))
		}
		lines = append(lines, splitLines(data)...)
	}
	global := sortKey{numeric: o.has('n'), human: o.has('h'), fold: o.has('f'), rev: false}
	cmpLines := func(a, b string) int {
		if len(keys) == 0 {
			return compareField(a, b, global)
		}
		for _, k := range keys {
			kk := k
			if !kk.numeric && !kk.human && !kk.fold {
				kk.numeric, kk.human, kk.fold = global.numeric, global.human, global.fold
			}
			c := compareField(extractKey(a, k, sep), extractKey(b, k, sep), kk)
			if k.rev {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	sort.SliceStable(lines, func(i, j int) bool {
		c := cmpLines(lines[i], lines[j])
		if c == 0 && !o.has('s') && !o.has('u') {
			c = strings.Compare(lines[i], lines[j])
		}
		if o.has('r') {
			c = -c
		}
		return c < 0
	})
	out := inv.Stdout
	if o.has('o') {
		w, err := inv.create(o.val('o'), false)
		if err != nil {
			return inv.fail(2, "open failed: %s: %s", o.val('o'), strerr(err))
		}
		defer w.Close()
		out = w
	}
	var prev *string
	for i := range lines {
		if o.has('u') && prev != nil && cmpLines(*prev, lines[i]) == 0 {
			continue
		}
		fmt.Fprintln(out, lines[i])
		prev = &lines[i]
	}
	return 0
}

func parseSortKey(s string) (sortKey, bool) {
	var k sortKey
	parsePos := func(p string) (f, c int, opts string, ok bool) {
		i := 0
		for i < len(p) && (p[i] >= '0' && p[i] <= '9' || p[i] == '.') {
			i++
		}
		num, opts := p[:i], p[i:]
		fs, cs, _ := strings.Cut(num, ".")
		f, err := strconv.Atoi(fs)
		if err != nil {
			return 0, 0, "", false
		}
		if cs != "" {
			c, _ = strconv.Atoi(cs)
		}
		return f, c, opts, true
	}
	a, b, hasB := strings.Cut(s, ",")
	f, c, opts, ok := parsePos(a)
	if !ok || f < 1 {
		return k, false
	}
	k.f1, k.c1 = f, c
	apply := func(opts string) {
		for _, r := range opts {
			switch r {
			case 'n':
				k.numeric = true
			case 'r':
				k.rev = true
			case 'h':
				k.human = true
			case 'f':
				k.fold = true
			}
		}
	}
	apply(opts)
	if hasB {
		f, c, opts, ok := parsePos(b)
		if !ok {
			return k, false
		}
		k.f2, k.c2 = f, c
		apply(opts)
	}
	return k, true
}

// fields splits a line as sort does: by sep, or at blank-to-nonblank transitions (leading blanks
// belong to the field).
func sortFields(line, sep string) []string {
	if sep != "" {
		return strings.Split(line, sep)
	}
	var out []string
	i := 0
	for i < len(line) {
		j := i
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		out = append(out, line[i:j])
		i = j
	}
	return out
}

func extractKey(line string, k sortKey, sep string) string {
	fs := sortFields(line, sep)
	if k.f1 > len(fs) {
		return ""
	}
	end := len(fs)
	if k.f2 > 0 {
		end = min(k.f2, len(fs))
	}
	j := "\x00"
	if sep != "" {
		j = sep
	}
	parts := fs[k.f1-1 : max(end, k.f1)]
	s := strings.Join(parts, j)
	if sep == "" {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if k.c1 > 0 {
		f := strings.TrimLeft(parts[0], " \t")
		if sep != "" {
			f = parts[0]
		}
		if k.c1-1 < len(f) {
			s = f[k.c1-1:] + strings.TrimPrefix(s, parts[0])
		} else {
			s = ""
		}
	}
	return s
}

func compareField(a, b string, k sortKey) int {
	switch {
	case k.numeric:
		return cmpFloat(leadingNumber(a), leadingNumber(b))
	case k.human:
		return cmpFloat(humanNumber(a), humanNumber(b))
	case k.fold:
		return strings.Compare(strings.ToUpper(a), strings.ToUpper(b))
	}
	return strings.Compare(a, b)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var numRe = regexp.MustCompile(`^\s*[-+]?[0-9]*\.?[0-9]+`)

func leadingNumber(s string) float64 {
	m := numRe.FindString(s)
	v, err := strconv.ParseFloat(strings.TrimSpace(m), 64)
	if err != nil {
		return 0
	}
	return v
}

func humanNumber(s string) float64 {
	s = strings.TrimSpace(s)
	m := numRe.FindString(s)
	v := leadingNumber(s)
	rest := strings.TrimPrefix(s, strings.TrimSpace(m))
	if rest != "" {
		if i := strings.IndexByte("KMGTPE", byte(unicode.ToUpper(rune(rest[0])))); i >= 0 {
			v *= math.Pow(1024, float64(i+1))
		}
	}
	return v
}

func cmdUniq(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("cdui", map[string]rune{"count": 'c', "repeated": 'd', "unique": 'u', "ignore-case": 'i'})
	if o == nil {
		return code
	}
	in := "-"
	if len(o.args) > 0 {
		in = o.args[0]
	}
	data, err := inv.readAll(in)
	if err != nil {
		return inv.fail(1, "%s: %s", in, strerr(err))
	}
	out := inv.Stdout
	if len(o.args) > 1 {
		w, err := inv.create(o.args[1], false)
		if err != nil {
			return inv.fail(1, "%s: %s", o.args[1], strerr(err))
		}
		defer w.Close()
		out = w
	}
	lines := splitLines(data)
	eq := func(a, b string) bool {
		if o.has('i') {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	for i := 0; i < len(lines); {
		j := i + 1
		for j < len(lines) && eq(lines[i], lines[j]) {
			j++
		}
		n := j - i
		if (!o.has('d') || n > 1) && (!o.has('u') || n == 1) {
			if o.has('c') {
				fmt.Fprintf(out, "%7d %s\n", n, lines[i])
			} else {
				fmt.Fprintln(out, lines[i])
			}
		}
		i = j
	}
	return 0
}

// --- cut, tr ---

type span struct{ from, to int } // 1-based, inclusive; to == 0 means to the end

func parseList(s string) ([]span, bool) {
	var out []span
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		var sp span
		var err error
		switch {
		case !isRange:
			sp.from, err = strconv.Atoi(a)
			sp.to = sp.from
		default:
			sp.from = 1
			if a != "" {
				sp.from, err = strconv.Atoi(a)
			}
			if err == nil && b != "" {
				sp.to, err = strconv.Atoi(b)
			}
		}
		if err != nil || sp.from < 1 {
			return nil, false
		}
		out = append(out, sp)
	}
	return out, true
}

func inList(spans []span, i int) bool {
	for _, s := range spans {
		if i >= s.from && (s.to == 0 || i <= s.to) {
			return true
		}
	}
	return false
}

func cmdCut(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("d:f:c:b:s", map[string]rune{"delimiter": 'd', "fields": 'f', "characters": 'c', "bytes": 'b', "only-delimited": 's', "output-delimiter": 'O'})
	if o == nil {
		return code
	}
	modes := 0
	for _, c := range "fcb" {
		if o.has(c) {
			modes++
		}
	}
	if modes == 0 {
		return inv.usage(1, "you must specify a list of bytes, characters, or fields")
	}
	if modes > 1 {
		return inv.usage(1, "only one type of list may be specified")
	}
	listSpec := o.val('f') + o.val('c') + o.val('b')
	spans, ok := parseList(listSpec)
	if !ok {
		return inv.usage(1, "invalid field value '%s'", listSpec)
	}
	delim := "\t"
	if o.has('d') {
		delim = o.val('d')
		if len([]rune(delim)) != 1 {
			return inv.usage(1, "the delimiter must be a single character")
		}
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			status = inv.fail(1, "%s: %s", f, strerr(err))
			continue
		}
		for _, line := range splitLines(data) {
			if o.has('f') {
				if !strings.Contains(line, delim) {
					if !o.has('s') {
						fmt.Fprintln(inv.Stdout, line)
					}
					continue
				}
				var keep []string
				for i, fld := range strings.Split(line, delim) {
					if inList(spans, i+1) {
						keep = append(keep, fld)
					}
				}
				fmt.Fprintln(inv.Stdout, strings.Join(keep, delim))
				continue
			}
			var b strings.Builder
			units := []rune(line)
			if o.has('b') {
				units = []rune{}
				for _, c := range []byte(line) {
					units = append(units, rune(c))
				}
			}
			for i, r := range units {
				if inList(spans, i+1) {
					if o.has('b') {
						b.WriteByte(byte(r))
					} else {
						b.WriteRune(r)
					}
				}
			}
			fmt.Fprintln(inv.Stdout, b.String())
		}
	}
	return status
}

// expandSet expands a tr set: ranges, classes and escapes.
func expandSet(s string) []rune {
	classes := map[string]func(rune) bool{
		"upper": unicode.IsUpper, "lower": unicode.IsLower, "digit": unicode.IsDigit,
		"alpha": unicode.IsLetter, "alnum": func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) },
		"space": unicode.IsSpace, "blank": func(r rune) bool { return r == ' ' || r == '\t' },
		"punct": unicode.IsPunct, "xdigit": func(r rune) bool { return strings.ContainsRune("0123456789abcdefABCDEF", r) },
	}
	var out []rune
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '[' && i+1 < len(rs) && rs[i+1] == ':' {
			if end := strings.Index(string(rs[i+2:]), ":]"); end >= 0 {
				name := string(rs[i+2 : i+2+end])
				if f, ok := classes[name]; ok {
					for r := rune(0); r < 128; r++ {
						if f(r) {
							out = append(out, r)
						}
					}
					i += end + 3
					continue
				}
			}
		}
		r := rs[i]
		if r == '\\' && i+1 < len(rs) {
			i++
			r = map[rune]rune{'n': '\n', 't': '\t', 'r': '\r', '\\': '\\', '0': 0}[rs[i]]
			if r == 0 && rs[i] != '0' {
				r = rs[i]
			}
		}
		if i+2 < len(rs) && rs[i+1] == '-' {
			hi := rs[i+2]
			for c := r; c <= hi; c++ {
				out = append(out, c)
			}
			i += 2
			continue
		}
		out = append(out, r)
	}
	return out
}

func cmdTr(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("dscC", map[string]rune{"delete": 'd', "squeeze-repeats": 's', "complement": 'c'})
	if o == nil {
		return code
	}
	if len(o.args) == 0 {
		return inv.usage(1, "missing operand")
	}
	if !o.has('d') && !o.has('s') && len(o.args) < 2 {
		return inv.usage(1, "missing operand after '%s'\nTwo strings must be given when translating.", o.args[0])
	}
	set1 := expandSet(o.args[0])
	var set2 []rune
	if len(o.args) > 1 {
		set2 = expandSet(o.args[1])
	}
	in1 := map[rune]bool{}
	for _, r := range set1 {
		in1[r] = true
	}
	member := func(r rune) bool { return in1[r] != (o.has('c') || o.has('C')) }
	mapping := map[rune]rune{}
	if !o.has('d') && len(set2) > 0 && !o.has('c') {
		for i, r := range set1 {
			j := min(i, len(set2)-1)
			mapping[r] = set2[j]
		}
	}
	squeeze := map[rune]bool{}
	sq := set1
	if len(set2) > 0 && !(o.has('d') && !o.has('s')) {
		sq = set2
	}
	for _, r := range sq {
		squeeze[r] = true
	}
	data, err := io.ReadAll(io.LimitReader(inv.Stdin, inv.sh.sess.limits.MaxOutput*4))
	if err != nil && ctx.Err() != nil {
		return 130
	}
	var b strings.Builder
	var last rune = -1
	for _, r := range string(data) {
		if o.has('d') && member(r) {
			continue
		}
		if m, ok := mapping[r]; ok {
			r = m
		} else if (o.has('c') || o.has('C')) && !o.has('d') && len(set2) > 0 && member(r) {
			r = set2[len(set2)-1]
		}
		if o.has('s') && squeeze[r] && r == last {
			continue
		}
		b.WriteRune(r)
		last = r
	}
	io.WriteString(inv.Stdout, b.String())
	return 0
}

// --- seq, yes, base64 ---

func cmdSeq(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	sep, width := "\n", false
	format := ""
	var nums []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-s" && i+1 < len(args):
			sep = args[i+1]
			i++
		case strings.HasPrefix(a, "-s") && len(a) > 2:
			sep = a[2:]
		case a == "-w":
			width = true
		case a == "-f" && i+1 < len(args):
			format = args[i+1]
			i++
		default:
			nums = append(nums, a)
		}
	}
	if len(nums) == 0 || len(nums) > 3 {
		if len(nums) == 0 {
			return inv.usage(1, "missing operand")
		}
		return inv.usage(1, "extra operand '%s'", nums[3])
	}
	vals := make([]float64, len(nums))
	decimals := 0
	for i, n := range nums {
		v, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return inv.usage(1, "invalid floating point argument: '%s'", n)
		}
		vals[i] = v
		if d := strings.IndexByte(n, '.'); d >= 0 && i != 2 || d >= 0 && len(nums) == 2 {
			decimals = max(decimals, len(n)-d-1)
		}
	}
	first, incr, last := 1.0, 1.0, vals[len(vals)-1]
	switch len(vals) {
	case 2:
		first = vals[0]
	case 3:
		first, incr = vals[0], vals[1]
		if d := strings.IndexByte(nums[1], '.'); d >= 0 {
			decimals = max(decimals, len(nums[1])-d-1)
		}
	}
	if incr == 0 {
		return inv.usage(1, "invalid Zero increment value: '%s'", nums[1])
	}
	fmtNum := func(v float64) string {
		if format != "" {
			return fmt.Sprintf(strings.ReplaceAll(format, "%g", "%v"), v)
		}
		return strconv.FormatFloat(v, 'f', decimals, 64)
	}
	w := 0
	if width {
		w = max(len(fmtNum(first)), len(fmtNum(last)))
	}
	bw := bufio.NewWriter(inv.Stdout)
	defer bw.Flush()
	count := 0
	for i := 0; ; i++ {
		v := first + float64(i)*incr
		if incr > 0 && v > last+1e-9 || incr < 0 && v < last-1e-9 {
			break
		}
		if count > 0 {
			bw.WriteString(sep)
		}
		s := fmtNum(v)
		if width && len(s) < w {
			if strings.HasPrefix(s, "-") {
				s = "-" + strings.Repeat("0", w-len(s)) + s[1:]
			} else {
				s = strings.Repeat("0", w-len(s)) + s
			}
		}
		bw.WriteString(s)
		count++
		if count%1024 == 0 {
			if ctx.Err() != nil {
				return 130
			}
			if err := bw.Flush(); err != nil {
				return 1
			}
		}
	}
	if count > 0 {
		bw.WriteString("\n")
	}
	return 0
}

func cmdYes(ctx context.Context, inv *Invocation) int {
	s := "y"
	if len(inv.Args) > 1 {
		s = strings.Join(inv.Args[1:], " ")
	}
	line := []byte(s + "\n")
	for i := 0; i < inv.sh.sess.limits.MaxYes; i++ {
		if ctx.Err() != nil {
			return 130
		}
		if _, err := inv.Stdout.Write(line); err != nil {
			return 1
		}
	}
	return 0
}

func cmdBase64(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("diw:", map[string]rune{"decode": 'd', "ignore-garbage": 'i', "wrap": 'w'})
	if o == nil {
		return code
	}
	in := "-"
	if len(o.args) > 0 {
		in = o.args[0]
	}
	data, err := inv.readAll(in)
	if err != nil {
		return inv.fail(1, "%s: %s", in, strerr(err))
	}
	if o.has('d') {
		clean := strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			if o.has('i') && !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", r) {
				return -1
			}
			return r
		}, string(data))
		out, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			if raw, err2 := base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err2 == nil {
				inv.Stdout.Write(raw)
				return 0
			}
			inv.Stdout.Write(out)
			return inv.fail(1, "invalid input")
		}
		inv.Stdout.Write(out)
		return 0
	}
	enc := base64.StdEncoding.EncodeToString(data)
	wrap := 76
	if o.has('w') {
		wrap = atoiDefault(o.val('w'), 76)
	}
	if wrap > 0 {
		var b strings.Builder
		for len(enc) > wrap {
			b.WriteString(enc[:wrap] + "\n")
			enc = enc[wrap:]
		}
		b.WriteString(enc)
		enc = b.String()
	}
	if enc != "" || wrap == 0 {
		fmt.Fprintln(inv.Stdout, enc)
	}
	return 0
}

// --- tac, rev, nl, checksums ---

func cmdTac(ctx context.Context, inv *Invocation) int {
	files := inv.Args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			return inv.fail(1, "failed to open '%s' for reading: %s", f, strerr(err))
		}
		lines := splitLines(data)
		for i := len(lines) - 1; i >= 0; i-- {
			fmt.Fprintln(inv.Stdout, lines[i])
		}
	}
	return 0
}

func cmdRev(ctx context.Context, inv *Invocation) int {
	files := inv.Args[1:]
	if len(files) == 0 {
		files = []string{"-"}
	}
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			return inv.fail(1, "cannot open %s: %s", f, strerr(err))
		}
		for _, l := range splitLines(data) {
			r := []rune(l)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			fmt.Fprintln(inv.Stdout, string(r))
		}
	}
	return 0
}

func cmdNl(ctx context.Context, inv *Invocation) int {
	all := false
	var files []string
	for _, a := range inv.Args[1:] {
		if a == "-ba" {
			all = true
			continue
		}
		files = append(files, a)
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	n := 0
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			return inv.fail(1, "%s: %s", f, strerr(err))
		}
		for _, l := range splitLines(data) {
			if l == "" && !all {
				fmt.Fprintln(inv.Stdout, "      ")
				continue
			}
			n++
			fmt.Fprintf(inv.Stdout, "%6d\t%s\n", n, l)
		}
	}
	return 0
}

func cmdSum(name string) Command {
	return func(ctx context.Context, inv *Invocation) int {
		files := inv.Args[1:]
		if len(files) == 0 {
			files = []string{"-"}
		}
		status := 0
		for _, f := range files {
			var h hash.Hash
			switch name {
			case "md5sum":
				h = md5.New()
			case "sha1sum":
				h = sha1.New()
			case "sha256sum":
				h = sha256.New()
			default:
				h = sha512.New()
			}
			data, err := inv.readAll(f)
			if err != nil {
				status = inv.fail(1, "%s: %s", f, strerr(err))
				continue
			}
			h.Write(data)
			fmt.Fprintf(inv.Stdout, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), f)
		}
		return status
	}
}

// --- diff ---

type editOp struct {
	kind byte // ' ', '-', '+'
	line string
	a, b int // 0-based line numbers in the two inputs
}

// myers computes a shortest edit script between two line lists.
func myers(a, b []string) []editOp {
	n, m := len(a), len(b)
	maxD := n + m
	v := make([]int, 2*maxD+2)
	var trace [][]int
	off := maxD + 1
	for d := 0; d <= maxD; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || k != d && v[off+k-1] < v[off+k+1] {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, off, d, k)
			}
		}
	}
	return nil
}

func backtrack(trace [][]int, a, b []string, off, d, k int) []editOp {
	var ops []editOp
	x, y := len(a), len(b)
	for ; d > 0; d-- {
		v := trace[d]
		var prevK int
		if k == -d || k != d && v[off+k-1] < v[off+k+1] {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[off+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			ops = append(ops, editOp{' ', a[x], x, y})
		}
		if x == prevX {
			y--
			ops = append(ops, editOp{'+', b[y], x, y})
		} else {
			x--
			ops = append(ops, editOp{'-', a[x], x, y})
		}
		k = prevK
	}
	for x > 0 && y > 0 {
		x--
		y--
		ops = append(ops, editOp{' ', a[x], x, y})
	}
	for i, j := 0, len(ops)-1; i < j; i, j = i+1, j-1 {
		ops[i], ops[j] = ops[j], ops[i]
	}
	return ops
}

func cmdDiff(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("uU:qN", map[string]rune{"unified": 'U', "brief": 'q'})
	if o == nil {
		return code
	}
	if len(o.args) < 2 {
		if len(o.args) == 0 {
			fmt.Fprintf(inv.Stderr, "diff: missing operand after 'diff'\ndiff: Try 'diff --help' for more information.\n")
		} else {
			fmt.Fprintf(inv.Stderr, "diff: missing operand after '%s'\ndiff: Try 'diff --help' for more information.\n", o.args[0])
		}
		return 2
	}
	names := o.args[:2]
	var texts [2][]string
	var stamps [2]time.Time
	for i, n := range names {
		data, err := inv.readAll(n)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "diff: %s: %s\n", n, strerr(err))
			return 2
		}
		texts[i] = splitLines(data)
		if fi, err := inv.FS.Stat(inv.Path(n)); err == nil {
			stamps[i] = fi.ModTime()
		} else {
			stamps[i] = inv.sh.sess.clock.Now()
		}
	}
	ops := myers(texts[0], texts[1])
	changed := false
	for _, op := range ops {
		if op.kind != ' ' {
			changed = true
		}
	}
	if !changed {
		return 0
	}
	if o.has('q') {
		fmt.Fprintf(inv.Stdout, "Files %s and %s differ\n", names[0], names[1])
		return 1
	}
	if o.has('u') || o.has('U') {
		ctxLines := 3
		if o.has('U') {
			ctxLines = atoiDefault(o.val('U'), 3)
		}
		const layout = "2006-01-02 15:04:05.000000000 -0700"
		fmt.Fprintf(inv.Stdout, "--- %s\t%s\n+++ %s\t%s\n", names[0], stamps[0].Format(layout), names[1], stamps[1].Format(layout))
		writeUnified(inv.Stdout, ops, ctxLines)
		return 1
	}
	writeNormal(inv.Stdout, ops)
	return 1
}

func writeUnified(w io.Writer, ops []editOp, ctxLines int) {
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		start := max(i-ctxLines, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*ctxLines {
				end = min(end+ctxLines, len(ops))
				break
			}
			end = run
		}
		hunk := ops[start:end]
		aStart, bStart, aLen, bLen := -1, -1, 0, 0
		for _, op := range hunk {
			if op.kind != '+' {
				if aStart < 0 {
					aStart = op.a
				}
				aLen++
			}
			if op.kind != '-' {
				if bStart < 0 {
					bStart = op.b
				}
				bLen++
			}
		}
		if aStart < 0 {
			aStart = hunk[0].a
		}
		if bStart < 0 {
			bStart = hunk[0].b
		}
		fmt.Fprintf(w, "@@ -%s +%s @@\n", hunkRange(aStart, aLen), hunkRange(bStart, bLen))
		for _, op := range hunk {
			fmt.Fprintf(w, "%c%s\n", op.kind, op.line)
		}
		i = end
	}
}

func hunkRange(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return strconv.Itoa(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

func writeNormal(w io.Writer, ops []editOp) {
	rng := func(a, b int) string {
		if a == b {
			return strconv.Itoa(a)
		}
		return fmt.Sprintf("%d,%d", a, b)
	}
	for i := 0; i < len(ops); {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		j := i
		var del, add []editOp
		for j < len(ops) && ops[j].kind != ' ' {
			if ops[j].kind == '-' {
				del = append(del, ops[j])
			} else {
				add = append(add, ops[j])
			}
			j++
		}
		switch {
		case len(add) == 0:
			fmt.Fprintf(w, "%sd%d\n", rng(del[0].a+1, del[len(del)-1].a+1), del[0].b)
		case len(del) == 0:
			fmt.Fprintf(w, "%da%s\n", add[0].a, rng(add[0].b+1, add[len(add)-1].b+1))
		default:
			fmt.Fprintf(w, "%sc%s\n", rng(del[0].a+1, del[len(del)-1].a+1), rng(add[0].b+1, add[len(add)-1].b+1))
		}
		for _, d := range del {
			fmt.Fprintf(w, "< %s\n", d.line)
		}
		if len(del) > 0 && len(add) > 0 {
			fmt.Fprintln(w, "---")
		}
		for _, a := range add {
			fmt.Fprintf(w, "> %s\n", a.line)
		}
		i = j
	}
}
