package kubelet

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/apis/core/v1/helper/qos"
)

// Waiting reasons before any start result (kubelet_pods.go).
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
)

// Condition reasons and messages (pkg/kubelet/status/generate.go, pkg/kubelet/types/constants.go).
const (
	reasonUnknownContainerStatuses = "UnknownContainerStatuses"
	reasonPodCompleted             = "PodCompleted"
	reasonPodFailed                = "PodFailed"
	reasonContainersNotReady       = "ContainersNotReady"
	reasonContainersNotInitialized = "ContainersNotInitialized"
	reasonPodSandboxNotReady       = "PodSandboxNotReady"
	msgNoPodSandbox                = "no pod sandbox exists"
	msgSandboxNotReady             = "pod sandbox is not ready"
)

// kubeletConditions are the pod conditions the kubelet owns (pkg/kubelet/types/pod_status.go, with
// PodReadyToStartContainers, GA in 1.37).
var kubeletConditions = []v1.PodConditionType{
	v1.PodScheduled, v1.PodReady, v1.PodInitialized, v1.ContainersReady,
	v1.PodResizeInProgress, v1.PodResizePending, v1.PodReadyToStartContainers,
}

func ownedByKubelet(t v1.PodConditionType) bool {
	for _, c := range kubeletConditions {
		if c == t {
			return true
		}
	}
	return false
}

// oldStatus is the basis of the next status: the status manager's cache, or the API's status.
func (k *Kubelet) oldStatus(p *podState) v1.PodStatus {
	return *k.oldStatusRef(p).DeepCopy()
}

// oldStatusRef is oldStatus without a copy, for reading only.
func (k *Kubelet) oldStatusRef(p *podState) *v1.PodStatus {
	if p.status != nil {
		return p.status
	}
	return k.shiftStatus(&p.pod.Status, k.offset)
}

// generateStatus is generateAPIPodStatus, on the machine's time line.
func (k *Kubelet) generateStatus(p *podState, podIsTerminal bool) v1.PodStatus {
	pod := p.pod
	old := k.oldStatusRef(p)
	apiStatus := k.shiftStatus(&pod.Status, k.offset)
	var s v1.PodStatus
	if p.sandbox != nil && p.sandbox.ip != "" {
		s.PodIP = p.sandbox.ip
		s.PodIPs = []v1.PodIP{{IP: p.sandbox.ip}}
	}
	s.QOSClass = qos.GetPodQOS(pod)
	hasInit := len(pod.Spec.InitContainers) > 0
	s.ContainerStatuses = k.containerStatuses(p, old.ContainerStatuses, pod.Spec.Containers, hasInit, false)
	s.InitContainerStatuses = k.containerStatuses(p, old.InitContainerStatuses, pod.Spec.InitContainers, hasInit, true)

	all := append(append([]v1.ContainerStatus{}, s.ContainerStatuses...), s.InitContainerStatuses...)
	s.Phase = getPhase(pod, all, podIsTerminal, k.anyRegularActive(p, pod))
	if !terminal(s.Phase) {
		switch {
		case terminal(old.Phase):
			s.Phase = old.Phase
		case terminal(apiStatus.Phase):
			s.Phase = apiStatus.Phase
		}
	}
	if s.Phase == old.Phase {
		s.Reason, s.Message = old.Reason, old.Message
		if s.Reason == "" {
			s.Reason = apiStatus.Reason
		}
		if s.Message == "" {
			s.Message = apiStatus.Message
		}
	}
	if terminal(apiStatus.Phase) && s.Phase != apiStatus.Phase {
		s.Phase = apiStatus.Phase
	}
	probeStatus(pod, &s)

	for _, c := range apiStatus.Conditions {
		if !ownedByKubelet(c.Type) {
			s.Conditions = append(s.Conditions, c)
		}
	}
	gen := pod.Generation
	all = append(append([]v1.ContainerStatus{}, s.InitContainerStatuses...), s.ContainerStatuses...)
	s.Conditions = append(s.Conditions,
		k.readyToStartCondition(p, gen),
		initializedCondition(pod, all, s.Phase, gen),
		podReadyCondition(pod, s.Conditions, all, s.Phase, gen),
		containersReadyCondition(pod, all, s.Phase, gen),
		v1.PodCondition{Type: v1.PodScheduled, ObservedGeneration: gen, Status: v1.ConditionTrue},
	)
	if ip := k.node.InternalIP; ip != "" {
		s.HostIP = ip
		s.HostIPs = []v1.HostIP{{IP: ip}}
		if pod.Spec.HostNetwork && s.PodIP == "" {
			s.PodIP = ip
			s.PodIPs = []v1.PodIP{{IP: ip}}
		}
	}
	return s
}

func terminal(p v1.PodPhase) bool { return p == v1.PodSucceeded || p == v1.PodFailed }

// probeStatus is the prober manager's UpdatePodStatus for containers without probes: a running
// container is started and ready; a regular init container that succeeded is ready.
func probeStatus(pod *v1.Pod, s *v1.PodStatus) {
	for i := range s.ContainerStatuses {
		cs := &s.ContainerStatuses[i]
		started := cs.State.Running != nil
		cs.Started = &started
		if started {
			cs.Ready = true
		}
	}
	for i := range s.InitContainerStatuses {
		cs := &s.InitContainerStatuses[i]
		started := cs.State.Running != nil
		cs.Started = &started
		if cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 {
			cs.Ready = true
		}
	}
}

// containerStatuses is convertToAPIContainerStatuses.
func (k *Kubelet) containerStatuses(p *podState, previous []v1.ContainerStatus, containers []v1.Container, hasInit, isInit bool) []v1.ContainerStatus {
	pod := p.pod
	oldStatuses := make(map[string]v1.ContainerStatus, len(containers))
	for _, st := range previous {
		oldStatuses[st.Name] = st
	}
	defaultWaiting := v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reasonContainerCreating}}
	if hasInit {
		defaultWaiting = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reasonPodInitializing}}
	}
	statuses := make(map[string]*v1.ContainerStatus, len(containers))
	for _, c := range containers {
		st := &v1.ContainerStatus{Name: c.Name, Image: c.Image, State: *defaultWaiting.DeepCopy(), VolumeMounts: volumeMountStatuses(c)}
		if old, ok := oldStatuses[c.Name]; ok {
			if old.State.Terminated != nil {
				st = old.DeepCopy()
			} else {
				st.RestartCount = old.RestartCount
				st.LastTerminationState = *old.LastTerminationState.DeepCopy()
			}
		}
		statuses[c.Name] = st
	}

	// A container that was running and disappeared from the runtime terminated with an unknown
	// status.
	for _, c := range containers {
		if p.latest(c.Name) != nil {
			continue
		}
		old, ok := oldStatuses[c.Name]
		if !ok || old.State.Terminated != nil || old.State.Running == nil {
			continue
		}
		st := statuses[c.Name]
		def := st.State.Waiting != nil && st.State.Waiting.Reason == defaultWaiting.Waiting.Reason
		if !def || st.LastTerminationState.Terminated != nil {
			continue
		}
		st.LastTerminationState.Terminated = &v1.ContainerStateTerminated{
			Reason:   "ContainerStatusUnknown",
			Message:  "The container could not be located when the pod was deleted.  The container used to be Running",
			ExitCode: 137,
		}
		if pod.DeletionTimestamp == nil {
			st.RestartCount++
		}
	}

	// The runtime's containers, latest first; the second latest of a name is its last state.
	seen := map[string]int{}
	for i := len(p.ctrs) - 1; i >= 0; i-- {
		cs := p.ctrs[i]
		if _, ok := statuses[cs.name]; !ok || seen[cs.name] >= 2 {
			continue
		}
		var oldPtr *v1.ContainerStatus
		if old, ok := oldStatuses[cs.name]; ok {
			oldPtr = &old
		}
		st := k.convertContainerStatus(cs, oldPtr)
		if cs.state == stateRunning && oldPtr != nil && oldPtr.Started != nil {
			st.Started = oldPtr.Started
		}
		if spec := specOf(pod, cs.name); spec != nil {
			st.Resources = spec.Resources.DeepCopy()
			st.AllocatedResources = spec.Resources.Requests
		}
		if seen[cs.name] == 0 {
			statuses[cs.name] = st
		} else {
			statuses[cs.name].LastTerminationState = st.State
		}
		seen[cs.name]++
	}

	// Containers that failed to start wait with the reason of the last attempt.
	for i := range containers {
		c := &containers[i]
		latest := p.latest(c.Name)
		if isInit {
			if latest != nil && latest.state == stateExited && latest.exitCode == 0 {
				continue
			}
		}
		if !shouldRestart(c, pod, latest) {
			continue
		}
		reason, ok := p.reasons[c.Name]
		if !ok {
			continue
		}
		st := statuses[c.Name]
		if st.State.Terminated != nil {
			st.LastTerminationState = st.State
		}
		st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason.err.Error(), Message: reason.msg}}
	}

	out := make([]v1.ContainerStatus, 0, len(statuses))
	if isInit {
		for _, c := range containers {
			out = append(out, *statuses[c.Name])
		}
		return out
	}
	for _, st := range statuses {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// convertContainerStatus turns the runtime's view of a container into its API status.
func (k *Kubelet) convertContainerStatus(cs *ctrRec, old *v1.ContainerStatus) *v1.ContainerStatus {
	cid := "containerd://" + cs.id
	st := &v1.ContainerStatus{
		Name:         cs.name,
		RestartCount: int32(cs.restartCount),
		Image:        cs.image,
		ImageID:      cs.imageRef,
		ContainerID:  cid,
	}
	if old != nil {
		st.VolumeMounts = old.VolumeMounts
		// RestartAllContainersOnContainerExits (beta, on) carries these over.
		if old.RestartCount > st.RestartCount {
			st.RestartCount = old.RestartCount
		}
		if old.ContainerID != st.ContainerID && old.State.Terminated != nil {
			st.LastTerminationState.Terminated = old.State.Terminated.DeepCopy()
		} else if old.LastTerminationState.Terminated != nil {
			st.LastTerminationState.Terminated = old.LastTerminationState.Terminated.DeepCopy()
		}
	}
	switch cs.state {
	case stateRunning:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.startedAt)}
		if old != nil && old.State.Terminated != nil && old.RestartCount >= int32(cs.restartCount) {
			st.RestartCount = old.RestartCount + 1
		}
	case stateCreated:
		st.State.Waiting = &v1.ContainerStateWaiting{}
	case stateExited:
		st.State.Terminated = &v1.ContainerStateTerminated{
			ExitCode:    cs.exitCode,
			Reason:      cs.reason,
			StartedAt:   metav1.NewTime(cs.startedAt),
			FinishedAt:  metav1.NewTime(cs.finishedAt),
			ContainerID: cid,
		}
	}
	return st
}

// volumeMountStatuses is the status of a container's mounts (RecursiveReadOnlyMounts, GA): the
// runtime (containerd 2.x) supports recursive read-only mounts.
func volumeMountStatuses(c v1.Container) []v1.VolumeMountStatus {
	var out []v1.VolumeMountStatus
	for _, m := range c.VolumeMounts {
		st := v1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly}
		if m.ReadOnly {
			mode := v1.RecursiveReadOnlyDisabled
			if m.RecursiveReadOnly != nil && *m.RecursiveReadOnly != v1.RecursiveReadOnlyDisabled {
				mode = v1.RecursiveReadOnlyEnabled
			}
			st.RecursiveReadOnly = &mode
		}
		out = append(out, st)
	}
	return out
}

// getPhase is the kubelet's getPhase, for regular init containers and containers, with container
// restart rules (on since 1.35).
func getPhase(pod *v1.Pod, info []v1.ContainerStatus, podIsTerminal, podHasInitialized bool) v1.PodPhase {
	spec := pod.Spec
	pendingInit, failedInitNotRestartable := 0, 0
	for _, c := range spec.InitContainers {
		if podutil.IsRestartableInitContainer(&c) {
			continue
		}
		st, ok := podutil.GetContainerStatus(info, c.Name)
		if !ok {
			pendingInit++
			continue
		}
		switch {
		case st.State.Running != nil:
			pendingInit++
		case st.State.Terminated != nil:
			if code := st.State.Terminated.ExitCode; code != 0 && !podutil.ContainerShouldRestart(c, spec, code) {
				failedInitNotRestartable++
			}
		case st.State.Waiting != nil:
			if t := st.LastTerminationState.Terminated; t != nil {
				if t.ExitCode != 0 && !podutil.ContainerShouldRestart(c, spec, t.ExitCode) {
					failedInitNotRestartable++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}
	unknown, running, waiting, stopped, stoppedNotRestartable, succeeded := 0, 0, 0, 0, 0, 0
	for _, c := range spec.Containers {
		st, ok := podutil.GetContainerStatus(info, c.Name)
		if !ok {
			unknown++
			continue
		}
		switch {
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			code := st.State.Terminated.ExitCode
			if !podutil.ContainerShouldRestart(c, spec, code) {
				stoppedNotRestartable++
			}
			if code == 0 {
				succeeded++
			}
		case st.State.Waiting != nil:
			if t := st.LastTerminationState.Terminated; t != nil {
				stopped++
				if !podutil.ContainerShouldRestart(c, spec, t.ExitCode) {
					stoppedNotRestartable++
				}
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInitNotRestartable > 0 {
		return v1.PodFailed
	}
	switch {
	case pendingInit > 0 || waiting > 0:
		return v1.PodPending
	case running > 0 && unknown == 0:
		return v1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal {
			if stopped == succeeded {
				return v1.PodSucceeded
			}
			return v1.PodFailed
		}
		if stopped != stoppedNotRestartable {
			return v1.PodRunning
		}
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		return v1.PodFailed
	default:
		return v1.PodPending
	}
}

// readyToStartCondition is GeneratePodReadyToStartContainersCondition.
func (k *Kubelet) readyToStartCondition(p *podState, gen int64) v1.PodCondition {
	c := v1.PodCondition{Type: v1.PodReadyToStartContainers, ObservedGeneration: gen}
	switch {
	case p.sandbox == nil:
		c.Status, c.Reason, c.Message = v1.ConditionFalse, reasonPodSandboxNotReady, msgNoPodSandbox
	case !p.sandbox.ready:
		c.Status, c.Reason, c.Message = v1.ConditionFalse, reasonPodSandboxNotReady, msgSandboxNotReady
	default:
		c.Status = v1.ConditionTrue
	}
	return c
}

// initializedCondition is GeneratePodInitializedCondition.
func initializedCondition(pod *v1.Pod, statuses []v1.ContainerStatus, phase v1.PodPhase, gen int64) v1.PodCondition {
	c := v1.PodCondition{Type: v1.PodInitialized, ObservedGeneration: gen}
	if statuses == nil && len(pod.Spec.InitContainers) > 0 {
		c.Status, c.Reason = v1.ConditionFalse, reasonUnknownContainerStatuses
		return c
	}
	var unknown, incomplete []string
	for _, ic := range pod.Spec.InitContainers {
		st, ok := podutil.GetContainerStatus(statuses, ic.Name)
		if !ok {
			unknown = append(unknown, ic.Name)
			continue
		}
		if podutil.IsRestartableInitContainer(&ic) {
			if st.Started == nil || !*st.Started {
				incomplete = append(incomplete, ic.Name)
			}
		} else if !st.Ready {
			incomplete = append(incomplete, ic.Name)
		}
	}
	if phase == v1.PodSucceeded && len(unknown) == 0 {
		c.Status, c.Reason = v1.ConditionTrue, reasonPodCompleted
		return c
	}
	if anyRegularStarted(pod, statuses) {
		c.Status = v1.ConditionTrue
		return c
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(incomplete) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with incomplete status: %s", incomplete))
	}
	if len(msgs) > 0 {
		c.Status, c.Reason, c.Message = v1.ConditionFalse, reasonContainersNotInitialized, strings.Join(msgs, ", ")
		return c
	}
	c.Status = v1.ConditionTrue
	return c
}

// anyRegularStarted is HasAnyRegularContainerStarted.
func anyRegularStarted(pod *v1.Pod, statuses []v1.ContainerStatus) bool {
	for _, c := range pod.Spec.Containers {
		if st, ok := podutil.GetContainerStatus(statuses, c.Name); ok && (st.State.Running != nil || st.State.Terminated != nil) {
			return true
		}
	}
	return false
}

// containersReadyCondition is GenerateContainersReadyCondition.
func containersReadyCondition(pod *v1.Pod, statuses []v1.ContainerStatus, phase v1.PodPhase, gen int64) v1.PodCondition {
	c := v1.PodCondition{Type: v1.ContainersReady, ObservedGeneration: gen}
	if statuses == nil {
		c.Status, c.Reason = v1.ConditionFalse, reasonUnknownContainerStatuses
		return c
	}
	var unknown, unready []string
	check := func(name string) {
		st, ok := podutil.GetContainerStatus(statuses, name)
		switch {
		case !ok:
			unknown = append(unknown, name)
		case !st.Ready:
			unready = append(unready, name)
		}
	}
	for _, ic := range pod.Spec.InitContainers {
		if podutil.IsRestartableInitContainer(&ic) {
			check(ic.Name)
		}
	}
	for _, rc := range pod.Spec.Containers {
		check(rc.Name)
	}
	if (phase == v1.PodSucceeded && len(unknown) == 0) || phase == v1.PodFailed {
		c.Status, c.Reason = v1.ConditionFalse, terminalReason(phase)
		return c
	}
	var msgs []string
	if len(unknown) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(unready) > 0 {
		msgs = append(msgs, fmt.Sprintf("containers with unready status: %s", unready))
	}
	if len(msgs) > 0 {
		c.Status, c.Reason, c.Message = v1.ConditionFalse, reasonContainersNotReady, strings.Join(msgs, ", ")
		return c
	}
	c.Status = v1.ConditionTrue
	return c
}

func terminalReason(phase v1.PodPhase) string {
	if phase == v1.PodFailed {
		return reasonPodFailed
	}
	return reasonPodCompleted
}

// podReadyCondition is GeneratePodReadyCondition.
func podReadyCondition(pod *v1.Pod, conditions []v1.PodCondition, statuses []v1.ContainerStatus, phase v1.PodPhase, gen int64) v1.PodCondition {
	cr := containersReadyCondition(pod, statuses, phase, gen)
	if cr.Status != v1.ConditionTrue {
		return v1.PodCondition{Type: v1.PodReady, ObservedGeneration: gen, Status: cr.Status, Reason: cr.Reason, Message: cr.Message}
	}
	var msgs []string
	for _, rg := range pod.Spec.ReadinessGates {
		_, c := podutil.GetPodConditionFromList(conditions, rg.ConditionType)
		if c == nil {
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(rg.ConditionType)))
		} else if c.Status != v1.ConditionTrue {
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(rg.ConditionType), c.Status))
		}
	}
	if len(msgs) > 0 {
		return v1.PodCondition{Type: v1.PodReady, ObservedGeneration: gen, Status: v1.ConditionFalse, Reason: "ReadinessGatesNotReady", Message: strings.Join(msgs, ", ")}
	}
	return v1.PodCondition{Type: v1.PodReady, ObservedGeneration: gen, Status: v1.ConditionTrue}
}

// sandboxReady is OnPodSandboxReady: as soon as the sandbox is up, PodReadyToStartContainers
// turns True, without waiting for the next sync.
func (k *Kubelet) sandboxReady(p *podState) {
	s := k.oldStatus(p)
	c := v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue, ObservedGeneration: p.pod.Generation}
	replaced := false
	for i := range s.Conditions {
		if s.Conditions[i].Type == c.Type {
			s.Conditions[i] = c
			replaced = true
		}
	}
	if !replaced {
		s.Conditions = append(s.Conditions, c)
	}
	k.setStatus(p, s)
}

// setStatus is the status manager's SetPodStatus: it keeps transition times, the start time and
// the observed generation, normalizes timestamps, and writes the status if it changed, merged with
// the conditions other components own. It reports whether it wrote a status.
func (k *Kubelet) setStatus(p *podState, s v1.PodStatus) bool {
	pod := p.pod
	old := k.oldStatusRef(p)
	s.ObservedGeneration = pod.Generation
	for _, t := range []v1.PodConditionType{v1.ContainersReady, v1.PodReady, v1.PodInitialized, v1.PodReadyToStartContainers, v1.PodScheduled, v1.DisruptionTarget} {
		k.updateLastTransitionTime(&s, old, t)
	}
	if old.StartTime != nil && !old.StartTime.IsZero() {
		s.StartTime = old.StartTime.DeepCopy()
	} else if s.StartTime.IsZero() {
		now := metav1.NewTime(k.now)
		s.StartTime = &now
	}
	if old.ObservedGeneration > s.ObservedGeneration {
		s.ObservedGeneration = old.ObservedGeneration
	}
	normalizeStatus(&s)
	if p.status == nil || !statusEqual(p.status, &s) {
		p.status = &s
	}
	return k.flushStatus(p)
}

// statusEqual compares two statuses by their protobuf encoding, which is deterministic and much
// cheaper than a reflective semantic comparison.
func statusEqual(a, b *v1.PodStatus) bool {
	x, err1 := a.Marshal()
	y, err2 := b.Marshal()
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// flushStatus writes the cached status, merged with the API's, when it differs from what was
// last written. It reports whether it wrote.
func (k *Kubelet) flushStatus(p *podState) bool {
	if p.status == nil || (isStatic(p.pod) && p.mirrorUID == "") {
		return false // a static pod's status waits for its mirror pod
	}
	merged := k.mergeStatus(p, *p.status)
	enc, err := merged.Marshal()
	if err == nil && p.written != nil && bytes.Equal(p.written, enc) {
		return false
	}
	p.written = enc
	k.outSeq++
	uid := p.pod.UID
	if isStatic(p.pod) {
		uid = p.mirrorUID
	}

	k.out.PodStatuses = append(k.out.PodStatuses, PodStatusUpdate{
		Namespace: p.pod.Namespace, Name: p.pod.Name, UID: uid,
		Status: *k.shiftStatus(&merged, -k.offset), Seq: k.outSeq, // merged is already a copy
	})
	k.outAt.statuses = append(k.outAt.statuses, k.now)
	return true
}

func (k *Kubelet) updateLastTransitionTime(s, old *v1.PodStatus, t v1.PodConditionType) {
	_, c := podutil.GetPodCondition(s, t)
	if c == nil {
		return
	}
	ltt := metav1.NewTime(k.now)
	if _, oc := podutil.GetPodCondition(old, t); oc != nil && c.Status == oc.Status {
		ltt = oc.LastTransitionTime
	}
	c.LastTransitionTime = ltt
}

// mergeStatus is mergePodStatus: the API's conditions that the kubelet does not own stay; a pod
// that could still have running containers does not turn terminal yet; a terminal pod is not ready.
func (k *Kubelet) mergeStatus(p *podState, s v1.PodStatus) v1.PodStatus {
	s = *s.DeepCopy()
	api := k.shiftStatus(&p.pod.Status, k.offset)
	var conds []v1.PodCondition
	for _, c := range api.Conditions {
		if !ownedByKubelet(c.Type) {
			conds = append(conds, c)
		}
	}
	for _, c := range s.Conditions {
		if ownedByKubelet(c.Type) {
			conds = append(conds, c)
		}
	}
	s.Conditions = conds
	if !terminal(api.Phase) && terminal(s.Phase) && !p.terminated {
		s.Phase, s.Reason, s.Message = api.Phase, api.Reason, api.Message
	}
	if terminal(s.Phase) {
		for i := range s.Conditions {
			c := &s.Conditions[i]
			if (c.Type == v1.PodReady || c.Type == v1.ContainersReady) && c.Status == v1.ConditionTrue {
				c.Status, c.Reason, c.Message = v1.ConditionFalse, terminalReason(s.Phase), ""
			}
		}
	}
	return s
}

// normalizeStatus truncates timestamps to what the API stores (RFC 3339, whole seconds).
func normalizeStatus(s *v1.PodStatus) {
	walkStatusTimes(s, func(t *metav1.Time) { *t = t.Rfc3339Copy() })
}

// shiftStatus returns s with every timestamp moved by d: from the API's wall times to the
// machine's time line (d = offset) and back (d = -offset). The result is a copy unless d is zero,
// when it is s itself: callers only read it.
func (k *Kubelet) shiftStatus(s *v1.PodStatus, d time.Duration) *v1.PodStatus {
	if d == 0 {
		return s
	}
	out := s.DeepCopy()
	walkStatusTimes(out, func(t *metav1.Time) {
		if !t.IsZero() {
			t.Time = t.Add(d)
		}
	})
	return out
}

func walkStatusTimes(s *v1.PodStatus, f func(*metav1.Time)) {
	if s.StartTime != nil {
		f(s.StartTime)
	}
	for i := range s.Conditions {
		f(&s.Conditions[i].LastProbeTime)
		f(&s.Conditions[i].LastTransitionTime)
	}
	state := func(c *v1.ContainerState) {
		if c.Running != nil {
			f(&c.Running.StartedAt)
		}
		if c.Terminated != nil {
			f(&c.Terminated.StartedAt)
			f(&c.Terminated.FinishedAt)
		}
	}
	for _, list := range [][]v1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		for i := range list {
			state(&list[i].State)
			state(&list[i].LastTerminationState)
		}
	}
}
