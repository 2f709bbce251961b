// Package controllers runs a cluster's kube-controller-manager: upstream's own controllers
// (k8s.io/kubernetes/pkg/controller/...), in-process, talking to the cluster's API through
// client-go like the real ones; and, where upstream's measure time with the wall clock (the node
// lifecycle and taint eviction controllers), kubesim's own on the cluster clock
// (internal/nodelifecycle).
package controllers

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/controller-manager/pkg/informerfactory"
	"k8s.io/klog/v2"
	"k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"
	"k8s.io/kubernetes/pkg/controller/cronjob"
	"k8s.io/kubernetes/pkg/controller/daemon"
	"k8s.io/kubernetes/pkg/controller/deployment"
	"k8s.io/kubernetes/pkg/controller/garbagecollector"
	"k8s.io/kubernetes/pkg/controller/job"
	namespacecontroller "k8s.io/kubernetes/pkg/controller/namespace"
	"k8s.io/kubernetes/pkg/controller/replicaset"
	serviceaccountcontroller "k8s.io/kubernetes/pkg/controller/serviceaccount"
	"k8s.io/kubernetes/pkg/controller/statefulset"

	"kubesim.dev/kubesim/internal/clock"
)

// Config is what the controllers need of their cluster.
type Config struct {
	// Client returns a client configuration for the named component (its user agent).
	Client func(agent string) *rest.Config
	// RootCA is the cluster CA's PEM, published in every namespace as kube-root-ca.crt.
	RootCA []byte
	// Clock is the cluster clock, on which kubesim's own controllers (node lifecycle, taint
	// eviction) run.
	Clock *clock.Clock
}

// The garbage collector and the RESTMapper re-read discovery this often, as in
// kube-controller-manager.
const discoveryResync = 30 * time.Second

// Start starts the controllers; they run until ctx is done.
func Start(ctx context.Context, cfg Config) error {
	if cfg.Clock == nil {
		return fmt.Errorf("controllers: no cluster clock")
	}
	restCfg := cfg.Client("kube-controller-manager")
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	logger := klog.FromContext(ctx)
	typed := informers.NewSharedInformerFactory(client, 0)
	metaInformers := metadatainformer.NewSharedInformerFactory(meta, 0)
	objectOrMeta := informerfactory.NewInformerFactory(typed, metaInformers)

	sa, err := serviceaccountcontroller.NewServiceAccountsController(logger,
		typed.Core().V1().ServiceAccounts(), typed.Core().V1().Namespaces(), client,
		serviceaccountcontroller.DefaultServiceAccountsControllerOptions())
	if err != nil {
		return fmt.Errorf("serviceaccount controller: %w", err)
	}
	rootCA, err := rootcacertpublisher.NewPublisher(typed.Core().V1().ConfigMaps(), typed.Core().V1().Namespaces(), client, cfg.RootCA)
	if err != nil {
		return fmt.Errorf("root-ca-cert-publisher: %w", err)
	}
	ns := namespacecontroller.NewNamespaceController(ctx, client, meta,
		client.Discovery().ServerPreferredNamespacedResources, typed.Core().V1().Namespaces(),
		5*time.Minute, v1.FinalizerKubernetes)
	deploy, err := deployment.NewDeploymentController(ctx, typed.Apps().V1().Deployments(),
		typed.Apps().V1().ReplicaSets(), typed.Core().V1().Pods(), client)
	if err != nil {
		return fmt.Errorf("deployment controller: %w", err)
	}
	rs := replicaset.NewReplicaSetController(ctx, typed.Apps().V1().ReplicaSets(), typed.Core().V1().Pods(),
		client, replicaset.BurstReplicas)

	ds, err := daemon.NewDaemonSetsController(ctx, typed.Apps().V1().DaemonSets(), typed.Apps().V1().ControllerRevisions(),
		typed.Core().V1().Pods(), typed.Core().V1().Nodes(), client, flowcontrol.NewBackOff(time.Second, 15*time.Minute))
	if err != nil {
		return fmt.Errorf("daemonset controller: %w", err)
	}
	ss := statefulset.NewStatefulSetController(ctx, typed.Core().V1().Pods(), typed.Apps().V1().StatefulSets(),
		typed.Core().V1().PersistentVolumeClaims(), typed.Apps().V1().ControllerRevisions(), client)
	// The Workload API is off in v1.37 (feature gate), so the Job controller gets no informers for it.
	jobs, err := job.NewController(ctx, client, typed.Core().V1().Pods(), typed.Batch().V1().Jobs(), nil, nil)
	if err != nil {
		return fmt.Errorf("job controller: %w", err)
	}
	cron, err := cronjob.NewControllerV2(ctx, typed.Batch().V1().Jobs(), typed.Batch().V1().CronJobs(), client)
	if err != nil {
		return fmt.Errorf("cronjob controller: %w", err)
	}

	if err := startNodeLifecycle(ctx, client, cfg.Clock, typed); err != nil {
		return fmt.Errorf("node lifecycle controller: %w", err)
	}

	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	started := make(chan struct{})
	graph := garbagecollector.NewDependencyGraphBuilder(ctx, meta, mapper,
		map[schema.GroupResource]struct{}{}, objectOrMeta, started)
	gc, err := garbagecollector.NewComposedGarbageCollector(ctx, client, meta, mapper, graph)
	if err != nil {
		return fmt.Errorf("garbage collector: %w", err)
	}

	go sa.Run(ctx, 1)
	go rootCA.Run(ctx, 1)
	go ns.Run(ctx, 5)
	go deploy.Run(ctx, 5)
	go rs.Run(ctx, 5)
	go ds.Run(ctx, 2)
	go ss.Run(ctx, 5)
	go jobs.Run(ctx, 5)
	go cron.Run(ctx, 5)
	go gc.Run(ctx, 20, discoveryResync)
	go gc.Sync(ctx, client.Discovery(), discoveryResync)

	typed.Start(ctx.Done())
	metaInformers.Start(ctx.Done())
	close(started)
	return nil
}
