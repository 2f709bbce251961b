package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"kubesim.dev/kubesim/internal/admission"
	"kubesim.dev/kubesim/internal/logs"
	"kubesim.dev/kubesim/internal/serve"
	"kubesim.dev/kubesim/internal/web"
)

type serveOptions struct {
	bindAddress string
	securePort  int
	kubeconfig  string
	dataDir     string
	plugins     []string
	seed        int64
	verbosity   int
	registry    string
	web         string
	webIdle     time.Duration
	webMax      int
}

func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".kubesim"
	}
	return filepath.Join(home, ".kubesim")
}

func newServeCommand() *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve",
		Short: "Start the default cluster and serve its Kubernetes API",
		Long: `Start the default cluster (control plane "controlplane", worker "node01") and serve
its Kubernetes API over HTTPS. A CA, a serving certificate and a bearer token are made on the
first start and kept in the data directory; a kubeconfig with context "kubesim" is written.`,
		Example: `  # Start kubesim and use it with kubectl
  kubesim serve &
  export KUBECONFIG=~/.kubesim/kubeconfig
  kubectl get nodes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), cmd.OutOrStdout()) },
	}
	f := c.Flags()
	f.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "The IP address on which to listen for the --secure-port port.")
	f.IntVar(&o.securePort, "secure-port", 6443, "The port on which to serve HTTPS with authentication and authorization.")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "Where to write the kubeconfig (default <data-dir>/kubeconfig).")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "Where the CA, the serving certificate and the token are kept.")
	f.StringSliceVar(&o.plugins, "enable-admission-plugins", nil,
		"Admission plugins to enable in addition to the default ones. Optional plugins: "+strings.Join(admission.Optional, ", ")+".")
	f.StringVar(&o.registry, "registry-address", "127.0.0.1:5000", "Where to serve the simulated image registries over the OCI distribution API (plain HTTP); '' turns it off.")
	f.StringVar(&o.web, "web-address", "127.0.0.1:8080", "Where to serve the browser page (a lesson beside a live terminal, each visitor with an own cluster); '' turns it off.")
	f.DurationVar(&o.webIdle, "web-session-idle-timeout", 30*time.Minute, "Remove a browser session (and its cluster) nobody has typed into for this long.")
	f.IntVar(&o.webMax, "web-max-sessions", 1000, "The most browser sessions held at once; a visitor beyond it is asked to come back later.")
	f.Int64Var(&o.seed, "seed", 1, "Seed of the cluster's random choices (names, UIDs, addresses).")
	f.IntVarP(&o.verbosity, "v", "v", 0, "Log level of the server's own logs (0 prints only errors).")
	return c
}

func (o *serveOptions) admission() (admission.Options, error) {
	var opts admission.Options
	for _, p := range o.plugins {
		switch p {
		case admission.AlwaysPullImages:
			opts.AlwaysPullImages = true
		case admission.NamespaceLifecycle, admission.ServiceAccount, admission.TaintNodesByCondition,
			admission.Priority, admission.DefaultTolerationSeconds:
			// enabled by default
		default:
			return opts, fmt.Errorf("unknown admission plugin %q (kubesim offers the default plugins and %s)", p, strings.Join(admission.Optional, ", "))
		}
	}
	return opts, nil
}

func (o *serveOptions) run(ctx context.Context, out io.Writer) error {
	start := time.Now()
	logs.SetVerbosity(o.verbosity)
	adm, err := o.admission()
	if err != nil {
		return err
	}
	inst, err := serve.Start(serve.Options{
		BindAddress: o.bindAddress, SecurePort: o.securePort, DataDir: o.dataDir,
		Kubeconfig: o.kubeconfig, Admission: adm, Seed: o.seed, RegistryAddress: o.registry,
		WebAddress: o.web, Web: web.Options{IdleTimeout: o.webIdle, MaxSessions: o.webMax},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "kubesim: cluster %q is ready at %s (started in %v)\n", "kubesim", inst.URL, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "kubesim: kubeconfig written to %s\n", inst.Kubeconfig)
	if inst.RegistryURL != "" {
		fmt.Fprintf(out, "kubesim: image registries served at %s (e.g. skopeo inspect --tls-verify=false docker://%s/docker.io/library/nginx:1.28)\n", inst.RegistryURL, strings.TrimPrefix(inst.RegistryURL, "http://"))
	}
	if inst.WebURL != "" {
		fmt.Fprintf(out, "kubesim: lessons with a live terminal at %s/\n", inst.WebURL)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Use it with your own kubectl:\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nor with the embedded one:\n  kubesim kubectl get nodes\n\n", inst.Kubeconfig)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	var serveErr error
	select {
	case serveErr = <-inst.Done():
	case s := <-signals:
		fmt.Fprintf(out, "kubesim: %v received, shutting down\n", s)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := inst.Close(shutdown); err != nil {
		return err
	}
	return serveErr
}
