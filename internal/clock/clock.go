// Package clock is a cluster's virtual clock.
//
// Every simulated component reads time from its cluster's Clock and schedules work on it, never on
// the time package directly. A Clock follows wall time by default; tests freeze it and step it.
//
// Real kubectl computes ages from its own wall clock, so fast-forwarding cannot simply move "now"
// ahead. Advance instead ages the world: it asks every registered shifter (the object store, the
// kubelets' internal state) to move its timestamps back by the interval, moves pending timers back
// by the same amount, and then runs every timer that has become due, in order, each seeing Now()
// equal to its own virtual moment. Afterwards the world looks exactly as if the interval had passed.
package clock

import (
	"container/heap"
	"sync"
	"time"

	k8sclock "k8s.io/utils/clock"
)

// Clock is a virtual clock. It implements k8s.io/utils/clock.WithTickerAndDelayedExecution, so it
// can be handed to client-go helpers (back-off, rate limiters, work queues) that accept a clock.
type Clock struct {
	wall func() time.Time

	mu       sync.RWMutex
	frozen   bool
	now      time.Time  // the frozen time, when frozen
	replay   *time.Time // while Step/Advance runs a timer: that timer's due time
	target   *time.Time // while Step/Advance runs: the end of the interval being replayed
	timers   timerHeap
	seq      uint64
	shifters []func(time.Duration)
	settle   func()
	wake     chan struct{} // pokes the real-time dispatcher when the earliest timer changes
	stopped  chan struct{}
	stepping sync.Mutex // one Step/Advance at a time
}

var _ k8sclock.WithTickerAndDelayedExecution = (*Clock)(nil)

// NewReal returns a clock that follows wall time. Timers fire on a dispatcher goroutine, one at a
// time, in due order. Stop ends the dispatcher.
func NewReal() *Clock {
	c := &Clock{wall: time.Now, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go c.dispatch()
	return c
}

// NewFrozen returns a clock stopped at t: nothing happens until Step or Advance is called.
func NewFrozen(t time.Time) *Clock {
	return &Clock{wall: time.Now, frozen: true, now: t, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// Stop ends the real-time dispatcher; pending timers never fire.
func (c *Clock) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.stopped:
	default:
		close(c.stopped)
	}
}

// Frozen reports whether the clock only moves when stepped.
func (c *Clock) Frozen() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.frozen
}

// Now is the current virtual time.
func (c *Clock) Now() time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	switch {
	case c.replay != nil:
		return *c.replay
	case c.frozen:
		return c.now
	default:
		return c.wall()
	}
}

// ReplayEnd reports, while Step or Advance is running timers, the moment the replay runs up to.
// A component whose own work needs no interleaving with others' (a kubelet's internal timers) can
// do everything due until then in one go instead of once per timer.
func (c *Clock) ReplayEnd() (time.Time, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.target == nil {
		return time.Time{}, false
	}
	return *c.target, true
}

// Since is Now().Sub(t).
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// OnShift registers f to be called with the interval whenever Advance ages the world. Whoever keeps
// timestamps (the store, a kubelet's back-off entries) moves them back by that interval.
func (c *Clock) OnShift(f func(time.Duration)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shifters = append(c.shifters, f)
}

// SetSettle sets a function that Step and Advance call after each timer they run, so that the
// consequences of one moment (watch events, controller reactions) land before the next moment runs.
func (c *Clock) SetSettle(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle = f
}

// Step moves a frozen clock forward by d, running every timer due in between, in order. On a clock
// that follows wall time it is the same as Advance.
func (c *Clock) Step(d time.Duration) {
	if !c.Frozen() {
		c.Advance(d)
		return
	}
	c.stepping.Lock()
	defer c.stepping.Unlock()
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.runUntil(target)
	c.mu.Lock()
	c.now = target
	c.mu.Unlock()
}

// Advance ages the world by d: every registered shifter moves its timestamps back by d, pending
// timers move back by d, and every timer that is now due runs in order at its virtual moment.
// On a frozen clock "now" stays where it is; on a real one it stays the wall time.
func (c *Clock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.stepping.Lock()
	defer c.stepping.Unlock()
	c.mu.Lock()
	shifters := append([]func(time.Duration){}, c.shifters...)
	for _, t := range c.timers {
		t.due = t.due.Add(-d)
	}
	heap.Init(&c.timers)
	now := c.nowLocked()
	c.mu.Unlock()
	for _, f := range shifters {
		f(d)
	}
	c.runUntil(now)
	c.poke()
}

// Reanchor moves a frozen clock's whole world, timestamps and timers with it, so that its "now"
// is the current wall-clock second. Nothing runs: the world is translated, not aged. Clients that
// compute ages from their own wall clock (kubectl) then see exactly the ages of the virtual world,
// however long ago the clock was frozen. It does nothing to a clock that follows the wall.
func (c *Clock) Reanchor() {
	c.stepping.Lock()
	defer c.stepping.Unlock()
	c.mu.Lock()
	if !c.frozen {
		c.mu.Unlock()
		return
	}
	d := c.wall().Truncate(time.Second).Sub(c.now)
	if d == 0 {
		c.mu.Unlock()
		return
	}
	shifters := append([]func(time.Duration){}, c.shifters...)
	c.mu.Unlock()
	// The components' timestamps move first, then "now": a component that reads Now() in
	// between sees its old now with its state already moved forward, and only takes it for a
	// moment it has already lived (a kubelet's time never goes back). The other order would let
	// it see the new now before its own state moved, and live d of virtual time that never passed.
	for _, f := range shifters {
		f(-d) // shifters move timestamps back by their argument
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		t.due = t.due.Add(d)
	}
	heap.Init(&c.timers)
	c.mu.Unlock()
}

// runUntil runs, in order, every timer due at or before target, each with Now() reporting its due
// time. Timers that the running ones schedule inside the window run too.
func (c *Clock) runUntil(target time.Time) {
	c.mu.Lock()
	c.target = &target
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.target = nil
		c.mu.Unlock()
	}()
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].due.After(target) {
			c.replay = nil
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*timer)
		t.index = -1
		due := t.due
		c.replay = &due
		if c.frozen && due.After(c.now) {
			c.now = due
		}
		settle := c.settle
		c.mu.Unlock()
		t.fire(due)
		if settle != nil {
			settle()
		}
	}
}

// dispatch fires timers in real time for a clock that follows the wall.
func (c *Clock) dispatch() {
	rt := time.NewTimer(time.Hour)
	defer rt.Stop()
	for {
		c.mu.Lock()
		wait := time.Hour
		if !c.frozen && len(c.timers) > 0 {
			wait = c.timers[0].due.Sub(c.wall())
		}
		c.mu.Unlock()
		if wait <= 0 {
			c.fireDue()
			continue
		}
		rt.Reset(wait)
		select {
		case <-c.stopped:
			return
		case <-c.wake:
		case <-rt.C:
		}
		if !rt.Stop() {
			select {
			case <-rt.C:
			default:
			}
		}
	}
}

// fireDue runs the timers that wall time has reached. It takes the stepping lock so that it never
// interleaves with an Advance.
func (c *Clock) fireDue() {
	c.stepping.Lock()
	defer c.stepping.Unlock()
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].due.After(c.wall()) {
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*timer)
		t.index = -1
		c.mu.Unlock()
		t.fire(t.due)
	}
}

func (c *Clock) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// schedule adds t to the timer heap, due d from now.
func (c *Clock) schedule(t *timer, d time.Duration) {
	c.mu.Lock()
	t.due = c.nowLocked().Add(d)
	c.seq++
	t.seq = c.seq
	heap.Push(&c.timers, t)
	c.mu.Unlock()
	c.poke()
}

// unschedule removes t; it reports whether t was pending.
func (c *Clock) unschedule(t *timer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.timers, t.index)
	t.index = -1
	return true
}

// AfterFunc runs f once d has passed on this clock.
func (c *Clock) AfterFunc(d time.Duration, f func()) k8sclock.Timer {
	t := &timer{clock: c, fn: func(time.Time) { f() }, index: -1}
	c.schedule(t, d)
	return t
}

// NewTimer returns a timer whose channel receives the virtual time once d has passed.
func (c *Clock) NewTimer(d time.Duration) k8sclock.Timer {
	ch := make(chan time.Time, 1)
	t := &timer{clock: c, ch: ch, index: -1}
	t.fn = func(now time.Time) {
		select {
		case ch <- now:
		default:
		}
	}
	c.schedule(t, d)
	return t
}

// After is NewTimer(d).C().
func (c *Clock) After(d time.Duration) <-chan time.Time { return c.NewTimer(d).C() }

// Sleep blocks until d has passed on this clock.
func (c *Clock) Sleep(d time.Duration) { <-c.After(d) }

// NewTicker returns a ticker that fires every d on this clock.
func (c *Clock) NewTicker(d time.Duration) k8sclock.Ticker {
	ch := make(chan time.Time, 1)
	tk := &ticker{ch: ch}
	tk.timer = &timer{clock: c, index: -1}
	tk.timer.fn = func(now time.Time) {
		select {
		case ch <- now:
		default:
		}
		c.schedule(tk.timer, d)
	}
	c.schedule(tk.timer, d)
	return tk
}

// Tick is NewTicker(d).C().
func (c *Clock) Tick(d time.Duration) <-chan time.Time { return c.NewTicker(d).C() }

type timer struct {
	clock *Clock
	due   time.Time
	seq   uint64
	index int
	fn    func(now time.Time)
	ch    chan time.Time
}

func (t *timer) fire(now time.Time) { t.fn(now) }

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool { return t.clock.unschedule(t) }

func (t *timer) Reset(d time.Duration) bool {
	was := t.clock.unschedule(t)
	t.clock.schedule(t, d)
	return was
}

type ticker struct {
	timer *timer
	ch    chan time.Time
}

func (tk *ticker) C() <-chan time.Time { return tk.ch }
func (tk *ticker) Stop()               { tk.timer.Stop() }

// timerHeap orders timers by due time, then by scheduling order, so that runs are deterministic.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return t
}
