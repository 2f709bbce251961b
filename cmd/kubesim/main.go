// Command kubesim is a simulated Kubernetes cluster in one binary: a real Kubernetes API server
// with simulated nodes, kubelets, container runtimes and image registries.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().ExecuteContext(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kubesim",
		Short: "kubesim runs a simulated Kubernetes cluster",
		Long: `kubesim runs a simulated Kubernetes v1.37 cluster in one process.

Its API server speaks the real Kubernetes API, so kubectl and client-go work against it.
Its nodes, kubelets, container runtimes and image registries are simulated, and behave
like a real cluster's: pods are scheduled, pull images, and change status.

Find more information at: https://kubesim.dev`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCommand(), newKubectlCommand(), newBenchCommand())
	root.AddCommand(adminCommands()...)
	return root
}
