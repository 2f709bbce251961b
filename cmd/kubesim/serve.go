package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"

	"kubesim.dev/kubesim/internal/admission"
	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/certs"
	"kubesim.dev/kubesim/internal/cluster"
)

type serveOptions struct {
	bindAddress string
	securePort  int
	kubeconfig  string
	dataDir     string
	plugins     []string
	seed        int64
	verbosity   int
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
	configureLogs(o.verbosity)
	adm, err := o.admission()
	if err != nil {
		return err
	}
	if o.kubeconfig == "" {
		o.kubeconfig = filepath.Join(o.dataDir, "kubeconfig")
	}
	bundle, err := certs.LoadOrCreate(filepath.Join(o.dataDir, "pki"), o.bindAddress)
	if err != nil {
		return fmt.Errorf("preparing certificates in %s: %w", o.dataDir, err)
	}
	token, err := loadOrCreateToken(filepath.Join(o.dataDir, "token"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.bindAddress, strconv.Itoa(o.securePort)))
	if err != nil {
		return fmt.Errorf("listening on %s:%d: %w (is another kubesim or API server running? choose another --secure-port)", o.bindAddress, o.securePort, err)
	}
	server, err := apiserver.New()
	if err != nil {
		return err
	}
	cl, err := cluster.New(server, cluster.Options{ID: "default", Seed: o.seed, Token: token, Admission: adm, CACert: bundle.CACert})
	if err != nil {
		return err
	}
	defer cl.Stop()
	httpServer := &http.Server{
		Handler:           server,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{bundle.Cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          nil,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.ServeTLS(ln, "", "") }()

	host := o.bindAddress
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	url := "https://" + net.JoinHostPort(host, strconv.Itoa(o.securePort))
	if err := writeKubeconfig(o.kubeconfig, url, bundle.CACert, token); err != nil {
		return err
	}
	fmt.Fprintf(out, "kubesim: cluster %q is ready at %s (started in %v)\n", "kubesim", url, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "kubesim: kubeconfig written to %s\n\n", o.kubeconfig)
	fmt.Fprintf(out, "Use it with your own kubectl:\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nor with the embedded one:\n  kubesim kubectl get nodes\n\n", o.kubeconfig)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	select {
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case s := <-signals:
		fmt.Fprintf(out, "kubesim: %v received, shutting down\n", s)
	case <-ctxDone(ctx):
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return httpServer.Shutdown(shutdown)
}

func ctxDone(ctx context.Context) <-chan struct{} {
	if ctx == nil {
		return nil
	}
	return ctx.Done()
}

// configureLogs keeps the server's upstream libraries quiet unless asked.
func configureLogs(v int) {
	fs := flagSetForKlog()
	_ = fs.Set("v", strconv.Itoa(v))
	if v == 0 {
		_ = fs.Set("stderrthreshold", "ERROR")
		klog.SetOutput(io.Discard)
		_ = fs.Set("logtostderr", "false")
		_ = fs.Set("alsologtostderr", "false")
	}
}

func loadOrCreateToken(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	token, err := cluster.NewToken()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

// writeKubeconfig writes a kubeconfig whose context "kubesim" reaches the cluster as its admin.
func writeKubeconfig(path, server string, ca []byte, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kubesim"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["kubesim-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["kubesim"] = &clientcmdapi.Context{Cluster: "kubesim", AuthInfo: "kubesim-admin", Namespace: "default"}
	cfg.CurrentContext = "kubesim"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return clientcmd.WriteToFile(*cfg, path)
}
