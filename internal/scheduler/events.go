package scheduler

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"sort"
	"time"

	"github.com/google/uuid"
	v1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"kubesim.dev/kubesim/internal/eventname"
)

// Timing of client-go's events.k8s.io broadcaster (tools/events/event_broadcaster.go).
const (
	seriesFinishTime  = 6 * time.Minute
	seriesRefreshTime = 30 * time.Minute
)

// eventKey is tools/events eventKey: events that agree on all of it are one series.
type eventKey struct {
	eventType, action, reason string
	reportingController       string
	reportingInstance         string
	regarding, related        v1.ObjectReference
}

// sinkWrite is one write the broadcaster sends to the API: a create, or a strategic merge patch
// of an existing event's series.
type sinkWrite struct {
	Event *eventsv1.Event
	Patch []byte // nil for a create
}

// Recorder reproduces client-go's events.k8s.io recorder and broadcaster (tools/events), which
// kube-scheduler records with, on the cluster's clock: the recorder makes the event, and the
// broadcaster keeps a cache of the events it sent. The second occurrence of an event (same type,
// action, reason, reporter and regarding object, including its resourceVersion) turns it into a
// series, patched with count 2; later ones only count in the cache until the series is refreshed
// (every 30 minutes) or finished (6 minutes after its last occurrence). Singletons leave the
// cache after 6 minutes. The real library stamps events with time.Now and sends them from
// goroutines, so it cannot be used on a virtual clock. A Recorder does no I/O: it returns the
// writes to send. It is not safe for concurrent use.
type Recorder struct {
	controller, instance string
	rnd                  *rand.Rand
	cache                map[eventKey]*eventsv1.Event
	stamps               *eventname.Stamper
}

// NewRecorder returns the recorder of a reporting controller running on host: kube-scheduler's
// reportingInstance is "<controller>-<hostname>" (NewRecorder in tools/events).
func NewRecorder(controller, host string, rnd *rand.Rand) *Recorder {
	return &Recorder{controller: controller, instance: controller + "-" + host, rnd: rnd, cache: map[eventKey]*eventsv1.Event{},
		stamps: eventname.New(eventname.Scheduler)}
}

// podReference is what reference.GetReference makes for a pod.
func podReference(pod *v1.Pod) v1.ObjectReference {
	return v1.ObjectReference{
		Kind:            "Pod",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		APIVersion:      "v1",
		ResourceVersion: pod.ResourceVersion,
	}
}

// Eventf records an event about regarding (and optionally related), as
// EventRecorder.Eventf(regarding, related, eventtype, reason, action, note, args...).
func (r *Recorder) Eventf(regarding, related *v1.Pod, eventType, reason, action string, now time.Time, note string, args ...interface{}) []sinkWrite {
	ref := podReference(regarding)
	ev := r.makeEvent(ref, now, eventType, reason, action, fmt.Sprintf(note, args...))
	if related != nil {
		rel := podReference(related)
		ev.Related = &rel
	}
	return r.toSink(ev, now)
}

// makeEvent is recorder.makeEvent.
func (r *Recorder) makeEvent(ref v1.ObjectReference, now time.Time, eventType, reason, action, note string) *eventsv1.Event {
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: r.eventName(ref.Name, now), Namespace: ns},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: r.controller,
		ReportingInstance:   r.instance,
		Action:              action,
		Reason:              reason,
		Regarding:           ref,
		Note:                note,
		Type:                eventType,
	}
}

// eventName is record/util GenerateEventName. Real events are made nanoseconds apart; a frozen
// clock makes several at one instant, so the stamps come from the scheduler's lane (package
// eventname) to stay unique.
// The fallback name is a UUID, drawn from the seeded source.
func (r *Recorder) eventName(refName string, now time.Time) string {
	name := fmt.Sprintf("%s.%x", refName, r.stamps.Stamp(now))
	if errs := apimachineryvalidation.NameIsDNSSubdomain(name, false); len(errs) > 0 {
		id, _ := uuid.NewRandomFromReader(r.rnd)
		name = id.String()
	}
	return name
}

func keyOf(ev *eventsv1.Event) eventKey {
	k := eventKey{
		eventType: ev.Type, action: ev.Action, reason: ev.Reason,
		reportingController: ev.ReportingController, reportingInstance: ev.ReportingInstance,
		regarding: ev.Regarding,
	}
	if ev.Related != nil {
		k.related = *ev.Related
	}
	return k
}

// toSink is eventBroadcasterImpl.recordToSink.
func (r *Recorder) toSink(ev *eventsv1.Event, now time.Time) []sinkWrite {
	k := keyOf(ev)
	cached, ok := r.cache[k]
	if !ok {
		r.cache[k] = ev
		return []sinkWrite{{Event: ev.DeepCopy()}}
	}
	if cached.Series != nil {
		cached.Series.Count++
		cached.Series.LastObservedTime = metav1.NewMicroTime(now)
		return nil
	}
	cached.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(now)}
	return r.write(cached.DeepCopy())
}

// write is recordEvent's choice between a create and a series patch.
func (r *Recorder) write(ev *eventsv1.Event) []sinkWrite {
	if ev.Series == nil {
		return []sinkWrite{{Event: ev}}
	}
	patch, err := seriesPatch(ev)
	if err != nil {
		return nil // upstream: "Unable to calculate diff, no merge is possible"
	}
	return []sinkWrite{{Event: ev, Patch: patch}}
}

// seriesPatch is createPatchBytesForSeries.
func seriesPatch(ev *eventsv1.Event) ([]byte, error) {
	old := ev.DeepCopy()
	old.Series = nil
	oldData, err := json.Marshal(old)
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	return strategicpatch.CreateTwoWayMergePatch(oldData, newData, eventsv1.Event{})
}

// FinishSeries is finishSeries, which the broadcaster runs every 6 minutes: series quiet for 6
// minutes get their final count written and leave the cache; so do singletons older than that.
func (r *Recorder) FinishSeries(now time.Time) []sinkWrite {
	var out []sinkWrite
	for _, k := range r.sortedKeys() {
		ev := r.cache[k]
		if ev.Series != nil {
			if ev.Series.LastObservedTime.Time.Before(now.Add(-seriesFinishTime)) {
				out = append(out, r.write(ev.DeepCopy())...)
				delete(r.cache, k)
			}
		} else if ev.EventTime.Time.Before(now.Add(-seriesFinishTime)) {
			delete(r.cache, k)
		}
	}
	return out
}

// RefreshSeries is refreshExistingEventSeries, run every 30 minutes: every live series is
// written again.
func (r *Recorder) RefreshSeries() []sinkWrite {
	var out []sinkWrite
	for _, k := range r.sortedKeys() {
		if ev := r.cache[k]; ev.Series != nil {
			out = append(out, r.write(ev.DeepCopy())...)
		}
	}
	return out
}

// NextFinish is the first tick of the finishSeries loop (start + k×6m) that finds something to
// do, or zero when the cache is empty.
func (r *Recorder) NextFinish(start time.Time) time.Time {
	var earliest time.Time
	for _, ev := range r.cache {
		t := ev.EventTime.Time
		if ev.Series != nil {
			t = ev.Series.LastObservedTime.Time
		}
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if earliest.IsZero() {
		return time.Time{}
	}
	return nextTick(start, seriesFinishTime, earliest.Add(seriesFinishTime))
}

// HasSeries reports whether a series is live, which the refresh loop rewrites every 30 minutes.
func (r *Recorder) HasSeries() bool {
	for _, ev := range r.cache {
		if ev.Series != nil {
			return true
		}
	}
	return false
}

// nextTick is the first start + k×period strictly after t.
func nextTick(start time.Time, period time.Duration, t time.Time) time.Time {
	if t.Before(start) {
		return start
	}
	return start.Add((t.Sub(start)/period + 1) * period)
}

// Shift moves the cached times back by d, as the clock ages the world.
func (r *Recorder) Shift(d time.Duration) {
	for _, ev := range r.cache {
		ev.EventTime = metav1.NewMicroTime(ev.EventTime.Add(-d))
		if ev.Series != nil {
			ev.Series.LastObservedTime = metav1.NewMicroTime(ev.Series.LastObservedTime.Add(-d))
		}
	}
}

func (r *Recorder) sortedKeys() []eventKey {
	keys := make([]eventKey, 0, len(r.cache))
	for k := range r.cache {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return r.cache[keys[i]].Name < r.cache[keys[j]].Name })
	return keys
}
