package kubelet

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// outMoments records when (on the machine's time line) each pod status and event record waiting
// to be handed out was made, for coalescing (see Ready).
type outMoments struct {
	statuses []time.Time
	events   []time.Time
	// the lengths after the last compaction: compact works again once they have doubled
	statusesLen, eventsLen int
}

// coalesce keeps, of rd's pod statuses and event records, only those made at the latest moment
// of their pod or event, and forgets the moments.
func (m *outMoments) coalesce(rd *Ready) {
	m.compactAll(rd)
	m.statuses, m.events = m.statuses[:0], m.events[:0]
	m.statusesLen, m.eventsLen = 0, 0
}

// compact coalesces the records held back so far once they have piled up, so that a long Step
// holds about as many records as there are pods and event names. Coalescing a prefix and then
// the whole keeps the same records as coalescing the whole at once.
func (m *outMoments) compact(rd *Ready) {
	if len(rd.PodStatuses) > 2*m.statusesLen+64 || len(rd.Events) > 2*m.eventsLen+64 {
		m.compactAll(rd)
		m.statusesLen, m.eventsLen = len(rd.PodStatuses), len(rd.Events)
	}
}

func (m *outMoments) compactAll(rd *Ready) {
	if spans(m.statuses) {
		rd.PodStatuses, m.statuses = latestStatuses(rd.PodStatuses, m.statuses)
	}
	if spans(m.events) {
		rd.Events, m.events = latestEvents(rd.Events, m.events)
	}
}

// spans reports whether the records were made at more than one moment (they are in time order).
func spans(at []time.Time) bool { return len(at) > 1 && !at[0].Equal(at[len(at)-1]) }

type podKey struct {
	namespace, name string
	uid             types.UID
}

// latestStatuses keeps the statuses made at their pod's latest moment, in place.
func latestStatuses(list []PodStatusUpdate, at []time.Time) ([]PodStatusUpdate, []time.Time) {
	latest := make(map[podKey]time.Time, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		key := podKey{list[i].Namespace, list[i].Name, list[i].UID}
		if _, ok := latest[key]; !ok {
			latest[key] = at[i]
		}
	}
	n := 0
	for i, u := range list {
		if at[i].Equal(latest[podKey{u.Namespace, u.Name, u.UID}]) {
			list[n], at[n] = u, at[i]
			n++
		}
	}
	clear(list[n:])
	return list[:n], at[:n]
}

// latestEvents keeps the records made at their event's latest moment, in place; the first kept
// record of an event first created here becomes the create.
func latestEvents(list []EventRecord, at []time.Time) ([]EventRecord, []time.Time) {
	type state struct {
		latest  time.Time
		created bool // the first record was a create
		kept    bool // a record has been kept
	}
	events := make(map[string]*state, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		key := list[i].Event.Namespace + "/" + list[i].Event.Name
		st := events[key]
		if st == nil {
			st = &state{latest: at[i]}
			events[key] = st
		}
		st.created = !list[i].Update // ends as the first record's
	}
	n := 0
	for i, r := range list {
		st := events[r.Event.Namespace+"/"+r.Event.Name]
		if !at[i].Equal(st.latest) {
			continue
		}
		if !st.kept && st.created {
			r.Update = false
		}
		st.kept = true
		list[n], at[n] = r, at[i]
		n++
	}
	clear(list[n:])
	return list[:n], at[:n]
}
