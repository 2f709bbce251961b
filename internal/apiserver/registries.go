package apiserver

import (
	"context"
	"fmt"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	api "k8s.io/kubernetes/pkg/apis/core"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	apistorage "k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/kubernetes/pkg/kubelet/client"
	revisionstore "k8s.io/kubernetes/pkg/registry/apps/controllerrevision/storage"
	appsstore "k8s.io/kubernetes/pkg/registry/apps/daemonset/storage"
	deploystore "k8s.io/kubernetes/pkg/registry/apps/deployment/storage"
	rsstore "k8s.io/kubernetes/pkg/registry/apps/replicaset/storage"
	ssstore "k8s.io/kubernetes/pkg/registry/apps/statefulset/storage"
	cronjobstore "k8s.io/kubernetes/pkg/registry/batch/cronjob/storage"
	jobstore "k8s.io/kubernetes/pkg/registry/batch/job/storage"
	leasestore "k8s.io/kubernetes/pkg/registry/coordination/lease/storage"
	configmapstore "k8s.io/kubernetes/pkg/registry/core/configmap/storage"
	endpointstore "k8s.io/kubernetes/pkg/registry/core/endpoint/storage"
	eventstore "k8s.io/kubernetes/pkg/registry/core/event/storage"
	namespacestore "k8s.io/kubernetes/pkg/registry/core/namespace/storage"
	nodestore "k8s.io/kubernetes/pkg/registry/core/node/storage"
	pvstore "k8s.io/kubernetes/pkg/registry/core/persistentvolume/storage"
	pvcstore "k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim/storage"
	podstore "k8s.io/kubernetes/pkg/registry/core/pod/storage"
	secretstore "k8s.io/kubernetes/pkg/registry/core/secret/storage"
	serviceaccountstore "k8s.io/kubernetes/pkg/registry/core/serviceaccount/storage"
	pdbstore "k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget/storage"

	"kubesim.dev/kubesim/internal/storage"
)

// eventTTL is kube-apiserver's default --event-ttl.
const eventTTL = time.Hour

// restOptions gives every upstream registry Store our in-memory, cluster-dispatching storage.
type restOptions struct{}

func (restOptions) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	gv := storageVersion(resource.Group)
	codec := legacyscheme.Codecs.LegacyCodec(gv)
	// Keys as kube-apiserver lays them out in etcd; events.k8s.io events share the core ones.
	prefix := "/" + resource.Resource
	if resource.Group != "" && resource.Group != "events.k8s.io" {
		prefix = "/" + resource.Group + "/" + resource.Resource
	}
	return generic.RESTOptions{
		StorageConfig: &storagebackend.ConfigForResource{
			Config:        storagebackend.Config{Codec: codec},
			GroupResource: resource,
		},
		Decorator: func(_ *storagebackend.ConfigForResource, resourcePrefix string, _ func(runtime.Object) (string, error),
			newFunc, _ func() runtime.Object, _ apistorage.AttrFunc, _ apistorage.IndexerFuncs, _ *cache.Indexers,
		) (apistorage.Interface, factory.DestroyFunc, error) {
			b := storage.NewBackend(resourcePrefix, newFunc, storageCodec(gv))
			if resource.Resource == "events" {
				b = b.WithTTLAnchor(eventLastSeen)
			}
			return b, func() {}, nil
		},
		EnableGarbageCollection: true,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          prefix,
	}, nil
}

// eventLastSeen is when an event last happened: its TTL counts from then.
func eventLastSeen(obj runtime.Object) time.Time {
	e, ok := obj.(*api.Event)
	if !ok {
		return time.Time{}
	}
	last := e.LastTimestamp.Time
	if e.EventTime.After(last) {
		last = e.EventTime.Time
	}
	if e.Series != nil && e.Series.LastObservedTime.After(last) {
		last = e.Series.LastObservedTime.Time
	}
	return last
}

// storageCodec encodes objects as kube-apiserver stores them in etcd (protobuf, in the storage
// version) and decodes them back to internal objects, applying defaults as a read from etcd does.
func storageCodec(gv schema.GroupVersion) runtime.Codec {
	info, ok := runtime.SerializerInfoForMediaType(Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		panic("no protobuf serializer")
	}
	return Codecs.CodecForVersions(info.Serializer, info.Serializer, gv, runtime.InternalGroupVersioner)
}

// seededNames makes server-side generated names (metadata.generateName) come from the cluster's
// seeded source instead of the process-wide random one, so that a cluster is deterministic.
func seededNames(s *genericregistry.Store) {
	orig := s.BeginCreate
	resource := s.DefaultQualifiedResource.String()
	s.BeginCreate = func(ctx context.Context, obj runtime.Object, opts *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		if st, ok := storage.FromContext(ctx); ok {
			if m, err := meta.Accessor(obj); err == nil && m.GetName() == "" && m.GetGenerateName() != "" {
				m.SetName(st.GenerateName(resource+"/"+m.GetNamespace(), m.GetGenerateName()))
			}
		}
		if orig != nil {
			return orig(ctx, obj, opts)
		}
		return func(context.Context, bool) {}, nil
	}
}

// groups builds the served API groups from upstream's registries.
func (s *Server) groups() (legacy *genericapiserver.APIGroupInfo, groups []*genericapiserver.APIGroupInfo, err error) {
	opts := restOptions{}
	must := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}

	// core/v1
	core := genericapiserver.NewDefaultAPIGroupInfo("", Scheme, legacyscheme.ParameterCodec, Codecs)
	coreStorage := map[string]rest.Storage{}

	kubelets := &kubeletConnections{server: s}
	pods, e := podstore.NewStorage(opts, kubelets, s.kubeletTransport, nil, authorizerfactory.NewAlwaysAllowAuthorizer())
	must(e)
	nodes, e := nodestore.NewStorage(opts, client.KubeletClientConfig{Port: 10250}, s.kubeletTransport)
	must(e)
	namespaces, nsStatus, nsFinalize, e := namespacestore.NewREST(opts)
	must(e)
	events, e := eventstore.NewREST(opts, uint64(eventTTL.Seconds()))
	must(e)
	secrets, e := secretstore.NewREST(opts)
	must(e)
	configmaps, e := configmapstore.NewREST(opts)
	must(e)
	endpoints, e := endpointstore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	tokens := &lazyTokenGenerator{}
	serviceaccounts, e := serviceaccountstore.NewREST(opts, tokens, []string{serviceAccountIssuer},
		authorizerfactory.NewAlwaysAllowAuthorizer(), 24*time.Hour, pods.Pod.Store, secrets.Store, nodes.Node.Store,
		noWebhooks[*admissionregistrationv1.ValidatingWebhookConfiguration]{}, noWebhooks[*admissionregistrationv1.MutatingWebhookConfiguration]{}, false, 0)
	must(e)
	services, e := newServiceREST(opts, pods.Pod)
	must(e)
	pvcs, pvcStatus, e := pvcstore.NewREST(opts)
	must(e)
	pvs, pvStatus, e := pvstore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	nodes.Proxy.Connection = kubelets
	for _, st := range []*genericregistry.Store{pods.Pod.Store, nodes.Node.Store, events.Store,
		secrets.Store, configmaps.Store, endpoints.Store, serviceaccounts.Store} {
		seededNames(st)
	}

	coreStorage["pods"] = pods.Pod
	coreStorage["pods/attach"] = pods.Attach
	coreStorage["pods/status"] = pods.Status
	coreStorage["pods/log"] = pods.Log
	coreStorage["pods/exec"] = pods.Exec
	coreStorage["pods/portforward"] = pods.PortForward
	coreStorage["pods/proxy"] = pods.Proxy
	coreStorage["pods/binding"] = pods.Binding
	coreStorage["bindings"] = pods.LegacyBinding
	s.evictions = &evictionREST{server: s, opts: opts, template: pods.Eviction, byCluster: map[string]*podstore.EvictionREST{}}
	coreStorage["pods/eviction"] = s.evictions
	coreStorage["pods/ephemeralcontainers"] = pods.EphemeralContainers
	coreStorage["pods/resize"] = pods.Resize
	coreStorage["nodes"] = nodes.Node
	coreStorage["nodes/status"] = nodes.Status
	coreStorage["nodes/proxy"] = nodes.Proxy
	coreStorage["namespaces"] = namespaces
	coreStorage["namespaces/status"] = nsStatus
	coreStorage["namespaces/finalize"] = nsFinalize
	coreStorage["events"] = events
	coreStorage["secrets"] = secrets
	coreStorage["configmaps"] = configmaps
	coreStorage["endpoints"] = endpoints
	coreStorage["serviceaccounts"] = serviceaccounts
	coreStorage["serviceaccounts/token"] = serviceaccounts.Token
	coreStorage["services"] = services
	coreStorage["services/status"] = services.status
	coreStorage["persistentvolumeclaims"] = pvcs
	coreStorage["persistentvolumeclaims/status"] = pvcStatus
	coreStorage["persistentvolumes"] = pvs
	coreStorage["persistentvolumes/status"] = pvStatus
	core.VersionedResourcesStorageMap["v1"] = coreStorage

	// apps/v1
	apps := genericapiserver.NewDefaultAPIGroupInfo("apps", Scheme, legacyscheme.ParameterCodec, Codecs)
	deployments, e := deploystore.NewStorage(opts)
	must(e)
	replicasets, e := rsstore.NewStorage(opts)
	must(e)
	daemonsets, dsStatus, e := appsstore.NewREST(opts)
	must(e)
	statefulsets, e := ssstore.NewStorage(opts)
	must(e)
	revisions, e := revisionstore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	for _, st := range []*genericregistry.Store{deployments.Deployment.Store, replicasets.ReplicaSet.Store,
		daemonsets.Store, statefulsets.StatefulSet.Store} {
		seededNames(st)
	}
	apps.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{
		"deployments":         deployments.Deployment,
		"deployments/status":  deployments.Status,
		"deployments/scale":   deployments.Scale,
		"replicasets":         replicasets.ReplicaSet,
		"replicasets/status":  replicasets.Status,
		"replicasets/scale":   replicasets.Scale,
		"daemonsets":          daemonsets,
		"daemonsets/status":   dsStatus,
		"statefulsets":        statefulsets.StatefulSet,
		"statefulsets/status": statefulsets.Status,
		"statefulsets/scale":  statefulsets.Scale,
		"controllerrevisions": revisions,
	}

	// batch/v1
	batch := genericapiserver.NewDefaultAPIGroupInfo("batch", Scheme, legacyscheme.ParameterCodec, Codecs)
	jobs, e := jobstore.NewStorage(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	seededNames(jobs.Job.Store)
	cronjobs, cronjobStatus, e := cronjobstore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	seededNames(cronjobs.Store)
	batch.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{
		"jobs":            jobs.Job,
		"jobs/status":     jobs.Status,
		"cronjobs":        cronjobs,
		"cronjobs/status": cronjobStatus,
	}

	// policy/v1
	policy := genericapiserver.NewDefaultAPIGroupInfo("policy", Scheme, legacyscheme.ParameterCodec, Codecs)
	pdbs, pdbStatus, e := pdbstore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	policy.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{
		"poddisruptionbudgets":        pdbs,
		"poddisruptionbudgets/status": pdbStatus,
	}

	// coordination.k8s.io/v1
	coordination := genericapiserver.NewDefaultAPIGroupInfo("coordination.k8s.io", Scheme, legacyscheme.ParameterCodec, Codecs)
	leases, e := leasestore.NewREST(opts)
	must(e)
	if err != nil {
		return nil, nil, err
	}
	coordination.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{"leases": leases}

	// events.k8s.io/v1: the same objects as core events, as kube-apiserver serves them
	eventsGroup := genericapiserver.NewDefaultAPIGroupInfo("events.k8s.io", Scheme, legacyscheme.ParameterCodec, Codecs)
	events2, e := eventstore.NewREST(opts, uint64(eventTTL.Seconds()))
	must(e)
	if err != nil {
		return nil, nil, err
	}
	eventsGroup.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{"events": events2}

	return &core, []*genericapiserver.APIGroupInfo{&apps, &batch, &coordination, &eventsGroup, &policy}, nil
}

// kubeletConnections tells the pod log and node proxy handlers how to reach a node's kubelet: over
// the in-process kubelet transport, which finds the cluster in the request context.
type kubeletConnections struct{ server *Server }

func (k *kubeletConnections) GetConnectionInfo(ctx context.Context, nodeName types.NodeName) (*client.ConnectionInfo, error) {
	if _, ok := storage.FromContext(ctx); !ok {
		return nil, fmt.Errorf("no cluster for node %q", nodeName)
	}
	return &client.ConnectionInfo{
		Scheme:                         "https",
		Hostname:                       string(nodeName),
		Port:                           "10250",
		Transport:                      k.server.kubeletTransport,
		InsecureSkipTLSVerifyTransport: k.server.kubeletTransport,
	}, nil
}

// noWebhooks answers that no webhook configuration exists: kubesim serves none, and token
// requests bound to one are refused as by a cluster that has none.
type noWebhooks[T runtime.Object] struct{}

func (noWebhooks[T]) Get(_ context.Context, name string, _ metav1.GetOptions) (T, error) {
	var zero T
	return zero, apierrors.NewNotFound(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "webhookconfigurations"}, name)
}
