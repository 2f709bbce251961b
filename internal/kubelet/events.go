package kubelet

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record/util"
)

// The kubelet's event source (cmd/kubelet/app/server.go, makeEventRecorder).
const componentKubelet = "kubelet"

// podRef is the reference ref.GetReference makes for a pod.
func podRef(pod *v1.Pod) *v1.ObjectReference {
	return &v1.ObjectReference{
		Kind:            "Pod",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		APIVersion:      "v1",
		ResourceVersion: pod.ResourceVersion,
	}
}

// containerRef is kubecontainer.GenerateContainerRef: the pod's reference with the container's
// field path.
func containerRef(pod *v1.Pod, c *v1.Container) *v1.ObjectReference {
	ref := podRef(pod)
	ref.FieldPath = fieldPath(pod, c.Name)
	return ref
}

// fieldPath locates a container within its pod (pkg/kubelet/container/ref.go).
func fieldPath(pod *v1.Pod, name string) string {
	for i, c := range pod.Spec.Containers {
		if c.Name == name {
			if name == "" {
				return fmt.Sprintf("spec.containers[%d]", i)
			}
			return fmt.Sprintf("spec.containers{%s}", name)
		}
	}
	for i, c := range pod.Spec.InitContainers {
		if c.Name == name {
			if name == "" {
				return fmt.Sprintf("spec.initContainers[%d]", i)
			}
			return fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	for i, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			if name == "" {
				return fmt.Sprintf("spec.ephemeralContainers[%d]", i)
			}
			return fmt.Sprintf("spec.ephemeralContainers{%s}", name)
		}
	}
	return "implicitly required container " + name
}

// nodeRef is the reference the kubelet uses for events about its node.
func (k *Kubelet) nodeRef() *v1.ObjectReference {
	return &v1.ObjectReference{Kind: "Node", Name: k.node.Name, UID: k.node.UID, APIVersion: "v1"}
}

// event records an event the way client-go's recorder and broadcaster do: the recorder makes the
// event (recorder.makeEvent, generateEvent) and the sink runs it through the EventCorrelator, which
// dedups it into a count, aggregates similar ones and drops spam.
func (k *Kubelet) event(ref *v1.ObjectReference, eventType, reason, message string) {
	t := metav1.NewTime(k.now)
	// Real events are made nanoseconds apart; the machine makes several at one instant, as do
	// the scheduler and the controllers on the same clock (package eventname).
	stamp := k.eventStamps.Stamp(k.wall(k.now))
	ns := ref.Namespace
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	ev := &v1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      util.GenerateEventName(ref.Name, stamp),
			Namespace: ns,
		},
		InvolvedObject:      *ref,
		Reason:              reason,
		Message:             message,
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
		Type:                eventType,
		Source:              v1.EventSource{Component: componentKubelet, Host: k.node.Name},
		ReportingController: componentKubelet,
		ReportingInstance:   k.node.Name,
	}
	res, err := k.events.EventCorrelate(ev)
	if err != nil || res.Skip {
		return
	}
	out := res.Event.DeepCopy()
	out.FirstTimestamp = metav1.NewTime(k.wall(out.FirstTimestamp.Time))
	out.LastTimestamp = metav1.NewTime(k.wall(out.LastTimestamp.Time))
	k.outSeq++
	k.out.Events = append(k.out.Events, EventRecord{Event: out, Update: out.Count > 1, Seq: k.outSeq})
	k.outAt.events = append(k.outAt.events, k.now)
}

func (k *Kubelet) eventf(ref *v1.ObjectReference, eventType, reason, format string, args ...any) {
	k.event(ref, eventType, reason, fmt.Sprintf(format, args...))
}
