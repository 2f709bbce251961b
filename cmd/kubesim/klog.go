package main

import (
	"flag"
	"sync"

	"k8s.io/klog/v2"
)

var (
	klogFlags     *flag.FlagSet
	klogFlagsOnce sync.Once
)

func flagSetForKlog() *flag.FlagSet {
	klogFlagsOnce.Do(func() {
		klogFlags = flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(klogFlags)
	})
	return klogFlags
}
