package editor

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"unicode"

	"kubesim.dev/kubesim/internal/terminal/keys"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Vi edits path full-screen, vim-style, until :q, :wq, :x or ZZ.
func Vi(ctx context.Context, t Terminal, fsys *memfs.FS, path string) error {
	b, err := load(fsys, path)
	if err != nil {
		return err
	}
	v := &vi{buffer: b}
	if len(b.lines) > 1 && len(b.lines[len(b.lines)-1]) == 0 {
		// The final newline ends the last line; it is not an extra empty line.
		b.lines = b.lines[:len(b.lines)-1]
	}
	if path != "" {
		if b.isNew {
			v.msg = fmt.Sprintf("\"%s\" [New]", v.name())
		} else {
			data, _ := fsys.ReadFile(path)
			v.msg = fmt.Sprintf("\"%s\" %dL, %dB", v.name(), len(b.lines), len(data))
		}
	}
	return run(ctx, t, v)
}

type viMode int

const (
	viNormal viMode = iota
	viInsert
	viCommand // :
	viSearch  // /
	viSearchBack
)

type snapshot struct {
	lines  [][]rune
	cy, cx int
}

type vi struct {
	*buffer
	mode       viMode
	cmd        []rune
	msg        string
	pending    string // operator or prefix typed so far: "d", "y", "g", "Z", "r", "c"
	count      string
	yank       [][]rune
	undo       []snapshot
	redo       []snapshot
	lastSearch string
	backward   bool
	quit       bool
}

func (v *vi) done() bool { return v.quit }

func (v *vi) name() string {
	if v.path == "" {
		return ""
	}
	rel := v.path
	if strings.HasPrefix(rel, "/root/") {
		rel = rel[len("/root/"):]
	}
	return rel
}

func (v *vi) save() {
	cp := make([][]rune, len(v.lines))
	for i, l := range v.lines {
		cp[i] = append([]rune(nil), l...)
	}
	v.undo = append(v.undo, snapshot{cp, v.cy, v.cx})
	v.redo = nil
}

func (v *vi) restore(from, to *[]snapshot) bool {
	if len(*from) == 0 {
		return false
	}
	cur := make([][]rune, len(v.lines))
	copy(cur, v.lines)
	*to = append(*to, snapshot{cur, v.cy, v.cx})
	s := (*from)[len(*from)-1]
	*from = (*from)[:len(*from)-1]
	v.lines, v.cy, v.cx = s.lines, s.cy, s.cx
	v.modified = true
	v.clampNormal()
	return true
}

// clampNormal keeps the cursor on a character, as normal mode does.
func (v *vi) clampNormal() {
	v.clampX()
	if v.cx >= len(v.lines[v.cy]) && v.cx > 0 {
		v.cx = len(v.lines[v.cy]) - 1
	}
}

func (v *vi) n() int {
	n, err := strconv.Atoi(v.count)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func (v *vi) key(k keys.Key) {
	if k.Code == keys.Resize {
		return
	}
	switch v.mode {
	case viInsert:
		v.insertKey(k)
	case viCommand, viSearch, viSearchBack:
		v.lineKey(k)
	default:
		v.normalKey(k)
	}
}

func (v *vi) insertKey(k keys.Key) {
	if v.move(k, 20) {
		return
	}
	switch k.Code {
	case keys.Escape:
		v.mode = viNormal
		if v.cx > 0 {
			v.cx--
		}
		v.msg = ""
	case keys.Rune:
		v.insert(k.Rune)
	case keys.Tab:
		v.insert('\t')
	case keys.Enter:
		v.split()
	case keys.Backspace:
		v.backspace()
	case keys.Delete:
		v.del()
	case keys.Ctrl:
		if k.Rune == 'c' || k.Rune == '[' {
			v.insertKey(keys.Key{Code: keys.Escape})
		} else if k.Rune == 'h' {
			v.backspace()
		}
	}
}

func (v *vi) lineKey(k keys.Key) {
	switch k.Code {
	case keys.Escape:
		v.mode, v.cmd = viNormal, nil
	case keys.Ctrl:
		if k.Rune == 'c' {
			v.mode, v.cmd = viNormal, nil
		}
	case keys.Backspace:
		if len(v.cmd) == 0 {
			v.mode = viNormal
			return
		}
		v.cmd = v.cmd[:len(v.cmd)-1]
	case keys.Rune:
		v.cmd = append(v.cmd, k.Rune)
	case keys.Enter:
		mode, text := v.mode, string(v.cmd)
		v.mode, v.cmd = viNormal, nil
		if mode == viCommand {
			v.exCommand(text)
			return
		}
		if text == "" {
			text = v.lastSearch
		}
		v.lastSearch, v.backward = text, mode == viSearchBack
		v.search(v.backward)
	}
}

func (v *vi) search(backward bool) {
	if v.lastSearch == "" {
		v.msg = "E35: No previous regular expression"
		return
	}
	y, x, wrapped, ok := v.find(v.lastSearch, backward)
	if !ok {
		v.msg = "E486: Pattern not found: " + v.lastSearch
		return
	}
	v.cy, v.cx = y, x
	v.msg = ""
	switch {
	case wrapped && backward:
		v.msg = "search hit TOP, continuing at BOTTOM"
	case wrapped:
		v.msg = "search hit BOTTOM, continuing at TOP"
	case backward:
		v.msg = "?" + v.lastSearch
	default:
		v.msg = "/" + v.lastSearch
	}
}

func (v *vi) write(name string) bool {
	p := v.path
	if name != "" {
		p = memfs.Resolve(path.Dir(v.pathOr("/root/x")), name)
	}
	if p == "" {
		v.msg = "E32: No file name"
		return false
	}
	text := ""
	if !(len(v.lines) == 1 && len(v.lines[0]) == 0) {
		text = v.text(v.lines) + "\n"
	}
	isNew := !v.fs.Exists(p)
	if err := v.fs.WriteFile(p, []byte(text), 0o644); err != nil {
		v.msg = fmt.Sprintf("\"%s\" E212: Can't open file for writing", name)
		return false
	}
	if v.path == "" {
		v.path = p
	}
	if p == v.path {
		v.modified = false
	}
	shown := name
	if shown == "" {
		shown = v.name()
	}
	lines := len(v.lines)
	if text == "" {
		lines = 0
	}
	newTag := ""
	if isNew {
		newTag = " [New]"
	}
	v.msg = fmt.Sprintf("\"%s\"%s %dL, %dB written", shown, newTag, lines, len(text))
	return true
}

func (v *vi) pathOr(def string) string {
	if v.path == "" {
		return def
	}
	return v.path
}

func (v *vi) exCommand(text string) {
	text = strings.TrimSpace(text)
	cmd, arg, _ := strings.Cut(text, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "":
	case "w", "write":
		v.write(arg)
	case "wq", "x", "xit", "exit", "wq!", "x!":
		if cmd[0] == 'x' && !v.modified && arg == "" && v.path != "" {
			v.quit = true
			return
		}
		if v.write(arg) {
			v.quit = true
		}
	case "q", "quit":
		if v.modified {
			v.msg = "E37: No write since last change (add ! to override)"
			return
		}
		v.quit = true
	case "q!", "quit!", "cq":
		v.quit = true
	case "set", "se", "syntax", "syn", "noh", "nohlsearch":
	default:
		if n, err := strconv.Atoi(cmd); err == nil {
			v.cy = n - 1
			v.cx = 0
			v.clampNormal()
			return
		}
		if cmd == "$" {
			v.cy = len(v.lines) - 1
			v.clampNormal()
			return
		}
		v.msg = "E492: Not an editor command: " + text
	}
}

func (v *vi) normalKey(k keys.Key) {
	if v.pending == "r" {
		v.pending = ""
		if k.Code == keys.Rune && len(v.lines[v.cy]) > 0 {
			v.save()
			v.lines[v.cy][v.cx] = k.Rune
			v.modified = true
		}
		return
	}
	if k.Code == keys.Rune && unicode.IsDigit(k.Rune) && (k.Rune != '0' || v.count != "") {
		v.count += string(k.Rune)
		return
	}
	count := v.n()
	v.count = ""
	if v.pending != "" {
		op := v.pending
		v.pending = ""
		v.operator(op, k, count)
		return
	}
	if v.move(k, 20) {
		v.clampNormal()
		return
	}
	if k.Code == keys.Escape {
		v.msg = ""
		return
	}
	if k.Code == keys.Backspace {
		v.move(keys.Key{Code: keys.Left}, 0)
		return
	}
	if k.Code == keys.Enter {
		v.move(keys.Key{Code: keys.Down}, 0)
		v.cx = firstNonBlank(v.lines[v.cy])
		return
	}
	if k.Code == keys.Ctrl {
		switch k.Rune {
		case 'r':
			if !v.restore(&v.redo, &v.undo) {
				v.msg = "Already at newest change"
			} else {
				v.msg = ""
			}
		case 'f':
			v.move(keys.Key{Code: keys.PageDown}, 20)
		case 'b':
			v.move(keys.Key{Code: keys.PageUp}, 20)
		case 'd':
			v.move(keys.Key{Code: keys.PageDown}, 10)
		case 'u':
			v.move(keys.Key{Code: keys.PageUp}, 10)
		}
		v.clampNormal()
		return
	}
	if k.Code != keys.Rune {
		return
	}
	line := v.lines[v.cy]
	switch k.Rune {
	case 'h':
		v.cx = max(v.cx-count, 0)
	case 'l', ' ':
		v.cx = min(v.cx+count, max(len(line)-1, 0))
	case 'j':
		v.cy = min(v.cy+count, len(v.lines)-1)
		v.clampNormal()
	case 'k':
		v.cy = max(v.cy-count, 0)
		v.clampNormal()
	case '0':
		v.cx = 0
	case '^':
		v.cx = firstNonBlank(line)
	case '$':
		v.cx = max(len(line)-1, 0)
	case 'w':
		for range count {
			v.cy, v.cx = v.wordForward(v.cy, v.cx)
		}
	case 'b':
		for range count {
			v.cy, v.cx = v.wordBackward(v.cy, v.cx)
		}
	case 'G':
		if count > 1 || v.count != "" {
			v.cy = min(count, len(v.lines)) - 1
		} else {
			v.cy = len(v.lines) - 1
		}
		v.cx = firstNonBlank(v.lines[v.cy])
	case 'i':
		v.startInsert()
	case 'a':
		v.startInsert()
		if len(line) > 0 {
			v.cx++
		}
	case 'I':
		v.startInsert()
		v.cx = firstNonBlank(line)
	case 'A':
		v.startInsert()
		v.cx = len(line)
	case 'o':
		v.startInsert()
		v.lines = append(v.lines[:v.cy+1], append([][]rune{{}}, v.lines[v.cy+1:]...)...)
		v.cy, v.cx = v.cy+1, 0
		v.modified = true
	case 'O':
		v.startInsert()
		v.lines = append(v.lines[:v.cy], append([][]rune{{}}, v.lines[v.cy:]...)...)
		v.cx = 0
		v.modified = true
	case 'x':
		if len(line) > 0 {
			v.save()
			n := min(count, len(line)-v.cx)
			v.lines[v.cy] = append(line[:v.cx], line[v.cx+n:]...)
			v.modified = true
			v.clampNormal()
		}
	case 'D':
		v.save()
		v.lines[v.cy] = line[:v.cx]
		v.modified = true
		v.clampNormal()
	case 'C':
		v.save()
		v.lines[v.cy] = line[:v.cx]
		v.modified = true
		v.mode, v.msg = viInsert, "-- INSERT --"
	case 'J':
		if v.cy < len(v.lines)-1 {
			v.save()
			next := []rune(strings.TrimLeft(string(v.lines[v.cy+1]), " \t"))
			joined := append(append([]rune(nil), line...), ' ')
			v.cx = len(line)
			v.lines[v.cy] = append(joined, next...)
			v.lines = append(v.lines[:v.cy+1], v.lines[v.cy+2:]...)
			v.modified = true
		}
	case 'p', 'P':
		if len(v.yank) == 0 {
			return
		}
		v.save()
		at := v.cy + 1
		if k.Rune == 'P' {
			at = v.cy
		}
		var ins [][]rune
		for range count {
			for _, l := range v.yank {
				ins = append(ins, append([]rune(nil), l...))
			}
		}
		v.lines = append(v.lines[:at], append(ins, v.lines[at:]...)...)
		v.cy, v.cx = at, firstNonBlank(v.lines[at])
		v.modified = true
	case 'u':
		if !v.restore(&v.undo, &v.redo) {
			v.msg = "Already at oldest change"
		} else {
			v.msg = ""
		}
	case 'n':
		v.search(v.backward)
	case 'N':
		v.search(!v.backward)
	case '/':
		v.mode, v.cmd = viSearch, nil
	case '?':
		v.mode, v.cmd = viSearchBack, nil
	case ':':
		v.mode, v.cmd = viCommand, nil
	case 'd', 'y', 'c', 'g', 'Z', 'r':
		v.pending = string(k.Rune)
		if count > 1 {
			v.count = strconv.Itoa(count)
		}
	}
}

func (v *vi) startInsert() {
	v.save()
	v.mode = viInsert
	v.msg = "-- INSERT --"
}

// operator finishes a two-key command: dd, yy, cc, dw, cw, gg, ZZ, ZQ.
func (v *vi) operator(op string, k keys.Key, count int) {
	if k.Code != keys.Rune {
		return
	}
	r := string(k.Rune)
	switch op + r {
	case "gg":
		if v.count != "" {
			v.cy = min(count, len(v.lines)) - 1
		} else {
			v.cy = 0
		}
		v.cx = firstNonBlank(v.lines[v.cy])
	case "ZZ":
		if !v.modified || v.write("") {
			v.quit = true
		}
	case "ZQ":
		v.quit = true
	case "dd", "cc":
		v.save()
		n := min(count, len(v.lines)-v.cy)
		v.yank = cloneLines(v.lines[v.cy : v.cy+n])
		if op == "c" {
			v.lines = append(v.lines[:v.cy], append([][]rune{{}}, v.lines[v.cy+n:]...)...)
			v.cx = 0
			v.mode, v.msg = viInsert, "-- INSERT --"
		} else {
			v.lines = append(v.lines[:v.cy], v.lines[v.cy+n:]...)
			if len(v.lines) == 0 {
				v.lines = [][]rune{{}}
			}
			v.clampX()
			v.cx = firstNonBlank(v.lines[v.cy])
		}
		v.modified = true
		if n >= 3 {
			v.msg = fmt.Sprintf("%d fewer lines", n)
		}
	case "yy":
		n := min(count, len(v.lines)-v.cy)
		v.yank = cloneLines(v.lines[v.cy : v.cy+n])
		if n >= 3 {
			v.msg = fmt.Sprintf("%d lines yanked", n)
		}
	case "dw", "cw", "de", "ce":
		v.save()
		line := v.lines[v.cy]
		end := v.cx
		for range count {
			for end < len(line) && !unicode.IsSpace(line[end]) {
				end++
			}
			if r == "w" && op == "d" {
				for end < len(line) && unicode.IsSpace(line[end]) {
					end++
				}
			}
		}
		v.lines[v.cy] = append(append([]rune(nil), line[:v.cx]...), line[end:]...)
		v.modified = true
		if op == "c" {
			v.mode, v.msg = viInsert, "-- INSERT --"
		} else {
			v.clampNormal()
		}
	case "d$", "c$":
		v.save()
		v.lines[v.cy] = v.lines[v.cy][:v.cx]
		v.modified = true
		if op == "c" {
			v.mode, v.msg = viInsert, "-- INSERT --"
		} else {
			v.clampNormal()
		}
	}
}

func cloneLines(ls [][]rune) [][]rune {
	out := make([][]rune, len(ls))
	for i, l := range ls {
		out[i] = append([]rune(nil), l...)
	}
	return out
}

func firstNonBlank(l []rune) int {
	for i, r := range l {
		if r != ' ' && r != '\t' {
			return i
		}
	}
	return max(len(l)-1, 0)
}

func (v *vi) wordForward(y, x int) (int, int) {
	l := v.lines[y]
	cls := func(r rune) int {
		switch {
		case unicode.IsSpace(r):
			return 0
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			return 1
		}
		return 2
	}
	if x < len(l) {
		c := cls(l[x])
		for x < len(l) && cls(l[x]) == c && c != 0 {
			x++
		}
	}
	for {
		for x < len(l) && unicode.IsSpace(l[x]) {
			x++
		}
		if x < len(l) || y == len(v.lines)-1 {
			return y, min(x, max(len(l)-1, 0))
		}
		y, x, l = y+1, 0, v.lines[y+1]
		if len(l) == 0 {
			return y, 0
		}
	}
}

func (v *vi) wordBackward(y, x int) (int, int) {
	l := v.lines[y]
	for {
		if x > 0 {
			x--
			for x > 0 && unicode.IsSpace(l[x]) {
				x--
			}
			if !unicode.IsSpace(l[x]) {
				for x > 0 && !unicode.IsSpace(l[x-1]) {
					x--
				}
				return y, x
			}
		}
		if y == 0 {
			return 0, 0
		}
		y--
		l = v.lines[y]
		x = len(l)
	}
}

func (v *vi) draw(cols, rows int) string {
	textRows := max(rows-1, 1)
	v.scroll(textRows)
	var s strings.Builder
	s.WriteString("\x1b[H")
	curRow, curCol := 0, 0
	for i := 0; i < textRows; i++ {
		y := v.top + i
		s.WriteString(at(i, 0))
		if y < len(v.lines) {
			x := v.cx
			if y == v.cy {
				x = screenX(v.lines[y], v.cx)
			}
			l, off := visible(expandTabs(v.lines[y]), cols, x, y == v.cy)
			s.WriteString(string(l))
			if y == v.cy {
				curRow, curCol = i, x-off
			}
		} else {
			s.WriteString("\x1b[94m~\x1b[0m")
		}
		s.WriteString("\x1b[K")
	}
	s.WriteString(at(rows-1, 0))
	switch v.mode {
	case viCommand:
		s.WriteString(":" + string(v.cmd) + "\x1b[K")
		return s.String()
	case viSearch, viSearchBack:
		p := "/"
		if v.mode == viSearchBack {
			p = "?"
		}
		s.WriteString(p + string(v.cmd) + "\x1b[K")
		return s.String()
	}
	msg := v.msg
	if strings.HasPrefix(msg, "E") && len(msg) > 1 && unicode.IsDigit(rune(msg[1])) {
		s.WriteString("\x1b[97;41m" + msg + "\x1b[0m")
	} else {
		s.WriteString(msg)
	}
	s.WriteString("\x1b[K")
	// The ruler, as defaults.vim turns it on.
	col := fmt.Sprint(v.cx + 1)
	if len(v.lines[v.cy]) == 0 {
		col = "0-1"
	}
	where := "All"
	switch {
	case len(v.lines) <= textRows:
	case v.top == 0:
		where = "Top"
	case v.top+textRows >= len(v.lines):
		where = "Bot"
	default:
		where = fmt.Sprintf("%d%%", 100*v.top/(len(v.lines)-textRows))
	}
	ruler := fmt.Sprintf("%-14s%s", fmt.Sprintf("%d,%s", v.cy+1, col), where)
	if cols > 18+len([]rune(msg)) {
		s.WriteString(at(rows-1, cols-18) + ruler)
	}
	s.WriteString(at(curRow, curCol))
	return s.String()
}

func screenX(l []rune, cx int) int {
	x := 0
	for _, r := range l[:min(cx, len(l))] {
		if r == '\t' {
			x = (x/8 + 1) * 8
		} else {
			x++
		}
	}
	return x
}
