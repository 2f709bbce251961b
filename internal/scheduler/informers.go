package scheduler

import (
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core"
	corev1informers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// withServedOnly hides the ReplicationController informer when the API does not serve
// replicationcontrollers: PodTopologySpread's default constraints list them, and an informer
// for a resource the server lacks never syncs and retries its list forever. The plugin then
// sees no replication controllers, which is the truth.
func withServedOnly(f informers.SharedInformerFactory, d discovery.DiscoveryInterface) informers.SharedInformerFactory {
	list, err := d.ServerResourcesForGroupVersion("v1")
	if err != nil {
		return f
	}
	for _, r := range list.APIResources {
		if r.Name == "replicationcontrollers" {
			return f
		}
	}
	return noRCFactory{f}
}

type noRCFactory struct {
	informers.SharedInformerFactory
}

func (f noRCFactory) Core() coreinformers.Interface { return noRCCore{f.SharedInformerFactory.Core()} }

type noRCCore struct{ coreinformers.Interface }

func (c noRCCore) V1() corev1informers.Interface { return noRCV1{c.Interface.V1()} }

type noRCV1 struct{ corev1informers.Interface }

func (noRCV1) ReplicationControllers() corev1informers.TypedReplicationControllerInformer {
	return emptyRCs{}
}

// emptyRCs is a ReplicationController informer that is never started: its lister is empty.
type emptyRCs struct{}

func (emptyRCs) Informer() cache.SharedIndexInformer { return nil }

func (emptyRCs) TypedInformer() corev1informers.ReplicationControllerIndexInformer { return nil }

func (emptyRCs) Lister() corelisters.ReplicationControllerLister {
	return corelisters.NewReplicationControllerLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}))
}
