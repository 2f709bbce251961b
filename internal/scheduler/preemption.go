package scheduler

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Preemption is the decision of the DefaultPreemption PostFilter: evict Victims from Node so
// that the pod fits there on a later attempt.
type Preemption struct {
	Node    string
	Victims []*v1.Pod
}

// Upstream's preemption texts (framework/preemption, plugins/defaultpreemption).
const (
	msgPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	msgNoVictims            = "No preemption victims found for incoming pod"
	msgPreemptNever         = "not eligible due to preemptionPolicy=Never."
	msgTerminatingVictim    = "not eligible due to a terminating pod on the nominated node."
)

// postFilter is the DefaultPreemption plugin's PostFilter (Evaluator.Preempt without the
// actuation, which the scheduler does with the returned Preemption): it prefixes upstream's
// status message with "preemption: ". It also returns the nominated node name to set (nil: leave
// it). PodDisruptionBudgets are not considered.
func (f *Framework) postFilter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, m *framework.NodeToStatus) (*fwk.Status, *Preemption, *string) {
	status, p, nominate := f.preempt(ctx, state, pod, m)
	if msg := status.Message(); msg != "" {
		return fwk.NewStatus(status.Code(), "preemption: "+msg), p, nominate
	}
	return status, p, nominate
}

func (f *Framework) preempt(ctx context.Context, state fwk.CycleState, pod *v1.Pod, m *framework.NodeToStatus) (*fwk.Status, *Preemption, *string) {
	if ok, msg := f.eligibleToPreempt(pod, m); !ok {
		return fwk.NewStatus(fwk.Unschedulable, msg), nil, nil
	}
	allNodes, _ := f.snapshot.List()
	potential, err := m.NodesForStatusCode(f.snapshot, fwk.Unschedulable)
	if err != nil {
		return fwk.AsStatus(err), nil, nil
	}
	statuses := framework.NewDefaultNodeToStatus()
	var candidates []Preemption
	if len(potential) > 0 {
		candidates, statuses = f.dryRun(ctx, state, pod, f.inSnapshotOrder(potential))
	}
	if len(candidates) == 0 {
		fitErr := &framework.FitError{Pod: pod, NumAllNodes: len(allNodes), Diagnosis: framework.Diagnosis{NodeToStatus: statuses}}
		fitErr.Diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msgPreemptionNotHelpful))
		return fwk.NewStatus(fwk.Unschedulable, fitErr.Error()), nil, ptr("")
	}
	best := f.pickCandidate(candidates)
	msg := fmt.Sprintf("found a potential placement for pod on node %v, preempting %d victims", best.Node, len(best.Victims))
	return fwk.NewStatus(fwk.Success, msg), &best, ptr(best.Node)
}

// eligibleToPreempt is DefaultPreemption.PodEligibleToPreemptOthers.
func (f *Framework) eligibleToPreempt(pod *v1.Pod, m *framework.NodeToStatus) (bool, string) {
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy == v1.PreemptNever {
		return false, msgPreemptNever
	}
	nominated := pod.Status.NominatedNodeName
	if nominated == "" {
		return true, ""
	}
	if m.Get(nominated).Code() == fwk.UnschedulableAndUnresolvable {
		return true, ""
	}
	if ni, err := f.snapshot.Get(nominated); err == nil {
		for _, p := range ni.GetPods() {
			victim := p.GetPod()
			if corev1helpers.PodPriority(victim) < corev1helpers.PodPriority(pod) && terminatingByPreemption(victim) {
				return false, msgTerminatingVictim
			}
		}
	}
	return true, ""
}

// terminatingByPreemption is preemption/util.go PodTerminatingByPreemption.
func terminatingByPreemption(p *v1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.DisruptionTarget {
			return c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonPreemptionByScheduler
		}
	}
	return false
}

// inSnapshotOrder sorts nodes as the snapshot lists them, so that dry runs are deterministic.
func (f *Framework) inSnapshotOrder(nodes []fwk.NodeInfo) []fwk.NodeInfo {
	pos := map[string]int{}
	all, _ := f.snapshot.List()
	for i, ni := range all {
		pos[ni.Node().Name] = i
	}
	sort.SliceStable(nodes, func(i, j int) bool { return pos[nodes[i].Node().Name] < pos[nodes[j].Node().Name] })
	return nodes
}

// dryRun is Evaluator.DryRunPreemption: on every potential node, the smallest set of lower
// priority pods whose eviction lets the pod fit.
func (f *Framework) dryRun(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) ([]Preemption, *framework.NodeToStatus) {
	statuses := framework.NewDefaultNodeToStatus()
	var candidates []Preemption
	for _, ni := range nodes {
		victims, status := f.selectVictims(ctx, state.Clone(), pod, ni.Snapshot())
		if status.IsSuccess() && len(victims) == 0 {
			status = fwk.AsStatus(fmt.Errorf("expected at least one victim pod on node %q", ni.Node().Name))
		}
		if status.IsSuccess() {
			candidates = append(candidates, Preemption{Node: ni.Node().Name, Victims: victims})
			continue
		}
		statuses.Set(ni.Node().Name, status)
	}
	return candidates, statuses
}

// selectVictims is DefaultPreemption.SelectVictimsOnNode for pods (no pod groups, no PDBs):
// remove every lower priority pod, check the pod fits, then put back as many as possible, most
// important first.
func (f *Framework) selectVictims(ctx context.Context, state fwk.CycleState, pod *v1.Pod, ni fwk.NodeInfo) ([]*v1.Pod, *fwk.Status) {
	var potential []fwk.PodInfo
	for _, p := range ni.GetPods() {
		if corev1helpers.PodPriority(p.GetPod()) < corev1helpers.PodPriority(pod) {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msgNoVictims)
	}
	logger := klog.FromContext(ctx)
	for _, p := range potential {
		if err := ni.RemovePod(logger, p.GetPod()); err != nil {
			return nil, fwk.AsStatus(err)
		}
		if s := f.preFilterExtensions(ctx, state, pod, p, ni, false); !s.IsSuccess() {
			return nil, s
		}
	}
	if s := f.runFilter(ctx, state, pod, ni); !s.IsSuccess() {
		return nil, s
	}
	sort.SliceStable(potential, func(i, j int) bool { return f.moreImportant(potential[i].GetPod(), potential[j].GetPod()) })
	var victims []*v1.Pod
	for _, p := range potential {
		ni.AddPodInfo(p)
		if s := f.preFilterExtensions(ctx, state, pod, p, ni, true); !s.IsSuccess() {
			return nil, s
		}
		if f.runFilter(ctx, state, pod, ni).IsSuccess() {
			continue
		}
		if err := ni.RemovePod(logger, p.GetPod()); err != nil {
			return nil, fwk.AsStatus(err)
		}
		if s := f.preFilterExtensions(ctx, state, pod, p, ni, false); !s.IsSuccess() {
			return nil, s
		}
		victims = append(victims, p.GetPod())
	}
	return victims, nil
}

// preFilterExtensions is the runtime's RunPreFilterExtensionAddPod / RemovePod.
func (f *Framework) preFilterExtensions(ctx context.Context, state fwk.CycleState, pod *v1.Pod, p fwk.PodInfo, ni fwk.NodeInfo, add bool) *fwk.Status {
	skip := state.GetSkipFilterPlugins()
	for _, pl := range f.preFilter {
		ext := pl.PreFilterExtensions()
		if ext == nil || skip.Has(pl.Name()) {
			continue
		}
		var s *fwk.Status
		if add {
			s = ext.AddPod(ctx, state, pod, p, ni)
		} else {
			s = ext.RemovePod(ctx, state, pod, p, ni)
		}
		if !s.IsSuccess() {
			return fwk.AsStatus(fmt.Errorf("running PreFilterExtension plugin %q: %w", pl.Name(), s.AsError()))
		}
	}
	return nil
}

// moreImportant is preemption.MoreImportantVictim for single pods: higher priority first, then
// the one that started earlier.
func (f *Framework) moreImportant(a, b *v1.Pod) bool {
	pa, pb := corev1helpers.PodPriority(a), corev1helpers.PodPriority(b)
	if pa != pb {
		return pa > pb
	}
	return f.startTime(a).Before(f.startTime(b))
}

// startTime is scheduler/util GetPodStartTime: pods that have not started count as starting now.
func (f *Framework) startTime(p *v1.Pod) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return f.now()
}

func (f *Framework) now() time.Time {
	if f.Now == nil {
		return time.Time{}
	}
	return f.Now()
}

// pickCandidate is pickOneNodeForPreemption without PDBs: lowest highest-priority victim, then
// lowest sum of priorities, fewest victims, latest start of the most important victims, first node.
func (f *Framework) pickCandidate(cands []Preemption) Preemption {
	scores := []func(Preemption) int64{
		func(c Preemption) int64 { return -int64(corev1helpers.PodPriority(c.Victims[0])) },
		func(c Preemption) int64 {
			var sum int64
			for _, p := range c.Victims {
				sum += int64(corev1helpers.PodPriority(p)) + int64(math.MaxInt32+1)
			}
			return -sum
		},
		func(c Preemption) int64 { return -int64(len(c.Victims)) },
		func(c Preemption) int64 { return f.earliestStart(c.Victims).UnixNano() },
	}
	for _, score := range scores {
		var best []Preemption
		max := int64(math.MinInt64)
		for _, c := range cands {
			s := score(c)
			if s > max {
				max, best = s, nil
			}
			if s == max {
				best = append(best, c)
			}
		}
		if len(best) == 1 {
			return best[0]
		}
		cands = best
	}
	return cands[0]
}

// earliestStart is scheduler/util GetEarliestPodStartTime: the earliest start among the victims
// of the highest priority.
func (f *Framework) earliestStart(victims []*v1.Pod) time.Time {
	earliest := f.startTime(victims[0])
	maxPrio := corev1helpers.PodPriority(victims[0])
	for _, p := range victims {
		switch prio := corev1helpers.PodPriority(p); {
		case prio == maxPrio && f.startTime(p).Before(earliest):
			earliest = f.startTime(p)
		case prio > maxPrio:
			maxPrio, earliest = prio, f.startTime(p)
		}
	}
	return earliest
}
