package cluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubesim.dev/kubesim/internal/apiserver"
)

func TestClusterServesDefaultedPods(t *testing.T) {
	c := newTestCluster(t)
	ctx := context.Background()
	client := c.Client()
	nss, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nss.Items) != 4 {
		t.Fatalf("namespaces: %v", nss.Items)
	}
	waitFor(t, "the default service account", func() bool {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	})
	pod, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].ImagePullPolicy; got != corev1.PullAlways {
		t.Fatalf("imagePullPolicy defaulted to %q", got)
	}
	t.Logf("volumes: %v", pod.Spec.Volumes[0].Name)
}

var (
	testServer     *apiserver.Server
	testServerErr  error
	testServerOnce sync.Once
	testClusters   atomic.Int64
)

// newTestCluster starts a cluster on the package's shared API server.
func newTestCluster(t *testing.T) *Cluster {
	t.Helper()
	testServerOnce.Do(func() { testServer, testServerErr = apiserver.New() })
	if testServerErr != nil {
		t.Fatal(testServerErr)
	}
	c, err := New(testServer, Options{ID: fmt.Sprintf("t%d", testClusters.Add(1)), Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}
