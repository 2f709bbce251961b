package kubelet

// Every test checks that the syncs steadySync short-cuts would indeed have changed nothing.
func init() { verifySteadySyncs = true }
