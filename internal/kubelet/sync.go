package kubelet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	podutil "k8s.io/kubernetes/pkg/api/v1/pod"
	"k8s.io/kubernetes/pkg/kubelet/events"
	"k8s.io/kubernetes/pkg/kubelet/util/format"
)

// Sync errors (pkg/kubelet/container/sync_result.go, kuberuntime).
var (
	ErrCrashLoopBackOff = errors.New("CrashLoopBackOff")
	ErrCreatePodSandbox = errors.New("CreatePodSandboxError")
	ErrCreateContainer  = errors.New("CreateContainerError")
	ErrRunContainer     = errors.New("RunContainerError")
)

// backoffError is kubecontainer.BackoffError: a start refused until a moment.
type backoffError struct {
	error
	until time.Time
}

func (e *backoffError) Unwrap() error { return e.error }

// Sync actions, as SyncResult names them.
const (
	actionStartContainer   = "StartContainer"
	actionKillContainer    = "KillContainer"
	actionCreatePodSandbox = "CreatePodSandbox"
)

type syncResult struct {
	action string
	target string
	err    error
	msg    string
}

// syncRun is one SyncPod in progress. Termination does not interrupt it: upstream runs the
// runtime's SyncPod with a context that is never cancelled (context.WithoutCancel), so a pod deleted
// while its image is pulling still gets its container started, then killed.
type syncRun struct {
	p       *podState
	pod     *v1.Pod
	secrets []v1.Secret
	missing []string
	results []syncResult
}

func (s *syncRun) result(action, target string, err error, msg string) {
	s.results = append(s.results, syncResult{action: action, target: target, err: err, msg: msg})
}

// err is PodSyncResult.Error: every failed step, aggregated.
func (s *syncRun) err() error {
	var errs []error
	for _, r := range s.results {
		if r.err != nil {
			errs = append(errs, fmt.Errorf("failed to %q for %q with %w: %q", r.action, r.target, r.err, r.msg))
		}
	}
	return utilerrors.NewAggregate(errs)
}

// podActions is what computePodActions decides.
type podActions struct {
	killPod       bool
	createSandbox bool
	attempt       uint32
	initToStart   []int
	toStart       []int
	toKill        []killInfo
}

type killInfo struct {
	ctr     *ctrRec
	spec    *v1.Container
	message string
}

// syncPod is Kubelet.SyncPod for a pod that is not terminating: it writes the status computed
// from what the previous sync left behind, then makes the runtime match the spec.
func (k *Kubelet) syncPod(p *podState) {
	if k.steadySync(p) {
		return
	}
	p.working = true
	s := &syncRun{p: p, pod: p.pod}
	p.run = s
	before := p.status
	status := k.generateStatus(p, false)
	wrote := k.setStatus(p, status)
	p.steady = steadyMark{}
	if before != nil && p.status == before && !wrote && !terminal(status.Phase) {
		p.steady = steadyMark{rev: p.rev, offset: k.offset, status: p.status}
	}
	if terminal(status.Phase) {
		p.working, p.run = false, nil
		k.terminate(p)
		return
	}
	k.fetchSecrets(s, 0, func() { k.syncRuntime(s) })
}

// steadyMark is the state of a pod under which a sync left its status as it was and found nothing
// to start or kill. Both depend only on what rev counts, the status and the offset.
type steadyMark struct {
	rev    uint64
	offset time.Duration
	status *v1.PodStatus
}

// verifySteadySyncs makes steadySync run the full sync and check that it indeed changes nothing
// but the work queue; tests turn it on.
var verifySteadySyncs = false

// steadySync is a sync known in advance to change nothing but the work queue: nothing it depends
// on changed since the last sync, which computed the same status as before (a fixed point), wrote
// nothing and found the runtime matching the spec; and the pod reads no pull secrets. It is what
// most periodic syncs of a running pod are, and it costs no allocation: the pod is only queued
// again, with the same jitter draw as the full sync.
func (k *Kubelet) steadySync(p *podState) bool {
	m := p.steady
	if m.status == nil || m.status != p.status || m.rev != p.rev || m.offset != k.offset ||
		len(p.pod.Spec.ImagePullSecrets) > 0 {
		return false
	}
	if verifySteadySyncs {
		k.checkSteadySync(p)
		return true
	}
	k.enqueue(p, k.jitter(k.cfg.SyncFrequency.Duration, workerJitterFactor))
	return true
}

// checkSteadySync runs the full sync of a pod steadySync would have handled and panics if it did
// more than queue the pod again.
func (k *Kubelet) checkSteadySync(p *podState) {
	ops, events, statuses, status := len(k.out.Ops), len(k.out.Events), len(k.out.PodStatuses), p.status
	p.steady = steadyMark{}
	k.syncPod(p)
	if len(k.out.Ops) != ops || len(k.out.Events) != events || len(k.out.PodStatuses) != statuses ||
		p.status != status || p.working || p.resync == nil || p.steady.status == nil {
		panic(fmt.Sprintf("kubelet: the steady sync of %s was not steady", format.Pod(p.pod)))
	}
}

// fetchSecrets is getPullSecretsForPod: it reads the pod's image pull secrets one by one.
func (k *Kubelet) fetchSecrets(s *syncRun, i int, then func()) {
	refs := s.pod.Spec.ImagePullSecrets
	for i < len(refs) && refs[i].Name == "" {
		i++
	}
	if i == len(refs) {
		then()
		return
	}
	name := refs[i].Name
	k.call(GetSecretOp{OpBase: k.nextID(), Namespace: s.pod.Namespace, Name: name}, func(r OpResult) {
		if r.Err != nil || r.Secret == nil {
			s.missing = append(s.missing, name)
		} else {
			s.secrets = append(s.secrets, *r.Secret)
		}
		k.fetchSecrets(s, i+1, then)
	})
}

// syncRuntime is the container runtime manager's SyncPod.
func (k *Kubelet) syncRuntime(s *syncRun) {
	p := s.p
	a := k.computePodActions(p, s.pod)
	if !a.none() {
		p.steady = steadyMark{}
	}
	if a.killPod && !a.createSandbox {
		k.killPod(p, k.gracePeriod(s.pod), func() { k.finishSync(s) })
		return
	}
	k.killContainers(s, a.toKill, 0, func() {
		k.ensureSandbox(s, a, func(ok bool) {
			if !ok {
				k.finishSync(s)
				return
			}
			k.startInitContainers(s, a.initToStart, 0, func() {
				k.startContainers(s, a.toStart, 0, func() { k.finishSync(s) })
			})
		})
	})
}

// none reports whether there is nothing to do.
func (a podActions) none() bool {
	return !a.killPod && !a.createSandbox && len(a.initToStart) == 0 && len(a.toStart) == 0 && len(a.toKill) == 0
}

// computePodActions decides what to kill and start (kuberuntime_manager.go).
func (k *Kubelet) computePodActions(p *podState, pod *v1.Pod) podActions {
	var a podActions
	sb := p.sandbox
	if sb == nil || !sb.ready {
		a.killPod, a.createSandbox = true, true
		if sb != nil {
			a.attempt = sb.attempt + 1
		}
		if pod.Spec.RestartPolicy == v1.RestartPolicyNever && a.attempt != 0 && len(p.ctrs) != 0 {
			a.createSandbox = false
			return a
		}
		var toStart []int
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			runOnce := pod.Spec.RestartPolicy == v1.RestartPolicyOnFailure
			if c.RestartPolicy != nil {
				runOnce = *c.RestartPolicy == v1.ContainerRestartPolicyOnFailure
			}
			if runOnce && succeeded(p.latest(c.Name)) {
				continue
			}
			toStart = append(toStart, i)
		}
		if len(toStart) == 0 && k.anyRegularCreated(p, pod) {
			a.createSandbox = false
			return a
		}
		if len(pod.Spec.InitContainers) != 0 {
			a.initToStart = []int{0}
			return a
		}
		a.toStart = toStart
		return a
	}

	if !k.computeInitActions(p, pod, &a) || a.killPod {
		return a
	}
	keep := 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := p.latest(c.Name)
		if st == nil || st.state != stateRunning {
			if shouldRestart(c, pod, st) {
				a.toStart = append(a.toStart, i)
			}
			continue
		}
		if st.specImage != c.Image {
			// Only the name and the image are hashed: an image change restarts the container
			// whatever the restart policy.
			a.toKill = append(a.toKill, killInfo{ctr: st, spec: c, message: fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)})
			a.toStart = append(a.toStart, i)
			continue
		}
		keep++
	}
	if keep == 0 && len(a.toStart) == 0 {
		a.killPod = true
		a.initToStart = nil
	}
	return a
}

// computeInitActions is computeInitContainerActions for regular (non-sidecar) init containers:
// the next init container to run, or whether initialization is done.
func (k *Kubelet) computeInitActions(p *podState, pod *v1.Pod, a *podActions) bool {
	inits := pod.Spec.InitContainers
	if len(inits) == 0 {
		return true
	}
	initialized := k.anyRegularActive(p, pod)
	previously := initialized
	for i := len(inits) - 1; i >= 0; i-- {
		c := &inits[i]
		st := p.latest(c.Name)
		if st == nil {
			continue
		}
		if previously {
			continue
		}
		switch st.state {
		case stateCreated:
			a.initToStart = append(a.initToStart, i)
		case stateRunning:
		case stateExited:
			if st.exitCode != 0 {
				if !shouldRestart(c, pod, st) {
					a.killPod = true
					a.initToStart = nil
					return false
				}
				a.initToStart = append(a.initToStart, i)
				break
			}
			if i == len(inits)-1 {
				initialized = true
			} else {
				a.initToStart = append(a.initToStart, i+1)
			}
		}
		previously = true
	}
	if !previously {
		a.initToStart = append(a.initToStart, 0)
	}
	return initialized
}

// shouldRestart is ShouldContainerBeRestarted with container restart rules (on since 1.35).
func shouldRestart(c *v1.Container, pod *v1.Pod, st *ctrRec) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	if st == nil || st.state == stateCreated {
		return true
	}
	if st.state == stateRunning {
		return false
	}
	return podutil.ContainerShouldRestart(*c, pod.Spec, st.exitCode)
}

func succeeded(st *ctrRec) bool { return st != nil && st.state == stateExited && st.exitCode == 0 }

// anyRegularCreated is HasAnyRegularContainerCreated.
func (k *Kubelet) anyRegularCreated(p *podState, pod *v1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if p.latest(c.Name) != nil {
			return true
		}
	}
	return false
}

// anyRegularActive is HasAnyActiveRegularContainerStarted: a regular container exists in the
// current sandbox.
func (k *Kubelet) anyRegularActive(p *podState, pod *v1.Pod) bool {
	if p.sandbox == nil {
		return false
	}
	for _, c := range pod.Spec.Containers {
		if st := p.latest(c.Name); st != nil && !st.createdAt.Before(p.sandbox.createdAt) {
			return true
		}
	}
	return false
}

// killContainers kills, one after another, the running containers the sync does not keep.
func (k *Kubelet) killContainers(s *syncRun, list []killInfo, i int, then func()) {
	if i == len(list) {
		then()
		return
	}
	ki := list[i]
	s.result(actionKillContainer, ki.spec.Name, nil, "")
	k.killContainer(s.p, ki.ctr, ki.spec, ki.message, k.gracePeriod(s.pod), func() {
		k.killContainers(s, list, i+1, then)
	})
}

// ensureSandbox creates the pod's sandbox when needed.
func (k *Kubelet) ensureSandbox(s *syncRun, a podActions, then func(ok bool)) {
	if !a.createSandbox {
		then(true)
		return
	}
	p, pod := s.p, s.pod
	if p.sandbox != nil {
		k.event(podRef(pod), v1.EventTypeNormal, events.SandboxChanged, "Pod sandbox changed, it will be killed and re-created.")
	}
	ip := ""
	if p.sandbox != nil {
		ip = p.sandbox.ip
	}
	if ip == "" && !pod.Spec.HostNetwork {
		ip = k.ipam.allocate()
	}
	if pod.Spec.HostNetwork {
		ip = k.node.InternalIP
	}
	created := k.now
	op := RunSandboxOp{OpBase: k.nextID(), PodUID: pod.UID, Name: pod.Name, Namespace: pod.Namespace, Attempt: a.attempt, IP: ip, CreatedAt: k.wall(created)}
	k.call(op, func(r OpResult) {
		if r.Err != nil {
			s.result(actionCreatePodSandbox, format.Pod(pod), ErrCreatePodSandbox, r.Err.Error())
			k.eventf(podRef(pod), v1.EventTypeWarning, events.FailedCreatePodSandBox, "Failed to create pod sandbox: %v", r.Err)
			then(false)
			return
		}
		s.result(actionCreatePodSandbox, format.Pod(pod), nil, "")
		p.sandbox = &sandboxRec{id: r.SandboxID, ip: ip, attempt: a.attempt, ready: true, createdAt: created}
		k.changed(p)
		k.sandboxReady(p)
		then(true)
	})
}

// startInitContainers starts init containers in order; a failure stops the pod's start.
func (k *Kubelet) startInitContainers(s *syncRun, idx []int, i int, then func()) {
	if i == len(idx) {
		then()
		return
	}
	c := &s.pod.Spec.InitContainers[idx[i]]
	k.startContainer(s, c, func(err error) {
		if err != nil {
			k.finishSync(s)
			return
		}
		k.startInitContainers(s, idx, i+1, then)
	})
}

// startContainers starts regular containers in order; a failure does not stop the next one.
func (k *Kubelet) startContainers(s *syncRun, idx []int, i int, then func()) {
	if i == len(idx) {
		then()
		return
	}
	c := &s.pod.Spec.Containers[idx[i]]
	k.startContainer(s, c, func(error) { k.startContainers(s, idx, i+1, then) })
}

// startContainer is startWithInitState and startContainer: crash-loop back-off, the image, then
// create and start.
func (k *Kubelet) startContainer(s *syncRun, c *v1.Container, next func(error)) {
	p, pod := s.p, s.pod
	fail := func(err error, msg string) {
		s.result(actionStartContainer, c.Name, err, msg)
		next(err)
	}
	if in, msg, err := k.doBackOff(p, pod, c); in {
		fail(err, msg)
		return
	}
	k.ensureImage(pod, c, s.secrets, func(img *Image, msg string, err error) {
		ref := containerRef(pod, c)
		if err != nil {
			k.eventf(ref, v1.EventTypeWarning, events.FailedToCreateContainer, "Error: %v", err)
			fail(err, msg)
			return
		}
		restarts := 0
		if prev := p.latest(c.Name); prev != nil {
			restarts = prev.restartCount + 1
		}
		created := k.now
		op := CreateContainerOp{OpBase: k.nextID(), SandboxID: p.sandbox.id, PodUID: pod.UID, Name: c.Name, Attempt: uint32(restarts),
			Image: c.Image, ImageRef: img.ID, Command: c.Command, Args: c.Args, CreatedAt: k.wall(created)}
		k.call(op, func(r OpResult) {
			if r.Err != nil {
				k.eventf(ref, v1.EventTypeWarning, events.FailedToCreateContainer, "Error: %v", r.Err)
				fail(ErrCreateContainer, r.Err.Error())
				return
			}
			rec := &ctrRec{id: r.ContainerID, name: c.Name, specImage: c.Image, imageID: img.ID,
				image: img.ID, imageRef: img.ID, state: stateCreated, createdAt: created, restartCount: restarts,
				behavior: behaviorOf(c)}
			if len(img.RepoTags) > 0 {
				rec.image = img.RepoTags[0]
			}
			if len(img.RepoDigests) > 0 {
				rec.imageRef = img.RepoDigests[0]
			}
			k.gc.ctrsRev++
			if old := p.addCtr(rec); old != nil {
				k.call(RemoveContainerOp{OpBase: k.nextID(), ContainerID: old.id}, nil)
			}
			k.event(ref, v1.EventTypeNormal, events.CreatedContainer, "Container created")
			k.call(StartContainerOp{OpBase: k.nextID(), ContainerID: rec.id, StartedAt: k.wall(k.now)}, nil)
			rec.state, rec.startedAt = stateRunning, k.now
			k.event(ref, v1.EventTypeNormal, events.StartedContainer, "Container started")
			k.changed(p)
			if d := rec.behavior.runFor; d >= 0 {
				rec.exit = k.after(d, func() { k.containerExited(p, rec, rec.behavior.exitCode) })
			}
			s.result(actionStartContainer, c.Name, nil, "")
			next(nil)
		})
	})
}

// doBackOff is the crash-loop back-off check made before a container is restarted.
func (k *Kubelet) doBackOff(p *podState, pod *v1.Pod, c *v1.Container) (bool, string, error) {
	st := p.latest(c.Name)
	if st == nil || st.state != stateExited {
		return false, "", nil
	}
	key := backoffKey(pod, c)
	ts := st.finishedAt
	if k.crashBackOff.IsInBackOffSince(key, ts) {
		k.eventf(containerRef(pod, c), v1.EventTypeWarning, events.BackOffStartContainer,
			"Back-off restarting failed container %s in pod %s", c.Name, format.Pod(pod))
		d := k.crashBackOff.Get(key)
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, c.Name, format.Pod(pod))
		return true, msg, &backoffError{error: ErrCrashLoopBackOff, until: ts.Add(d)}
	}
	k.crashBackOff.Next(key, ts)
	return false, "", nil
}

// backoffKey is GetBackoffKey: what identifies a container for crash-loop back-off, including the
// fields whose change resets it.
func backoffKey(pod *v1.Pod, c *v1.Container) string {
	h := fnv.New64a()
	h.Write([]byte(strings.Join([]string{pod.Name, pod.Namespace, string(pod.UID), c.Name, c.Image, c.Resources.String()}, "/")))
	return strconv.FormatUint(h.Sum64(), 16)
}

// finishSync is the end of SyncPod and the pod worker's completeWork.
func (k *Kubelet) finishSync(s *syncRun) {
	p := s.p
	if len(s.results) > 0 {
		p.rev++ // the start failures change
	}
	for _, r := range s.results {
		if r.action != actionStartContainer {
			continue
		}
		if r.err != nil {
			p.reasons[r.target] = reasonItem{err: r.err, msg: r.msg}
		} else {
			delete(p.reasons, r.target)
		}
	}
	if len(s.missing) > 0 {
		for _, r := range s.results {
			if errors.Is(r.err, ErrImagePull) {
				k.eventf(podRef(s.pod), v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
					"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(s.missing, ", "))
				break
			}
		}
	}
	err := s.err()
	p.working, p.run = false, nil
	if p.terminateAfterSync {
		k.terminate(p)
		return
	}
	k.enqueue(p, k.requeueDelay(s, err))
	if err == nil && len(s.results) > 0 {
		k.relistPod(p)
	}
	if p.pending {
		p.pending = false
		k.podUpdate(p)
	}
}

// requeueDelay is completeWork's choice of when to sync again.
func (k *Kubelet) requeueDelay(s *syncRun, err error) time.Duration {
	resync := k.cfg.SyncFrequency.Duration
	if err == nil {
		return k.jitter(resync, workerJitterFactor)
	}
	backoff := syncErrorBackOff
	var found bool
	var until time.Time
	for _, r := range s.results {
		var be *backoffError
		if errors.As(r.err, &be) && (!found || be.until.Before(until)) {
			until, found = be.until, true
		}
	}
	if found {
		backoff = until.Sub(k.now)
	}
	backoff = max(0, min(backoff, resync))
	return k.jitter(backoff, workerJitterFactor)
}

// gracePeriod is the termination grace period the kubelet uses for a pod's containers.
func (k *Kubelet) gracePeriod(pod *v1.Pod) int64 {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return *pod.DeletionGracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return minimumGracePeriod
}

// minimumGracePeriod is minimumGracePeriodInSeconds: no container is given less to stop.
const minimumGracePeriod = 2

// killContainer stops a running container: a Killing event, then SIGTERM, then SIGKILL once the
// grace period is over. A command that handles SIGTERM ends at once and cleanly; one that ignores
// it (a shell or sleep as PID 1) ends on its own if it was about to, or is killed with 137.
func (k *Kubelet) killContainer(p *podState, rec *ctrRec, spec *v1.Container, message string, grace int64, done func()) {
	if message == "" {
		message = fmt.Sprintf("Stopping container %s", rec.name)
	}
	ref := podRef(p.pod)
	if spec != nil {
		ref = containerRef(p.pod, spec)
	}
	k.event(ref, v1.EventTypeNormal, events.KillingContainer, message)
	if rec.state != stateRunning {
		done()
		return
	}
	rec.onExit = append(rec.onExit, done)
	if rec.stopping != nil {
		return
	}
	if !rec.behavior.ignoreTERM {
		k.stop(rec.exit)
		k.containerExited(p, rec, 0)
		return
	}
	grace = max(grace, minimumGracePeriod)
	deadline := k.now.Add(time.Duration(grace) * time.Second)
	if rec.exit != nil && rec.exit.index >= 0 && !rec.exit.at.After(deadline) {
		return // it ends on its own first
	}
	k.stop(rec.exit)
	rec.stopping = k.at(deadline, func() { k.containerExited(p, rec, exitKilled) })
}

// containerExited records the end of a container's process and tells the runtime.
func (k *Kubelet) containerExited(p *podState, rec *ctrRec, code int32) {
	if rec.state == stateExited {
		return
	}
	k.stop(rec.exit)
	k.stop(rec.stopping)
	rec.exit, rec.stopping = nil, nil
	rec.state, rec.finishedAt, rec.exitCode, rec.reason = stateExited, k.now, code, exitReason(code)
	k.call(ContainerExitOp{OpBase: k.nextID(), ContainerID: rec.id, ExitCode: code, Reason: rec.reason, FinishedAt: k.wall(k.now)}, nil)
	k.changed(p)
	waiters := rec.onExit
	rec.onExit = nil
	for _, f := range waiters {
		f()
	}
}

// killPod stops every running container of the pod (all at once, each with the grace period),
// then the sandbox.
func (k *Kubelet) killPod(p *podState, grace int64, then func()) {
	var running []*ctrRec
	for _, c := range p.ctrs {
		if c.state == stateRunning {
			running = append(running, c)
		}
	}
	left := len(running) + 1
	one := func() {
		left--
		if left > 0 {
			return
		}
		if p.sandbox != nil && p.sandbox.ready {
			p.sandbox.ready = false
			k.call(StopSandboxOp{OpBase: k.nextID(), SandboxID: p.sandbox.id}, nil)
			k.changed(p)
		}
		then()
	}
	for _, c := range running {
		k.killContainer(p, c, specOf(p.pod, c.name), "", grace, one)
	}
	one()
}

// specOf finds a container's spec by name.
func specOf(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	return nil
}

// terminate is the pod worker's termination: SyncTerminatingPod (status, kill everything) and
// SyncTerminatedPod, then, for a deleted pod, the status manager's final deletion.
func (k *Kubelet) terminate(p *podState) {
	if p.terminating {
		return
	}
	if p.working {
		p.terminateAfterSync = true
		return
	}
	p.terminating = true
	p.rev++
	k.stop(p.resync)
	p.resync = nil
	k.setStatus(p, k.generateStatus(p, false))
	k.killPod(p, k.gracePeriod(p.pod), func() {
		p.terminated = true
		k.setStatus(p, k.generateStatus(p, true))
		switch {
		case p.removed:
			k.forget(p)
		case p.deleted:
			k.finishDeletion(p)
		}
	})
}

// finishDeletion asks the driver to remove a terminated pod's object.
func (k *Kubelet) finishDeletion(p *podState) {
	if p.deleteSent {
		return
	}
	p.deleteSent = true
	k.out.DeletePods = append(k.out.DeletePods, PodRef{Namespace: p.pod.Namespace, Name: p.pod.Name, UID: p.pod.UID})
}
