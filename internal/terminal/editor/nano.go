package editor

import (
	"context"
	"fmt"
	"path"
	"strings"

	"kubesim.dev/kubesim/internal/terminal/keys"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Nano edits path (empty: a new buffer) full-screen until the user exits with ^X.
func Nano(ctx context.Context, t Terminal, fsys *memfs.FS, path string) error {
	b, err := load(fsys, path)
	if err != nil {
		return err
	}
	n := &nano{buffer: b}
	switch {
	case path == "":
	case b.isNew:
		n.status = "[ New File ]"
	default:
		n.status = fmt.Sprintf("[ Read %s ]", plural(n.count(), "line"))
	}
	return run(ctx, t, n)
}

type nanoPrompt int

const (
	promptNone nanoPrompt = iota
	promptWrite
	promptSave
	promptSearch
)

type nano struct {
	*buffer
	status     string
	prompt     nanoPrompt
	input      []rune
	exitAfter  bool
	exited     bool
	cut        [][]rune
	lastCut    bool
	lastSearch string
}

func (n *nano) done() bool { return n.exited }

// count is the number of lines nano reports: the empty line after a final newline is not one.
func (n *nano) count() int {
	c := len(n.lines)
	if c > 0 && len(n.lines[c-1]) == 0 {
		c--
	}
	return c
}

func (n *nano) write(name string) bool {
	p := memfs.Resolve(path.Dir(n.path), name)
	if n.path == "" || !strings.HasPrefix(name, "/") && name != path.Base(n.path) {
		p = memfs.Resolve("/root", name)
		if n.path != "" {
			p = memfs.Resolve(path.Dir(n.path), name)
		}
	}
	text := n.text(n.lines)
	if len(n.lines) > 0 && len(n.lines[len(n.lines)-1]) > 0 {
		text += "\n"
	}
	if err := n.fs.WriteFile(p, []byte(text), 0o644); err != nil {
		n.status = fmt.Sprintf("[ Error writing %s: %s ]", name, memfs.Strerror(err))
		return false
	}
	if len(n.lines[len(n.lines)-1]) > 0 {
		// nano adds the final newline, and with it the empty line after it.
		n.lines = append(n.lines, []rune{})
	}
	n.path = p
	n.modified = false
	n.status = fmt.Sprintf("[ Wrote %s ]", plural(n.count(), "line"))
	return true
}

func (n *nano) key(k keys.Key) {
	if k.Code == keys.Resize {
		return
	}
	if n.prompt != promptNone {
		n.promptKey(k)
		return
	}
	wasCut := n.lastCut
	n.lastCut = false
	if n.move(k, 20) {
		return
	}
	switch k.Code {
	case keys.Rune:
		n.insert(k.Rune)
	case keys.Tab:
		n.insert('\t')
	case keys.Enter:
		n.split()
	case keys.Backspace:
		n.backspace()
	case keys.Delete:
		n.del()
	case keys.Ctrl:
		switch k.Rune {
		case 'o':
			n.prompt, n.input = promptWrite, []rune(n.displayName())
		case 's':
			if n.path == "" {
				n.prompt, n.input = promptWrite, nil
			} else {
				n.write(n.path)
			}
		case 'x':
			switch {
			case !n.modified:
				n.exited = true
			default:
				n.prompt = promptSave
			}
		case 'k':
			line := n.lines[n.cy]
			if !wasCut {
				n.cut = nil
			}
			n.cut = append(n.cut, append([]rune(nil), line...))
			if len(n.lines) > 1 {
				n.lines = append(n.lines[:n.cy], n.lines[n.cy+1:]...)
			} else {
				n.lines[0] = []rune{}
			}
			n.cx = 0
			n.clampX()
			n.modified, n.lastCut = true, true
		case 'u':
			for _, l := range n.cut {
				n.lines = append(n.lines[:n.cy], append([][]rune{append([]rune(nil), l...)}, n.lines[n.cy:]...)...)
				n.cy++
			}
			n.cx = 0
			if len(n.cut) > 0 {
				n.modified = true
			}
		case 'w':
			n.prompt, n.input = promptSearch, nil
		case 'c':
			n.status = n.location()
		case 'a':
			n.cx = 0
		case 'e':
			n.cx = len(n.lines[n.cy])
		case 'y':
			n.move(keys.Key{Code: keys.PageUp}, 20)
		case 'v':
			n.move(keys.Key{Code: keys.PageDown}, 20)
		case 'h':
			n.backspace()
		case 'd':
			n.del()
		}
	}
}

func (n *nano) displayName() string {
	if n.path == "" {
		return ""
	}
	return path.Base(n.path)
}

func (n *nano) location() string {
	total := 0
	before := 0
	for i, l := range n.lines {
		if i < n.cy {
			before += len(l) + 1
		}
		total += len(l) + 1
	}
	total--
	before += n.cx
	lines := len(n.lines)
	pct := func(a, b int) int {
		if b == 0 {
			return 0
		}
		return 100 * a / b
	}
	cols := len(n.lines[n.cy]) + 1
	return fmt.Sprintf("[ line %d/%d (%d%%), col %d/%d (%d%%), char %d/%d (%d%%) ]",
		n.cy+1, lines, pct(n.cy+1, lines), n.cx+1, cols, pct(n.cx+1, cols), before, total, pct(before, total))
}

func (n *nano) promptKey(k keys.Key) {
	if n.prompt == promptSave {
		switch {
		case k.Code == keys.Rune && (k.Rune == 'y' || k.Rune == 'Y'):
			n.prompt, n.input, n.exitAfter = promptWrite, []rune(n.displayName()), true
		case k.Code == keys.Rune && (k.Rune == 'n' || k.Rune == 'N'):
			n.prompt = promptNone
			n.exited = true
		case k.IsCtrl('c'):
			n.prompt = promptNone
			n.status = "[ Cancelled ]"
		}
		return
	}
	switch {
	case k.Code == keys.Rune:
		n.input = append(n.input, k.Rune)
	case k.Code == keys.Backspace:
		if len(n.input) > 0 {
			n.input = n.input[:len(n.input)-1]
		}
	case k.IsCtrl('c'):
		n.prompt, n.exitAfter = promptNone, false
		n.status = "[ Cancelled ]"
	case k.Code == keys.Enter:
		kind := n.prompt
		n.prompt = promptNone
		switch kind {
		case promptWrite:
			name := string(n.input)
			if name == "" {
				n.status = "[ Cancelled ]"
				n.exitAfter = false
				return
			}
			if n.write(name) && n.exitAfter {
				n.exited = true
			}
		case promptSearch:
			pat := string(n.input)
			if pat == "" {
				pat = n.lastSearch
			}
			if pat == "" {
				n.status = "[ Cancelled ]"
				return
			}
			n.lastSearch = pat
			y, x, wrapped, ok := n.find(pat, false)
			switch {
			case !ok:
				n.status = fmt.Sprintf("[ \"%s\" not found ]", pat)
			case y == n.cy && x == n.cx:
				n.status = "[ This is the only occurrence ]"
			default:
				n.cy, n.cx = y, x
				if wrapped {
					n.status = "[ Search Wrapped ]"
				} else {
					n.status = ""
				}
			}
		}
	}
}

var nanoHelp = [2][]string{
	{"^G", "Help", "^O", "Write Out", "^W", "Where Is", "^K", "Cut", "^T", "Execute", "^C", "Location"},
	{"^X", "Exit", "^R", "Read File", "^\\", "Replace", "^U", "Paste", "^J", "Justify", "^/", "Go To Line"},
}

var nanoWriteHelp = [2][]string{
	{"^G", "Help", "M-D", "DOS Format", "M-A", "Append", "M-B", "Backup File"},
	{"^C", "Cancel", "M-M", "Mac Format", "M-P", "Prepend", "^T", "Browse"},
}

var nanoSearchHelp = [2][]string{
	{"^G", "Help", "M-C", "Case Sens", "M-B", "Backwards", "M-J", "FullJstify", "^W", "Beg of Par", "^Y", "First Line"},
	{"^C", "Cancel", "M-R", "Reg.exp.", "^R", "Replace", "^T", "Go To Line", "^O", "End of Par", "^V", "Last Line"},
}

func helpRow(items []string, cols int) string {
	width := cols / 6
	var b strings.Builder
	for i := 0; i+1 < len(items); i += 2 {
		label := " " + items[i+1]
		cell := inverse(items[i]) + fit(label, max(width-len(items[i]), 0))
		b.WriteString(cell)
	}
	return b.String()
}

func (n *nano) draw(cols, rows int) string {
	textRows := max(rows-4, 1)
	n.scroll(textRows)
	var s strings.Builder
	s.WriteString("\x1b[H")
	// Title bar.
	name := "New Buffer"
	if n.path != "" {
		name = path.Base(n.path)
	}
	left := "  GNU nano 7.2"
	right := ""
	if n.modified {
		right = "Modified  "
	}
	title := []rune(strings.Repeat(" ", cols))
	copy(title, []rune(left))
	start := max((cols-len([]rune(name)))/2, len(left)+1)
	copy(title[min(start, cols):], []rune(name))
	if right != "" && cols > len(right) {
		copy(title[cols-len(right):], []rune(right))
	}
	s.WriteString(at(0, 0) + inverse(string(title)))
	curRow, curCol := 0, 0
	for i := 0; i < textRows; i++ {
		y := n.top + i
		s.WriteString(at(i+1, 0))
		if y < len(n.lines) {
			l, off := visible(expandTabs(n.lines[y]), cols, n.tabX(y), y == n.cy)
			s.WriteString(string(l))
			if y == n.cy {
				curRow, curCol = i+1, n.tabX(y)-off
			}
		}
		s.WriteString("\x1b[K")
	}
	// Status line, or the prompt.
	s.WriteString(at(rows-3, 0))
	help := nanoHelp
	switch n.prompt {
	case promptWrite:
		p := "File Name to Write: " + string(n.input)
		s.WriteString(inverse(fit(p, cols)))
		curRow, curCol = rows-3, min(len([]rune(p)), cols-1)
		help = nanoWriteHelp
	case promptSearch:
		label := "Search: "
		if n.lastSearch != "" {
			label = fmt.Sprintf("Search [%s]: ", n.lastSearch)
		}
		p := label + string(n.input)
		s.WriteString(inverse(fit(p, cols)))
		curRow, curCol = rows-3, min(len([]rune(p)), cols-1)
		help = nanoSearchHelp
	case promptSave:
		p := "Save modified buffer?  "
		s.WriteString(inverse(fit(p, cols)))
		curRow, curCol = rows-3, len(p)
		s.WriteString(at(rows-2, 0) + inverse(" Y") + " Yes" + "\x1b[K")
		s.WriteString(at(rows-1, 0) + inverse(" N") + " No           " + inverse("^C") + " Cancel" + "\x1b[K")
		s.WriteString(at(curRow, curCol))
		return s.String()
	default:
		if n.status != "" {
			st := n.status
			pad := max((cols-len([]rune(st)))/2, 0)
			s.WriteString(strings.Repeat(" ", pad) + inverse(st))
		}
		s.WriteString("\x1b[K")
	}
	s.WriteString(at(rows-2, 0) + helpRow(help[0], cols) + "\x1b[K")
	s.WriteString(at(rows-1, 0) + helpRow(help[1], cols) + "\x1b[K")
	s.WriteString(at(curRow, curCol))
	return s.String()
}

// tabX is the screen column of the cursor on line y, tabs expanded to 8.
func (n *nano) tabX(y int) int {
	if y != n.cy {
		return 0
	}
	x := 0
	for _, r := range n.lines[y][:n.cx] {
		if r == '\t' {
			x = (x/8 + 1) * 8
		} else {
			x++
		}
	}
	return x
}

func expandTabs(l []rune) []rune {
	var out []rune
	for _, r := range l {
		if r == '\t' {
			for {
				out = append(out, ' ')
				if len(out)%8 == 0 {
					break
				}
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
