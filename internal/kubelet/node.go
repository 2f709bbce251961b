package kubelet

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
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

// nodeState is the kubelet's node-side bookkeeping. The node status is checked and the lease
// renewed every 10 s for as long as the node lives, so both are kept cheap: the status is updated
// in place (its conditions), the parts of it that cannot change are built once, the images when
// the image cache changes, and what is written is copied out once per Ready.
type nodeState struct {
	status     *v1.NodeStatus // the current status, on the machine's time line; updated in place
	lastReport time.Time
	delay      time.Duration // delayAfterNodeStatusChange
	images     []Image       // the image cache, refreshed from ListImages
	listed     []Image       // the last list as the runtime gave it (a deep copy)
	ids        nodeIDs

	// imagesRev counts changes of the image cache's content; statusRev is the one status.Images
	// was made from. status.Images is replaced, never changed in place, so outImages can share it.
	imagesRev, statusRev uint64

	reported bool // a status has been written
	// settled: the last run of the condition setters changed nothing, so the next one only
	// renews the heartbeats (the setters read nothing but the conditions themselves)
	settled bool

	// The status to hand out in the next Ready, when outDue: its conditions on the wall clock.
	outDue    bool
	outConds  []v1.NodeCondition
	outImages []v1.ContainerImage

	lease    time.Time // the renewTime to hand out, when leaseDue
	leaseDue bool

	onImages   func(OpResult) // refreshImages' continuation
	imagesTick *timer         // refreshImages' timer
	statusTick *timer         // updateNodeStatus' timer
	leaseTick  *timer         // renewLease's timer
}

type nodeIDs struct{ bootID, machineID, systemUUID string }

// startNode schedules the node's periodic work and records the kubelet's start.
func (k *Kubelet) startNode() {
	k.nodeIDs()
	k.nodeState.onImages = k.imagesListed
	k.nodeState.imagesTick = &timer{index: -1, fn: k.refreshImages}
	k.nodeState.statusTick = &timer{index: -1, fn: k.updateNodeStatus}
	k.nodeState.leaseTick = &timer{index: -1, fn: k.renewLease}
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
	k.call(ListImagesOp{OpBase: k.nextID()}, k.nodeState.onImages)
}

// imagesListed updates the image cache from the runtime's list. The same list as last time (the
// usual case) leaves the cache as it is. What is kept is copied: the runtime may reuse its
// slices.
func (k *Kubelet) imagesListed(r OpResult) {
	ns := &k.nodeState
	if r.Err == nil && !imagesEqual(ns.listed, r.Images) {
		ns.listed = cloneImages(r.Images)
		imgs := cloneImages(r.Images)
		// sliceutils.ByImageSize: size descending, then ID descending.
		slices.SortStableFunc(imgs, func(a, b Image) int {
			if a.Size == b.Size {
				return -strings.Compare(a.ID, b.ID)
			}
			return -cmp.Compare(a.Size, b.Size)
		})
		if !imagesEqual(ns.images, imgs) {
			ns.images = imgs
			ns.imagesRev++
		}
	}
	k.rearm(ns.imagesTick, k.now.Add(imageCachePeriod))
}

func cloneImages(list []Image) []Image {
	out := make([]Image, len(list))
	for i, img := range list {
		img.RepoTags, img.RepoDigests = slices.Clone(img.RepoTags), slices.Clone(img.RepoDigests)
		out[i] = img
	}
	return out
}

func imagesEqual(a, b []Image) bool {
	return slices.EqualFunc(a, b, func(x, y Image) bool {
		return x.ID == y.ID && x.Size == y.Size && x.Pinned == y.Pinned &&
			slices.Equal(x.RepoTags, y.RepoTags) && slices.Equal(x.RepoDigests, y.RepoDigests)
	})
}

// renewLease renews the node's Lease in kube-node-lease every nodeLeaseDurationSeconds/4. Only
// the last renewal of a Step is handed out (Ready.RenewLease).
func (k *Kubelet) renewLease() {
	k.nodeState.lease, k.nodeState.leaseDue = k.wall(k.now), true
	k.rearm(k.nodeState.leaseTick, k.now.Add(time.Duration(k.cfg.NodeLeaseDurationSeconds)*time.Second/leaseRenewFraction))
}

// updateNodeStatus is tryUpdateNodeStatus, every nodeStatusUpdateFrequency: the status is patched
// when it changed (heartbeat times aside) or when nodeStatusReportFrequency has passed. A change
// is always written at once, so the status before this update is the one last written, and
// whether the status differs from it is whether this update changed it.
func (k *Kubelet) updateNodeStatus() {
	defer k.rearm(k.nodeState.statusTick, k.now.Add(k.cfg.NodeStatusUpdateFrequency.Duration))
	s, changed := k.computeNodeStatus()
	changed = changed || !k.nodeState.reported
	expired := !k.nodeState.lastReport.IsZero() && k.now.Sub(k.nodeState.lastReport) >= k.cfg.NodeStatusReportFrequency.Duration+k.nodeState.delay
	if !changed && !expired && k.nodeState.reported {
		return
	}
	if changed || k.nodeState.lastReport.IsZero() {
		// calculateDelay: a random part of the report period, so that nodes spread out.
		k.nodeState.delay = time.Duration(float64(k.cfg.NodeStatusReportFrequency.Duration) * (-0.5 + k.rand.Float64()))
	} else {
		k.nodeState.delay = 0
	}
	ns := &k.nodeState
	ns.reported = true
	ns.lastReport = k.now
	ns.outDue = true
	ns.outConds = append(ns.outConds[:0], s.Conditions...)
	for i := range ns.outConds {
		c := &ns.outConds[i]
		c.LastHeartbeatTime = metav1.NewTime(k.wall(c.LastHeartbeatTime.Time))
		c.LastTransitionTime = metav1.NewTime(k.wall(c.LastTransitionTime.Time))
	}
	ns.outImages = s.Images
}

// nodeReady adds the node status written and the lease renewed during the Step to rd.
func (k *Kubelet) nodeReady(rd *Ready) {
	ns := &k.nodeState
	if ns.outDue {
		s := *ns.status // the parts that never change
		s.Conditions, s.Images = ns.outConds, ns.outImages
		rd.NodeStatus, ns.outDue = s.DeepCopy(), false
	}
	if ns.leaseDue {
		t := ns.lease
		rd.RenewLease, ns.leaseDue = &t, false
	}
}

// computeNodeStatus runs the kubelet's node status setters on the current status: the parts that
// cannot change are set once, the images when the image cache changed, the conditions every time.
// It reports whether anything but heartbeat times changed.
func (k *Kubelet) computeNodeStatus() (*v1.NodeStatus, bool) {
	ns := &k.nodeState
	s := ns.status
	if s == nil {
		s = k.staticNodeStatus()
		s.Images = k.nodeImages()
		ns.status, ns.statusRev = s, ns.imagesRev
	}
	changed := false
	if ns.statusRev != ns.imagesRev {
		images := k.nodeImages()
		changed = !apiequality.Semantic.DeepEqual(s.Images, images)
		s.Images, ns.statusRev = images, ns.imagesRev
	}
	now := metav1.NewTime(k.now)
	if ns.settled {
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = now
		}
		return s, changed
	}
	conds := k.pressureCondition(s, now, v1.NodeMemoryPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasSufficientMemory")
	conds = k.pressureCondition(s, now, v1.NodeDiskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure") || conds
	conds = k.pressureCondition(s, now, v1.NodePIDPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID") || conds
	conds = k.readyCondition(s, now) || conds
	ns.settled = !conds
	return s, changed || conds
}

// staticNodeStatus is what the setters report that depends only on the node and the
// configuration: addresses, capacity, system info, endpoints, runtime handlers and features.
func (k *Kubelet) staticNodeStatus() *v1.NodeStatus {
	s := &v1.NodeStatus{}
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
	// containerd 2.x: the default handler and runc support recursive read-only mounts and user
	// namespaces; SupplementalGroupsPolicy (GA) is supported.
	for _, name := range []string{"", "runc"} {
		s.RuntimeHandlers = append(s.RuntimeHandlers, v1.NodeRuntimeHandler{Name: name,
			Features: &v1.NodeRuntimeHandlerFeatures{RecursiveReadOnlyMounts: ptr.To(true), UserNamespaces: ptr.To(true)}})
	}
	s.Features = &v1.NodeFeatures{SupplementalGroupsPolicy: ptr.To(true)}
	return s
}

// pressureCondition is the Memory/Disk/PIDPressure setter for a node without pressure: a new
// condition starts Unknown and turns False, with an event. It reports whether the condition
// changed (heartbeat aside).
func (k *Kubelet) pressureCondition(s *v1.NodeStatus, now metav1.Time, t v1.NodeConditionType, reason, message, event string) bool {
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
	changed := isNew
	if c.Status != v1.ConditionFalse {
		c.Status, c.Reason, c.Message, c.LastTransitionTime = v1.ConditionFalse, reason, message, now
		k.eventf(k.nodeRef(), v1.EventTypeNormal, event, "Node %s status is now: %s", k.node.Name, event)
		changed = true
	}
	if isNew {
		s.Conditions = append(s.Conditions, *c)
	}
	return changed
}

// readyCondition is the Ready setter for a healthy kubelet; it stays last in the list. It reports
// whether the condition changed (heartbeat aside).
func (k *Kubelet) readyCondition(s *v1.NodeStatus, now metav1.Time) bool {
	c := v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: now}
	for i := range s.Conditions {
		if s.Conditions[i].Type != v1.NodeReady {
			continue
		}
		old := &s.Conditions[i]
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		} else {
			c.LastTransitionTime = now
			k.eventf(k.nodeRef(), v1.EventTypeNormal, events.NodeReady, "Node %s status is now: %s", k.node.Name, events.NodeReady)
		}
		changed := !sameCondition(old, &c)
		*old = c
		return changed
	}
	c.LastTransitionTime = now
	s.Conditions = append(s.Conditions, c)
	return true
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

// sameCondition compares two node conditions, heartbeat times aside, as the semantic equality
// does (times by their instant).
func sameCondition(a, b *v1.NodeCondition) bool {
	return a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message &&
		a.LastTransitionTime.Equal(&b.LastTransitionTime)
}
