package apiserver

import (
	"context"
	"fmt"
	"net"
	"sync"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/registry/core/service/ipallocator"
	"k8s.io/kubernetes/pkg/registry/core/service/portallocator"
	servicestore "k8s.io/kubernetes/pkg/registry/core/service/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"kubesim.dev/kubesim/internal/storage"
)

// The service network of a kubeadm cluster.
var (
	serviceCIDR   = mustCIDR("10.96.0.0/12")
	nodePortRange = utilnet.PortRange{Base: 30000, Size: 2768}
)

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// serviceREST serves services with upstream's own service registry: ClusterIP and NodePort
// allocation, IP family defaulting, validation. Upstream's allocators are not told which cluster a
// request is for, so each cluster gets its own instance (with its own allocators), made on its first
// service request; this type hands each request to its cluster's instance.
type serviceREST struct {
	template *servicestore.REST
	opts     generic.RESTOptionsGetter
	pods     servicestore.PodStorage

	mu        sync.Mutex
	byCluster map[*storage.Store]*clusterServices

	status *serviceStatusREST
}

type clusterServices struct {
	rest   *servicestore.REST
	status *servicestore.StatusREST
}

func newServiceREST(opts generic.RESTOptionsGetter, pods servicestore.PodStorage) (*serviceREST, error) {
	r := &serviceREST{opts: opts, pods: pods, byCluster: map[*storage.Store]*clusterServices{}}
	tmpl, err := r.build(nil)
	if err != nil {
		return nil, err
	}
	r.template = tmpl.rest
	r.status = &serviceStatusREST{services: r, template: tmpl.status}
	return r, nil
}

// build makes a service registry with allocators of its own. Their random choices come from the
// cluster's seed.
func (r *serviceREST) build(st *storage.Store) (*clusterServices, error) {
	ips, err := ipallocator.NewInMemory(serviceCIDR)
	if err != nil {
		return nil, err
	}
	ports, err := portallocator.NewInMemory(nodePortRange)
	if err != nil {
		return nil, err
	}
	var ipAlloc ipallocator.Interface = ips
	if st != nil {
		ipAlloc = &seededIPs{Interface: ips, store: st}
	}
	svc, status, _, err := servicestore.NewREST(r.opts, api.IPv4Protocol,
		map[api.IPFamily]ipallocator.Interface{api.IPv4Protocol: ipAlloc}, ports, nil, r.pods, nil)
	if err != nil {
		return nil, err
	}
	seededNames(svc.Store)
	return &clusterServices{rest: svc, status: status}, nil
}

// forCluster returns the registry of the request's cluster, making it (and recording the addresses
// and ports its stored services already hold) on first use.
func (r *serviceREST) forCluster(ctx context.Context) (*clusterServices, error) {
	st, ok := storage.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no cluster in the request context")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cs, ok := r.byCluster[st]; ok {
		return cs, nil
	}
	cs, err := r.build(st)
	if err != nil {
		return nil, err
	}
	r.byCluster[st] = cs
	return cs, nil
}

// Forget drops the registry of a cluster that is gone.
func (r *serviceREST) Forget(st *storage.Store) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byCluster, st)
}

func (r *serviceREST) New() runtime.Object                    { return r.template.New() }
func (r *serviceREST) NewList() runtime.Object                { return r.template.NewList() }
func (r *serviceREST) Destroy()                               {}
func (r *serviceREST) NamespaceScoped() bool                  { return true }
func (r *serviceREST) GetSingularName() string                { return "service" }
func (r *serviceREST) ShortNames() []string                   { return r.template.ShortNames() }
func (r *serviceREST) Categories() []string                   { return r.template.Categories() }
func (r *serviceREST) StorageVersion() runtime.GroupVersioner { return r.template.StorageVersion() }
func (r *serviceREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.template.GetResetFields()
}

func (r *serviceREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return r.template.ConvertToTable(ctx, obj, opts)
}

func (r *serviceREST) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.rest.Get(ctx, name, opts)
}

func (r *serviceREST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.rest.List(ctx, opts)
}

func (r *serviceREST) Watch(ctx context.Context, opts *metainternalversion.ListOptions) (watch.Interface, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.rest.Watch(ctx, opts)
}

func (r *serviceREST) Create(ctx context.Context, obj runtime.Object, validate rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.rest.Create(ctx, obj, validate, opts)
}

func (r *serviceREST) Update(ctx context.Context, name string, info rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, force bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, false, err
	}
	return cs.rest.Update(ctx, name, info, createValidation, updateValidation, force, opts)
}

func (r *serviceREST) Delete(ctx context.Context, name string, validate rest.ValidateObjectFunc, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, false, err
	}
	return cs.rest.Delete(ctx, name, validate, opts)
}

func (r *serviceREST) DeleteCollection(ctx context.Context, validate rest.ValidateObjectFunc, opts *metav1.DeleteOptions,
	listOpts *metainternalversion.ListOptions) (runtime.Object, error) {
	cs, err := r.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.rest.DeleteCollection(ctx, validate, opts, listOpts)
}

// serviceStatusREST is services/status, per cluster in the same way.
type serviceStatusREST struct {
	services *serviceREST
	template *servicestore.StatusREST
}

func (r *serviceStatusREST) New() runtime.Object { return r.template.New() }
func (r *serviceStatusREST) Destroy()            {}
func (r *serviceStatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.template.GetResetFields()
}

func (r *serviceStatusREST) ConvertToTable(ctx context.Context, obj, opts runtime.Object) (*metav1.Table, error) {
	return r.template.ConvertToTable(ctx, obj, opts)
}

func (r *serviceStatusREST) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	cs, err := r.services.forCluster(ctx)
	if err != nil {
		return nil, err
	}
	return cs.status.Get(ctx, name, opts)
}

func (r *serviceStatusREST) Update(ctx context.Context, name string, info rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, force bool, opts *metav1.UpdateOptions) (runtime.Object, bool, error) {
	cs, err := r.services.forCluster(ctx)
	if err != nil {
		return nil, false, err
	}
	return cs.status.Update(ctx, name, info, createValidation, updateValidation, force, opts)
}

// seededIPs picks free cluster IPs with the cluster's seeded source, so a cluster's service
// addresses are deterministic.
type seededIPs struct {
	ipallocator.Interface
	store *storage.Store
}

func (s *seededIPs) AllocateNext() (net.IP, error) {
	size := 1 << 20 // a /12
	start := s.store.Intn(size)
	base := ipToUint(serviceCIDR.IP)
	for i := 0; i < size; i++ {
		offset := (start + i) % size
		if offset == 0 || offset == size-1 { // network and broadcast addresses
			continue
		}
		ip := uintToIP(base + uint32(offset))
		if s.Has(ip) {
			continue
		}
		if err := s.Allocate(ip); err == nil {
			return ip, nil
		}
	}
	return nil, ipallocator.ErrFull
}

func (s *seededIPs) DryRun() ipallocator.Interface {
	return &seededIPs{Interface: s.Interface.DryRun(), store: s.store}
}

func ipToUint(ip net.IP) uint32 {
	v4 := ip.To4()
	return uint32(v4[0])<<24 | uint32(v4[1])<<16 | uint32(v4[2])<<8 | uint32(v4[3])
}

func uintToIP(v uint32) net.IP { return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
