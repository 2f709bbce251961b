package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"kubesim.dev/kubesim/internal/kubectl"
)

func newKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl [flags] COMMAND",
		Short:              "Run the genuine kubectl (embedded) against the kubesim cluster",
		Long:               "Run kubectl, built into kubesim, against the cluster that \"kubesim serve\" runs.\nIt uses the kubeconfig that \"kubesim serve\" wrote, unless KUBECONFIG or --kubeconfig say otherwise.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv := kubectl.Invocation{Args: args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
			if os.Getenv("KUBECONFIG") == "" && !namesKubeconfig(args) {
				inv.Kubeconfig = filepath.Join(defaultDataDir(), "kubeconfig")
			}
			os.Exit(kubectl.Run(cmd.Context(), inv))
			return nil
		},
	}
}

func namesKubeconfig(args []string) bool {
	for _, a := range args {
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}
