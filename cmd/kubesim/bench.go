package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"kubesim.dev/kubesim/internal/bench"
	"kubesim.dev/kubesim/internal/logs"
)

func newBenchCommand() *cobra.Command {
	var starts, clusters, workers, pods int
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure kubesim on this machine: start times, memory per cluster, API throughput",
		Long: `Measure kubesim on this machine and print each figure with a baseline measured in the
same run: process start to /readyz, in-process cluster start, memory of idle clusters, and pods
created per second by client-go.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logs.SetVerbosity(0)
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "kubesim bench")
			run := func(rs []bench.Result, err error) error {
				if err != nil {
					return err
				}
				for _, r := range rs {
					fmt.Fprintln(out, r)
				}
				return nil
			}
			if err := run(bench.ProcessStart(bench.Executable(), starts)); err != nil {
				return err
			}
			if err := run(bench.ClusterStart(clusters)); err != nil {
				return err
			}
			return run(bench.PodCreation(workers, pods))
		},
	}
	c.Flags().IntVar(&starts, "process-starts", 5, "how many times to start a kubesim process")
	c.Flags().IntVar(&clusters, "clusters", 50, "how many idle clusters to start in one process")
	c.Flags().IntVar(&workers, "workers", 50, "concurrent clients creating pods")
	c.Flags().IntVar(&pods, "pods", 2000, "pods to create")
	return c
}
