package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/lessons"
)

// lessonCluster gives lessons what they need of a *cluster.Cluster (until the cluster satisfies
// lessons.Cluster itself).
type lessonCluster struct {
	c      *cluster.Cluster
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

var _ lessons.Cluster = (*lessonCluster)(nil)

func newLessonCluster(c *cluster.Cluster) (*lessonCluster, error) {
	cfg := c.RESTConfig()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &lessonCluster{c: c, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco))}, nil
}

func (l *lessonCluster) LoadImage(_ context.Context, node, image string) error {
	rt := l.c.Runtime(node)
	if rt == nil {
		return fmt.Errorf("node %q not found (nodes: %s)", node, strings.Join(l.c.Nodes(), ", "))
	}
	_, err := rt.Load(image)
	return err
}

func (l *lessonCluster) PushImage(_ context.Context, ref string) (string, error) {
	info, err := l.c.World.Push(ref)
	if err != nil {
		return "", err
	}
	return info.Digest.String(), nil
}

func (l *lessonCluster) Advance(_ context.Context, d time.Duration) error {
	l.c.Clock.Advance(d)
	return nil
}

func (l *lessonCluster) TagDigest(ref string) (string, error) {
	img, err := l.c.World.Lookup(ref)
	if err != nil {
		return "", err
	}
	return img.Digest.String(), nil
}

func (l *lessonCluster) Dynamic() dynamic.Interface { return l.dyn }

// Apply creates or updates each object of the manifest with server-side apply.
func (l *lessonCluster) Apply(ctx context.Context, manifest []byte) error {
	for _, doc := range lessons.SplitDocuments(manifest) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return err
		}
		gvk := u.GroupVersionKind()
		m, err := l.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = l.dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			ri = l.dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "kubesim-lesson", Force: true}); err != nil {
			return fmt.Errorf("%s/%s: %w", gvk.Kind, u.GetName(), err)
		}
	}
	return nil
}
