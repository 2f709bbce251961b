package kubelet

import (
	"encoding/hex"
	"encoding/json"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Annotations of static and mirror pods (pkg/kubelet/types/pod_update.go).
const (
	configSourceAnnotation = "kubernetes.io/config.source"
	configHashAnnotation   = "kubernetes.io/config.hash"
	configSeenAnnotation   = "kubernetes.io/config.seen"
	configMirrorAnnotation = v1.MirrorPodAnnotationKey
)

// Control-plane images kubeadm v1.37 deploys (cmd/kubeadm/app/constants).
const (
	EtcdImage = "registry.k8s.io/etcd:3.7.0-0"
	kubeImage = "registry.k8s.io/kube-"
)

// StaticPodImages are the images a kubeadm control-plane node has preloaded ("kubeadm config
// images pull") for its static pods.
func StaticPodImages() []string {
	return []string{EtcdImage, kubeImage + "apiserver:" + KubeletVersion, kubeImage + "controller-manager:" + KubeletVersion, kubeImage + "scheduler:" + KubeletVersion}
}

// startStaticPods runs kubeadm's control-plane static pods on a control-plane node and asks the
// driver to create their mirror pods.
func (k *Kubelet) startStaticPods() {
	if !k.node.ControlPlane {
		return
	}
	for _, pod := range k.staticPods() {
		k.out.MirrorPods = append(k.out.MirrorPods, k.mirrorPod(pod))
		k.upsertPod(pod)
	}
}

// staticPods builds the manifests kubeadm writes to /etc/kubernetes/manifests, as the kubelet's
// file source turns them into pods: name suffixed with the node name, UID the manifest's hash,
// config annotations, the NoExecute toleration.
func (k *Kubelet) staticPods() []*v1.Pod {
	ip := k.node.InternalIP
	pki := "/etc/kubernetes/pki"
	args := func(cmd string, flags map[string]string) []string {
		out := []string{cmd}
		keys := make([]string, 0, len(flags))
		for f := range flags {
			keys = append(keys, f)
		}
		sort.Strings(keys)
		for _, f := range keys {
			out = append(out, "--"+f+"="+flags[f])
		}
		return out
	}
	kubeconfig := func(name string) string { return "/etc/kubernetes/" + name + ".conf" }
	specs := []struct {
		name, image, cpu, memory string
		command                  []string
		annotations              map[string]string
	}{
		{"etcd", EtcdImage, "100m", "100Mi", args("etcd", map[string]string{
			"advertise-client-urls": "https://" + ip + ":2379", "cert-file": pki + "/etcd/server.crt", "client-cert-auth": "true",
			"data-dir": "/var/lib/etcd", "feature-gates": "InitialCorruptCheck=true", "initial-advertise-peer-urls": "https://" + ip + ":2380",
			"initial-cluster": k.node.Name + "=https://" + ip + ":2380", "key-file": pki + "/etcd/server.key",
			"listen-client-urls": "https://127.0.0.1:2379,https://" + ip + ":2379", "listen-metrics-urls": "http://127.0.0.1:2381",
			"listen-peer-urls": "https://" + ip + ":2380", "name": k.node.Name, "peer-cert-file": pki + "/etcd/peer.crt",
			"peer-client-cert-auth": "true", "peer-key-file": pki + "/etcd/peer.key", "peer-trusted-ca-file": pki + "/etcd/ca.crt",
			"snapshot-count": "10000", "trusted-ca-file": pki + "/etcd/ca.crt", "watch-progress-notify-interval": "5s",
		}), map[string]string{"kubeadm.kubernetes.io/etcd.advertise-client-urls": "https://" + ip + ":2379"}},
		{"kube-apiserver", kubeImage + "apiserver:" + KubeletVersion, "250m", "", args("kube-apiserver", map[string]string{
			"advertise-address": ip, "allow-privileged": "true", "authorization-mode": "Node,RBAC", "client-ca-file": pki + "/ca.crt",
			"enable-admission-plugins": "NodeRestriction", "enable-bootstrap-token-auth": "true", "etcd-cafile": pki + "/etcd/ca.crt",
			"etcd-certfile": pki + "/apiserver-etcd-client.crt", "etcd-keyfile": pki + "/apiserver-etcd-client.key",
			"etcd-servers": "https://127.0.0.1:2379", "kubelet-client-certificate": pki + "/apiserver-kubelet-client.crt",
			"kubelet-client-key": pki + "/apiserver-kubelet-client.key", "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
			"proxy-client-cert-file": pki + "/front-proxy-client.crt", "proxy-client-key-file": pki + "/front-proxy-client.key",
			"requestheader-allowed-names": "front-proxy-client", "requestheader-client-ca-file": pki + "/front-proxy-ca.crt",
			"requestheader-extra-headers-prefix": "X-Remote-Extra-", "requestheader-group-headers": "X-Remote-Group",
			"requestheader-username-headers": "X-Remote-User", "secure-port": "6443",
			"service-account-issuer": "https://kubernetes.default.svc.cluster.local", "service-account-key-file": pki + "/sa.pub",
			"service-account-signing-key-file": pki + "/sa.key", "service-cluster-ip-range": "10.96.0.0/12",
			"tls-cert-file": pki + "/apiserver.crt", "tls-private-key-file": pki + "/apiserver.key",
		}), map[string]string{"kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint": ip + ":6443"}},
		{"kube-controller-manager", kubeImage + "controller-manager:" + KubeletVersion, "200m", "", args("kube-controller-manager", map[string]string{
			"allocate-node-cidrs": "true", "authentication-kubeconfig": kubeconfig("controller-manager"),
			"authorization-kubeconfig": kubeconfig("controller-manager"), "bind-address": "127.0.0.1", "client-ca-file": pki + "/ca.crt",
			"cluster-cidr": "10.244.0.0/16", "cluster-name": "kubernetes", "cluster-signing-cert-file": pki + "/ca.crt",
			"cluster-signing-key-file": pki + "/ca.key", "controllers": "*,bootstrapsigner,tokencleaner",
			"kubeconfig": kubeconfig("controller-manager"), "leader-elect": "true", "requestheader-client-ca-file": pki + "/front-proxy-ca.crt",
			"root-ca-file": pki + "/ca.crt", "service-account-private-key-file": pki + "/sa.key", "service-cluster-ip-range": "10.96.0.0/12",
			"use-service-account-credentials": "true",
		}), nil},
		{"kube-scheduler", kubeImage + "scheduler:" + KubeletVersion, "100m", "", args("kube-scheduler", map[string]string{
			"authentication-kubeconfig": kubeconfig("scheduler"), "authorization-kubeconfig": kubeconfig("scheduler"),
			"bind-address": "127.0.0.1", "kubeconfig": kubeconfig("scheduler"), "leader-elect": "true",
		}), nil},
	}
	var pods []*v1.Pod
	for _, s := range specs {
		requests := v1.ResourceList{v1.ResourceCPU: resource.MustParse(s.cpu)}
		if s.memory != "" {
			requests[v1.ResourceMemory] = resource.MustParse(s.memory)
		}
		pod := &v1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Name: s.name, Namespace: metav1.NamespaceSystem,
				Labels:      map[string]string{"component": s.name, "tier": "control-plane"},
				Annotations: s.annotations,
			},
			Spec: v1.PodSpec{
				Containers: []v1.Container{{
					Name: s.name, Image: s.image, ImagePullPolicy: v1.PullIfNotPresent, Command: s.command,
					Resources:                v1.ResourceRequirements{Requests: requests},
					TerminationMessagePath:   v1.TerminationMessagePathDefault,
					TerminationMessagePolicy: v1.TerminationMessageReadFile,
				}},
				HostNetwork:                   true,
				PriorityClassName:             "system-node-critical",
				Priority:                      ptr.To[int32](2000001000),
				RestartPolicy:                 v1.RestartPolicyAlways,
				DNSPolicy:                     v1.DNSClusterFirst,
				SchedulerName:                 v1.DefaultSchedulerName,
				TerminationGracePeriodSeconds: ptr.To[int64](30),
				EnableServiceLinks:            ptr.To(true),
				PreemptionPolicy:              ptr.To(v1.PreemptLowerPriority),
				SecurityContext:               &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}},
			},
		}
		uid := fileSourceUID(pod, k.node.Name, "/etc/kubernetes/manifests/"+s.name+".yaml")
		pod.UID = uid
		pod.Name = s.name + "-" + k.node.Name
		pod.Spec.NodeName = k.node.Name
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[configHashAnnotation] = string(uid)
		pod.Annotations[configSeenAnnotation] = k.wall(k.now).Format(time.RFC3339Nano)
		pod.Annotations[configSourceAnnotation] = "file"
		pod.Spec.Tolerations = []v1.Toleration{{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}}
		pod.Status.QOSClass = v1.PodQOSBurstable
		pods = append(pods, pod)
	}
	return pods
}

// fileSourceUID is applyDefaults' UID for a pod read from a file: a 128-bit FNV hash of the pod
// and its source.
func fileSourceUID(pod *v1.Pod, node, path string) types.UID {
	h := fnv.New128a()
	b, _ := json.Marshal(pod)
	h.Write(b)
	h.Write([]byte("host:" + node))
	h.Write([]byte("file:" + path))
	return types.UID(hex.EncodeToString(h.Sum(nil)))
}

// mirrorPod is the mirror pod of a static pod (pkg/kubelet/pod/mirror_client.go): the pod with
// the config.mirror annotation, owned by the node.
func (k *Kubelet) mirrorPod(pod *v1.Pod) *v1.Pod {
	m := pod.DeepCopy()
	m.UID = ""
	m.Annotations[configMirrorAnnotation] = pod.Annotations[configHashAnnotation]
	m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: k.node.Name, UID: k.node.UID, Controller: ptr.To(true)}}
	m.Status = v1.PodStatus{}
	return m
}

// isMirror reports whether pod is a mirror pod, and of which static pod.
func isMirror(pod *v1.Pod) (types.UID, bool) {
	h, ok := pod.Annotations[configMirrorAnnotation]
	return types.UID(h), ok
}

func isStatic(pod *v1.Pod) bool {
	return strings.EqualFold(pod.Annotations[configSourceAnnotation], "file")
}
