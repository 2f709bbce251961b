package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	errInterrupt   = errors.New("interrupted")
	errSessionDone = errors.New("session closed")
)

// limitError is a limit the command line ran into; its text is what the learner sees.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// runState is the state of one command line while it runs: its context (cancelled by Ctrl-C or
// a limit), its time budget, its output counter and its terminal stdin.
type runState struct {
	sh     *shell
	ctx    context.Context
	cancel context.CancelCauseFunc
	budget *budget

	stdout, stderr io.Writer // counted (and, on a terminal, CRLF-translated) streams
	rawErr         io.Writer // where limit messages go (not counted)
	output         atomic.Int64
	terminal       bool

	// stdinR is the interpreter's standard input: a pipe we feed only when a shell builtin (read,
	// mapfile) reads it. Our commands read input directly instead, so typed-ahead input is not
	// swallowed by a command that never reads.
	stdinR, stdinW *os.File
	input          io.Reader // the real input: the terminal, or Exec's stdin
	feedMu         sync.Mutex

	pipeMu sync.Mutex
	pipes  []*os.File

	stopOnce sync.Once
}

func newRunState(parent context.Context, sh *shell, rio runIO) *runState {
	ctx, cancel := context.WithCancelCause(parent)
	rs := &runState{sh: sh, ctx: ctx, cancel: cancel, terminal: rio.terminal}
	rs.budget = newBudget(sh.sess.wall, sh.sess.limits, func() {
		rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: it ran longer than %v (limit)", sh.sess.limits.CommandTime)})
	})
	rs.rawErr = rio.stderr
	rs.stdout = &countingWriter{rs: rs, w: rio.stdout}
	rs.stderr = &countingWriter{rs: rs, w: rio.stderr}
	switch {
	case rio.stdin == nil && rio.terminal && sh.sess.tty != nil:
		rs.input = &cookedReader{t: sh.sess.tty, rs: rs}
	case rio.stdin == nil:
		rs.input = strings.NewReader("")
	default:
		rs.input = rio.stdin
	}
	var err error
	rs.stdinR, rs.stdinW, err = os.Pipe()
	if err != nil {
		rs.stdinR, rs.stdinW = nil, nil
	}
	return rs
}

// finish ends the command line: nothing it started may outlive it.
func (rs *runState) finish() {
	rs.cancel(context.Canceled)
	rs.budget.close()
	rs.feedMu.Lock()
	if rs.stdinW != nil {
		rs.stdinW.Close()
		rs.stdinR.Close()
	}
	rs.feedMu.Unlock()
}

// stop cancels the command line because of err. A limit's message is printed once.
func (rs *runState) stop(err error) {
	rs.stopOnce.Do(func() {
		var le *limitError
		if errors.As(err, &le) {
			fmt.Fprintf(rs.rawErr, "%s\n", le.msg)
		}
		rs.cancel(err)
	})
}

// cause is why the command line was stopped, or nil if it ended by itself.
func (rs *runState) cause() error {
	c := context.Cause(rs.ctx)
	if c == context.Canceled {
		return nil
	}
	return c
}

// countingWriter bounds a command line's output.
type countingWriter struct {
	rs *runState
	w  io.Writer
}

var errOutputLimit = errors.New("output limit exceeded")

func (c *countingWriter) Write(p []byte) (int, error) {
	lim := c.rs.sh.sess.limits.MaxOutput
	if c.rs.output.Add(int64(len(p))) > lim {
		c.rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: output exceeded %s (limit)", humanBytes(lim))})
		return 0, errOutputLimit
	}
	if c.rs.ctx.Err() != nil {
		return 0, c.rs.ctx.Err()
	}
	return c.w.Write(p)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// feedLine gives one line of input to a shell builtin (read) through the interpreter's stdin
// pipe; feedAll gives everything up to end of input (mapfile) and then closes the pipe.
func (rs *runState) feed(all bool) {
	if rs.stdinW == nil {
		return
	}
	go func() {
		rs.feedMu.Lock()
		defer rs.feedMu.Unlock()
		if rs.ctx.Err() != nil {
			return
		}
		buf := make([]byte, 1)
		for {
			n, err := rs.input.Read(buf)
			if n > 0 {
				if _, werr := rs.stdinW.Write(buf[:n]); werr != nil {
					return
				}
				if !all && buf[0] == '\n' {
					return
				}
			}
			if err != nil {
				if all {
					rs.stdinW.Close()
				} else {
					// End of input for read: an empty unterminated line makes read fail, as at EOF.
				}
				return
			}
		}
	}()
}

// ctxReader reads from an *os.File pipe but gives up when ctx is done.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r ctxReader) Read(p []byte) (int, error) {
	stop := context.AfterFunc(r.ctx, func() { r.f.SetReadDeadline(time.Now()) })
	defer stop()
	n, err := r.f.Read(p)
	if err != nil && r.ctx.Err() != nil {
		return n, io.EOF
	}
	return n, err
}

// ctxWriter writes to an *os.File pipe but gives up when ctx is done.
type ctxWriter struct {
	ctx context.Context
	f   *os.File
}

func (w ctxWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(w.ctx, func() { w.f.SetWriteDeadline(time.Now()) })
	defer stop()
	return w.f.Write(p)
}

// builderWriter bounds what a command writes into a command substitution.
type builderWriter struct {
	rs *runState
	b  *strings.Builder
}

func (w builderWriter) Write(p []byte) (int, error) {
	lim := w.rs.sh.sess.limits.MaxOutput
	if int64(w.b.Len()+len(p)) > lim {
		w.rs.stop(&limitError{fmt.Sprintf("kubesim: command stopped: output exceeded %s (limit)", humanBytes(lim))})
		return 0, errOutputLimit
	}
	return w.b.Write(p)
}

// budget measures a command line's busy time: wall time minus the time spent in idle waits.
type budget struct {
	clock   Clock
	limit   time.Duration
	hard    time.Duration
	onLimit func()

	mu        sync.Mutex
	start     time.Time
	idle      int
	idleSince time.Time
	idleTotal time.Duration
	done      chan struct{}
	closed    bool
}

func newBudget(clock Clock, lim Limits, onLimit func()) *budget {
	b := &budget{clock: clock, limit: lim.CommandTime, hard: lim.MaxCommandTime, onLimit: onLimit,
		start: clock.Now(), done: make(chan struct{})}
	go b.watch()
	return b
}

func (b *budget) busyLocked(now time.Time) time.Duration {
	idle := b.idleTotal
	if b.idle > 0 {
		idle += now.Sub(b.idleSince)
	}
	return now.Sub(b.start) - idle
}

func (b *budget) watch() {
	for {
		b.mu.Lock()
		now := b.clock.Now()
		left := min(b.limit-b.busyLocked(now), b.hard-now.Sub(b.start))
		b.mu.Unlock()
		if left <= 0 {
			b.onLimit()
			return
		}
		t := b.clock.NewTimer(left)
		select {
		case <-t.C():
		case <-b.done:
			t.Stop()
			return
		}
	}
}

// enterIdle marks the start of a wait that does not count against the budget; the returned
// function ends it.
func (b *budget) enterIdle() func() {
	b.mu.Lock()
	if b.idle == 0 {
		b.idleSince = b.clock.Now()
	}
	b.idle++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.idle--
			if b.idle == 0 {
				b.idleTotal += b.clock.Now().Sub(b.idleSince)
			}
			b.mu.Unlock()
		})
	}
}

func (b *budget) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.done)
	}
}
