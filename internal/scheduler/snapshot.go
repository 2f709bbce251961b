package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	fwk "k8s.io/kube-scheduler/framework"
	"k8s.io/kubernetes/pkg/scheduler/framework"
)

// Snapshot is the scheduler's view of the cluster for one scheduling cycle: every node with the
// pods bound (or assumed) to it, as upstream's backend/cache Snapshot. The upstream plugins read
// it through fwk.SharedLister. Nodes keep the order they are given in, so that ties and
// "first feasible node" outcomes are deterministic.
type Snapshot struct {
	list          []fwk.NodeInfo
	byName        map[string]*framework.NodeInfo
	withAffinity  []fwk.NodeInfo
	withRequired  []fwk.NodeInfo
	withNonHost   []fwk.NodeInfo
	usedPVCCounts map[string]int
}

var (
	_ fwk.SharedLister      = (*Snapshot)(nil)
	_ fwk.NodeInfoLister    = (*Snapshot)(nil)
	_ fwk.StorageInfoLister = (*Snapshot)(nil)
)

// NewSnapshot builds a snapshot of nodes (in this order) and the pods bound to them. Pods bound to
// a node not in the list are ignored, as the scheduler cache only reports nodes it knows.
func NewSnapshot(nodes []*v1.Node, pods []*v1.Pod) *Snapshot {
	s := &Snapshot{}
	s.Update(nodes, pods)
	return s
}

// Update replaces the snapshot's content in place: plugins hold on to the lister they were built
// with, as upstream's plugins hold on to the scheduler's one snapshot.
func (s *Snapshot) Update(nodes []*v1.Node, pods []*v1.Pod) {
	byPodNode := map[string][]*v1.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			byPodNode[p.Spec.NodeName] = append(byPodNode[p.Spec.NodeName], p)
		}
	}
	images := imageExistence(nodes)
	*s = Snapshot{byName: make(map[string]*framework.NodeInfo, len(nodes)), usedPVCCounts: map[string]int{}}
	for _, n := range nodes {
		ni := framework.NewNodeInfo(byPodNode[n.Name]...)
		ni.SetNode(n)
		ni.ImageStates = nodeImageStates(n, images)
		s.byName[n.Name] = ni
		s.list = append(s.list, ni)
		if len(ni.PodsWithAffinity) > 0 {
			s.withAffinity = append(s.withAffinity, ni)
		}
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			s.withRequired = append(s.withRequired, ni)
		}
		if len(ni.PodsWithRequiredNonHostScopedAntiAffinity) > 0 {
			s.withNonHost = append(s.withNonHost, ni)
		}
		for k, c := range ni.PVCRefCounts {
			s.usedPVCCounts[k] += c
		}
	}
}

// imageExistence maps each image name to the nodes that have it (backend/cache
// createImageExistenceMap).
func imageExistence(nodes []*v1.Node) map[string]sets.Set[string] {
	m := map[string]sets.Set[string]{}
	for _, n := range nodes {
		for _, img := range n.Status.Images {
			for _, name := range img.Names {
				if m[name] == nil {
					m[name] = sets.New[string]()
				}
				m[name].Insert(n.Name)
			}
		}
	}
	return m
}

// nodeImageStates is backend/cache getNodeImageStates: what ImageLocality scores with.
func nodeImageStates(n *v1.Node, images map[string]sets.Set[string]) map[string]*fwk.ImageStateSummary {
	states := map[string]*fwk.ImageStateSummary{}
	for _, img := range n.Status.Images {
		for _, name := range img.Names {
			states[name] = &fwk.ImageStateSummary{Size: img.SizeBytes, NumNodes: images[name].Len()}
		}
	}
	return states
}

// NumNodes is the number of nodes in the snapshot.
func (s *Snapshot) NumNodes() int { return len(s.list) }

// NodeInfos implements fwk.SharedLister.
func (s *Snapshot) NodeInfos() fwk.NodeInfoLister { return s }

// StorageInfos implements fwk.SharedLister.
func (s *Snapshot) StorageInfos() fwk.StorageInfoLister { return s }

// PodGroupStates implements fwk.SharedLister; kubesim runs no pod-group plugins.
func (s *Snapshot) PodGroupStates() fwk.PodGroupStateLister { return nil }

// PodGroups implements fwk.SharedLister; kubesim runs no pod-group plugins.
func (s *Snapshot) PodGroups() fwk.PodGroupLister { return nil }

// CompositePodGroupStates implements fwk.SharedLister; kubesim runs no pod-group plugins.
func (s *Snapshot) CompositePodGroupStates() fwk.CompositePodGroupStateLister { return nil }

// CompositePodGroups implements fwk.SharedLister; kubesim runs no pod-group plugins.
func (s *Snapshot) CompositePodGroups() fwk.CompositePodGroupLister { return nil }

// List implements fwk.NodeInfoLister.
func (s *Snapshot) List() ([]fwk.NodeInfo, error) { return s.list, nil }

// HavePodsWithAffinityList implements fwk.NodeInfoLister.
func (s *Snapshot) HavePodsWithAffinityList() ([]fwk.NodeInfo, error) { return s.withAffinity, nil }

// HavePodsWithRequiredAntiAffinityList implements fwk.NodeInfoLister.
func (s *Snapshot) HavePodsWithRequiredAntiAffinityList() ([]fwk.NodeInfo, error) {
	return s.withRequired, nil
}

// HavePodsWithRequiredNonHostScopedAntiAffinityList implements fwk.NodeInfoLister.
func (s *Snapshot) HavePodsWithRequiredNonHostScopedAntiAffinityList() ([]fwk.NodeInfo, error) {
	return s.withNonHost, nil
}

// Get implements fwk.NodeInfoLister, with backend/cache's error text.
func (s *Snapshot) Get(nodeName string) (fwk.NodeInfo, error) {
	if ni, ok := s.byName[nodeName]; ok && ni.Node() != nil {
		return ni, nil
	}
	return nil, fmt.Errorf("nodeinfo not found for node name %q", nodeName)
}

// IsPVCUsedByPods implements fwk.StorageInfoLister.
func (s *Snapshot) IsPVCUsedByPods(key string) bool { return s.usedPVCCounts[key] > 0 }
