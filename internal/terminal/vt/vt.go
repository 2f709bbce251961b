// Package vt is a small VT100/xterm screen emulator for tests: it interprets the escape
// sequences the terminal package and its editors emit (cursor moves, erase, alternate screen) and
// shows the resulting screen as text, so tests can assert on what a learner would see.
package vt

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Screen is an emulated terminal screen.
type Screen struct {
	Cols, Rows int
	cells      [][]rune
	X, Y       int // cursor
	wrapNext   bool
	saved      *saved // main screen while the alternate screen is shown
	Alt        bool
	pending    []byte
	Bells      int
}

type saved struct {
	cells [][]rune
	x, y  int
}

// New returns a blank screen.
func New(cols, rows int) *Screen {
	s := &Screen{Cols: cols, Rows: rows}
	s.cells = blank(cols, rows)
	return s
}

func blank(cols, rows int) [][]rune {
	c := make([][]rune, rows)
	for i := range c {
		c[i] = []rune(strings.Repeat(" ", cols))
	}
	return c
}

// Write interprets terminal output.
func (s *Screen) Write(p []byte) (int, error) {
	b := append(s.pending, p...)
	s.pending = nil
	for len(b) > 0 {
		n := s.step(b)
		if n == 0 {
			s.pending = append([]byte(nil), b...)
			break
		}
		b = b[n:]
	}
	return len(p), nil
}

func (s *Screen) step(b []byte) int {
	c := b[0]
	switch c {
	case '\r':
		s.X, s.wrapNext = 0, false
		return 1
	case '\n':
		s.lineFeed()
		return 1
	case '\b':
		if s.X > 0 {
			s.X--
		}
		s.wrapNext = false
		return 1
	case '\a':
		s.Bells++
		return 1
	case '\t':
		s.X = min((s.X/8+1)*8, s.Cols-1)
		return 1
	case 0x1b:
		return s.escape(b)
	}
	if c < 0x20 {
		return 1
	}
	if !utf8.FullRune(b) {
		return 0
	}
	r, n := utf8.DecodeRune(b)
	s.put(r)
	return n
}

func (s *Screen) put(r rune) {
	if s.wrapNext {
		s.X = 0
		s.lineFeed()
		s.wrapNext = false
	}
	s.cells[s.Y][s.X] = r
	if s.X == s.Cols-1 {
		s.wrapNext = true
	} else {
		s.X++
	}
}

func (s *Screen) lineFeed() {
	s.wrapNext = false
	if s.Y < s.Rows-1 {
		s.Y++
		return
	}
	copy(s.cells, s.cells[1:])
	s.cells[s.Rows-1] = []rune(strings.Repeat(" ", s.Cols))
}

func (s *Screen) escape(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '[':
	case '7', '8', '=', '>':
		return 2
	case '(', ')':
		if len(b) < 3 {
			return 0
		}
		return 3
	default:
		return 2
	}
	i := 2
	for i < len(b) && (b[i] >= '0' && b[i] <= '9' || b[i] == ';' || b[i] == '?') {
		i++
	}
	if i >= len(b) {
		return 0
	}
	params, final := string(b[2:i]), b[i]
	private := strings.HasPrefix(params, "?")
	params = strings.TrimPrefix(params, "?")
	var nums []int
	for _, f := range strings.Split(params, ";") {
		n, _ := strconv.Atoi(f)
		nums = append(nums, n)
	}
	arg := func(i, def int) int {
		if i < len(nums) && nums[i] != 0 {
			return nums[i]
		}
		return def
	}
	s.wrapNext = false
	switch final {
	case 'A':
		s.Y = max(s.Y-arg(0, 1), 0)
	case 'B':
		s.Y = min(s.Y+arg(0, 1), s.Rows-1)
	case 'C':
		s.X = min(s.X+arg(0, 1), s.Cols-1)
	case 'D':
		s.X = max(s.X-arg(0, 1), 0)
	case 'G':
		s.X = min(arg(0, 1)-1, s.Cols-1)
	case 'H', 'f':
		s.Y = min(arg(0, 1)-1, s.Rows-1)
		s.X = min(arg(1, 1)-1, s.Cols-1)
	case 'J':
		switch arg(0, 0) {
		case 0:
			s.clearLine(s.Y, s.X, s.Cols)
			for y := s.Y + 1; y < s.Rows; y++ {
				s.clearLine(y, 0, s.Cols)
			}
		case 1:
			for y := 0; y < s.Y; y++ {
				s.clearLine(y, 0, s.Cols)
			}
			s.clearLine(s.Y, 0, s.X+1)
		case 2, 3:
			s.cells = blank(s.Cols, s.Rows)
		}
	case 'K':
		switch arg(0, 0) {
		case 0:
			s.clearLine(s.Y, s.X, s.Cols)
		case 1:
			s.clearLine(s.Y, 0, s.X+1)
		case 2:
			s.clearLine(s.Y, 0, s.Cols)
		}
	case 'h', 'l':
		if private && arg(0, 0) == 1049 {
			s.setAlt(final == 'h')
		}
	}
	return i + 1
}

func (s *Screen) clearLine(y, from, to int) {
	for x := from; x < to && x < s.Cols; x++ {
		s.cells[y][x] = ' '
	}
}

func (s *Screen) setAlt(on bool) {
	if on == s.Alt {
		return
	}
	s.Alt = on
	if on {
		s.saved = &saved{cells: s.cells, x: s.X, y: s.Y}
		s.cells = blank(s.Cols, s.Rows)
		return
	}
	s.cells, s.X, s.Y = s.saved.cells, s.saved.x, s.saved.y
	s.saved = nil
}

// Line returns row y with trailing spaces removed.
func (s *Screen) Line(y int) string {
	return strings.TrimRight(string(s.cells[y]), " ")
}

// String returns the screen, one line per row, with trailing spaces and trailing blank rows
// removed.
func (s *Screen) String() string {
	lines := make([]string, s.Rows)
	for y := range lines {
		lines[y] = s.Line(y)
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}
