package storage

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	apistorage "k8s.io/apiserver/pkg/storage"
)

// getList serves a list: the newest state, or the state at an exact older resourceVersion (a
// continued list, or resourceVersionMatch=Exact) rebuilt from the change history, with limit and
// continue as etcd3 gives them.
func (s *Store) getList(key, resourcePrefix string, opts apistorage.ListOptions, listObj runtime.Object) error {
	recursive := opts.Recursive
	if recursive && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	keyPrefix := resourcePrefix
	if !strings.HasSuffix(keyPrefix, "/") {
		keyPrefix += "/"
	}
	withRev, continueKey, err := apistorage.ValidateListOptions(keyPrefix, versioner, opts)
	if err != nil {
		return err
	}
	entries, rv, err := s.snapshot(key, recursive, uint64(withRev), continueKey != "")
	if err != nil {
		return err
	}
	pred := opts.Predicate
	var items []runtime.Object
	var next string
	var remaining int64
	for i, e := range entries {
		if continueKey != "" && e.key < continueKey {
			continue
		}
		if pred.Limit > 0 && int64(len(items)) == pred.Limit {
			next = e.key
			for _, rest := range entries[i:] {
				if ok, _ := pred.Matches(rest.obj); ok {
					remaining++
				}
			}
			break
		}
		ok, err := pred.Matches(e.obj)
		if err != nil {
			return err
		}
		if ok {
			items = append(items, e.obj.DeepCopyObject())
		}
	}
	if err := meta.SetList(listObj, items); err != nil {
		return err
	}
	var cont string
	var remainingPtr *int64
	if next != "" {
		cont, err = apistorage.EncodeContinue(next, keyPrefix, int64(rv))
		if err != nil {
			return err
		}
		if pred.Empty() {
			remainingPtr = &remaining
		}
	}
	return versioner.UpdateList(listObj, rv, cont, remainingPtr)
}

// snapshot returns the entries at key (or under it) in key order at resourceVersion rv (0: now),
// and the resourceVersion they were read at.
func (s *Store) snapshot(key string, recursive bool, rv uint64, continued bool) ([]*entry, uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var entries []*entry
	s.visit(key, recursive, func(e *entry) { entries = append(entries, e) })
	if rv == 0 || rv >= s.rv {
		return entries, s.rv, nil
	}
	if rv < s.oldestRV() {
		if continued {
			return nil, 0, errors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
		}
		return nil, 0, errors.NewResourceExpired("The resourceVersion for the provided list is too old.")
	}
	// Undo, newest first, every change made after rv.
	state := make(map[string]*entry, len(entries))
	for _, e := range entries {
		state[e.key] = e
	}
	for i := s.histLen - 1; i >= 0; i-- {
		c := s.history[(s.histHead+i)%len(s.history)]
		if c.rv <= rv {
			break
		}
		if c.key != key && !(recursive && strings.HasPrefix(c.key, key)) {
			continue
		}
		if c.typ == watch.Added {
			delete(state, c.key)
			continue
		}
		prevRV, _ := versioner.ObjectResourceVersion(c.prev)
		state[c.key] = &entry{key: c.key, obj: c.prev, rv: prevRV}
	}
	entries = entries[:0]
	for _, e := range state {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.key, b.key) })
	return entries, rv, nil
}
