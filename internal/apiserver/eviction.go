package apiserver

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	podstore "k8s.io/kubernetes/pkg/registry/core/pod/storage"
)

// evictionREST serves pods/eviction (kubectl drain) with upstream's own eviction logic. That logic
// reads and updates PodDisruptionBudgets through a client it is given once, with context.TODO():
// it cannot learn the request's cluster. So each cluster gets its own eviction storage, with a
// client bound to that cluster, made on its first eviction.
type evictionREST struct {
	server   *Server
	opts     generic.RESTOptionsGetter
	template *podstore.EvictionREST

	mu        sync.Mutex
	byCluster map[string]*podstore.EvictionREST
}

var (
	_ rest.NamedCreater             = (*evictionREST)(nil)
	_ rest.GroupVersionKindProvider = (*evictionREST)(nil)
)

func (r *evictionREST) New() runtime.Object { return r.template.New() }
func (r *evictionREST) Destroy()            {}
func (r *evictionREST) GroupVersionKind(gv schema.GroupVersion) schema.GroupVersionKind {
	return r.template.GroupVersionKind(gv)
}

func (r *evictionREST) Create(ctx context.Context, name string, obj runtime.Object, validate rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	e, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return e.Create(ctx, name, obj, validate, opts)
}

func (r *evictionREST) forCluster(ctx context.Context) (*podstore.EvictionREST, error) {
	c := clusterFrom(ctx)
	if c == nil {
		return nil, fmt.Errorf("no cluster in the request context")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byCluster[c.ID]; ok {
		return e, nil
	}
	client, err := kubernetes.NewForConfig(&restclient.Config{
		Host: "https://kubesim.local", BearerToken: c.Token, Transport: r.server.InProcessTransport(c.ID), QPS: -1,
	})
	if err != nil {
		return nil, err
	}
	pods, err := podstore.NewStorage(r.opts, &kubeletConnections{server: r.server}, r.server.kubeletTransport,
		client.PolicyV1(), authorizerfactory.NewAlwaysAllowAuthorizer())
	if err != nil {
		return nil, err
	}
	r.byCluster[c.ID] = pods.Eviction
	return pods.Eviction, nil
}

// forget drops a removed cluster's eviction storage.
func (r *evictionREST) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byCluster, id)
}
