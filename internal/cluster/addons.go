package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"text/template"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	kubeproxyconfig "k8s.io/kube-proxy/config/v1alpha1"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/addons/dns"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/addons/proxy"
	proxydefaults "k8s.io/kubernetes/pkg/proxy/apis/config/v1alpha1"
	"sigs.k8s.io/yaml"
)

// The cluster's network, as kubeadm was told it (kubeadm init --pod-network-cidr 10.244.0.0/16).
const (
	podSubnet   = "10.244.0.0/16"
	clusterName = "kubernetes"
)

// installAddons creates kubeadm's add-ons, from kubeadm's own manifests: CoreDNS (its
// ServiceAccount, ConfigMap, Deployment and the kube-dns Service) and kube-proxy (its
// ServiceAccount, ConfigMap and DaemonSet).
func (c *Cluster) installAddons(ctx context.Context, client kubernetes.Interface) error {
	proxyConfig, err := kubeProxyConfig()
	if err != nil {
		return err
	}
	manifests := []struct {
		tmpl   string
		params any
	}{
		{dns.CoreDNSServiceAccount, nil},
		{dns.CoreDNSConfigMap, map[string]string{"DNSDomain": "cluster.local"}},
		{dns.CoreDNSDeployment, map[string]any{"DeploymentName": "coredns", "Image": corednsImage,
			"ControlPlaneTaintKey": "node-role.kubernetes.io/control-plane", "Replicas": 2}},
		{dns.CoreDNSService, map[string]string{"DNSIP": kubeDNSServiceIP}},
		{kubeProxyServiceAccount, nil},
		{proxy.KubeProxyConfigMap19, map[string]string{
			"ControlPlaneEndpoint": fmt.Sprintf("https://%s:%d", controlPlaneIP, apiServerPort),
			"ProxyConfig":          proxyConfig, "ProxyConfigMap": "kube-proxy", "ProxyConfigMapKey": "config.conf"}},
		{proxy.KubeProxyDaemonSet19, map[string]string{"Image": kubeProxyImage, "ProxyConfigMap": "kube-proxy",
			"ProxyConfigMapKey": "config.conf"}},
	}
	for _, m := range manifests {
		obj, err := render(m.tmpl, m.params)
		if err != nil {
			return err
		}
		if err := create(ctx, client, obj); err != nil {
			return err
		}
	}
	return nil
}

// kubeProxyServiceAccount is the ServiceAccount kubeadm's proxy addon creates in code (not from a
// template): kube-system/kube-proxy.
const kubeProxyServiceAccount = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: ` + proxy.KubeProxyServiceAccountName + `
  namespace: kube-system
`

// render fills a kubeadm manifest template and decodes the object.
func render(tmpl string, params any) (runtime.Object, error) {
	t, err := template.New("manifest").Parse(tmpl)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, params); err != nil {
		return nil, err
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(b.Bytes(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding a kubeadm manifest: %w\n%s", err, b.String())
	}
	return obj, nil
}

// kubeProxyConfig is kube-proxy's configuration as kubeadm writes it: the component's defaults
// with kubeadm's settings, each line indented for the ConfigMap.
func kubeProxyConfig() (string, error) {
	cfg := &kubeproxyconfig.KubeProxyConfiguration{}
	cfg.BindAddress = "0.0.0.0"
	cfg.ClusterCIDR = podSubnet
	cfg.ClientConnection.Kubeconfig = "/var/lib/kube-proxy/kubeconfig.conf"
	proxydefaults.SetDefaults_KubeProxyConfiguration(cfg)
	cfg.APIVersion, cfg.Kind = "kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return "    " + strings.Join(lines, "\n    "), nil
}

func create(ctx context.Context, client kubernetes.Interface, obj runtime.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.ServiceAccount:
		_, err = client.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.ConfigMap:
		_, err = client.CoreV1().ConfigMaps(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Service:
		_, err = client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		return createWorkload(ctx, client, obj)
	}
	return err
}

func createWorkload(ctx context.Context, client kubernetes.Interface, obj runtime.Object) error {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		_, err := client.AppsV1().Deployments(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		return err
	case *appsv1.DaemonSet:
		_, err := client.AppsV1().DaemonSets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		return err
	}
	return fmt.Errorf("kubeadm manifest of unexpected type %T", obj)
}
