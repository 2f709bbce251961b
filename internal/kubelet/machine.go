package kubelet

import (
	"container/heap"
	"time"

	"k8s.io/utils/clock"
)

// timer is a callback the machine runs at a moment of its own time line.
type timer struct {
	at    time.Time
	seq   uint64
	fn    func()
	index int // position in the heap; -1 once fired or stopped
}

// stop cancels the timer; it reports whether it was still pending.
func (k *Kubelet) stop(t *timer) bool {
	if t == nil || t.index < 0 {
		return false
	}
	heap.Remove(&k.timers, t.index)
	t.index = -1
	return true
}

// at schedules fn at t (or now, if t is in the past).
func (k *Kubelet) at(t time.Time, fn func()) *timer {
	if t.Before(k.now) {
		t = k.now
	}
	k.seq++
	tm := &timer{at: t, seq: k.seq, fn: fn, index: -1}
	heap.Push(&k.timers, tm)
	return tm
}

// after schedules fn d from now.
func (k *Kubelet) after(d time.Duration, fn func()) *timer { return k.at(k.now.Add(d), fn) }

type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
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
	t.index = -1
	return t
}

// call emits op and runs then with its result when the driver answers. A nil then means the
// machine does not wait for the answer.
func (k *Kubelet) call(op Op, then func(OpResult)) {
	k.out.Ops = append(k.out.Ops, op)
	if then != nil {
		k.waiting[op.OpID()] = then
	}
}

// nextID returns a fresh operation ID.
func (k *Kubelet) nextID() OpBase {
	k.opSeq++
	return OpBase{ID: k.opSeq}
}

// run moves the machine's time towards target, running due timers in order and applying queued
// inputs once target is reached. It stops early while an operation's result is awaited, so that
// the continuation runs at the moment the operation was issued.
func (k *Kubelet) run(target time.Time) {
	for len(k.waiting) == 0 {
		if k.timers.Len() > 0 && k.timers[0].at.Before(target) {
			k.fire()
			continue
		}
		k.advance(target)
		if len(k.inbox) > 0 {
			in := k.inbox
			k.inbox = nil
			for _, i := range in {
				k.apply(i)
			}
			continue
		}
		if k.timers.Len() > 0 && !k.timers[0].at.After(target) {
			k.fire()
			continue
		}
		return
	}
}

func (k *Kubelet) fire() {
	t := heap.Pop(&k.timers).(*timer)
	k.advance(t.at)
	t.fn()
}

func (k *Kubelet) advance(t time.Time) {
	if t.After(k.now) {
		k.now = t
	}
}

// wall converts a moment of the machine's time line to the cluster's (aged) wall time.
func (k *Kubelet) wall(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(-k.offset)
}

// mono converts a cluster timestamp into the machine's time line.
func (k *Kubelet) mono(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.Add(k.offset)
}

// jitter is wait.Jitter drawn from the machine's seeded random source.
func (k *Kubelet) jitter(d time.Duration, factor float64) time.Duration {
	return d + time.Duration(k.rand.Float64()*factor*float64(d))
}

// monoClock is the clock handed to the upstream helpers the machine embeds (back-off, token
// buckets, the event correlator): it reads the machine's own time line. The helpers used here only
// read the time; the waiting methods are never called.
type monoClock struct{ k *Kubelet }

var _ clock.Clock = monoClock{}

func (c monoClock) Now() time.Time                     { return c.k.now }
func (c monoClock) Since(t time.Time) time.Duration    { return c.k.now.Sub(t) }
func (monoClock) After(time.Duration) <-chan time.Time { panic("kubelet: the machine never waits") }
func (monoClock) NewTimer(time.Duration) clock.Timer   { panic("kubelet: the machine never waits") }
func (monoClock) Sleep(time.Duration)                  { panic("kubelet: the machine never waits") }
func (monoClock) Tick(time.Duration) <-chan time.Time  { panic("kubelet: the machine never waits") }
