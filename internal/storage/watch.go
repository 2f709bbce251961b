package storage

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	apistorage "k8s.io/apiserver/pkg/storage"
)

// maxPending is how many undelivered changes a watcher may hold before it is closed, as
// kube-apiserver's watch cache closes watchers that cannot keep up. The client then resumes from
// the last resourceVersion it saw.
const maxPending = 100000

// bookmarkEvery is how often a watch that allows bookmarks gets one (kube-apiserver's watch cache
// sends them about once a minute).
const bookmarkEvery = time.Minute

// watcher delivers one watch's events. Writers hand it changes without blocking (offer, under the
// store's lock); its own goroutine filters them and feeds the result channel at the client's pace.
type watcher struct {
	store     *Store
	key       string // exact key, or prefix ending in "/" when recursive
	recursive bool
	pred      apistorage.SelectionPredicate
	newFunc   func() runtime.Object

	mu      sync.Mutex
	pending []change
	signal  chan struct{}
	done    chan struct{}
	once    sync.Once
	result  chan watch.Event
	lastRV  uint64
}

func (w *watcher) matchesKey(key string) bool {
	if w.recursive {
		return strings.HasPrefix(key, w.key)
	}
	return key == w.key
}

// offer queues c if it concerns this watch. Called with the store locked: never blocks.
func (w *watcher) offer(c change) {
	if !w.matchesKey(c.key) {
		return
	}
	w.mu.Lock()
	overflow := len(w.pending) >= maxPending
	if !overflow {
		w.pending = append(w.pending, c)
	}
	w.mu.Unlock()
	if overflow {
		w.Stop()
		return
	}
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Stop ends the watch; ResultChan is closed once the goroutine exits.
func (w *watcher) Stop() {
	w.once.Do(func() {
		close(w.done)
		w.store.mu.Lock()
		delete(w.store.watchers, w)
		w.store.mu.Unlock()
	})
}

func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

// run delivers initial events, then changes as they come, then closes the result channel.
func (w *watcher) run(initial []watch.Event) {
	defer close(w.result)
	for _, ev := range initial {
		if !w.send(ev) {
			return
		}
	}
	var tick <-chan time.Time
	if w.pred.AllowWatchBookmarks {
		t := time.NewTicker(bookmarkEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		w.mu.Unlock()
		for _, c := range batch {
			ev, ok := w.filter(c)
			w.lastRV = c.rv
			if ok && !w.send(ev) {
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		select {
		case <-w.done:
			return
		case <-w.signal:
		case <-tick:
			if !w.send(w.bookmark(w.lastRV, false)) {
				return
			}
		}
	}
}

func (w *watcher) send(ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.done:
		return false
	}
}

// filter turns a change into the event this watch sees: objects that start or stop matching the
// selector appear as added or deleted, as etcd3's watcher and the watch cache report them.
func (w *watcher) filter(c change) (watch.Event, bool) {
	curPasses := c.typ != watch.Deleted && w.matches(c.obj)
	oldPasses := c.prev != nil && w.matches(c.prev)
	switch {
	case c.typ == watch.Deleted && oldPasses:
		return watch.Event{Type: watch.Deleted, Object: c.obj.DeepCopyObject()}, true
	case curPasses && oldPasses:
		return watch.Event{Type: watch.Modified, Object: c.obj.DeepCopyObject()}, true
	case curPasses:
		return watch.Event{Type: watch.Added, Object: c.obj.DeepCopyObject()}, true
	case oldPasses && c.typ == watch.Modified:
		gone, err := stamp(c.prev, c.rv)
		if err != nil {
			return watch.Event{}, false
		}
		return watch.Event{Type: watch.Deleted, Object: gone}, true
	}
	return watch.Event{}, false
}

func (w *watcher) matches(obj runtime.Object) bool {
	ok, err := w.pred.Matches(obj)
	return err == nil && ok
}

// bookmark is an empty object carrying only a resourceVersion (and, after the initial events of a
// watch-list, the annotation that marks their end).
func (w *watcher) bookmark(rv uint64, initialEnd bool) watch.Event {
	obj := w.newFunc()
	_ = versioner.UpdateObject(obj, rv)
	if initialEnd {
		if m, err := metaAccessor(obj); err == nil {
			m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
	}
	return watch.Event{Type: watch.Bookmark, Object: obj}
}

// startWatch registers a watch on key from resourceVersion rv (0: from the current state, sending
// it first as ADDED events). sendInitial forces the current state first even with rv set, and
// then a bookmark marks the end of the initial events, as a watch-list client expects.
func (s *Store) startWatch(key string, recursive bool, rv uint64, sendInitial *bool,
	pred apistorage.SelectionPredicate, newFunc func() runtime.Object) (watch.Interface, error) {
	if recursive && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	w := &watcher{
		store: s, key: key, recursive: recursive, pred: pred, newFunc: newFunc,
		signal: make(chan struct{}, 1), done: make(chan struct{}), result: make(chan watch.Event, 100),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var initial []watch.Event
	withInitial := (sendInitial == nil && rv == 0) || (sendInitial != nil && *sendInitial)
	switch {
	case withInitial:
		s.visit(key, recursive, func(e *entry) {
			if w.matches(e.obj) {
				initial = append(initial, watch.Event{Type: watch.Added, Object: e.obj.DeepCopyObject()})
			}
		})
		if sendInitial != nil && *sendInitial && pred.AllowWatchBookmarks {
			initial = append(initial, w.bookmark(s.rv, true))
		}
		w.lastRV = s.rv
	case rv < s.oldestRV():
		// The same words as kube-apiserver's watch cache.
		gone := errors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rv, s.oldestRV()))
		w.result <- watch.Event{Type: watch.Error, Object: &gone.ErrStatus}
		close(w.result)
		return w, nil
	default:
		for i := 0; i < s.histLen; i++ {
			c := s.history[(s.histHead+i)%len(s.history)]
			if c.rv > rv && w.matchesKey(c.key) {
				w.pending = append(w.pending, c)
			}
		}
		w.lastRV = rv
	}
	s.watchers[w] = struct{}{}
	go w.run(initial)
	return w, nil
}

// visit calls f for each object at key (or under it, when recursive), in key order. s.mu is held.
func (s *Store) visit(key string, recursive bool, f func(*entry)) {
	if !recursive {
		if e := s.get(key); e != nil {
			f(e)
		}
		return
	}
	s.objects.AscendGreaterOrEqual(&entry{key: key}, func(e *entry) bool {
		if !strings.HasPrefix(e.key, key) {
			return false
		}
		f(e)
		return true
	})
}

// WatcherCount is the number of open watches (for tests and metrics).
func (s *Store) WatcherCount() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.watchers)
}

// Idle reports whether every watcher has delivered everything queued to it. Together with the
// components' own queues it tells the clock that a virtual moment has settled.
func (s *Store) Idle() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for w := range s.watchers {
		w.mu.Lock()
		n := len(w.pending)
		w.mu.Unlock()
		if n > 0 || len(w.result) > 0 {
			return false
		}
	}
	return true
}
