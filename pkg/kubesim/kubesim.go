// Package kubesim starts simulated Kubernetes clusters inside a Go program, for tests and tools.
//
// A cluster starts in milliseconds and behaves like a real Kubernetes v1.37 cluster: its API is
// the real Kubernetes API (use client-go with RESTConfig), and its pods are scheduled, pull
// images from simulated registries and change status as on real nodes. Its time is virtual:
// freeze it with WithFrozenClock and move it with Step, or age a running cluster with Advance.
//
//	c, err := kubesim.Start()
//	if err != nil { ... }
//	defer c.Stop()
//	client := kubernetes.NewForConfigOrDie(c.RESTConfig())
package kubesim

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/cluster"
)

// Cluster is a running simulated cluster.
type Cluster struct {
	c *cluster.Cluster
}

type options struct {
	seed   int64
	frozen *time.Time
}

// Option configures Start.
type Option func(*options)

// WithSeed sets the seed of every random choice the cluster makes (names, UIDs, IPs), so that a
// run can be repeated exactly. The default seed is 1.
func WithSeed(seed int64) Option { return func(o *options) { o.seed = seed } }

// WithFrozenClock starts the cluster with its clock stopped at t: nothing happens over time until
// Step is called.
func WithFrozenClock(t time.Time) Option { return func(o *options) { o.frozen = &t } }

var (
	serverOnce sync.Once
	server     *apiserver.Server
	serverErr  error
	clusters   atomic.Int64
)

// sharedServer is the process's API server: every cluster started by this package is one more
// tenant of it.
func sharedServer() (*apiserver.Server, error) {
	serverOnce.Do(func() { server, serverErr = apiserver.New() })
	return server, serverErr
}

// Start starts a new cluster.
func Start(opts ...Option) (*Cluster, error) {
	o := options{seed: 1}
	for _, f := range opts {
		f(&o)
	}
	srv, err := sharedServer()
	if err != nil {
		return nil, fmt.Errorf("kubesim: starting the API server: %w", err)
	}
	var clk *clock.Clock
	if o.frozen != nil {
		clk = clock.NewFrozen(*o.frozen)
	}
	c, err := cluster.New(srv, cluster.Options{
		ID:    fmt.Sprintf("c%d", clusters.Add(1)),
		Seed:  o.seed,
		Clock: clk,
	})
	if err != nil {
		return nil, err
	}
	return &Cluster{c: c}, nil
}

// RESTConfig is a client configuration for the cluster's administrator. It reaches the cluster
// in-process, without a network socket.
func (c *Cluster) RESTConfig() *rest.Config { return c.c.RESTConfig() }

// Now is the cluster's current time.
func (c *Cluster) Now() time.Time { return c.c.Clock.Now() }

// Step moves a frozen clock forward by d, running everything due in between in order.
func (c *Cluster) Step(d time.Duration) { c.c.Clock.Step(d) }

// Advance ages the world by d: everything that was due within d happens, at its own moment, and
// every timestamp moves back by d, so that clients see ages as if d had passed.
func (c *Cluster) Advance(d time.Duration) { c.c.Clock.Advance(d) }

// Stop stops the cluster and frees it.
func (c *Cluster) Stop() { c.c.Stop() }
