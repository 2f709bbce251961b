package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/kubelet/events"
	"k8s.io/utils/ptr"
)

// What a kubeadm node with containerd 2.x and kubelet v1.37.2 reports about itself.
const (
	KubeletVersion          = "v1.37.2"
	ContainerRuntimeVersion = "containerd://2.1.4"
	KernelVersion           = "6.8.0-85-generic"
	OSImage                 = "Ubuntu 24.04.3 LTS"
	kubeletPort             = 10250
	maxNamesPerImage        = 5 // nodestatus.MaxNamesPerImageInNodeStatus
	imageCachePeriod        = 30 * time.Second
	leaseRenewFraction      = 4 // the lease is renewed every leaseDuration/4
	evictionHardMemory      = "100Mi"
	evictionHardNodefsPct   = 10
)

// nodeState is the kubelet's node-side bookkeeping.
type nodeState struct {
	status     *v1.NodeStatus // the last status computed, on the machine's time line
	reported   *v1.NodeStatus // the last status written
	lastReport time.Time
	delay      time.Duration // delayAfterNodeStatusChange
	images     []Image       // the image cache, refreshed from ListImages
	ids        nodeIDs
}

type nodeIDs struct{ bootID, machineID, systemUUID string }

// startNode schedules the node's periodic work and records the kubelet's start.
func (k *Kubelet) startNode() {
	k.nodeIDs()
	k.at(k.now, func() {
		ref := k.nodeRef()
		k.event(ref, v1.EventTypeNormal, events.StartingKubelet, "Starting kubelet.")
		k.event(ref, v1.EventTypeNormal, events.SuccessfulNodeAllocatableEnforcement, "Updated Node Allocatable limit across pods")
		k.refreshImages()
		k.updateNodeStatus()
		k.renewLease()
		k.startStaticPods()
	})
}

// nodeIDs derives the machine's identifiers from its name, so that they are stable.
func (k *Kubelet) nodeIDs() {
	h := func(s string) string {
		sum := sha256.Sum256([]byte(k.node.Name + "/" + s))
		return hex.EncodeToString(sum[:16])
	}
	uuid := func(x string) string {
		return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
	}
	k.nodeState.ids = nodeIDs{bootID: uuid(h("boot")), machineID: h("machine"), systemUUID: uuid(h("system"))}
}

// refreshImages is the image GC manager's image cache, refreshed from the runtime every 30 s.
func (k *Kubelet) refreshImages() {
	k.call(ListImagesOp{OpBase: k.nextID()}, func(r OpResult) {
		if r.Err == nil {
			imgs := append([]Image(nil), r.Images...)
			// sliceutils.ByImageSize: size descending, then ID descending.
			sort.SliceStable(imgs, func(i, j int) bool {
				if imgs[i].Size == imgs[j].Size {
					return imgs[i].ID > imgs[j].ID
				}
				return imgs[i].Size > imgs[j].Size
			})
			k.nodeState.images = imgs
		}
		k.after(imageCachePeriod, k.refreshImages)
	})
}

// renewLease renews the node's Lease in kube-node-lease every nodeLeaseDurationSeconds/4.
func (k *Kubelet) renewLease() {
	t := k.wall(k.now)
	k.out.RenewLease = &t
	k.after(time.Duration(k.cfg.NodeLeaseDurationSeconds)*time.Second/leaseRenewFraction, k.renewLease)
}

// updateNodeStatus is tryUpdateNodeStatus, every nodeStatusUpdateFrequency: the status is patched
// when it changed (heartbeat times aside) or when nodeStatusReportFrequency has passed.
func (k *Kubelet) updateNodeStatus() {
	defer k.after(k.cfg.NodeStatusUpdateFrequency.Duration, k.updateNodeStatus)
	s := k.computeNodeStatus()
	k.nodeState.status = s
	changed := nodeStatusChanged(k.nodeState.reported, s)
	expired := !k.nodeState.lastReport.IsZero() && k.now.Sub(k.nodeState.lastReport) >= k.cfg.NodeStatusReportFrequency.Duration+k.nodeState.delay
	if !changed && !expired && k.nodeState.reported != nil {
		return
	}
	if changed || k.nodeState.lastReport.IsZero() {
		// calculateDelay: a random part of the report period, so that nodes spread out.
		k.nodeState.delay = time.Duration(float64(k.cfg.NodeStatusReportFrequency.Duration) * (-0.5 + k.rand.Float64()))
	} else {
		k.nodeState.delay = 0
	}
	k.nodeState.reported = s.DeepCopy()
	k.nodeState.lastReport = k.now
	out := s.DeepCopy()
	for i := range out.Conditions {
		c := &out.Conditions[i]
		c.LastHeartbeatTime = metav1.NewTime(k.wall(c.LastHeartbeatTime.Time))
		c.LastTransitionTime = metav1.NewTime(k.wall(c.LastTransitionTime.Time))
	}
	k.out.NodeStatus = out
}

func nodeStatusChanged(old, s *v1.NodeStatus) bool {
	if old == nil {
		return true
	}
	if len(old.Conditions) != len(s.Conditions) {
		return true
	}
	for i := range s.Conditions {
		a, b := old.Conditions[i], s.Conditions[i]
		a.LastHeartbeatTime, b.LastHeartbeatTime = metav1.Time{}, metav1.Time{}
		if !apiequality.Semantic.DeepEqual(a, b) {
			return true
		}
	}
	a, b := old.DeepCopy(), s.DeepCopy()
	a.Conditions, b.Conditions = nil, nil
	return !apiequality.Semantic.DeepEqual(a, b)
}

// computeNodeStatus runs the kubelet's node status setters.
func (k *Kubelet) computeNodeStatus() *v1.NodeStatus {
	s := &v1.NodeStatus{}
	if old := k.nodeState.status; old != nil {
		s.Conditions = append(s.Conditions, old.Conditions...)
	}
	now := metav1.NewTime(k.now)
	if k.node.InternalIP != "" {
		s.Addresses = append(s.Addresses, v1.NodeAddress{Type: v1.NodeInternalIP, Address: k.node.InternalIP})
	}
	s.Addresses = append(s.Addresses, v1.NodeAddress{Type: v1.NodeHostName, Address: k.node.Name})
	s.Capacity, s.Allocatable = k.capacity()
	s.NodeInfo = v1.NodeSystemInfo{
		MachineID:               k.nodeState.ids.machineID,
		SystemUUID:              k.nodeState.ids.systemUUID,
		BootID:                  k.nodeState.ids.bootID,
		KernelVersion:           KernelVersion,
		OSImage:                 OSImage,
		ContainerRuntimeVersion: ContainerRuntimeVersion,
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         "linux",
		Architecture:            "amd64",
	}
	s.DaemonEndpoints.KubeletEndpoint.Port = kubeletPort
	s.Images = k.nodeImages()
	// containerd 2.x: the default handler and runc support recursive read-only mounts and user
	// namespaces; SupplementalGroupsPolicy (GA) is supported.
	for _, name := range []string{"", "runc"} {
		s.RuntimeHandlers = append(s.RuntimeHandlers, v1.NodeRuntimeHandler{Name: name,
			Features: &v1.NodeRuntimeHandlerFeatures{RecursiveReadOnlyMounts: ptr.To(true), UserNamespaces: ptr.To(true)}})
	}
	s.Features = &v1.NodeFeatures{SupplementalGroupsPolicy: ptr.To(true)}

	k.pressureCondition(s, now, v1.NodeMemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasSufficientMemory")
	k.pressureCondition(s, now, v1.NodeDiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure")
	k.pressureCondition(s, now, v1.NodePIDPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID")
	k.readyCondition(s, now)
	return s
}

// pressureCondition is the Memory/Disk/PIDPressure setter for a node without pressure: a new
// condition starts Unknown and turns False, with an event.
func (k *Kubelet) pressureCondition(s *v1.NodeStatus, now metav1.Time, t v1.NodeConditionType, reason, message, event string) {
	var c *v1.NodeCondition
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			c = &s.Conditions[i]
		}
	}
	isNew := c == nil
	if isNew {
		c = &v1.NodeCondition{Type: t, Status: v1.ConditionUnknown}
	}
	c.LastHeartbeatTime = now
	if c.Status != v1.ConditionFalse {
		c.Status, c.Reason, c.Message, c.LastTransitionTime = v1.ConditionFalse, reason, message, now
		k.eventf(k.nodeRef(), v1.EventTypeNormal, event, "Node %s status is now: %s", k.node.Name, event)
	}
	if isNew {
		s.Conditions = append(s.Conditions, *c)
	}
}

// readyCondition is the Ready setter for a healthy kubelet; it stays last in the list.
func (k *Kubelet) readyCondition(s *v1.NodeStatus, now metav1.Time) {
	c := v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: now}
	for i := range s.Conditions {
		if s.Conditions[i].Type != v1.NodeReady {
			continue
		}
		if s.Conditions[i].Status == c.Status {
			c.LastTransitionTime = s.Conditions[i].LastTransitionTime
		} else {
			c.LastTransitionTime = now
			k.eventf(k.nodeRef(), v1.EventTypeNormal, events.NodeReady, "Node %s status is now: %s", k.node.Name, events.NodeReady)
		}
		s.Conditions[i] = c
		return
	}
	c.LastTransitionTime = now
	s.Conditions = append(s.Conditions, c)
}

// capacity is the MachineInfo setter: the machine's resources, and allocatable after kubeadm's
// default hard eviction thresholds (memory.available<100Mi, nodefs.available<10%).
func (k *Kubelet) capacity() (v1.ResourceList, v1.ResourceList) {
	cpu, mem := k.node.CPU, k.node.Memory
	if cpu == "" {
		cpu = "2"
	}
	if mem == "" {
		mem = "4Gi"
	}
	memQ := resource.MustParse(mem)
	memQ = *resource.NewQuantity(memQ.Value(), resource.BinarySI)
	storage := resource.NewQuantity(k.cfg.ImageFSCapacity, resource.BinarySI)
	c := v1.ResourceList{
		v1.ResourceCPU:              resource.MustParse(cpu),
		v1.ResourceMemory:           memQ,
		v1.ResourcePods:             *resource.NewQuantity(int64(k.cfg.MaxPods), resource.DecimalSI),
		v1.ResourceEphemeralStorage: *storage,
		"hugepages-1Gi":             resource.MustParse("0"),
		"hugepages-2Mi":             resource.MustParse("0"),
	}
	a := c.DeepCopy()
	m := a[v1.ResourceMemory]
	m.Sub(resource.MustParse(evictionHardMemory))
	a[v1.ResourceMemory] = m
	a[v1.ResourceEphemeralStorage] = *resource.NewQuantity(k.cfg.ImageFSCapacity-k.cfg.ImageFSCapacity*evictionHardNodefsPct/100, resource.DecimalSI)
	return c, a
}

// nodeImages is the Images setter: the cached list (already sorted) truncated to
// nodeStatusMaxImages, each with its repo digests then tags, at most five names.
func (k *Kubelet) nodeImages() []v1.ContainerImage {
	imgs := k.nodeState.images
	if n := int(ptr.Deref(k.cfg.NodeStatusMaxImages, 50)); n > -1 && n < len(imgs) {
		imgs = imgs[:n]
	}
	var out []v1.ContainerImage
	for _, img := range imgs {
		names := append(append([]string{}, img.RepoDigests...), img.RepoTags...)
		if len(names) > maxNamesPerImage {
			names = names[:maxNamesPerImage]
		}
		out = append(out, v1.ContainerImage{Names: names, SizeBytes: img.Size})
	}
	return out
}

// NodeObject is the Node the kubelet registers (initialNode), with what kubeadm adds to it: the
// cri-socket annotation and, on a control-plane node, its role label and taint.
func (k *Kubelet) NodeObject() *v1.Node {
	n := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: k.node.Name,
			Labels: map[string]string{
				"beta.kubernetes.io/arch": "amd64",
				"beta.kubernetes.io/os":   "linux",
				"kubernetes.io/arch":      "amd64",
				"kubernetes.io/hostname":  k.node.Name,
				"kubernetes.io/os":        "linux",
			},
			Annotations: map[string]string{
				"kubeadm.alpha.kubernetes.io/cri-socket":                 "unix:///var/run/containerd/containerd.sock",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
	}
	if k.node.PodCIDR != "" {
		n.Spec.PodCIDR = k.node.PodCIDR
		n.Spec.PodCIDRs = []string{k.node.PodCIDR}
	}
	if k.node.ControlPlane {
		n.Labels["node-role.kubernetes.io/control-plane"] = ""
		n.Labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		n.Spec.Taints = []v1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: v1.TaintEffectNoSchedule}}
	}
	if s := k.nodeState.status; s != nil {
		n.Status = *s.DeepCopy()
	}
	for i := range n.Status.Conditions {
		c := &n.Status.Conditions[i]
		c.LastHeartbeatTime = metav1.NewTime(k.wall(c.LastHeartbeatTime.Time))
		c.LastTransitionTime = metav1.NewTime(k.wall(c.LastTransitionTime.Time))
	}
	return n
}
