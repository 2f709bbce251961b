package terminal

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

type sedAddr struct {
	line int
	last bool
	re   *regexp.Regexp
}

type sedCmd struct {
	a1, a2  *sedAddr
	negate  bool
	name    byte
	re      *regexp.Regexp
	repl    string
	global  bool
	nth     int
	print   bool
	text    string
	block   []*sedCmd
	from    []rune
	to      []rune
	inRange bool
	endLine int
}

type sedParser struct {
	src      string
	i        int
	extended bool
	lastRe   *regexp.Regexp
}

func (p *sedParser) errorf(format string, a ...any) error {
	return fmt.Errorf("-e expression #1, char %d: "+format, append([]any{p.i}, a...)...)
}

func (p *sedParser) skipSpace() {
	for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\t') {
		p.i++
	}
}

// delimited reads up to the unescaped delimiter d; an escaped delimiter becomes the plain character.
func (p *sedParser) delimited(d byte, regex bool) (string, bool) {
	var b strings.Builder
	for p.i < len(p.src) {
		c := p.src[p.i]
		if c == '\\' && p.i+1 < len(p.src) {
			n := p.src[p.i+1]
			switch {
			case n == d && d != '&':
				b.WriteByte(d)
			case n == 'n' && !regex:
				b.WriteByte('\n')
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			p.i += 2
			continue
		}
		if c == d {
			p.i++
			return b.String(), true
		}
		if c == '\n' && regex {
			return "", false
		}
		b.WriteByte(c)
		p.i++
	}
	return "", false
}

func (p *sedParser) regex(src string) (*regexp.Regexp, error) {
	if src == "" {
		if p.lastRe == nil {
			return nil, fmt.Errorf("no previous regular expression")
		}
		return p.lastRe, nil
	}
	flags := ""
	if p.i < len(p.src) && p.src[p.i] == 'I' {
		flags = "(?i)"
		p.i++
	}
	re, err := regexp.Compile(flags + posixToGo(src, p.extended))
	if err != nil {
		return nil, fmt.Errorf("%s", regexpError(err))
	}
	p.lastRe = re
	return re, nil
}

func (p *sedParser) addr() (*sedAddr, error) {
	if p.i >= len(p.src) {
		return nil, nil
	}
	c := p.src[p.i]
	switch {
	case c >= '0' && c <= '9':
		j := p.i
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		n, _ := strconv.Atoi(p.src[p.i:j])
		p.i = j
		return &sedAddr{line: n}, nil
	case c == '$':
		p.i++
		return &sedAddr{last: true}, nil
	case c == '/' || c == '\\':
		d := byte('/')
		if c == '\\' {
			p.i++
			if p.i >= len(p.src) {
				return nil, p.errorf("unexpected `,'")
			}
			d = p.src[p.i]
		}
		p.i++
		src, ok := p.delimited(d, true)
		if !ok {
			return nil, p.errorf("unterminated address regex")
		}
		re, err := p.regex(src)
		if err != nil {
			return nil, err
		}
		return &sedAddr{re: re}, nil
	}
	return nil, nil
}

func (p *sedParser) commands(inBlock bool) ([]*sedCmd, error) {
	var out []*sedCmd
	for {
		for p.i < len(p.src) && strings.IndexByte(" \t\n;", p.src[p.i]) >= 0 {
			p.i++
		}
		if p.i >= len(p.src) {
			if inBlock {
				return nil, p.errorf("unmatched `{'")
			}
			return out, nil
		}
		if p.src[p.i] == '}' {
			if !inBlock {
				return nil, p.errorf("unexpected `}'")
			}
			p.i++
			return out, nil
		}
		if p.src[p.i] == '#' {
			for p.i < len(p.src) && p.src[p.i] != '\n' {
				p.i++
			}
			continue
		}
		cmd := &sedCmd{}
		var err error
		if cmd.a1, err = p.addr(); err != nil {
			return nil, err
		}
		if cmd.a1 != nil && p.i < len(p.src) && p.src[p.i] == ',' {
			p.i++
			if cmd.a2, err = p.addr(); err != nil {
				return nil, err
			}
			if cmd.a2 == nil {
				return nil, p.errorf("unexpected `,'")
			}
		}
		p.skipSpace()
		if p.i < len(p.src) && p.src[p.i] == '!' {
			cmd.negate = true
			p.i++
			p.skipSpace()
		}
		if p.i >= len(p.src) {
			return nil, p.errorf("missing command")
		}
		cmd.name = p.src[p.i]
		p.i++
		switch cmd.name {
		case '{':
			if cmd.block, err = p.commands(true); err != nil {
				return nil, err
			}
		case 'd', 'D', 'p', 'P', '=', 'q', 'Q', 'n', 'N', 'h', 'H', 'g', 'G', 'x', 'l':
		case 'a', 'i', 'c':
			p.skipSpace()
			if p.i < len(p.src) && p.src[p.i] == '\\' {
				p.i++
				if p.i < len(p.src) && p.src[p.i] == '\n' {
					p.i++
				}
			}
			j := p.i
			for j < len(p.src) && p.src[j] != '\n' {
				j++
			}
			cmd.text = strings.ReplaceAll(p.src[p.i:j], `\t`, "\t")
			p.i = j
		case 's':
			if p.i >= len(p.src) {
				return nil, p.errorf("unterminated `s' command")
			}
			d := p.src[p.i]
			p.i++
			reSrc, ok := p.delimited(d, true)
			if !ok {
				return nil, p.errorf("unterminated `s' command")
			}
			repl, ok := p.delimited(d, false)
			if !ok {
				return nil, p.errorf("unterminated `s' command")
			}
			cmd.repl = repl
			flags := ""
		flagLoop:
			for p.i < len(p.src) {
				switch c := p.src[p.i]; {
				case c == 'g':
					cmd.global = true
				case c == 'p':
					cmd.print = true
				case c == 'i' || c == 'I':
					flags = "(?i)"
				case c >= '0' && c <= '9':
					j := p.i
					for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
						j++
					}
					cmd.nth, _ = strconv.Atoi(p.src[p.i:j])
					p.i = j - 1
				default:
					break flagLoop
				}
				p.i++
			}
			if reSrc == "" && p.lastRe != nil {
				cmd.re = p.lastRe
			} else {
				re, err := regexp.Compile(flags + posixToGo(reSrc, p.extended))
				if err != nil {
					return nil, fmt.Errorf("-e expression #1, char %d: %s", p.i, regexpError(err))
				}
				cmd.re, p.lastRe = re, re
			}
		case 'y':
			d := p.src[p.i]
			p.i++
			from, ok1 := p.delimited(d, false)
			to, ok2 := p.delimited(d, false)
			if !ok1 || !ok2 {
				return nil, p.errorf("unterminated `y' command")
			}
			cmd.from, cmd.to = []rune(from), []rune(to)
			if len(cmd.from) != len(cmd.to) {
				return nil, p.errorf("strings for `y' command are different lengths")
			}
		default:
			return nil, p.errorf("unknown command: `%c'", cmd.name)
		}
		out = append(out, cmd)
	}
}

// sedRepl turns a sed replacement into the template of regexp.Expand.
func sedRepl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			n := s[i+1]
			i++
			switch {
			case n >= '0' && n <= '9':
				b.WriteString("${" + string(n) + "}")
			case n == 'n':
				b.WriteByte('\n')
			case n == 't':
				b.WriteByte('\t')
			case n == '$':
				b.WriteString("$$")
			default:
				b.WriteByte(n)
			}
		case c == '&':
			b.WriteString("${0}")
		case c == '$':
			b.WriteString("$$")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

type sedState struct {
	cmds     []*sedCmd
	quiet    bool
	lineNo   int
	last     bool
	out      io.Writer
	quit     bool
	quitCode int
	hold     string
	next     func() (string, bool)
}

func (st *sedState) matches(c *sedCmd, line string) bool {
	match := func(a *sedAddr) bool {
		switch {
		case a.last:
			return st.last
		case a.re != nil:
			return a.re.MatchString(line)
		}
		return a.line == st.lineNo
	}
	var m bool
	switch {
	case c.a1 == nil:
		m = true
	case c.a2 == nil:
		m = match(c.a1)
	case c.inRange:
		m = true
		if c.a2.re != nil && c.a2.re.MatchString(line) || c.a2.last && st.last || c.a2.re == nil && !c.a2.last && st.lineNo >= c.a2.line {
			c.inRange = false
		}
	default:
		if match(c.a1) {
			m = true
			if c.a2.re == nil && !c.a2.last {
				c.inRange = st.lineNo < c.a2.line
			} else {
				c.inRange = !(c.a2.last && st.last)
			}
		}
	}
	return m != c.negate
}

// run executes the script on one pattern space; it reports whether to print it.
func (st *sedState) run(cmds []*sedCmd, ps *string, appendQ *[]string) (deleted bool) {
	for _, c := range cmds {
		if !st.matches(c, *ps) {
			continue
		}
		switch c.name {
		case '{':
			if st.run(c.block, ps, appendQ) {
				return true
			}
			if st.quit {
				return false
			}
		case 'd':
			return true
		case 'D':
			if i := strings.IndexByte(*ps, '\n'); i >= 0 {
				*ps = (*ps)[i+1:]
				return false
			}
			return true
		case 'p':
			fmt.Fprintln(st.out, *ps)
		case 'P':
			first, _, _ := strings.Cut(*ps, "\n")
			fmt.Fprintln(st.out, first)
		case '=':
			fmt.Fprintln(st.out, st.lineNo)
		case 'q':
			st.quit = true
			return false
		case 'Q':
			st.quit = true
			return true
		case 'a':
			*appendQ = append(*appendQ, c.text)
		case 'i':
			fmt.Fprintln(st.out, c.text)
		case 'c':
			if c.a2 == nil || !c.inRange {
				fmt.Fprintln(st.out, c.text)
			}
			return true
		case 'h':
			st.hold = *ps
		case 'H':
			st.hold += "\n" + *ps
		case 'g':
			*ps = st.hold
		case 'G':
			*ps += "\n" + st.hold
		case 'x':
			*ps, st.hold = st.hold, *ps
		case 'n':
			if !st.quiet {
				fmt.Fprintln(st.out, *ps)
			}
			line, ok := st.next()
			if !ok {
				st.quit = true
				return true
			}
			*ps = line
		case 'N':
			line, ok := st.next()
			if !ok {
				st.quit = true
				return false
			}
			*ps += "\n" + line
		case 'y':
			r := []rune(*ps)
			for i, ch := range r {
				for j, f := range c.from {
					if ch == f {
						r[i] = c.to[j]
						break
					}
				}
			}
			*ps = string(r)
		case 's':
			if out, ok := substitute(c, *ps); ok {
				*ps = out
				if c.print {
					fmt.Fprintln(st.out, *ps)
				}
			}
		}
	}
	return false
}

func substitute(c *sedCmd, s string) (string, bool) {
	matches := c.re.FindAllStringSubmatchIndex(s, -1)
	if len(matches) == 0 {
		return s, false
	}
	tmpl := sedRepl(c.repl)
	var b strings.Builder
	prev := 0
	done := false
	for i, m := range matches {
		n := i + 1
		want := c.global && n >= max(c.nth, 1) || !c.global && n == max(c.nth, 1)
		if !want {
			continue
		}
		b.WriteString(s[prev:m[0]])
		b.Write(c.re.ExpandString(nil, tmpl, s, m))
		prev = m[1]
		done = true
		if !c.global {
			break
		}
	}
	if !done {
		return s, false
	}
	b.WriteString(s[prev:])
	return b.String(), true
}

func cmdSed(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	var scripts, files []string
	quiet, extended, inPlace := false, false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-n" || a == "--quiet" || a == "--silent":
			quiet = true
		case a == "-E" || a == "-r" || a == "--regexp-extended":
			extended = true
		case strings.HasPrefix(a, "-i") || strings.HasPrefix(a, "--in-place"):
			inPlace = true
		case a == "-e" || a == "--expression":
			if i+1 >= len(args) {
				return inv.usage(1, "option requires an argument -- 'e'")
			}
			scripts = append(scripts, args[i+1])
			i++
		case a == "-f":
			if i+1 >= len(args) {
				return inv.usage(1, "option requires an argument -- 'f'")
			}
			data, err := inv.readAll(args[i+1])
			if err != nil {
				return inv.fail(1, "couldn't open file %s: %s", args[i+1], strerr(err))
			}
			scripts = append(scripts, string(data))
			i++
		case len(a) > 1 && a[0] == '-' && a != "-":
			// Clustered flags like -ne or -ni.
			ok := true
			for _, c := range a[1:] {
				switch c {
				case 'n':
					quiet = true
				case 'E', 'r':
					extended = true
				case 'i':
					inPlace = true
				case 'e':
					if i+1 < len(args) {
						scripts = append(scripts, args[i+1])
						i++
					}
				default:
					ok = false
				}
			}
			if !ok {
				return inv.usage(1, "invalid option -- '%c'", a[1])
			}
		default:
			if scripts == nil {
				scripts = []string{a}
			} else {
				files = append(files, a)
			}
		}
	}
	if scripts == nil {
		fmt.Fprintf(inv.Stderr, "Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...\n")
		return 1
	}
	p := &sedParser{src: strings.Join(scripts, "\n"), extended: extended}
	cmds, err := p.commands(false)
	if err != nil {
		return inv.fail(1, "%s", err)
	}
	if inPlace && len(files) == 0 {
		return inv.fail(4, "no input files")
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	process := func(lines []string, out io.Writer) bool {
		st := &sedState{cmds: cmds, quiet: quiet, out: out}
		i := 0
		st.next = func() (string, bool) {
			if i >= len(lines) {
				return "", false
			}
			i++
			st.lineNo = i
			st.last = i == len(lines)
			return lines[i-1], true
		}
		for !st.quit {
			if ctx.Err() != nil {
				return false
			}
			ps, ok := st.next()
			if !ok {
				break
			}
			var appendQ []string
			deleted := st.run(cmds, &ps, &appendQ)
			if !deleted && !quiet {
				fmt.Fprintln(out, ps)
			}
			for _, a := range appendQ {
				fmt.Fprintln(out, a)
			}
		}
		return true
	}
	status := 0
	if inPlace {
		for _, f := range files {
			data, err := inv.readAll(f)
			if err != nil {
				status = inv.fail(4, "can't read %s: %s", f, strerr(err))
				continue
			}
			var b strings.Builder
			if !process(splitLines(data), &b) {
				return 130
			}
			if err := inv.FS.WriteFile(inv.Path(f), []byte(b.String()), 0o644); err != nil {
				status = inv.fail(4, "couldn't edit %s: %s", f, strerr(err))
			}
		}
		return status
	}
	var lines []string
	for _, f := range files {
		data, err := inv.readAll(f)
		if err != nil {
			status = inv.fail(2, "can't read %s: %s", f, strerr(err))
			continue
		}
		lines = append(lines, splitLines(data)...)
	}
	if !process(lines, inv.Stdout) {
		return 130
	}
	return status
}
