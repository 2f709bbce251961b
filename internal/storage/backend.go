package storage

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	apistorage "k8s.io/apiserver/pkg/storage"
)

type storeKey struct{}

// WithStore returns a context whose requests go to s.
func WithStore(ctx context.Context, s *Store) context.Context {
	return context.WithValue(ctx, storeKey{}, s)
}

// FromContext returns the cluster store a request belongs to.
func FromContext(ctx context.Context) (*Store, bool) {
	s, ok := ctx.Value(storeKey{}).(*Store)
	return s, ok
}

func metaAccessor(obj runtime.Object) (metav1.Object, error) { return meta.Accessor(obj) }

// Backend is the storage.Interface for one resource. It is shared by all clusters: each call works
// on the Store found in its context.
type Backend struct {
	prefix  string
	newFunc func() runtime.Object
	codec   runtime.Codec
	anchor  TTLAnchor
}

// TTLAnchor tells from when an object's time to live counts: etcd counts it from the write, and
// so does kubesim, except for an object written during a fast-forward that says when it was last
// touched in virtual time (an event written at the end of the window but last seen early in it
// expires an hour after it was last seen).
type TTLAnchor func(obj runtime.Object) time.Time

// WithTTLAnchor sets the resource's TTL anchor.
func (b *Backend) WithTTLAnchor(a TTLAnchor) *Backend {
	b.anchor = a
	return b
}

var _ apistorage.Interface = (*Backend)(nil)

// NewBackend returns the storage for the resource whose keys start with prefix. Objects are
// written through codec (encoded in the storage version and decoded back, with defaulting), so
// what is stored is exactly what etcd would give back: empty lists become absent, timestamps lose
// their sub-second part, defaults of the storage version apply.
func NewBackend(prefix string, newFunc func() runtime.Object, codec runtime.Codec) *Backend {
	return &Backend{prefix: prefix, newFunc: newFunc, codec: codec}
}

// normalize round-trips obj through the storage codec, into a new object.
func (b *Backend) normalize(obj runtime.Object) (runtime.Object, error) {
	if b.codec == nil {
		return obj.DeepCopyObject(), nil
	}
	data, err := runtime.Encode(b.codec, obj)
	if err != nil {
		return nil, err
	}
	out := b.newFunc()
	got, _, err := b.codec.Decode(data, nil, out)
	if err != nil {
		return nil, err
	}
	return got, nil
}

func (b *Backend) store(ctx context.Context) (*Store, error) {
	s, ok := FromContext(ctx)
	if !ok {
		return nil, errors.NewInternalError(fmt.Errorf("no cluster in the request context for %s", b.prefix))
	}
	return s, nil
}

func (b *Backend) Versioner() apistorage.Versioner { return versioner }

func (b *Backend) Create(ctx context.Context, key string, obj, out runtime.Object, ttl uint64) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.create(ctx, key, obj, out, ttl, b.normalize, b.anchor)
}

func (b *Backend) Delete(ctx context.Context, key string, out runtime.Object, pre *apistorage.Preconditions,
	validate apistorage.ValidateObjectFunc, _ runtime.Object, _ apistorage.DeleteOptions) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.delete(ctx, key, out, pre, validate)
}

func (b *Backend) Watch(ctx context.Context, key string, opts apistorage.ListOptions) (watch.Interface, error) {
	s, err := b.store(ctx)
	if err != nil {
		return nil, err
	}
	rv, err := parseRV(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	w, err := s.startWatch(key, opts.Recursive, rv, opts.SendInitialEvents, opts.Predicate, b.newFunc)
	if err != nil {
		return nil, err
	}
	if ww, ok := w.(*watcher); ok {
		go func() {
			select {
			case <-ctx.Done():
				ww.Stop()
			case <-ww.done:
			}
		}()
	}
	return w, nil
}

func (b *Backend) Get(ctx context.Context, key string, opts apistorage.GetOptions, out runtime.Object) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	if _, err := parseRV(opts.ResourceVersion); err != nil {
		return err
	}
	return s.read(key, out, opts.IgnoreNotFound)
}

func (b *Backend) GetList(ctx context.Context, key string, opts apistorage.ListOptions, listObj runtime.Object) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.getList(key, b.prefix, opts, listObj)
}

func (b *Backend) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool,
	pre *apistorage.Preconditions, tryUpdate apistorage.UpdateFunc, _ runtime.Object) error {
	s, err := b.store(ctx)
	if err != nil {
		return err
	}
	return s.update(ctx, key, dest, ignoreNotFound, pre, tryUpdate, b.normalize, b.anchor)
}

func (b *Backend) Stats(ctx context.Context) (apistorage.Stats, error) {
	s, ok := FromContext(ctx)
	if !ok {
		return apistorage.Stats{}, nil
	}
	return apistorage.Stats{ObjectCount: int64(len(s.Keys(b.prefix)))}, nil
}

func (b *Backend) ReadinessCheck() error                                  { return nil }
func (b *Backend) RequestWatchProgress(ctx context.Context) error         { return nil }
func (b *Backend) EnableResourceSizeEstimation(apistorage.KeysFunc) error { return nil }
func (b *Backend) CompactRevision() int64                                 { return 0 }

func (b *Backend) GetCurrentResourceVersion(ctx context.Context) (uint64, error) {
	s, err := b.store(ctx)
	if err != nil {
		return 0, err
	}
	return s.ResourceVersion(), nil
}

// parseRV parses a resourceVersion with upstream's own error for a malformed one.
func parseRV(rv string) (uint64, error) {
	if rv == "" {
		return 0, nil
	}
	return versioner.ParseResourceVersion(rv)
}
