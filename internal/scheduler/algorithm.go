package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// ErrNoNodesAvailable is upstream's error for a cluster without nodes (scheduler.go).
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// Result is the outcome of one scheduling cycle for one pod.
type Result struct {
	// Node is the chosen node; empty when the pod did not fit.
	Node string
	// Status is nil on success. Otherwise it is what upstream's schedulingAlgorithm returns: a
	// rejection wrapping a *framework.FitError or ErrNoNodesAvailable, or an error.
	Status *fwk.Status
	// UnschedulablePlugins and PendingPlugins are the diagnosis the queue requeues by.
	UnschedulablePlugins sets.Set[string]
	PendingPlugins       sets.Set[string]
	// Preemption, when set, is what the pod needs evicted to fit on a later attempt.
	Preemption *Preemption
	// Nominate, when set, is the nominated node name the failure writes to the pod's status
	// (upstream's NominatingInfo in override mode); empty clears it.
	Nominate *string
}

func ptr(s string) *string { return &s }

// Message is the text of the FailedScheduling event and of the PodScheduled condition.
func (r Result) Message() string { return r.Status.Message() }

// Schedule runs one scheduling cycle for pod against nodes (in this order) and the pods bound to
// them, as upstream's schedulePod and schedulingAlgorithm do: PreFilter, Filter on every node,
// PostFilter (preemption) when nothing fits, then Score and pick the best node. rnd breaks ties
// between equally scored nodes.
func (f *Framework) Schedule(ctx context.Context, pod *v1.Pod, nodes []*v1.Node, pods []*v1.Pod, rnd *rand.Rand) Result {
	f.snapshot.Update(nodes, pods)
	if f.snapshot.NumNodes() == 0 {
		return Result{Status: fwk.NewStatus(fwk.UnschedulableAndUnresolvable).WithError(ErrNoNodesAvailable), Nominate: ptr("")}
	}
	state := framework.NewCycleState()
	feasible, diagnosis, err := f.findNodesThatFit(ctx, state, pod)
	if err != nil {
		return Result{Status: fwk.AsStatus(err), Nominate: ptr("")}
	}
	if len(feasible) == 0 {
		fitErr := &framework.FitError{Pod: pod, NumAllNodes: f.snapshot.NumNodes(), Diagnosis: diagnosis}
		status, preemption, nominate := f.postFilter(ctx, state, pod, diagnosis.NodeToStatus)
		fitErr.Diagnosis.PostFilterMsg = status.Message()
		return Result{
			Nominate:             nominate,
			Status:               fwk.NewStatus(fwk.Unschedulable).WithError(fitErr),
			UnschedulablePlugins: diagnosis.UnschedulablePlugins,
			PendingPlugins:       diagnosis.PendingPlugins,
			Preemption:           preemption,
		}
	}
	if len(feasible) == 1 {
		return Result{Node: feasible[0].Node().Name}
	}
	scores, status := f.prioritize(ctx, state, pod, feasible, rnd)
	if !status.IsSuccess() {
		return Result{Status: status, Nominate: ptr("")}
	}
	return Result{Node: framework.NewSortedScoredNodes(scores).Pop().Name}
}

// findNodesThatFit is upstream's findNodesThatFitPod without nominated nodes, node hints or
// extenders: PreFilter, then every Filter plugin on every node the PreFilter results allow.
func (f *Framework) findNodesThatFit(ctx context.Context, state fwk.CycleState, pod *v1.Pod) ([]fwk.NodeInfo, framework.Diagnosis, error) {
	diagnosis := framework.Diagnosis{NodeToStatus: framework.NewDefaultNodeToStatus()}
	allNodes, _ := f.snapshot.List()
	preRes, s, unscheduledPlugins := f.runPreFilter(ctx, state, pod, allNodes)
	diagnosis.UnschedulablePlugins = unscheduledPlugins
	if !s.IsSuccess() {
		if !s.IsRejected() {
			return nil, diagnosis, s.AsError()
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(s)
		diagnosis.PreFilterMsg = s.Message()
		diagnosis.AddPluginStatus(s)
		return nil, diagnosis, nil
	}
	// A pod that preempted others is tried first on the node it was nominated for.
	if nnn := pod.Status.NominatedNodeName; nnn != "" {
		if ni, err := f.snapshot.Get(nnn); err == nil {
			status := f.runFilter(ctx, state, pod, ni)
			if status.Code() == fwk.Error {
				return nil, diagnosis, status.AsError()
			}
			if status.IsSuccess() {
				return []fwk.NodeInfo{ni}, diagnosis, nil
			}
			diagnosis.NodeToStatus.Set(nnn, status)
			diagnosis.AddPluginStatus(status)
		}
	}
	nodes := allNodes
	if !preRes.AllNodes() {
		nodes = nil
		for _, ni := range allNodes {
			if preRes.NodeNames.Has(ni.Node().Name) {
				nodes = append(nodes, ni)
			}
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(fwk.NewStatus(fwk.UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(unscheduledPlugins))))
	}
	var feasible []fwk.NodeInfo
	for _, ni := range nodes {
		status := f.runFilter(ctx, state, pod, ni)
		if status.Code() == fwk.Error {
			return nil, diagnosis, status.AsError()
		}
		if status.IsSuccess() {
			feasible = append(feasible, ni)
			continue
		}
		diagnosis.NodeToStatus.Set(ni.Node().Name, status)
		diagnosis.AddPluginStatus(status)
	}
	return feasible, diagnosis, nil
}

// runPreFilter is the framework runtime's RunPreFilterPlugins.
func (f *Framework) runPreFilter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo) (*fwk.PreFilterResult, *fwk.Status, sets.Set[string]) {
	skip := sets.New[string]()
	defer state.SetSkipFilterPlugins(skip)
	var result *fwk.PreFilterResult
	withNodes := sets.New[string]()
	var returnStatus *fwk.Status
	for _, pl := range f.preFilter {
		r, s := pl.PreFilter(ctx, state, pod, nodes)
		if s.IsSkip() {
			skip.Insert(pl.Name())
			continue
		}
		if !s.IsSuccess() {
			s.SetPlugin(pl.Name())
			if s.Code() == fwk.UnschedulableAndUnresolvable {
				return nil, s, nil
			}
			if s.Code() == fwk.Unschedulable {
				returnStatus = s
				continue
			}
			return nil, fwk.AsStatus(fmt.Errorf("running PreFilter plugin %q: %w", pl.Name(), s.AsError())).WithPlugin(pl.Name()), nil
		}
		if !r.AllNodes() {
			withNodes.Insert(pl.Name())
		}
		result = result.Merge(r)
		if !result.AllNodes() && len(result.NodeNames) == 0 {
			msg := fmt.Sprintf("node(s) didn't satisfy plugin(s) %v simultaneously", sets.List(withNodes))
			if len(withNodes) == 1 {
				msg = fmt.Sprintf("node(s) didn't satisfy plugin %v", sets.List(withNodes)[0])
			}
			return result, fwk.NewStatus(fwk.UnschedulableAndUnresolvable, msg), withNodes
		}
	}
	return result, returnStatus, withNodes
}

// runFilter is the framework runtime's RunFilterPlugins: the first plugin that rejects the node
// decides its status.
func (f *Framework) runFilter(ctx context.Context, state fwk.CycleState, pod *v1.Pod, ni fwk.NodeInfo) *fwk.Status {
	skip := state.GetSkipFilterPlugins()
	for _, pl := range f.filter {
		if skip.Has(pl.Name()) {
			continue
		}
		if status := pl.Filter(ctx, state, pod, ni); !status.IsSuccess() {
			if !status.IsRejected() {
				status = fwk.AsStatus(fmt.Errorf("running %q filter plugin: %w", pl.Name(), status.AsError()))
			}
			status.SetPlugin(pl.Name())
			return status
		}
	}
	return nil
}

// prioritize is upstream's prioritizeNodes without extenders: PreScore, Score, NormalizeScore and
// the weighted sum. Upstream leaves Randomizer at zero without extenders, so ties go to whichever
// node its parallel filters listed first; kubesim draws it from the cluster's seeded source.
func (f *Framework) prioritize(ctx context.Context, state fwk.CycleState, pod *v1.Pod, nodes []fwk.NodeInfo, rnd *rand.Rand) ([]fwk.NodePluginScores, *fwk.Status) {
	skip := sets.New[string]()
	for _, pl := range f.preScore {
		s := pl.PreScore(ctx, state, pod, nodes)
		if s.IsSkip() {
			skip.Insert(pl.Name())
			continue
		}
		if !s.IsSuccess() {
			return nil, fwk.AsStatus(fmt.Errorf("running PreScore plugin %q: %w", pl.Name(), s.AsError()))
		}
	}
	state.SetSkipScorePlugins(skip)
	var plugins []fwk.ScorePlugin
	for _, pl := range f.score {
		if !skip.Has(pl.Name()) {
			plugins = append(plugins, pl)
		}
	}
	raw := make([]fwk.NodeScoreList, len(plugins))
	for i, pl := range plugins {
		raw[i] = make(fwk.NodeScoreList, len(nodes))
		for j, ni := range nodes {
			s, status := pl.Score(ctx, state, pod, ni)
			if !status.IsSuccess() {
				return nil, fwk.AsStatus(fmt.Errorf("running Score plugins: %w",
					fmt.Errorf("plugin %q failed with: %w", pl.Name(), status.AsError())))
			}
			raw[i][j] = fwk.NodeScore{Name: ni.Node().Name, Score: s}
		}
		if ext := pl.ScoreExtensions(); ext != nil {
			if status := ext.NormalizeScore(ctx, state, pod, raw[i]); !status.IsSuccess() {
				return nil, fwk.AsStatus(fmt.Errorf("running Normalize on Score plugins: %w",
					fmt.Errorf("plugin %q failed with: %w", pl.Name(), status.AsError())))
			}
		}
	}
	out := make([]fwk.NodePluginScores, len(nodes))
	for j, ni := range nodes {
		out[j] = fwk.NodePluginScores{Name: ni.Node().Name, Scores: make([]fwk.PluginScore, len(plugins))}
		for i, pl := range plugins {
			score := raw[i][j].Score
			if score > fwk.MaxScore || score < fwk.MinScore {
				return nil, fwk.AsStatus(fmt.Errorf("applying score defaultWeights on Score plugins: %w",
					fmt.Errorf("plugin %q returns an invalid score %v, it should in the range of [%v, %v] after normalizing",
						pl.Name(), score, fwk.MinScore, fwk.MaxScore)))
			}
			weighted := score * int64(f.weights[pl.Name()])
			out[j].Scores[i] = fwk.PluginScore{Name: pl.Name(), Score: weighted}
			out[j].TotalScore += weighted
		}
		out[j].Randomizer = rnd.Int()
	}
	return out, nil
}
