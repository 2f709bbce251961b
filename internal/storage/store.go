// Package storage keeps a cluster's API objects in memory and implements k8s.io/apiserver's
// storage.Interface over them, so that upstream's registry Stores (strategies, graceful deletion,
// patch, apply, dry-run) run unchanged on top of it.
//
// One Store holds one cluster: its objects under etcd-style keys ("/pods/default/web"), a
// resourceVersion counter, and a window of recent changes from which watches resume. A Backend is
// what a registry Store sees: one per resource, shared by every cluster in the process; each call
// finds its cluster's Store in the request context. So a second cluster costs only its objects.
package storage

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/btree"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	apistorage "k8s.io/apiserver/pkg/storage"

	"kubesim.dev/kubesim/internal/clock"
)

// DefaultHistory is how many recent changes a Store keeps for watches that resume from an older
// resourceVersion. Older ones get 410 Gone, as from kube-apiserver's watch cache.
const DefaultHistory = 4096

var versioner = apistorage.APIObjectVersioner{}

// Store is one cluster's object store.
type Store struct {
	clock *clock.Clock

	mu       sync.RWMutex
	rv       uint64
	objects  *btree.BTreeG[*entry]
	history  []change // ring buffer of the last cap(history) changes
	histHead int      // index of the oldest change in history
	histLen  int
	watchers map[*watcher]struct{}
	expiry   map[string]func() bool // keys with a TTL: stop function of their expiry timer
	rand     *rand.Rand
	randMu   sync.Mutex
	seed     int64
	named    map[string]uint64 // how many times each subject was named (see derive)
}

type entry struct {
	key string
	obj runtime.Object // never mutated once stored; carries its resourceVersion
	rv  uint64
}

func lessEntry(a, b *entry) bool { return a.key < b.key }

// change is one write, as watchers see it.
type change struct {
	rv   uint64
	key  string
	typ  watch.EventType
	obj  runtime.Object // the new state (the last state for a deletion)
	prev runtime.Object // the state before, nil for a creation
}

// NewStore returns an empty store whose timestamps, TTLs and random choices come from clk and seed.
func NewStore(clk *clock.Clock, seed int64) *Store {
	s := &Store{
		clock:    clk,
		objects:  btree.NewG(16, lessEntry),
		history:  make([]change, DefaultHistory),
		watchers: map[*watcher]struct{}{},
		expiry:   map[string]func() bool{},
		rand:     rand.New(rand.NewSource(seed)),
		seed:     seed,
		named:    map[string]uint64{},
		rv:       1,
	}
	clk.OnShift(s.shift)
	return s
}

// Clock is the cluster's clock.
func (s *Store) Clock() *clock.Clock { return s.clock }

// ResourceVersion is the newest resourceVersion.
func (s *Store) ResourceVersion() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.rv
}

// Intn draws from the cluster's seeded source.
func (s *Store) Intn(n int) int {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return s.rand.Intn(n)
}

// Random choices that name things (UIDs, generated names, volume suffixes) are not drawn from one
// shared sequence, whose order would depend on which component happened to write first: each is a
// hash of the cluster's seed, what is being named, and how many times that has been named before.
// A cluster started with the same seed and driven the same way names everything the same.

// occurrence counts the times a subject has been named, so that each naming is new.
func (s *Store) occurrence(subject string) uint64 {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	n := s.named[subject]
	s.named[subject] = n + 1
	return n
}

// derive returns 32 bytes for the n-th naming of subject.
func (s *Store) derive(subject string) [32]byte {
	n := s.occurrence(subject)
	return sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%d", s.seed, subject, n)))
}

// uidFor returns a (version 4 formatted) UID for the object stored at key.
func (s *Store) uidFor(key string) types.UID {
	b := s.derive("uid\x00" + key)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// Len is the number of stored objects.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objects.Len()
}

func (s *Store) get(key string) *entry {
	e, _ := s.objects.Get(&entry{key: key})
	return e
}

// commit records a write under s.mu: it stores (or removes) the object, appends the change to the
// history and hands it to the watchers.
func (s *Store) commit(c change) {
	if c.typ == watch.Deleted {
		s.objects.Delete(&entry{key: c.key})
	} else {
		s.objects.ReplaceOrInsert(&entry{key: c.key, obj: c.obj, rv: c.rv})
	}
	i := (s.histHead + s.histLen) % len(s.history)
	if s.histLen == len(s.history) {
		s.histHead = (s.histHead + 1) % len(s.history)
	} else {
		s.histLen++
	}
	s.history[i] = c
	for w := range s.watchers {
		w.offer(c)
	}
}

// oldestRV is the resourceVersion before the oldest change still in history: a watch from it or
// anything newer can be served.
func (s *Store) oldestRV() uint64 {
	if s.histLen < len(s.history) {
		return 0
	}
	return s.history[s.histHead].rv - 1
}

// normalizer gives back an object as storage would return it after writing it: a new object that
// shares nothing with its argument.
type normalizer func(runtime.Object) (runtime.Object, error)

// stamp prepares a copy of obj for storage at resourceVersion rv.
func stamp(obj runtime.Object, rv uint64) (runtime.Object, error) {
	return stampOwned(obj.DeepCopyObject(), rv)
}

// stampOwned prepares obj itself for storage at resourceVersion rv. obj must be a fresh object
// that nobody else holds (what a normalizer returns), so that no copy is needed.
func stampOwned(obj runtime.Object, rv uint64) (runtime.Object, error) {
	if err := versioner.PrepareObjectForStorage(obj); err != nil {
		return nil, err
	}
	if err := versioner.UpdateObject(obj, rv); err != nil {
		return nil, err
	}
	return obj, nil
}

// copyInto sets *out to a deep copy of obj. out and obj have the same concrete type.
func copyInto(obj, out runtime.Object) error {
	if out == nil {
		return nil
	}
	src := reflect.ValueOf(obj.DeepCopyObject())
	dst := reflect.ValueOf(out)
	if dst.Kind() != reflect.Pointer || src.Type() != dst.Type() {
		return fmt.Errorf("storage: cannot copy %T into %T", obj, out)
	}
	dst.Elem().Set(src.Elem())
	return nil
}

// create stores obj at key. ttl (seconds) makes it expire, as etcd leases do for events.
func (s *Store) create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64, normalize normalizer, anchor TTLAnchor) error {
	if err := s.prepareNew(key, obj); err != nil {
		return err
	}
	obj, err := normalize(obj)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.get(key) != nil {
		s.mu.Unlock()
		return apistorage.NewKeyExistsError(key, 0)
	}
	s.rv++
	stored, err := stampOwned(obj, s.rv)
	if err != nil {
		s.rv--
		s.mu.Unlock()
		return err
	}
	s.commit(change{rv: s.rv, key: key, typ: watch.Added, obj: stored})
	s.setTTLLocked(key, ttl, stored, anchor)
	s.mu.Unlock()
	return copyInto(stored, out)
}

// prepareNew gives a new object the cluster's own UID and creation time, so that both follow the
// cluster's seed and clock rather than the process's.
func (s *Store) prepareNew(key string, obj runtime.Object) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if m.GetUID() != "" {
		m.SetUID(s.uidFor(key))
	}
	if ts := m.GetCreationTimestamp(); !ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(s.clock.Now().Truncate(time.Second)))
	}
	return nil
}

// setTTLLocked schedules key's expiry ttl seconds from now (or from the object's anchor time),
// replacing an earlier schedule.
func (s *Store) setTTLLocked(key string, ttl uint64, obj runtime.Object, anchor TTLAnchor) {
	if stop, ok := s.expiry[key]; ok {
		stop()
		delete(s.expiry, key)
	}
	if ttl == 0 {
		return
	}
	in := time.Duration(ttl) * time.Second
	// Only an object written during a fast-forward can have been last touched before its write
	// (a kubelet steps to the end of the window, then writes). Outside one, an object that says
	// it was seen long ago (a hand-made event from 2021) lives its TTL from the write, as in etcd.
	if _, replaying := s.clock.ReplayEnd(); anchor != nil && replaying {
		if at := anchor(obj); !at.IsZero() {
			in = max(at.Add(in).Sub(s.clock.Now()), 0)
		}
	}
	t := s.clock.AfterFunc(in, func() { s.expire(key) })
	s.expiry[key] = t.Stop
}

func (s *Store) expire(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.expiry, key)
	e := s.get(key)
	if e == nil {
		return
	}
	s.rv++
	last, _ := stamp(e.obj, s.rv)
	s.commit(change{rv: s.rv, key: key, typ: watch.Deleted, obj: last, prev: e.obj})
}

func (s *Store) read(key string, out runtime.Object, ignoreNotFound bool) error {
	s.mu.RLock()
	e := s.get(key)
	s.mu.RUnlock()
	if e == nil {
		if ignoreNotFound {
			return runtime.SetZeroValue(out)
		}
		return apistorage.NewKeyNotFoundError(key, 0)
	}
	return copyInto(e.obj, out)
}

// list returns the objects under prefix (or at key exactly when not recursive) that pass pred.
func (s *Store) list(key string, recursive bool, pred apistorage.SelectionPredicate) ([]runtime.Object, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var items []runtime.Object
	var err error
	visit := func(e *entry) bool {
		ok, merr := pred.Matches(e.obj)
		if merr != nil {
			err = merr
			return false
		}
		if ok {
			items = append(items, e.obj.DeepCopyObject())
		}
		return true
	}
	if !recursive {
		if e := s.get(key); e != nil {
			visit(e)
		}
		return items, s.rv, err
	}
	prefix := key
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	s.objects.AscendGreaterOrEqual(&entry{key: prefix}, func(e *entry) bool {
		if !strings.HasPrefix(e.key, prefix) {
			return false
		}
		return visit(e)
	})
	return items, s.rv, err
}

// update runs tryUpdate against the current object until its result can be stored without an
// intervening write (optimistic concurrency, like etcd's compare-and-swap).
func (s *Store) update(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool,
	pre *apistorage.Preconditions, tryUpdate apistorage.UpdateFunc, normalize normalizer, anchor TTLAnchor) error {
	for {
		s.mu.RLock()
		e := s.get(key)
		s.mu.RUnlock()
		var cur runtime.Object
		var curRV uint64
		if e != nil {
			cur, curRV = e.obj.DeepCopyObject(), e.rv
		} else {
			if !ignoreNotFound {
				return apistorage.NewKeyNotFoundError(key, 0)
			}
			cur = reflect.New(reflect.TypeOf(dest).Elem()).Interface().(runtime.Object)
		}
		if e != nil {
			if err := pre.Check(key, cur); err != nil {
				return err
			}
		}
		next, ttl, err := tryUpdate(cur, apistorage.ResponseMeta{ResourceVersion: curRV})
		if err != nil {
			return err
		}
		if e == nil {
			if err := s.prepareNew(key, next); err != nil {
				return err
			}
		}
		if next, err = normalize(next); err != nil {
			return err
		}
		if e != nil && unchanged(e.obj, next) {
			return copyInto(e.obj, dest)
		}
		s.mu.Lock()
		now := s.get(key)
		if (now == nil) != (e == nil) || (now != nil && now.rv != curRV) {
			s.mu.Unlock()
			continue // someone else wrote in between: try again on the new state
		}
		s.rv++
		stored, err := stampOwned(next, s.rv)
		if err != nil {
			s.rv--
			s.mu.Unlock()
			return err
		}
		c := change{rv: s.rv, key: key, typ: watch.Modified, obj: stored}
		if e == nil {
			c.typ = watch.Added
		} else {
			c.prev = e.obj
		}
		s.commit(c)
		if ttl != nil {
			s.setTTLLocked(key, *ttl, stored, anchor)
		}
		s.mu.Unlock()
		return copyInto(stored, dest)
	}
}

// unchanged reports whether next equals stored apart from the resourceVersion: such an update
// stores nothing and keeps the resourceVersion, as etcd3's GuaranteedUpdate does.
func unchanged(stored, next runtime.Object) bool {
	a, b := stored.DeepCopyObject(), next.DeepCopyObject()
	if versioner.PrepareObjectForStorage(a) != nil || versioner.PrepareObjectForStorage(b) != nil {
		return false
	}
	return equality.Semantic.DeepEqual(a, b)
}

func (s *Store) delete(ctx context.Context, key string, out runtime.Object, pre *apistorage.Preconditions,
	validate apistorage.ValidateObjectFunc) error {
	for {
		s.mu.RLock()
		e := s.get(key)
		s.mu.RUnlock()
		if e == nil {
			return apistorage.NewKeyNotFoundError(key, 0)
		}
		cur := e.obj.DeepCopyObject()
		if err := pre.Check(key, cur); err != nil {
			return err
		}
		if err := validate(ctx, cur); err != nil {
			return err
		}
		s.mu.Lock()
		now := s.get(key)
		if now == nil || now.rv != e.rv {
			s.mu.Unlock()
			continue
		}
		s.rv++
		// The deleted object is reported at the deletion's resourceVersion, as etcd3 does.
		last, err := stamp(e.obj, s.rv)
		if err != nil {
			s.rv--
			s.mu.Unlock()
			return err
		}
		s.commit(change{rv: s.rv, key: key, typ: watch.Deleted, obj: last, prev: e.obj})
		if stop, ok := s.expiry[key]; ok {
			stop()
			delete(s.expiry, key)
		}
		s.mu.Unlock()
		return copyInto(last, out)
	}
}

// Keys lists the stored keys under prefix, sorted.
func (s *Store) Keys(prefix string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var keys []string
	s.objects.AscendGreaterOrEqual(&entry{key: prefix}, func(e *entry) bool {
		if !strings.HasPrefix(e.key, prefix) {
			return false
		}
		keys = append(keys, e.key)
		return true
	})
	sort.Strings(keys)
	return keys
}

// nameAlphabet is the alphabet of apimachinery's generated name suffixes (no vowels, no
// look-alike characters).
const nameAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// Suffix returns n characters of nameAlphabet for the next naming of subject.
func (s *Store) Suffix(subject string, n int) string {
	b := s.derive("suffix\x00" + subject)
	out := make([]byte, n)
	for i := range out {
		out[i] = nameAlphabet[int(b[i])%len(nameAlphabet)]
	}
	return string(out)
}

// GenerateName completes a metadata.generateName as apimachinery's SimpleNameGenerator does: the
// base, cut to leave room for the suffix within 63 characters, and 5 random characters. scope
// (e.g. "pods/default") keeps the names of different resources and namespaces independent.
func (s *Store) GenerateName(scope, base string) string {
	const maxBase = 63 - 5
	if len(base) > maxBase {
		base = base[:maxBase]
	}
	return base + s.Suffix(scope+"/"+base, 5)
}

// Get reads the object at key into out; a missing key is storage's NotFound error.
func (s *Store) Get(key string, out runtime.Object) error { return s.read(key, out, false) }

// List returns copies of the objects under prefix, in key order.
func (s *Store) List(prefix string) []runtime.Object {
	items, _, _ := s.list(prefix, true, apistorage.Everything)
	return items
}

// Versions maps every stored key to its object's resourceVersion: a fingerprint of the stored
// state, for tests that prove a refused request changed nothing.
func (s *Store) Versions() map[string]uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]uint64, s.objects.Len())
	s.objects.Ascend(func(e *entry) bool {
		out[e.key] = e.rv
		return true
	})
	return out
}
