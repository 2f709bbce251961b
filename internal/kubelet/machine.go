package kubelet

import (
	"time"

	"k8s.io/utils/clock"
)

// timer is a callback the machine runs at a moment of its own time line.
type timer struct {
	at    time.Time
	key   int64 // at in Unix nanoseconds: timers are ordered by key, then seq
	seq   uint64
	fn    func()
	index int // position in the heap; -1 once fired or stopped
}

// stop cancels the timer; it reports whether it was still pending.
func (k *Kubelet) stop(t *timer) bool {
	if t == nil || t.index < 0 {
		return false
	}
	k.timers.remove(t.index)
	return true
}

// at schedules fn at t (or now, if t is in the past).
func (k *Kubelet) at(t time.Time, fn func()) *timer {
	return k.rearm(&timer{fn: fn, index: -1}, t)
}

// rearm schedules a timer that is not pending (fired or stopped) again, at t or now: periodic
// work reuses its timer instead of allocating one per run. It takes the next sequence number, as
// a new timer would, so that the order of timers due at one moment does not change.
func (k *Kubelet) rearm(tm *timer, t time.Time) *timer {
	if tm.index >= 0 {
		panic("kubelet: rearming a pending timer")
	}
	if t.Before(k.now) {
		t = k.now
	}
	k.seq++
	tm.at, tm.key, tm.seq = t, t.UnixNano(), k.seq
	k.timers.push(tm)
	return tm
}

// after schedules fn d from now.
func (k *Kubelet) after(d time.Duration, fn func()) *timer { return k.at(k.now.Add(d), fn) }

// timerHeap is a binary min-heap of pending timers. It is written out rather than run through
// container/heap, and keeps each timer's ordering key next to its pointer, because a long Step pops
// and pushes millions of timers (every pod's periodic sync): comparing keys in one contiguous
// array, without interface calls or a pointer chase per comparison, is several times cheaper.
type timerHeap []heapEntry

type heapEntry struct {
	key    int64
	seq    uint64
	*timer // the same key and seq
}

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) less(i, j int) bool {
	return h[i].key < h[j].key || (h[i].key == h[j].key && h[i].seq < h[j].seq)
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) push(t *timer) {
	t.index = len(*h)
	*h = append(*h, heapEntry{key: t.key, seq: t.seq, timer: t})
	h.up(t.index)
}

// pop removes and returns the earliest timer.
func (h *timerHeap) pop() *timer { return h.remove(0) }

// remove takes out the timer at position i.
func (h *timerHeap) remove(i int) *timer {
	old := *h
	n := len(old) - 1
	t := old[i].timer
	if i != n {
		old.swap(i, n)
		if !old[:n].down(i) {
			old[:n].up(i)
		}
	}
	old[n] = heapEntry{}
	*h = old[:n]
	t.index = -1
	return t
}

func (h timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

// down moves the timer at i towards the leaves; it reports whether it moved.
func (h timerHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h.less(r, j) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
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
	t := k.timers.pop()
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
