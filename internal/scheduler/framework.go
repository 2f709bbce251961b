package scheduler

import (
	"context"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/klog/v2"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/apis/config"
	"k8s.io/kubernetes/pkg/scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework/parallelize"
	plfeature "k8s.io/kubernetes/pkg/scheduler/framework/plugins/feature"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/imagelocality"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/interpodaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeaffinity"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodename"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeports"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/noderesources"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/nodeunschedulable"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/podtopologyspread"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/schedulinggates"
	"k8s.io/kubernetes/pkg/scheduler/framework/plugins/tainttoleration"
	"k8s.io/kubernetes/pkg/scheduler/metrics"

	// The scheduler's plugins and event extraction read kube's feature gates: register them.
	_ "k8s.io/kubernetes/pkg/features"
)

// SchedulerName is the name of the default profile: pods with this spec.schedulerName are ours,
// and it is the reportingController of the scheduler's events.
const SchedulerName = v1.DefaultSchedulerName

// Framework is the default-scheduler profile of kube-scheduler v1.37 (apis/config/v1
// default_plugins.go): the upstream plugins themselves, run in the upstream order with the
// upstream weights and default arguments. Plugins that need objects kubesim does not simulate
// (volumes, dynamic resources, pod groups) or a build-time version (NodeDeclaredFeatures) are left
// out. Preemption and binding are the scheduler's own (preemption.go, scheduler.go).
//
// A Framework is not safe for concurrent use: like upstream's scheduling loop, it runs one
// scheduling cycle at a time over its one snapshot.
type Framework struct {
	// Now is the cluster's time: preemption treats pods that have not started as starting now.
	Now func() time.Time

	snapshot   *Snapshot
	preEnqueue []fwk.PreEnqueuePlugin
	preFilter  []fwk.PreFilterPlugin
	filter     []fwk.FilterPlugin
	preScore   []fwk.PreScorePlugin
	score      []fwk.ScorePlugin
	weights    map[string]int
	hints      map[fwk.ClusterEvent][]hint
}

// hint is one plugin's queueing hint for one cluster event (backend/queue QueueingHintFunction).
type hint struct {
	plugin string
	fn     fwk.QueueingHintFn
}

// pluginSpec is one entry of the default profile's MultiPoint list.
type pluginSpec struct {
	name   string
	weight int
	args   runtime.Object
	new    func(context.Context, runtime.Object, fwk.Handle, plfeature.Features) (fwk.Plugin, error)
}

// defaultResources is apis/config/v1 defaultResourceSpec.
var defaultResources = []config.ResourceSpec{{Name: string(v1.ResourceCPU), Weight: 1}, {Name: string(v1.ResourceMemory), Weight: 1}}

// defaultProfile lists the plugins in default_plugins.go order, with the arguments
// apis/config/v1/defaults.go gives them.
func defaultProfile() []pluginSpec {
	imageLocality := func(ctx context.Context, args runtime.Object, h fwk.Handle, _ plfeature.Features) (fwk.Plugin, error) {
		return imagelocality.New(ctx, args, h)
	}
	return []pluginSpec{
		{name: schedulinggates.Name, new: schedulinggates.New},
		{name: nodename.Name, new: nodename.New},
		{name: nodeunschedulable.Name, new: nodeunschedulable.New},
		{name: tainttoleration.Name, weight: 3, new: tainttoleration.New},
		{name: nodeaffinity.Name, weight: 2, args: &config.NodeAffinityArgs{}, new: nodeaffinity.New},
		{name: nodeports.Name, new: nodeports.New},
		{name: noderesources.Name, weight: 1, new: noderesources.NewFit, args: &config.NodeResourcesFitArgs{
			ScoringStrategy: &config.ScoringStrategy{Type: config.LeastAllocated, Resources: defaultResources},
		}},
		{name: podtopologyspread.Name, weight: 2, new: podtopologyspread.New,
			args: &config.PodTopologySpreadArgs{DefaultingType: config.SystemDefaulting}},
		{name: interpodaffinity.Name, weight: 2, new: interpodaffinity.New,
			args: &config.InterPodAffinityArgs{HardPodAffinityWeight: 1}},
		{name: noderesources.BalancedAllocationName, weight: 1, new: noderesources.NewBalancedAllocation,
			args: &config.NodeResourcesBalancedAllocationArgs{Resources: defaultResources}},
		{name: imagelocality.Name, weight: 1, new: imageLocality},
	}
}

// features are the scheduler feature gates as v1.37 defaults them, minus DRA-backed extended
// resources: kubesim has no DRA objects, and the plugins would need a DRA manager for them.
func features() plfeature.Features {
	f := plfeature.NewSchedulerFeaturesFromGates(utilfeature.DefaultFeatureGate)
	f.EnableDRAExtendedResource = false
	return f
}

// NewFramework builds the default profile. The plugins take the listers they need (namespaces,
// services, replica sets...) from informers; starting the informers is the caller's business, and
// an unstarted factory simply gives empty listers.
func NewFramework(informers informers.SharedInformerFactory) (*Framework, error) {
	// The plugins and the parallelizer update the scheduler's metrics: create them, but do not
	// register them anywhere (a process hosts many clusters).
	initMetrics.Do(metrics.InitMetrics)
	f := &Framework{snapshot: NewSnapshot(nil, nil), weights: map[string]int{}, hints: map[fwk.ClusterEvent][]hint{}}
	h := &handle{snapshot: f.snapshot, informers: informers, parallelizer: parallelize.NewParallelizer(1)}
	ctx := context.Background()
	fts := features()
	for _, spec := range defaultProfile() {
		pl, err := spec.new(ctx, spec.args, h, fts)
		if err != nil {
			return nil, fmt.Errorf("building plugin %s: %w", spec.name, err)
		}
		if err := f.add(ctx, pl, spec.weight); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// add files a plugin under every extension point it implements, as the framework runtime does for
// MultiPoint plugins, and registers its queueing hints (scheduler.go buildQueueingHintMap).
func (f *Framework) add(ctx context.Context, pl fwk.Plugin, weight int) error {
	if p, ok := pl.(fwk.PreEnqueuePlugin); ok {
		f.preEnqueue = append(f.preEnqueue, p)
	}
	if p, ok := pl.(fwk.PreFilterPlugin); ok {
		f.preFilter = append(f.preFilter, p)
	}
	if p, ok := pl.(fwk.FilterPlugin); ok {
		f.filter = append(f.filter, p)
	}
	if p, ok := pl.(fwk.PreScorePlugin); ok {
		f.preScore = append(f.preScore, p)
	}
	if p, ok := pl.(fwk.ScorePlugin); ok {
		f.score = append(f.score, p)
		f.weights[pl.Name()] = weight
	}
	ext, ok := pl.(fwk.EnqueueExtensions)
	if !ok {
		return nil
	}
	events, err := ext.EventsToRegister(ctx)
	if err != nil {
		return fmt.Errorf("registering the events of plugin %s: %w", pl.Name(), err)
	}
	for _, e := range events {
		fn := e.QueueingHintFn
		if fn == nil {
			fn = queueAlways
		}
		h := hint{plugin: pl.Name(), fn: fn}
		if e.Event.Resource == fwk.Pod {
			for _, pe := range framework.UnrollPodEvent(e.Event) {
				f.hints[pe] = append(f.hints[pe], h)
			}
			continue
		}
		f.hints[e.Event] = append(f.hints[e.Event], h)
	}
	return nil
}

var initMetrics sync.Once

// queueAlways is scheduler.go defaultQueueingHintFn.
func queueAlways(klog.Logger, *v1.Pod, interface{}, interface{}) (fwk.QueueingHint, error) {
	return fwk.Queue, nil
}

// handle gives the plugins what they ask of the framework: the snapshot, informers' listers and a
// parallelizer. It embeds a nil fwk.Handle: none of the plugins kubesim runs calls anything else.
type handle struct {
	fwk.Handle
	snapshot     *Snapshot
	informers    informers.SharedInformerFactory
	parallelizer parallelize.Parallelizer
}

func (h *handle) SnapshotSharedLister() fwk.SharedLister                 { return h.snapshot }
func (h *handle) SharedInformerFactory() informers.SharedInformerFactory { return h.informers }
func (h *handle) Parallelizer() fwk.Parallelizer                         { return h.parallelizer }

// SharedDRAManager is nil: with DRA-backed extended resources off, the resource plugins only
// keep it.
func (h *handle) SharedDRAManager() fwk.SharedDRAManager { return nil }
