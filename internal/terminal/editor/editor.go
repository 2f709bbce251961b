// Package editor implements the full-screen nano and vi of the sandboxed terminal.
//
// Each editor is a state machine fed one key at a time (Key) that can draw itself (draw); Run
// connects one to a raw-mode terminal. Files are read from and written to the session's memfs.
package editor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf8"

	"kubesim.dev/kubesim/internal/terminal/keys"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Terminal is the raw-mode terminal an editor draws on.
type Terminal interface {
	ReadKey(ctx context.Context) (keys.Key, error)
	Write(p []byte) (int, error)
	Size() (cols, rows int)
}

type machine interface {
	key(k keys.Key)
	draw(cols, rows int) string
	done() bool
}

func run(ctx context.Context, t Terminal, m machine) error {
	t.Write([]byte("\x1b[?1049h\x1b[H\x1b[2J"))
	defer t.Write([]byte("\x1b[?1049l"))
	for {
		cols, rows := t.Size()
		if cols <= 0 || rows <= 0 {
			cols, rows = 80, 24
		}
		t.Write([]byte(m.draw(cols, rows)))
		if m.done() {
			return nil
		}
		k, err := t.ReadKey(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		m.key(k)
		if m.done() {
			return nil
		}
	}
}

// buffer is the text being edited, one rune slice per line.
type buffer struct {
	fs       *memfs.FS
	path     string
	lines    [][]rune
	cy, cx   int
	top      int
	modified bool
	isNew    bool
}

func load(fsys *memfs.FS, path string) (*buffer, error) {
	b := &buffer{fs: fsys, path: path}
	if path == "" {
		b.lines = [][]rune{{}}
		b.isNew = true
		return b, nil
	}
	data, err := fsys.ReadFile(path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		b.isNew = true
	default:
		return nil, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		b.lines = append(b.lines, []rune(l))
	}
	return b, nil
}

// text joins the lines for writing; the caller decides about the final newline.
func (b *buffer) text(lines [][]rune) string {
	parts := make([]string, len(lines))
	for i, l := range lines {
		parts[i] = string(l)
	}
	return strings.Join(parts, "\n")
}

func (b *buffer) clampX() {
	if b.cy >= len(b.lines) {
		b.cy = len(b.lines) - 1
	}
	if b.cy < 0 {
		b.cy = 0
	}
	if b.cx > len(b.lines[b.cy]) {
		b.cx = len(b.lines[b.cy])
	}
	if b.cx < 0 {
		b.cx = 0
	}
}

func (b *buffer) scroll(rows int) {
	if b.cy < b.top {
		b.top = b.cy
	}
	if b.cy >= b.top+rows {
		b.top = b.cy - rows + 1
	}
}

func (b *buffer) insert(r rune) {
	l := b.lines[b.cy]
	l = append(l[:b.cx], append([]rune{r}, l[b.cx:]...)...)
	b.lines[b.cy] = l
	b.cx++
	b.modified = true
}

func (b *buffer) split() {
	l := b.lines[b.cy]
	head := append([]rune(nil), l[:b.cx]...)
	tail := append([]rune(nil), l[b.cx:]...)
	b.lines[b.cy] = head
	b.lines = append(b.lines[:b.cy+1], append([][]rune{tail}, b.lines[b.cy+1:]...)...)
	b.cy++
	b.cx = 0
	b.modified = true
}

func (b *buffer) backspace() {
	switch {
	case b.cx > 0:
		l := b.lines[b.cy]
		b.lines[b.cy] = append(l[:b.cx-1], l[b.cx:]...)
		b.cx--
	case b.cy > 0:
		prev := b.lines[b.cy-1]
		b.cx = len(prev)
		b.lines[b.cy-1] = append(prev, b.lines[b.cy]...)
		b.lines = append(b.lines[:b.cy], b.lines[b.cy+1:]...)
		b.cy--
	default:
		return
	}
	b.modified = true
}

func (b *buffer) del() {
	l := b.lines[b.cy]
	switch {
	case b.cx < len(l):
		b.lines[b.cy] = append(l[:b.cx], l[b.cx+1:]...)
	case b.cy < len(b.lines)-1:
		b.lines[b.cy] = append(l, b.lines[b.cy+1]...)
		b.lines = append(b.lines[:b.cy+1], b.lines[b.cy+2:]...)
	default:
		return
	}
	b.modified = true
}

func (b *buffer) move(k keys.Key, rows int) bool {
	switch k.Code {
	case keys.Up:
		b.cy--
	case keys.Down:
		b.cy++
	case keys.Left:
		if b.cx > 0 {
			b.cx--
		} else if b.cy > 0 {
			b.cy--
			b.cx = len(b.lines[b.cy])
		}
	case keys.Right:
		if b.cx < len(b.lines[b.cy]) {
			b.cx++
		} else if b.cy < len(b.lines)-1 {
			b.cy++
			b.cx = 0
		}
	case keys.Home:
		b.cx = 0
	case keys.End:
		b.cx = len(b.lines[b.cy])
	case keys.PageUp:
		b.cy -= rows
	case keys.PageDown:
		b.cy += rows
	default:
		return false
	}
	b.clampX()
	return true
}

// find searches for pat after the cursor, wrapping around; wrapped reports a wrap.
func (b *buffer) find(pat string, backward bool) (y, x int, wrapped, ok bool) {
	p := []rune(pat)
	n := len(b.lines)
	for i := 0; i <= n; i++ {
		var y int
		if backward {
			y = ((b.cy-i)%n + n) % n
		} else {
			y = (b.cy + i) % n
		}
		l := string(b.lines[y])
		var idx int
		if backward {
			limit := len(l)
			if i == 0 {
				limit = len(string(b.lines[y][:b.cx]))
			}
			idx = strings.LastIndex(l[:limit], string(p))
		} else {
			start := 0
			if i == 0 {
				start = len(string(b.lines[y][:min(b.cx+1, len(b.lines[y]))]))
			}
			if start > len(l) {
				continue
			}
			idx = strings.Index(l[start:], string(p))
			if idx >= 0 {
				idx += start
			}
		}
		if idx >= 0 {
			wrapped = backward && y > b.cy || !backward && (y < b.cy || i == n)
			return y, utf8.RuneCountInString(l[:idx]), wrapped, true
		}
	}
	return 0, 0, false, false
}

func inverse(s string) string { return "\x1b[7m" + s + "\x1b[0m" }

func at(row, col int) string { return fmt.Sprintf("\x1b[%d;%dH", row+1, col+1) }

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:w])
	}
	return s + strings.Repeat(" ", w-len(r))
}

// visible returns the part of a line shown in a window of width cols, scrolled so that the
// cursor column cx is visible when the line is the cursor's.
func visible(l []rune, cols, cx int, cursorLine bool) ([]rune, int) {
	off := 0
	if cursorLine && cx >= cols {
		off = cx - cols + 1
	}
	if off > len(l) {
		return nil, off
	}
	l = l[off:]
	if len(l) > cols {
		l = l[:cols]
	}
	return l, off
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
