// Package logs sets how much the upstream Kubernetes libraries inside kubesim log (they log
// through klog to the process's stderr).
package logs

import (
	"flag"
	"io"
	"strconv"
	"sync"

	"k8s.io/klog/v2"
)

var (
	flags *flag.FlagSet
	once  sync.Once
)

// SetVerbosity sets klog's level; at 0 nothing is logged at all, since the libraries' errors
// (a watch that a client closed, a conflict a controller retries) are part of normal operation.
func SetVerbosity(v int) {
	once.Do(func() {
		flags = flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(flags)
	})
	_ = flags.Set("v", strconv.Itoa(v))
	if v == 0 {
		klog.SetOutput(io.Discard)
		klog.LogToStderr(false)
		_ = flags.Set("alsologtostderr", "false")
		_ = flags.Set("stderrthreshold", "FATAL")
	}
}
