package terminal

import (
	"context"
	"io"
	"sync"
	"unicode/utf8"

	"kubesim.dev/kubesim/internal/terminal/keys"
)

// tty is the interactive terminal: it buffers what the user types, delivers Ctrl-C to the
// command in the foreground, and serializes output. It plays the kernel's line discipline for
// commands that read the terminal (cooked mode) and steps aside for editors (raw mode).
type tty struct {
	outMu sync.Mutex
	out   io.Writer

	mu      sync.Mutex
	changed chan struct{}
	buf     []byte
	eof     bool
	size    Size
	resized bool
	fg      []*runState // foreground command lines, innermost last; nil entries while a prompt reads
	raw     int
	alt     int            // full-screen programs that handle Ctrl-C themselves (watch): no ^C echo
	off     int64          // input offset of buf[0]
	escEnds map[int64]bool // input offsets just after a chunk that ended with a lone ESC
	echoed  bool           // a ^C was echoed for the foreground command
}

func newTTY(out io.Writer) *tty {
	return &tty{out: out, changed: make(chan struct{}), size: Size{Cols: 80, Rows: 24}}
}

func (t *tty) notifyLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// feed takes bytes typed by the user.
func (t *tty) feed(p []byte) {
	t.mu.Lock()
	var interrupt *runState
	for _, b := range p {
		fg := t.foregroundLocked()
		if b == 0x03 && fg != nil && t.raw == 0 {
			// The line discipline turns Ctrl-C into SIGINT and flushes pending input.
			t.off += int64(len(t.buf))
			t.buf = t.buf[:0]
			interrupt = fg
			continue
		}
		t.buf = append(t.buf, b)
	}
	if len(p) > 0 && p[len(p)-1] == 0x1b {
		// The terminal sends an escape sequence in one piece, so an ESC that ends a piece is
		// the Escape key, even if more input follows before anyone reads it.
		if t.escEnds == nil {
			t.escEnds = map[int64]bool{}
		}
		t.escEnds[t.off+int64(len(t.buf))] = true
	}
	t.notifyLocked()
	t.mu.Unlock()
	if interrupt != nil {
		t.mu.Lock()
		echo := t.alt == 0
		t.echoed = t.echoed || echo
		t.mu.Unlock()
		if echo {
			t.write([]byte("^C"), true)
		}
		interrupt.stop(errInterrupt)
	}
}

func (t *tty) foregroundLocked() *runState {
	if len(t.fg) == 0 {
		return nil
	}
	return t.fg[len(t.fg)-1]
}

// pushForeground makes rs (nil: the shell's own prompt) receive Ctrl-C until the returned
// function is called.
func (t *tty) pushForeground(rs *runState) func() {
	t.mu.Lock()
	t.fg = append(t.fg, rs)
	n := len(t.fg)
	// A Ctrl-C typed after the line was read but before the command started is for it.
	pending := false
	if rs != nil && t.raw == 0 {
		for i, b := range t.buf {
			if b == 0x03 {
				t.buf = append(t.buf[:0], t.buf[i+1:]...)
				t.off += int64(i + 1)
				pending = true
				break
			}
		}
	}
	t.mu.Unlock()
	if pending {
		t.feed(nil)
		t.mu.Lock()
		echo := t.alt == 0
		t.echoed = t.echoed || echo
		t.mu.Unlock()
		if echo {
			t.write([]byte("^C"), true)
		}
		rs.stop(errInterrupt)
	}
	return func() {
		t.mu.Lock()
		t.fg = t.fg[:n-1]
		t.mu.Unlock()
	}
}

// enterRaw passes every key, Ctrl-C included, to the reader until the returned function runs.
func (t *tty) enterRaw() func() {
	t.mu.Lock()
	t.raw++
	t.resized = false
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.raw--
		t.mu.Unlock()
	}
}

// enterAlt marks a full-screen program (watch) that leaves the screen as it found it.
func (t *tty) enterAlt() func() {
	t.mu.Lock()
	t.alt++
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.alt--
		t.mu.Unlock()
	}
}

// takeEchoed reports (and forgets) whether ^C was echoed since the last call.
func (t *tty) takeEchoed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.echoed
	t.echoed = false
	return e
}

func (t *tty) closeInput() {
	t.mu.Lock()
	t.eof = true
	fgs := append([]*runState(nil), t.fg...)
	t.notifyLocked()
	t.mu.Unlock()
	for _, rs := range fgs {
		if rs != nil {
			rs.stop(errSessionDone)
		}
	}
}

func (t *tty) setSize(s Size) {
	if s.Cols <= 0 || s.Rows <= 0 {
		return
	}
	t.mu.Lock()
	t.size = s
	t.resized = true
	t.notifyLocked()
	t.mu.Unlock()
}

func (t *tty) getSize() Size {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.size
}

// wait blocks until the input changes or ctx ends.
func (t *tty) wait(ctx context.Context, ch chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readKey returns the next key. In raw mode a size change is reported as a keys.Resize key.
func (t *tty) readKey(ctx context.Context) (keys.Key, error) {
	for {
		t.mu.Lock()
		if t.raw > 0 && t.resized {
			t.resized = false
			t.mu.Unlock()
			return keys.Key{Code: keys.Resize}, nil
		}
		if len(t.buf) > 0 {
			k, n := keys.Parse(t.buf)
			if t.buf[0] == 0x1b && t.escEnds[t.off+1] {
				k, n = keys.Key{Code: keys.Escape}, 1
			}
			if n > 0 {
				t.consumeLocked(n)
				t.mu.Unlock()
				return k, nil
			}
		}
		if t.eof {
			t.mu.Unlock()
			return keys.Key{}, io.EOF
		}
		ch := t.changed
		t.mu.Unlock()
		if err := t.wait(ctx, ch); err != nil {
			return keys.Key{}, err
		}
	}
}

func (t *tty) consumeLocked(n int) {
	for i := int64(1); i <= int64(n); i++ {
		delete(t.escEnds, t.off+i)
	}
	t.buf = t.buf[n:]
	t.off += int64(n)
}

// readByte returns the next raw byte.
func (t *tty) readByte(ctx context.Context) (byte, error) {
	for {
		t.mu.Lock()
		if len(t.buf) > 0 {
			b := t.buf[0]
			t.consumeLocked(1)
			t.mu.Unlock()
			return b, nil
		}
		if t.eof {
			t.mu.Unlock()
			return 0, io.EOF
		}
		ch := t.changed
		t.mu.Unlock()
		if err := t.wait(ctx, ch); err != nil {
			return 0, err
		}
	}
}

// write sends output; cooked output has "\n" turned into "\r\n" as the terminal's ONLCR does.
func (t *tty) write(p []byte, cooked bool) (int, error) {
	t.outMu.Lock()
	defer t.outMu.Unlock()
	if !cooked {
		return t.out.Write(p)
	}
	out := make([]byte, 0, len(p)+8)
	for i, b := range p {
		if b == '\n' && (i == 0 || p[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	if _, err := t.out.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// ttyWriter is a command's view of the terminal as its stdout/stderr.
type ttyWriter struct{ t *tty }

func (w ttyWriter) Write(p []byte) (int, error) { return w.t.write(p, true) }

// cookedReader is a command's view of the terminal as its stdin: line-buffered with echo and
// erase, Ctrl-D for end of input.
type cookedReader struct {
	t       *tty
	rs      *runState
	pending []byte
}

func (r *cookedReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	defer r.rs.budget.enterIdle()()
	var line []byte
	for {
		b, err := r.t.readByte(r.rs.ctx)
		if err != nil {
			return 0, io.EOF
		}
		switch {
		case b == '\r' || b == '\n':
			r.t.write([]byte("\r\n"), false)
			r.pending = append(line, '\n')
			return r.Read(p)
		case b == 0x7f || b == 0x08:
			if len(line) > 0 {
				_, size := utf8.DecodeLastRune(line)
				line = line[:len(line)-size]
				r.t.write([]byte("\b \b"), false)
			}
		case b == 0x04:
			if len(line) == 0 {
				return 0, io.EOF
			}
			r.pending = line
			return r.Read(p)
		case b == 0x15:
			for range utf8.RuneCount(line) {
				r.t.write([]byte("\b \b"), false)
			}
			line = nil
		case b == 0x1b:
			// Drop escape sequences (arrow keys) rather than inserting them.
			r.t.mu.Lock()
			if len(r.t.buf) > 0 && (r.t.buf[0] == '[' || r.t.buf[0] == 'O') {
				i := 1
				for i < len(r.t.buf) && (r.t.buf[i] >= '0' && r.t.buf[i] <= '9' || r.t.buf[i] == ';') {
					i++
				}
				if i < len(r.t.buf) {
					i++
				}
				r.t.consumeLocked(i)
			}
			r.t.mu.Unlock()
		case b >= 0x20 || b == '\t':
			line = append(line, b)
			r.t.write([]byte{b}, false)
		}
	}
}
