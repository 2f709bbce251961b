package controllers

import (
	"context"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	nodeutil "k8s.io/kubernetes/pkg/controller/util/node"
	taintutils "k8s.io/kubernetes/pkg/util/taints"
)

// The condition taints the node lifecycle controller keeps in step with each node's conditions
// (pkg/controller/nodelifecycle: nodeConditionToTaintKeyStatusMap).
var conditionTaints = map[v1.NodeConditionType]map[v1.ConditionStatus]string{
	v1.NodeReady:              {v1.ConditionFalse: v1.TaintNodeNotReady, v1.ConditionUnknown: v1.TaintNodeUnreachable},
	v1.NodeMemoryPressure:     {v1.ConditionTrue: v1.TaintNodeMemoryPressure},
	v1.NodeDiskPressure:       {v1.ConditionTrue: v1.TaintNodeDiskPressure},
	v1.NodeNetworkUnavailable: {v1.ConditionTrue: v1.TaintNodeNetworkUnavailable},
	v1.NodePIDPressure:        {v1.ConditionTrue: v1.TaintNodePIDPressure},
}

var taintConditions = map[string]bool{
	v1.TaintNodeNotReady: true, v1.TaintNodeUnreachable: true, v1.TaintNodeNetworkUnavailable: true,
	v1.TaintNodeMemoryPressure: true, v1.TaintNodeDiskPressure: true, v1.TaintNodePIDPressure: true,
}

// nodeTaints is the NoSchedule half of the node lifecycle controller: every node carries exactly
// the NoSchedule taints its conditions (and spec.unschedulable) call for, as upstream's
// doNoScheduleTaintingPass keeps them. This is what removes the not-ready taint a node is
// registered with once its kubelet reports Ready.
type nodeTaints struct {
	client kubernetes.Interface
}

func startNodeTaints(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory) error {
	c := &nodeTaints{client: client}
	_, err := factory.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.reconcile(ctx, obj.(*v1.Node)) },
		UpdateFunc: func(_, obj any) { c.reconcile(ctx, obj.(*v1.Node)) },
	})
	return err
}

func (c *nodeTaints) reconcile(ctx context.Context, node *v1.Node) {
	var want []v1.Taint
	for _, cond := range node.Status.Conditions {
		if key, ok := conditionTaints[cond.Type][cond.Status]; ok {
			want = append(want, v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule})
	}
	have := taintutils.TaintSetFilter(node.Spec.Taints, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoSchedule && (t.Key == v1.TaintNodeUnschedulable || taintConditions[t.Key])
	})
	add, del := taintutils.TaintSetDiff(want, have)
	if len(add) == 0 && len(del) == 0 {
		return
	}
	if !nodeutil.SwapNodeControllerTaint(ctx, c.client, add, del, node) {
		klog.FromContext(ctx).Error(nil, "failed to swap taints", "node", node.Name)
	}
}
