package kubelet

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubeletconfig "k8s.io/kubelet/config/v1beta1"
	"k8s.io/kubernetes/pkg/util/parsers"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// epoch is the transcripts' time zero; outputs print times as offsets from it.
var epoch = time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)

// harness is the transcripts' driver: it plays the API server (pods, secrets, events) and the
// node's runtime (fakeRuntime) around one kubelet. Commands:
//
//	new [node=NAME] [control-plane] [preload-static] [node-log] [seed=N] [KubeletConfiguration
//	    field=value ...] [bandwidth=B/s] [fs-capacity=BYTES]     a fresh node (empty runtime)
//	registry push=(REF, ...) [size=N] | host=H [down|up] [user=U password=P]
//	load image=(REF, ...) [pinned]       put images on the node without the kubelet
//	rmi image=REF | fail-inspect image=REF error=(TEXT)
//	secret name=N registry=R user=U password=P | secret name=N delete
//	add-pod name=N image=I [policy=P] [restart=R] [command=(...)] [args=(...)] [init=(I, ...)]
//	    [initN-command=(...)] [secrets=(...)]    or add-pod with a Pod in YAML as input
//	update-pod N image=I | delete-pod N [grace=S]
//	step DURATION [quiet] [only=POD|node]      advance the clock; prints what the kubelet wrote
//	status N | pod-yaml N | events [pod=N] [node] | images | node-status | lease
//
// step prints one line per status write (phase, each container's state), event (with its count
// once it is a patch), pod deletion, mirror pod creation and, with node-log, node status write.
type harness struct {
	t       testing.TB
	k       *Kubelet
	rt      *fakeRuntime
	now     time.Time
	next    time.Time
	pods    map[string]*v1.Pod // by name (namespace default)
	podSeq  int
	secrets map[string]*secretEntry
	events  []*v1.Event // in creation order
	node    *v1.NodeStatus
	lease   *time.Time
	mirrors []*v1.Pod
	log     *strings.Builder
	quiet   bool
	only    string // log only this pod's lines
	nodeLog bool   // log the node's events and status writes too
	rvSeq   int
	writes  writeCounts
	onReady func(Ready) // when set, sees every Ready before it is carried out
}

// writeCounts counts what the kubelet handed out.
type writeCounts struct {
	statuses, events int
	orphanUpdates    int // event updates of events never created
}

type secretEntry struct{ secret *v1.Secret }

func newHarness(t testing.TB) *harness {
	return &harness{t: t, rt: newFakeRuntime(), now: epoch, pods: map[string]*v1.Pod{}, secrets: map[string]*secretEntry{}}
}

func TestTranscripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := newHarness(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			h.t = t
			return h.run(d)
		})
	})
}

func (h *harness) run(d *datadriven.TestData) string {
	var out strings.Builder
	h.log = &out
	switch d.Cmd {
	case "new":
		h.cmdNew(d)
	case "registry":
		h.cmdRegistry(d)
	case "load":
		for _, ref := range h.vals(d, "image") {
			if err := h.rt.load(ref); err != nil {
				return err.Error()
			}
			if d.HasArg("pinned") {
				h.rt.find(ref).Pinned = true
			}
		}
	case "rmi":
		if err := h.rt.remove(h.val(d, "image", "")); err != nil {
			return err.Error()
		}
	case "fail-inspect":
		h.rt.failNext[h.val(d, "image", "")] = fmt.Errorf("%s", h.val(d, "error", ""))
	case "secret":
		h.cmdSecret(d)
	case "add-pod":
		pod := h.makePod(d)
		h.pods[pod.Name] = pod
		h.feed(PodUpsert{Pod: pod})
	case "update-pod":
		pod := h.pod(d)
		pod.ResourceVersion = h.rv()
		if img, ok := d.Arg("image"); ok {
			pod.Spec.Containers[0].Image = img.Vals[0]
			pod.Generation++
		}
		h.feed(PodUpsert{Pod: pod.DeepCopy()})
	case "delete-pod":
		pod := h.pod(d)
		grace := *pod.Spec.TerminationGracePeriodSeconds
		if g, ok := d.Arg("grace"); ok {
			grace, _ = strconv.ParseInt(g.Vals[0], 10, 64)
		}
		ts := metav1.NewTime(h.now)
		pod.DeletionTimestamp = &ts
		pod.DeletionGracePeriodSeconds = &grace
		pod.ResourceVersion = h.rv()
		h.feed(PodUpsert{Pod: pod.DeepCopy()})
	case "step":
		dur, err := time.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			h.t.Fatal(err)
		}
		h.quiet = d.HasArg("quiet")
		h.only = h.val(d, "only", "")
		if h.only == "node" {
			h.only = nodeLine
		}
		h.step(dur)
		h.quiet, h.only = false, ""
	case "status":
		return h.status(h.pod(d))
	case "events":
		return h.printEvents(h.val(d, "pod", ""), d.HasArg("node"))
	case "images":
		return h.printImages()
	case "node-status":
		b, err := yaml.Marshal(h.node)
		if err != nil {
			h.t.Fatal(err)
		}
		return withOffsets(string(b))
	case "lease":
		if h.lease == nil {
			return "none\n"
		}
		return "renewTime: t+" + fmtDur(h.lease.Sub(epoch)) + "\n"
	case "pod-yaml":
		b, err := yaml.Marshal(h.pod(d))
		if err != nil {
			h.t.Fatal(err)
		}
		return withOffsets(string(b))
	default:
		h.t.Fatalf("unknown command %q", d.Cmd)
	}
	return out.String()
}

func (h *harness) val(d *datadriven.TestData, key, def string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return def
}

func (h *harness) vals(d *datadriven.TestData, key string) []string {
	if a, ok := d.Arg(key); ok {
		return a.Vals
	}
	return nil
}

func (h *harness) pod(d *datadriven.TestData) *v1.Pod {
	name := h.val(d, "name", "")
	if name == "" && len(d.CmdArgs) > 0 {
		name = d.CmdArgs[0].Key
	}
	pod := h.pods[name]
	if pod == nil {
		h.t.Fatalf("no pod %q", name)
	}
	return pod
}

func (h *harness) rv() string {
	h.rvSeq++
	return strconv.Itoa(100 + h.rvSeq)
}

func (h *harness) cmdNew(d *datadriven.TestData) {
	// A new node: its runtime starts empty; the registries stay.
	reg, hosts := h.rt.registry, h.rt.hosts
	h.rt = newFakeRuntime()
	h.rt.registry, h.rt.hosts = reg, hosts
	h.events, h.node, h.lease = nil, nil, nil
	// Options that concern the node's runtime apply before the kubelet starts.
	var cfg Config
	kc := &cfg.KubeletConfiguration
	for _, a := range d.CmdArgs {
		v := ""
		if len(a.Vals) > 0 {
			v = a.Vals[0]
		}
		n, _ := strconv.Atoi(v)
		switch a.Key {
		case "serializeImagePulls":
			kc.SerializeImagePulls = ptr.To(v == "true")
		case "maxParallelImagePulls":
			kc.MaxParallelImagePulls = ptr.To(int32(n))
		case "registryPullQPS":
			kc.RegistryPullQPS = ptr.To(int32(n))
		case "registryBurst":
			kc.RegistryBurst = int32(n)
		case "nodeStatusMaxImages":
			kc.NodeStatusMaxImages = ptr.To(int32(n))
		case "imagePullCredentialsVerificationPolicy":
			kc.ImagePullCredentialsVerificationPolicy = kubeletconfig.ImagePullCredentialsVerificationPolicy(v)
		case "preloadedImagesVerificationAllowlist":
			kc.PreloadedImagesVerificationAllowlist = a.Vals
		case "bandwidth":
			cfg.PullBandwidth = int64(n)
		case "fs-capacity":
			c, _ := strconv.ParseInt(v, 10, 64)
			cfg.ImageFSCapacity = c
			h.rt.capacity = c
		case "imageMinimumGCAge":
			cfg.ImageMinimumGCAge.Duration, _ = time.ParseDuration(v)
		case "imageMaximumGCAge":
			cfg.ImageMaximumGCAge.Duration, _ = time.ParseDuration(v)
		}
	}
	node := Node{Name: h.valArgs(d, "node", "node-1"), InternalIP: "192.168.1.11", PodCIDR: "10.244.1.0/24", CPU: "4", Memory: "8Gi"}
	node.ControlPlane = d.HasArg("control-plane")
	h.nodeLog = d.HasArg("node-log")
	if d.HasArg("preload-static") {
		for _, ref := range StaticPodImages() {
			if err := h.rt.load(ref); err != nil {
				h.t.Fatal(err)
			}
		}
	}
	seed, _ := strconv.ParseInt(h.valArgs(d, "seed", "1"), 10, 64)
	k, err := New(cfg, node, rand.New(rand.NewSource(seed)), h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	h.k = k
	h.feed()
}

func (h *harness) valArgs(d *datadriven.TestData, key, def string) string { return h.val(d, key, def) }

func (h *harness) cmdRegistry(d *datadriven.TestData) {
	for _, ref := range h.vals(d, "push") {
		size, _ := strconv.ParseInt(h.val(d, "size", "1000000"), 10, 64)
		if err := h.rt.push(ref, size); err != nil {
			h.t.Fatal(err)
		}
	}
	if host := h.val(d, "host", ""); host != "" {
		hh := h.rt.host(host)
		hh.down = d.HasArg("down")
		if d.HasArg("up") {
			hh.down = false
		}
		if u := h.val(d, "user", ""); u != "" {
			hh.user, hh.password = u, h.val(d, "password", "")
		}
	}
}

func (h *harness) cmdSecret(d *datadriven.TestData) {
	name := h.val(d, "name", "")
	if d.HasArg("delete") {
		delete(h.secrets, "default/"+name)
		return
	}
	user, pass := h.val(d, "user", ""), h.val(d, "password", "")
	auths := map[string]any{h.val(d, "registry", ""): map[string]string{
		"username": user, "password": pass, "auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}
	data, _ := json.Marshal(map[string]any{"auths": auths})
	h.secrets["default/"+name] = &secretEntry{secret: &v1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("secret-uid-" + name)},
		Type:       v1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{v1.DockerConfigJsonKey: data},
	}}
}

// defaultPullPolicy is the API server's defaulting of imagePullPolicy (spec §1.1).
func defaultPullPolicy(image string) v1.PullPolicy {
	_, tag, _, err := parsers.ParseImageName(image)
	if err == nil && tag == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

func (h *harness) makePod(d *datadriven.TestData) *v1.Pod {
	h.podSeq++
	name := h.val(d, "name", "web")
	pod := &v1.Pod{}
	if strings.TrimSpace(d.Input) != "" {
		if err := yaml.UnmarshalStrict([]byte(d.Input), pod); err != nil {
			h.t.Fatal(err)
		}
		name = pod.Name
	} else {
		c := v1.Container{Name: h.val(d, "container", name), Image: h.val(d, "image", "nginx"), ImagePullPolicy: v1.PullPolicy(h.val(d, "policy", ""))}
		c.Command = h.vals(d, "command")
		c.Args = h.vals(d, "args")
		pod.Spec.Containers = []v1.Container{c}
		for i, img := range h.vals(d, "init") {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: fmt.Sprintf("init%d", i+1), Image: img, Command: h.vals(d, fmt.Sprintf("init%d-command", i+1))})
		}
		for _, s := range h.vals(d, "secrets") {
			pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, v1.LocalObjectReference{Name: s})
		}
		pod.Spec.RestartPolicy = v1.RestartPolicy(h.val(d, "restart", ""))
	}
	pod.Name, pod.Namespace = name, "default"
	pod.UID = types.UID(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", 0x5eed0000+h.podSeq, h.podSeq, h.podSeq, h.podSeq, h.podSeq))
	pod.ResourceVersion = h.rv()
	pod.Generation = 1
	pod.CreationTimestamp = metav1.NewTime(h.now)
	// API server defaults.
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = v1.RestartPolicyAlways
	}
	if pod.Spec.TerminationGracePeriodSeconds == nil {
		pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
	}
	pod.Spec.NodeName = h.k.node.Name
	for _, list := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].ImagePullPolicy == "" {
				list[i].ImagePullPolicy = defaultPullPolicy(list[i].Image)
			}
		}
	}
	pod.Status = v1.PodStatus{
		Phase:    v1.PodPending,
		QOSClass: v1.PodQOSBestEffort,
		Conditions: []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(h.now)}},
	}
	return pod
}

// feed steps the kubelet with inputs at the current time and drives it until it has nothing to
// do.
func (h *harness) feed(in ...Input) { h.drive(h.k.Step(h.now, in...)) }

// drive carries out rd and what follows from it, at the current time.
func (h *harness) drive(rd Ready) {
	for {
		if h.onReady != nil {
			h.onReady(rd)
		}
		next := h.handle(rd)
		if len(rd.Ops) > 0 {
			next = append(h.rt.exec(rd.Ops, h.secrets), next...)
		}
		if len(next) == 0 {
			h.next = rd.NextWake
			return
		}
		rd = h.k.Step(h.now, next...)
	}
}

func (h *harness) step(d time.Duration) {
	target := h.now.Add(d)
	for !h.next.IsZero() && !h.next.After(target) {
		if h.next.After(h.now) {
			h.now = h.next
		}
		h.feed()
	}
	h.now = target
	h.feed()
}

func (h *harness) at() string { return fmtDur(h.now.Sub(epoch)) }

func fmtDur(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return d.String()
}

func (h *harness) logf(pod, format string, args ...any) {
	if h.quiet || (h.only != "" && pod != h.only) || (pod == nodeLine && !h.nodeLog) {
		return
	}
	fmt.Fprintf(h.log, "%-8s ", h.at())
	fmt.Fprintf(h.log, format, args...)
	h.log.WriteString("\n")
}

// handle plays the API server's part for one Ready: it stores statuses and events, deletes pods,
// and returns the inputs an informer would then deliver.
func (h *harness) handle(rd Ready) []Input {
	var next []Input
	si, ei := 0, 0
	for si < len(rd.PodStatuses) || ei < len(rd.Events) {
		if ei < len(rd.Events) && (si == len(rd.PodStatuses) || rd.Events[ei].Seq < rd.PodStatuses[si].Seq) {
			h.storeEvent(rd.Events[ei])
			ei++
			continue
		}
		u := rd.PodStatuses[si]
		si++
		h.writes.statuses++
		pod := h.pods[u.Name]
		if pod == nil || (u.UID != "" && pod.UID != u.UID) {
			continue
		}
		pod.Status = *u.Status.DeepCopy()
		pod.ResourceVersion = h.rv()
		h.logf(u.Name, "status %s: %s", u.Name, summary(&u.Status))
		next = append(next, PodUpsert{Pod: pod.DeepCopy()})
	}
	for _, ref := range rd.DeletePods {
		pod := h.pods[ref.Name]
		if pod == nil || pod.UID != ref.UID {
			continue
		}
		delete(h.pods, ref.Name)
		h.logf(ref.Name, "deleted %s", ref.Name)
		next = append(next, PodRemoved{UID: ref.UID})
	}
	if rd.NodeStatus != nil {
		h.node = rd.NodeStatus.DeepCopy()
		h.logf(nodeLine, "node status: %s", nodeSummary(h.node))
	}
	if rd.RenewLease != nil {
		t := *rd.RenewLease
		h.lease = &t
	}
	for _, m := range rd.MirrorPods {
		m = m.DeepCopy()
		m.UID = types.UID(fmt.Sprintf("mirror-%s", m.Name))
		m.ResourceVersion = h.rv()
		m.Generation = 1
		m.Status = v1.PodStatus{Phase: v1.PodPending, QOSClass: v1.PodQOSBurstable}
		h.pods[m.Name] = m
		h.mirrors = append(h.mirrors, m)
		h.logf(m.Name, "mirror pod %s/%s created", m.Namespace, m.Name)
		next = append(next, PodUpsert{Pod: m.DeepCopy()})
	}
	return next
}

// nodeLine marks log lines about the node.
const nodeLine = "\x00node"

func (h *harness) storeEvent(rec EventRecord) {
	e := rec.Event
	h.writes.events++
	who := e.InvolvedObject.Name
	if e.InvolvedObject.Kind == "Node" {
		who = nodeLine
	}
	obj := e.InvolvedObject.Name
	if e.InvolvedObject.FieldPath != "" {
		obj = e.InvolvedObject.FieldPath
	}
	if rec.Update {
		for i, have := range h.events {
			if have.Name == e.Name {
				h.events[i] = e.DeepCopy()
				h.logf(who, "event %s %s %s: %s (x%d)", e.Type, e.Reason, obj, e.Message, e.Count)
				return
			}
		}
		h.writes.orphanUpdates++ // the recorder falls back to creating it
	}
	h.events = append(h.events, e.DeepCopy())
	h.logf(who, "event %s %s %s: %s", e.Type, e.Reason, obj, e.Message)
}

// summary is one line per status write: the phase and each container's state.
func summary(s *v1.PodStatus) string {
	parts := []string{string(s.Phase)}
	one := func(prefix string, cs v1.ContainerStatus) {
		st := "?"
		switch {
		case cs.State.Waiting != nil:
			st = "waiting"
			if r := cs.State.Waiting.Reason; r != "" {
				st += ":" + r
			}
		case cs.State.Running != nil:
			st = "running"
		case cs.State.Terminated != nil:
			st = fmt.Sprintf("terminated:%s(%d)", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
		if cs.Ready {
			st += " ready"
		}
		if cs.RestartCount > 0 {
			st += fmt.Sprintf(" restarts=%d", cs.RestartCount)
		}
		parts = append(parts, prefix+cs.Name+"="+st)
	}
	for _, cs := range s.InitContainerStatuses {
		one("init:", cs)
	}
	for _, cs := range s.ContainerStatuses {
		one("", cs)
	}
	for _, c := range s.Conditions {
		if c.Type == v1.PodReadyToStartContainers {
			parts = append(parts, "sandbox="+string(c.Status))
		}
	}
	return strings.Join(parts, " ")
}

func nodeSummary(s *v1.NodeStatus) string {
	var parts []string
	for _, c := range s.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s", c.Type, c.Status))
	}
	parts = append(parts, fmt.Sprintf("images=%d", len(s.Images)))
	return strings.Join(parts, " ")
}

var timeRE = regexp.MustCompile(`"?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"?`)

// withOffsets replaces RFC 3339 timestamps by offsets from the epoch.
func withOffsets(s string) string {
	return timeRE.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339, strings.Trim(m, `"`))
		if err != nil {
			return m
		}
		return "t+" + fmtDur(t.Sub(epoch))
	})
}

func (h *harness) status(pod *v1.Pod) string {
	b, err := yaml.Marshal(pod.Status)
	if err != nil {
		h.t.Fatal(err)
	}
	return withOffsets(string(b))
}

func (h *harness) printEvents(pod string, node bool) string {
	var b strings.Builder
	for _, e := range h.events {
		if (e.InvolvedObject.Kind == "Node") != node || (pod != "" && e.InvolvedObject.Name != pod) {
			continue
		}
		obj := e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name
		if e.InvolvedObject.FieldPath != "" {
			obj = e.InvolvedObject.FieldPath
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n  count=%d first=%s last=%s\n", e.Type, e.Reason, obj, e.Message, e.Count,
			fmtDur(e.FirstTimestamp.Sub(epoch)), fmtDur(e.LastTimestamp.Sub(epoch)))
	}
	return b.String()
}

func (h *harness) printImages() string {
	var b strings.Builder
	imgs := h.rt.list()
	sort.Slice(imgs, func(i, j int) bool { return imgs[i].ID < imgs[j].ID })
	for _, img := range imgs {
		fmt.Fprintf(&b, "%s size=%d\n", img.ID[:19], img.Size)
		for _, n := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			fmt.Fprintf(&b, "  %s\n", n)
		}
	}
	return b.String()
}
