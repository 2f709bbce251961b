package cluster

import (
	"maps"
	"runtime"
	"time"

	api "k8s.io/kubernetes/pkg/apis/core"
)

// settleLimit bounds how long the clock waits for a virtual moment's consequences to land.
const settleLimit = 2 * time.Second

// settle waits until what the last timer set off has run its course: every watch event delivered,
// every node's kubelet fed. The clock calls it between the moments of a fast-forward, so that
// components see each moment's writes before the next moment runs.
func (c *Cluster) settle() {
	rv := c.Store.ResourceVersion()
	if rv == c.settledRV.Load() && c.idle() {
		return // the moment wrote nothing: nothing can be in flight
	}
	defer func() { c.settledRV.Store(c.Store.ResourceVersion()) }()
	deadline := time.Now().Add(settleLimit)
	quiet := 0
	for time.Now().Before(deadline) {
		if c.idle() {
			quiet++
			if quiet >= 2 { // idle twice in a row: nothing was in flight between the checks
				return
			}
		} else {
			quiet = 0
		}
		runtime.Gosched()
		time.Sleep(50 * time.Microsecond)
	}
}

func (c *Cluster) idle() bool {
	if !c.Store.Idle() {
		return false
	}
	for _, n := range c.nodes {
		if !n.Idle() {
			return false
		}
	}
	return c.scheduler == nil || c.scheduler.Idle()
}

// quietPeriod is how long a cluster must stay idle for Settle to call it settled: long enough for
// a watch event to travel through client-go into a component's handler (the stretch from the
// store's watch channel to an informer's handler, which no queue shows, takes milliseconds, more
// on a loaded 2-core machine; 20 ms let a kubelet see a new pod after a test had moved on).
const quietPeriod = 100 * time.Millisecond

// Settle waits (up to settleLimit) until the cluster has been idle for a quiet period: every
// reaction to the last change (scheduling, a kubelet starting a pod, a controller creating pods)
// has happened. Tests call it before they look, or before they move a frozen clock.
func (c *Cluster) Settle() {
	deadline := time.Now().Add(settleLimit)
	quietSince := time.Time{}
	lastRV := c.Store.ResourceVersion()
	for time.Now().Before(deadline) {
		rv := c.Store.ResourceVersion()
		if c.idle() && rv == lastRV && c.podsCaughtUp() {
			if quietSince.IsZero() {
				quietSince = time.Now()
			} else if time.Since(quietSince) >= quietPeriod {
				return
			}
		} else {
			quietSince = time.Time{}
		}
		lastRV = rv
		time.Sleep(200 * time.Microsecond)
	}
}

// podsCaughtUp reports whether the scheduler has handled the latest version of every unfinished
// pod, and each kubelet of every pod bound to its node. No queue shows a watch event on its way
// from the store to an informer's handler; this compares what the handlers saw with the store.
func (c *Cluster) podsCaughtUp() bool {
	sched := map[string]string{}
	bound := map[string]map[string]string{}
	for _, n := range c.nodeOrder {
		bound[n] = map[string]string{}
	}
	for _, obj := range c.Store.List("/pods") {
		pod, ok := obj.(*api.Pod)
		if !ok {
			continue
		}
		key, rv := pod.Namespace+"/"+pod.Name, pod.ResourceVersion
		if pod.Status.Phase != api.PodSucceeded && pod.Status.Phase != api.PodFailed {
			sched[key] = rv
		}
		if seen, ok := bound[pod.Spec.NodeName]; ok {
			seen[key] = rv
		}
	}
	if c.scheduler != nil && !maps.Equal(sched, c.scheduler.SeenPods()) {
		return false
	}
	for name, want := range bound {
		if n := c.nodes[name]; n != nil && !maps.Equal(want, n.SeenPods()) {
			return false
		}
	}
	return true
}
