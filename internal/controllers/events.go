package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/tools/record/util"
	ref "k8s.io/client-go/tools/reference"
	"k8s.io/klog/v2"

	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/eventname"
)

// recorder is client-go's event recorder and broadcaster (tools/record) on the cluster clock,
// for kubesim's own controllers: the recorder makes the event (recorderImpl.generateEvent), the
// EventCorrelator deduplicates, aggregates and rate-limits it, and the sink creates or patches it
// (recordToSink, recordEvent). Upstream's recorder reads the wall clock; this one stamps events
// at the cluster's virtual moments, and writes them at once rather than from a goroutine.
//
// The correlator keeps times of its own (similar events within 10 minutes, the spam filter's
// tokens); it runs on a time line that a fast-forward does not move back (cluster time plus
// every shift so far), so that aged events still look as old to it as they are.
type recorder struct {
	ctx    context.Context
	client kubernetes.Interface
	clock  *clock.Clock
	source v1.EventSource

	mu         sync.Mutex
	correlator *record.EventCorrelator
	offset     time.Duration // the sum of the world's shifts
	stamps     *eventname.Stamper
}

var _ record.EventRecorder = (*recorder)(nil)

func newRecorder(ctx context.Context, client kubernetes.Interface, clk *clock.Clock, component string) *recorder {
	r := &recorder{ctx: ctx, client: client, clock: clk, source: v1.EventSource{Component: component},
		stamps: eventname.New(eventname.Controllers)}
	r.correlator = record.NewEventCorrelatorWithOptions(record.CorrelatorOptions{Clock: monoClock{r}})
	return r
}

// monoClock is the correlator's time line.
type monoClock struct{ r *recorder }

func (c monoClock) Now() time.Time                  { return c.r.clock.Now().Add(c.r.offset) }
func (c monoClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// shift follows the world's aging (the clock's OnShift).
func (r *recorder) shift(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offset += d
	r.stamps.Shift(-d)
}

func (r *recorder) Event(object runtime.Object, eventtype, reason, message string) {
	r.generate(object, nil, eventtype, reason, message)
}

func (r *recorder) Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any) {
	r.generate(object, nil, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *recorder) AnnotatedEventf(object runtime.Object, annotations map[string]string, eventtype, reason, messageFmt string, args ...any) {
	r.generate(object, annotations, eventtype, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *recorder) generate(object runtime.Object, annotations map[string]string, eventtype, reason, message string) {
	logger := klog.FromContext(r.ctx)
	ref, err := ref.GetReference(scheme.Scheme, object)
	if err != nil {
		logger.Error(err, "Could not construct reference, will not report event", "object", object, "reason", reason)
		return
	}
	if !util.ValidateEventType(eventtype) {
		logger.Error(nil, "Unsupported event type", "eventType", eventtype)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	mono := monoClock{r}.Now()
	t := metav1.NewTime(mono)
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	event := &v1.Event{
		ObjectMeta:          metav1.ObjectMeta{Namespace: namespace, Annotations: annotations},
		InvolvedObject:      *ref,
		Reason:              reason,
		Message:             message,
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
		Type:                eventtype,
		Source:              r.source,
		ReportingController: r.source.Component,
		ReportingInstance:   r.source.Host,
	}
	result, err := r.correlator.EventCorrelate(event)
	if err != nil {
		logger.Error(err, "Event correlation failed")
	}
	if result == nil || result.Skip {
		return
	}
	r.write(result.Event.DeepCopy(), ref.Name)
}

// write creates the event, or patches the one it repeats, with wall times; a new event is named
// after its object and the moment it was made, as GenerateEventName names it.
func (r *recorder) write(event *v1.Event, refName string) {
	event.FirstTimestamp = metav1.NewTime(event.FirstTimestamp.Add(-r.offset))
	event.LastTimestamp = metav1.NewTime(event.LastTimestamp.Add(-r.offset))
	events := r.client.CoreV1().Events(event.Namespace)
	var stored *v1.Event
	var err error
	if event.Count > 1 {
		patch, _ := json.Marshal(map[string]any{
			"count": event.Count, "message": event.Message, "lastTimestamp": event.LastTimestamp,
		})
		stored, err = events.Patch(r.ctx, event.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	}
	if event.Count <= 1 || apierrors.IsNotFound(err) {
		event.ResourceVersion = ""
		for try := 0; try < maxNameTries; try++ {
			event.Name = util.GenerateEventName(refName, r.stamps.Stamp(event.LastTimestamp.Time))
			if stored, err = events.Create(r.ctx, event, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
				break
			}
			// Another component named an event of this object after the same instant.
		}
	}
	if err != nil {
		if r.ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			klog.FromContext(r.ctx).Error(err, "Server rejected event (will not retry!)", "reason", event.Reason)
		}
		return
	}
	// The correlator keeps the stored name and version, on its own time line.
	seen := stored.DeepCopy()
	seen.FirstTimestamp = metav1.NewTime(seen.FirstTimestamp.Add(r.offset))
	seen.LastTimestamp = metav1.NewTime(seen.LastTimestamp.Add(r.offset))
	r.correlator.UpdateState(seen)
}

// maxNameTries bounds the names a new event tries: the controllers share a lane of stamps
// (package eventname), and two of them can name events of one object after the same instant.
const maxNameTries = 64
