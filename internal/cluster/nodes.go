package cluster

import (
	"context"
	"fmt"
	"math/rand"
	"net/http"
	"strings"

	"kubesim.dev/kubesim/internal/kubelet"
	"kubesim.dev/kubesim/internal/node"
	"kubesim.dev/kubesim/internal/registry"
	"kubesim.dev/kubesim/internal/runtime"
)

// NodeSpec describes one node of the cluster.
type NodeSpec struct {
	Machine kubelet.Node
	Kubelet kubelet.Config
	// Preload lists images on the node before its kubelet starts, pulled as kubeadm pulls them
	// (`kubeadm config images pull`, through the runtime: with their repo digests, but not by the
	// kubelet, so they count as preloaded).
	Preload []string
}

// The images a kubeadm node has before any workload: the sandbox image, kube-proxy, and on the
// control plane its static pods' images and CoreDNS.
var (
	kubeProxyImage = "registry.k8s.io/kube-proxy:" + kubelet.KubeletVersion
	corednsImage   = "registry.k8s.io/coredns/coredns:v1.14.6"
)

// DefaultNodes is the cluster of the CKA exam environment: a control-plane node and one worker.
func DefaultNodes() []NodeSpec {
	return []NodeSpec{
		{
			Machine: kubelet.Node{Name: "controlplane", InternalIP: "172.30.1.2", PodCIDR: "10.244.0.0/24",
				ControlPlane: true, CPU: "2", Memory: "4010352Ki"},
			Preload: append([]string{runtime.DefaultSandboxImage, kubeProxyImage, corednsImage}, kubelet.StaticPodImages()...),
		},
		{
			Machine: kubelet.Node{Name: "node01", InternalIP: "172.30.2.2", PodCIDR: "10.244.1.0/24",
				CPU: "2", Memory: "4010352Ki"},
			Preload: []string{runtime.DefaultSandboxImage, kubeProxyImage},
		},
	}
}

// startNodes starts the cluster's nodes: a runtime and a kubelet each.
func (c *Cluster) startNodes(ctx context.Context, specs []NodeSpec) error {
	c.nodes = map[string]*node.Node{}
	for i, spec := range specs {
		rt := runtime.New(c.World, c.Clock, rand.New(rand.NewSource(c.opts.Seed+int64(1000+i))), runtime.Config{
			ImageFsCapacity: spec.Kubelet.ImageFSCapacity,
		})
		for _, ref := range spec.Preload {
			if _, err := rt.Pull(ctx, ref, nil); err != nil {
				return fmt.Errorf("preloading %s on %s: %w", ref, spec.Machine.Name, err)
			}
		}
		n, err := node.Start(ctx, node.Config{
			Machine: spec.Machine,
			Kubelet: spec.Kubelet,
			Runtime: rt,
			Client:  c.componentConfig("kubelet"),
			Clock:   c.Clock,
			Rand:    rand.New(rand.NewSource(c.opts.Seed + int64(2000+i))),
		})
		if err != nil {
			return err
		}
		c.nodes[spec.Machine.Name] = n
		c.nodeOrder = append(c.nodeOrder, spec.Machine.Name)
	}
	return nil
}

// Runtime is the container runtime of the named node, or nil.
func (c *Cluster) Runtime(nodeName string) *runtime.Runtime {
	if n, ok := c.nodes[nodeName]; ok {
		return n.Runtime
	}
	return nil
}

// StopNode stops the named node's kubelet (`systemctl stop kubelet`): the node stops renewing its
// Lease and posting its status, and the node lifecycle controller marks it NotReady.
func (c *Cluster) StopNode(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	n.StopKubelet()
	return nil
}

// StartNode starts the named node's kubelet again (`systemctl start kubelet`).
func (c *Cluster) StartNode(name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	return n.StartKubelet()
}

// NodeRunning reports whether the named node's kubelet runs.
func (c *Cluster) NodeRunning(name string) (bool, error) {
	n, err := c.node(name)
	if err != nil {
		return false, err
	}
	return n.KubeletRunning(), nil
}

// NodeNotFoundError is the error for a node the cluster does not have.
type NodeNotFoundError struct {
	Name  string
	Nodes []string
}

func (e *NodeNotFoundError) Error() string {
	return fmt.Sprintf("node %q not found (nodes: %s)", e.Name, strings.Join(e.Nodes, ", "))
}

func (c *Cluster) node(name string) (*node.Node, error) {
	n, ok := c.nodes[name]
	if !ok {
		return nil, &NodeNotFoundError{Name: name, Nodes: c.Nodes()}
	}
	return n, nil
}

// Nodes lists the cluster's node names in order.
func (c *Cluster) Nodes() []string { return append([]string{}, c.nodeOrder...) }

// kubelets serves the kubelet API of every node: the API server sends its requests for a node
// (pod logs, node proxy) with the node name as host.
func (c *Cluster) kubelets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.URL.Hostname()
		n, ok := c.nodes[host]
		if !ok {
			http.Error(w, fmt.Sprintf("dial tcp: lookup %s: no such host", host), http.StatusBadGateway)
			return
		}
		n.Handler().ServeHTTP(w, r)
	})
}

// newWorld is the cluster's view of the image registries: the shared catalog plus its own pushes.
func (c *Cluster) newWorld() *registry.World {
	return registry.NewWorld(registry.DefaultCatalog(), c.opts.Seed, c.Clock)
}
