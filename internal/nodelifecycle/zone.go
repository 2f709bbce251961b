package nodelifecycle

import (
	"math"
	"sort"
	"time"
)

// zone is a zone's NoExecute tainting queue with its rate limiter (zoneNoExecuteTainter).
type zone struct {
	limiter *bucket
	queue   *timedQueue
}

func (z *zone) shift(d time.Duration) {
	z.limiter.at = shiftTime(z.limiter.at, d)
	for _, v := range z.queue.items {
		v.processAt = shiftTime(v.processAt, d)
	}
}

// try is RateLimitedTimedQueue.Try: while the limiter gives a token, the head of the queue is
// processed if it is due; fn reports success, or failure and how long to wait before the next
// try. A token is spent even when the head is not due yet, as upstream spends it.
func (z *zone) try(now time.Time, fn func(node string) (bool, time.Duration)) {
	for {
		head := z.queue.head()
		if head == nil || !z.limiter.tryAccept(now) || now.Before(head.processAt) {
			return
		}
		if ok, wait := fn(head.value); !ok {
			head.processAt = now.Add(wait + 1)
			z.queue.sort()
		} else {
			z.queue.removeFromQueue(head.value)
		}
	}
}

// nextTry is when try can next do something: the limiter's next token, zero when the queue is
// empty or the limiter never gives one.
func (z *zone) nextTry(now time.Time) time.Time {
	if z.queue.head() == nil {
		return time.Time{}
	}
	return z.limiter.next(now)
}

// bucket is a token bucket of burst 1 (flowcontrol.NewTokenBucketRateLimiter with
// EvictionRateLimiterBurst), or one that never gives a token when qps is 0
// (NewFakeNeverRateLimiter), on the time it is given.
type bucket struct {
	qps    float64
	tokens float64
	at     time.Time // when tokens was last computed
}

func newBucket(qps float64, now time.Time) *bucket {
	return &bucket{qps: qps, tokens: 1, at: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(1, b.tokens+now.Sub(b.at).Seconds()*b.qps)
		b.at = now
	}
}

func (b *bucket) tryAccept(now time.Time) bool {
	if b.qps <= 0 {
		return false
	}
	b.refill(now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// next is when the bucket next holds a token.
func (b *bucket) next(now time.Time) time.Time {
	if b.qps <= 0 {
		return time.Time{}
	}
	b.refill(now)
	if b.tokens >= 1 {
		return now
	}
	return now.Add(time.Duration(math.Ceil((1 - b.tokens) / b.qps * float64(time.Second))))
}

// swap is SwapLimiter: a new rate gets a new, full bucket, drained if the old one was empty.
func (b *bucket) swap(qps float64, now time.Time) {
	if b.qps == qps {
		return
	}
	empty := !b.tryAccept(now)
	*b = *newBucket(qps, now)
	if qps > 0 && empty {
		b.tryAccept(now)
	}
}

// timedQueue is the UniqueQueue of a RateLimitedTimedQueue: values ordered by when they are due,
// and the set of values added and not removed (a value processed successfully leaves the queue
// but stays in the set, so it is not added again until removed).
type timedQueue struct {
	items []*timedValue
	set   map[string]bool
}

type timedValue struct {
	value, uid string
	processAt  time.Time
}

// add queues value unless it is in the set; it reports whether it did.
func (q *timedQueue) add(value, uid string, now time.Time) bool {
	if q.set[value] {
		return false
	}
	if q.set == nil {
		q.set = map[string]bool{}
	}
	q.set[value] = true
	q.items = append(q.items, &timedValue{value: value, uid: uid, processAt: now})
	q.sort()
	return true
}

// remove takes value out of the queue and the set; it reports whether it was in the set.
func (q *timedQueue) remove(value string) bool {
	q.removeFromQueue(value)
	if !q.set[value] {
		return false
	}
	delete(q.set, value)
	return true
}

func (q *timedQueue) removeFromQueue(value string) {
	for i, v := range q.items {
		if v.value == value {
			q.items = append(q.items[:i], q.items[i+1:]...)
			return
		}
	}
}

func (q *timedQueue) head() *timedValue {
	if len(q.items) == 0 {
		return nil
	}
	return q.items[0]
}

func (q *timedQueue) empty() bool { return len(q.items) == 0 }

func (q *timedQueue) sort() {
	sort.SliceStable(q.items, func(i, j int) bool { return q.items[i].processAt.Before(q.items[j].processAt) })
}

func (q *timedQueue) names() []string {
	names := []string{}
	for _, v := range q.items {
		names = append(names, v.value)
	}
	return names
}
