package storage

import (
	"reflect"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

var (
	timeType      = reflect.TypeOf(metav1.Time{})
	microTimeType = reflect.TypeOf(metav1.MicroTime{})
)

// shift ages the world by d: every timestamp of every stored object moves back by d. Each changed
// object gets a new resourceVersion and a MODIFIED event, so that caches (informers) see the aged
// timestamps too and nobody writes the old ones back.
func (s *Store) shift(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*entry
	s.objects.Ascend(func(e *entry) bool {
		all = append(all, e)
		return true
	})
	for _, e := range all {
		aged := e.obj.DeepCopyObject()
		if !shiftTimes(reflect.ValueOf(aged), -d) {
			continue
		}
		s.rv++
		stored, err := stamp(aged, s.rv)
		if err != nil {
			s.rv--
			continue
		}
		s.commit(change{rv: s.rv, key: e.key, typ: watch.Modified, obj: stored, prev: e.obj})
	}
}

// shiftTimes adds d to every metav1.Time and metav1.MicroTime reachable from v (which must be
// addressable through pointers) and reports whether it changed any non-zero one.
func shiftTimes(v reflect.Value, d time.Duration) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return false
		}
		return shiftTimes(v.Elem(), d)
	case reflect.Struct:
		switch v.Type() {
		case timeType:
			t := v.Addr().Interface().(*metav1.Time)
			if t.IsZero() {
				return false
			}
			t.Time = t.Time.Add(d)
			return true
		case microTimeType:
			t := v.Addr().Interface().(*metav1.MicroTime)
			if t.IsZero() {
				return false
			}
			t.Time = t.Time.Add(d)
			return true
		}
		changed := false
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if shiftTimes(f, d) {
				changed = true
			}
		}
		return changed
	case reflect.Slice, reflect.Array:
		changed := false
		for i := 0; i < v.Len(); i++ {
			if shiftTimes(v.Index(i), d) {
				changed = true
			}
		}
		return changed
	case reflect.Map:
		// Map values are not addressable: copy, shift, store back.
		changed := false
		iter := v.MapRange()
		for iter.Next() {
			val := reflect.New(iter.Value().Type()).Elem()
			val.Set(iter.Value())
			if shiftTimes(val, d) {
				v.SetMapIndex(iter.Key(), val)
				changed = true
			}
		}
		return changed
	}
	return false
}
