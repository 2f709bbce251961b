package cluster

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The control plane's address, as the kubernetes Service's endpoints and kubeconfigs show it.
const (
	controlPlaneIP   = "172.30.1.2"
	apiServerPort    = 6443
	kubernetesSvcIP  = "10.96.0.1"
	kubeDNSServiceIP = "10.96.0.10"
)

// bootstrap creates, through the API, what kube-apiserver and kubeadm put in a new cluster.
func (c *Cluster) bootstrap(ctx context.Context) error {
	client := kubernetes.NewForConfigOrDie(c.componentConfig("kube-apiserver"))
	for _, ns := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, kubernetesService(), metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := client.CoreV1().Endpoints(metav1.NamespaceDefault).Create(ctx, kubernetesEndpoints(), metav1.CreateOptions{}); err != nil {
		return err
	}
	return c.installAddons(ctx, client)
}

// kubernetesService is the default/kubernetes Service kube-apiserver maintains.
func kubernetesService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "kubernetes",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"},
		},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: kubernetesSvcIP,
			Ports: []corev1.ServicePort{{
				Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(apiServerPort),
			}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
}

func kubernetesEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "kubernetes",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"},
		},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: controlPlaneIP}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: apiServerPort, Protocol: corev1.ProtocolTCP}},
		}},
	}
}
