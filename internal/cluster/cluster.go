// Package cluster assembles one simulated cluster: its store and clock, its registration with the
// process's API server, the objects a fresh kubeadm cluster has, and the components that run in it
// (controllers, scheduler, kubelets).
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"kubesim.dev/kubesim/internal/admission"
	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/controllers"
	"kubesim.dev/kubesim/internal/node"
	"kubesim.dev/kubesim/internal/registry"
	"kubesim.dev/kubesim/internal/scheduler"
	"kubesim.dev/kubesim/internal/storage"
)

// Options configure a new cluster.
type Options struct {
	// ID names the cluster; its API is served under /clusters/<ID>.
	ID string
	// Seed drives every random choice in the cluster (names, UIDs, IPs, digests of pushed builds).
	Seed int64
	// Clock is the cluster's clock; nil means one that follows wall time.
	Clock *clock.Clock
	// Admission selects optional admission plugins.
	Admission admission.Options
	// Token is the administrator's bearer token; empty means a new random one.
	Token string
	// Nodes are the cluster's nodes; nil means DefaultNodes().
	Nodes []NodeSpec
	// Admin, when set, serves kubesim's own commands for the cluster (see internal/admin).
	Admin func(*Cluster) http.Handler
	// CACert is the PEM of the CA that signs the API server's certificate: it is what every
	// namespace's kube-root-ca.crt ConfigMap carries.
	CACert []byte
}

// Cluster is one running simulated cluster.
type Cluster struct {
	ID    string
	Token string
	Clock *clock.Clock
	Store *storage.Store
	// World is the cluster's view of the image registries.
	World *registry.World

	server    *apiserver.Server
	nodes     map[string]*node.Node
	nodeOrder []string
	settledRV atomic.Uint64 // the store's resourceVersion when the clock last settled
	scheduler *scheduler.Scheduler
	opts      Options
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New creates a cluster, registers it with server and fills it with a fresh kubeadm cluster's
// objects. It is ready for clients when New returns.
func New(server *apiserver.Server, opts Options) (*Cluster, error) {
	if opts.ID == "" {
		return nil, fmt.Errorf("a cluster needs an ID")
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.NewReal()
	}
	token := opts.Token
	if token == "" {
		var err error
		if token, err = NewToken(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{
		ID:     opts.ID,
		Token:  token,
		Clock:  clk,
		Store:  storage.NewStore(clk, opts.Seed),
		server: server,
		opts:   opts,
		ctx:    ctx,
		cancel: cancel,
	}
	c.World = c.newWorld()
	api := &apiserver.Cluster{
		ID:        c.ID,
		Token:     c.Token,
		Store:     c.Store,
		Admission: admission.NewChain(opts.Admission),
		Kubelets:  c.kubelets(),
	}
	if opts.Admin != nil {
		api.Admin = opts.Admin(c)
	}
	server.AddCluster(api)
	if err := c.bootstrap(ctx); err != nil {
		c.Stop()
		return nil, fmt.Errorf("bootstrapping cluster %s: %w", c.ID, err)
	}
	sched, err := scheduler.Start(ctx, scheduler.Config{
		Client: c.componentConfig("kube-scheduler"),
		Clock:  c.Clock,
		Rand:   mathrand.New(mathrand.NewSource(opts.Seed + 3000)),
	})
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting the scheduler of cluster %s: %w", c.ID, err)
	}
	c.scheduler = sched
	if err := controllers.Start(ctx, controllers.Config{Client: c.componentConfig, RootCA: opts.CACert, Clock: c.Clock}); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting the controllers of cluster %s: %w", c.ID, err)
	}
	specs := opts.Nodes
	if specs == nil {
		specs = DefaultNodes()
	}
	if err := c.startNodes(ctx, specs); err != nil {
		c.Stop()
		return nil, fmt.Errorf("starting the nodes of cluster %s: %w", c.ID, err)
	}
	c.Clock.SetSettle(c.settle)
	return c, nil
}

// NewToken returns a bearer token: secret, so from the system's random source, not the seed.
func NewToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// RESTConfig is a client configuration that reaches the cluster in-process, as its administrator.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:        "https://kubesim.local",
		BearerToken: c.Token,
		Transport:   c.server.InProcessTransport(c.ID),
		QPS:         -1, // no client-side rate limit in-process
		Timeout:     30 * time.Second,
	}
}

// componentConfig is the client configuration of a cluster component: protobuf, as kube's own
// components speak, and a user agent that names the component (it becomes the field manager).
func (c *Cluster) componentConfig(agent string) *rest.Config {
	cfg := c.RESTConfig()
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.UserAgent = agent + "/v" + apiserver.Version + " (linux/amd64) kubernetes/$Format"
	cfg.Timeout = 0
	// The components' own warnings (v1 Endpoints is deprecated) go to the process log: left to the
	// process-wide default, they would reach whatever stream an embedded kubectl made the default
	// (a learner's terminal, a test's output).
	cfg.WarningHandler = rest.WarningLogger{}
	return cfg
}

// Client is an in-process client of the cluster, as its administrator.
func (c *Cluster) Client() kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(c.RESTConfig())
}

// Stop stops the cluster's components and removes it from the API server.
func (c *Cluster) Stop() {
	c.cancel()
	c.wg.Wait()
	c.server.RemoveCluster(c.ID)
}
