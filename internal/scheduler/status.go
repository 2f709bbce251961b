package scheduler

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	apipod "k8s.io/kubernetes/pkg/api/v1/pod"
)

// noteLengthLimit is core/validation NoteLengthLimit: FailedScheduling notes are cut to it
// (schedule_one.go truncateMessage); the PodScheduled condition keeps the whole message.
const noteLengthLimit = 1024

func truncateMessage(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	const suffix = " ..."
	return msg[:noteLengthLimit-len(suffix)] + suffix
}

// unschedulableCondition is the PodScheduled condition handleSchedulingFailure sets.
func unschedulableCondition(pod *v1.Pod, reason, message string) v1.PodCondition {
	return v1.PodCondition{
		Type:               v1.PodScheduled,
		ObservedGeneration: apipod.CalculatePodConditionObservedGeneration(&pod.Status, pod.Generation, v1.PodScheduled),
		Status:             v1.ConditionFalse,
		Reason:             reason,
		Message:            message,
	}
}

// updateCondition is api/v1/pod UpdatePodCondition on the cluster's clock: it sets the condition
// in status and reports whether anything changed. The transition time moves only when the status
// flips.
func updateCondition(status *v1.PodStatus, cond v1.PodCondition, now time.Time) bool {
	cond.LastTransitionTime = metav1.NewTime(now)
	i, old := apipod.GetPodCondition(status, cond.Type)
	if old == nil {
		status.Conditions = append(status.Conditions, cond)
		return true
	}
	if cond.Status == old.Status {
		cond.LastTransitionTime = old.LastTransitionTime
	}
	equal := cond.Status == old.Status && cond.Reason == old.Reason && cond.Message == old.Message &&
		cond.LastProbeTime.Equal(&old.LastProbeTime) && cond.LastTransitionTime.Equal(&old.LastTransitionTime)
	status.Conditions[i] = cond
	return !equal
}

// statusPatch is schedule_one.go updatePod followed by util.PatchPodStatus: the strategic merge
// patch for pods/status that sets cond (when set) and, when nominate is set, the nominated node
// name. It returns nil when nothing would change.
func statusPatch(pod *v1.Pod, cond *v1.PodCondition, nominate *string, now time.Time) ([]byte, error) {
	newStatus := pod.Status.DeepCopy()
	nnnChanged := nominate != nil && pod.Status.NominatedNodeName != *nominate
	condChanged := cond != nil && updateCondition(newStatus, *cond, now)
	if !nnnChanged && !condChanged {
		return nil, nil
	}
	if nnnChanged {
		newStatus.NominatedNodeName = *nominate
	}
	oldData, err := json.Marshal(v1.Pod{Status: pod.Status})
	if err != nil {
		return nil, err
	}
	newData, err := json.Marshal(v1.Pod{Status: *newStatus})
	if err != nil {
		return nil, err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, &v1.Pod{})
	if err != nil {
		return nil, fmt.Errorf("failed to create merge patch for pod %q/%q: %w", pod.Namespace, pod.Name, err)
	}
	if string(patch) == "{}" {
		return nil, nil
	}
	return patch, nil
}
