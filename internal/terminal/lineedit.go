package terminal

import (
	"context"
	"io"
	"strings"
	"unicode"

	"kubesim.dev/kubesim/internal/terminal/keys"
)

// lineEditor is readline's job: editing one input line with the cursor keys, Emacs control
// keys, history and completion, redrawn over lines that wrap at the terminal width.
type lineEditor struct {
	t      *tty
	sh     *shell
	prompt string
	buf    []rune
	pos    int
	row    int // the cursor's row, counted from the prompt's first row
	hist   []string
	hidx   int
	saved  []rune
	kill   []rune
	tabs   int // consecutive Tab presses
}

func (e *lineEditor) width() int {
	if w := e.t.getSize().Cols; w > 0 {
		return w
	}
	return 80
}

// layout gives the row and column after printing prompt+buf[:n].
func (e *lineEditor) layout(n int) (row, col int) {
	w := e.width()
	for _, r := range []rune(e.prompt) {
		_ = r
		col++
		if col == w {
			row, col = row+1, 0
		}
	}
	for _, r := range e.buf[:n] {
		if r == '\n' {
			row, col = row+1, 0
			continue
		}
		col++
		if col == w {
			row, col = row+1, 0
		}
	}
	return row, col
}

func (e *lineEditor) render() string {
	var b strings.Builder
	if e.row > 0 {
		b.WriteString("\x1b[" + itoa(e.row) + "A")
	}
	b.WriteString("\r\x1b[J")
	b.WriteString(e.prompt)
	b.WriteString(strings.ReplaceAll(string(e.buf), "\n", "\r\n"))
	endRow, endCol := e.layout(len(e.buf))
	if endCol == 0 && (len(e.buf) > 0 || e.prompt != "") && !strings.HasSuffix(string(e.buf), "\n") {
		b.WriteString("\r\n")
	}
	curRow, curCol := e.layout(e.pos)
	if endRow > curRow {
		b.WriteString("\x1b[" + itoa(endRow-curRow) + "A")
	}
	b.WriteString("\r")
	if curCol > 0 {
		b.WriteString("\x1b[" + itoa(curCol) + "C")
	}
	e.row = curRow
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for n > 0 {
		d = append([]byte{byte('0' + n%10)}, d...)
		n /= 10
	}
	return string(d)
}

func (e *lineEditor) refresh() { e.t.write([]byte(e.render()), false) }

func (e *lineEditor) insert(rs ...rune) {
	e.buf = append(e.buf[:e.pos], append(append([]rune(nil), rs...), e.buf[e.pos:]...)...)
	e.pos += len(rs)
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// read edits until Enter (the line), Ctrl-C (errInterrupt) or Ctrl-D on an empty line (io.EOF).
func (e *lineEditor) read(ctx context.Context) (string, error) {
	e.t.write([]byte(e.prompt), false)
	e.row, _ = e.layout(0)
	if _, col := e.layout(0); col == 0 && e.prompt != "" {
		e.t.write([]byte("\r\n"), false)
	}
	for {
		k, err := e.t.readKey(ctx)
		if err != nil {
			return "", err
		}
		if k.Code != keys.Tab {
			e.tabs = 0
		}
		switch k.Code {
		case keys.Rune:
			e.insert(k.Rune)
		case keys.Enter:
			e.pos = len(e.buf)
			e.refresh()
			e.t.write([]byte("\r\n"), false)
			return string(e.buf), nil
		case keys.Backspace:
			if e.pos > 0 {
				e.buf = append(e.buf[:e.pos-1], e.buf[e.pos:]...)
				e.pos--
			}
		case keys.Delete:
			if e.pos < len(e.buf) {
				e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
			}
		case keys.Left:
			if e.pos > 0 {
				e.pos--
			}
		case keys.Right:
			if e.pos < len(e.buf) {
				e.pos++
			}
		case keys.Home:
			e.pos = 0
		case keys.End:
			e.pos = len(e.buf)
		case keys.Up:
			e.history(-1)
		case keys.Down:
			e.history(1)
		case keys.Tab:
			e.tabs++
			e.complete(ctx)
		case keys.PasteStart:
			e.paste(ctx)
		case keys.Alt:
			switch k.Rune {
			case 'b':
				e.wordLeft()
			case 'f':
				e.wordRight()
			case 'd':
				start := e.pos
				e.wordRight()
				e.kill = append([]rune(nil), e.buf[start:e.pos]...)
				e.buf = append(e.buf[:start], e.buf[e.pos:]...)
				e.pos = start
			case 0x7f:
				end := e.pos
				e.wordLeft()
				e.kill = append([]rune(nil), e.buf[e.pos:end]...)
				e.buf = append(e.buf[:e.pos], e.buf[end:]...)
			}
		case keys.Ctrl:
			switch k.Rune {
			case 'a':
				e.pos = 0
			case 'e':
				e.pos = len(e.buf)
			case 'b':
				if e.pos > 0 {
					e.pos--
				}
			case 'f':
				if e.pos < len(e.buf) {
					e.pos++
				}
			case 'k':
				e.kill = append([]rune(nil), e.buf[e.pos:]...)
				e.buf = e.buf[:e.pos]
			case 'u':
				e.kill = append([]rune(nil), e.buf[:e.pos]...)
				e.buf = e.buf[e.pos:]
				e.pos = 0
			case 'w':
				end := e.pos
				for e.pos > 0 && unicode.IsSpace(e.buf[e.pos-1]) {
					e.pos--
				}
				for e.pos > 0 && !unicode.IsSpace(e.buf[e.pos-1]) {
					e.pos--
				}
				e.kill = append([]rune(nil), e.buf[e.pos:end]...)
				e.buf = append(e.buf[:e.pos], e.buf[end:]...)
			case 'y':
				e.insert(e.kill...)
			case 'h':
				if e.pos > 0 {
					e.buf = append(e.buf[:e.pos-1], e.buf[e.pos:]...)
					e.pos--
				}
			case 't':
				if e.pos > 0 && len(e.buf) >= 2 {
					if e.pos == len(e.buf) {
						e.pos--
					}
					e.buf[e.pos-1], e.buf[e.pos] = e.buf[e.pos], e.buf[e.pos-1]
					e.pos++
				}
			case 'c':
				e.pos = len(e.buf)
				e.refresh()
				e.t.write([]byte("^C\r\n"), false)
				return "", errInterrupt
			case 'd':
				if len(e.buf) == 0 {
					e.t.write([]byte("\r\n"), false)
					return "", io.EOF
				}
				if e.pos < len(e.buf) {
					e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
				}
			case 'l':
				e.t.write([]byte("\x1b[H\x1b[2J"), false)
				e.row = 0
			case 'p':
				e.history(-1)
			case 'n':
				e.history(1)
			}
		}
		e.refresh()
	}
}

func (e *lineEditor) wordLeft() {
	for e.pos > 0 && !isWordRune(e.buf[e.pos-1]) {
		e.pos--
	}
	for e.pos > 0 && isWordRune(e.buf[e.pos-1]) {
		e.pos--
	}
}

func (e *lineEditor) wordRight() {
	for e.pos < len(e.buf) && !isWordRune(e.buf[e.pos]) {
		e.pos++
	}
	for e.pos < len(e.buf) && isWordRune(e.buf[e.pos]) {
		e.pos++
	}
}

func (e *lineEditor) history(dir int) {
	next := e.hidx + dir
	if next < 0 || next > len(e.hist) {
		return
	}
	if e.hidx == len(e.hist) {
		e.saved = append([]rune(nil), e.buf...)
	}
	e.hidx = next
	if next == len(e.hist) {
		e.buf = append([]rune(nil), e.saved...)
	} else {
		e.buf = []rune(e.hist[next])
	}
	e.pos = len(e.buf)
}

// paste inserts bracketed-paste text as typed, newlines included, without running it.
func (e *lineEditor) paste(ctx context.Context) {
	var text []rune
	for {
		k, err := e.t.readKey(ctx)
		if err != nil || k.Code == keys.PasteEnd {
			break
		}
		switch k.Code {
		case keys.Rune:
			text = append(text, k.Rune)
		case keys.Enter:
			text = append(text, '\n')
		case keys.Tab:
			text = append(text, '\t')
		}
	}
	s := strings.TrimRight(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n")
	e.insert([]rune(s)...)
}

// complete does what Tab does in bash: complete a unique match, extend to the common prefix, or
// (on the second Tab) list the candidates.
func (e *lineEditor) complete(ctx context.Context) {
	line := string(e.buf)
	pos := len(string(e.buf[:e.pos]))
	res := e.sh.completeAt(ctx, line, pos)
	switch {
	case len(res.cands) == 0:
		e.t.write([]byte("\a"), false)
		return
	case len(res.cands) == 1:
		ins := res.cands[0]
		if !res.noSpace && !strings.HasSuffix(ins, "/") {
			ins += " "
		}
		e.replaceWord(res.start, pos, ins)
		return
	}
	lcp := res.cands[0]
	for _, c := range res.cands[1:] {
		for !strings.HasPrefix(c, lcp) {
			lcp = lcp[:len(lcp)-1]
		}
	}
	if len(lcp) > pos-res.start {
		e.replaceWord(res.start, pos, lcp)
		e.tabs = 0
		return
	}
	if e.tabs < 2 {
		e.t.write([]byte("\a"), false)
		return
	}
	e.pos = len(e.buf)
	e.refresh()
	list := uniformColumns(res.display, e.width())
	e.t.write([]byte("\r\n"+strings.ReplaceAll(list, "\n", "\r\n")), false)
	e.row = 0
	e.t.write([]byte(e.prompt+strings.ReplaceAll(string(e.buf), "\n", "\r\n")), false)
	e.row, _ = e.layout(len(e.buf))
}

func (e *lineEditor) replaceWord(start, end int, with string) {
	s := string(e.buf)
	ns := s[:start] + with + s[end:]
	e.buf = []rune(ns)
	e.pos = len([]rune(s[:start] + with))
}

// uniformColumns lays candidates out as readline does: every column as wide as the longest
// candidate plus two spaces, filled down then across.
func uniformColumns(names []string, width int) string {
	maxLen := 0
	for _, n := range names {
		maxLen = max(maxLen, len([]rune(n)))
	}
	colW := maxLen + 2
	cols := max(width/colW, 1)
	rows := (len(names) + cols - 1) / cols
	var b strings.Builder
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := c*rows + r
			if i >= len(names) {
				break
			}
			b.WriteString(names[i])
			if (c+1)*rows+r < len(names) {
				b.WriteString(strings.Repeat(" ", colW-len([]rune(names[i]))))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
