// Package serve runs the default kubesim cluster behind an HTTPS listener with a kubeconfig, as
// `kubesim serve` does; the end-to-end tests use it to drive real kubectl binaries.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubesim.dev/kubesim/internal/admin"
	"kubesim.dev/kubesim/internal/admission"
	"kubesim.dev/kubesim/internal/apiserver"
	"kubesim.dev/kubesim/internal/certs"
	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/web"
)

// Options configure an instance.
type Options struct {
	BindAddress string // default 127.0.0.1
	SecurePort  int    // 0 picks a free port
	DataDir     string // keeps the CA, serving certificate and token across restarts
	Kubeconfig  string // where to write the kubeconfig; default <DataDir>/kubeconfig
	Admission   admission.Options
	Seed        int64
	Clock       *clock.Clock // nil: follows wall time
	// RegistryAddress serves the cluster's image registries over the OCI distribution API (plain
	// HTTP, like a local registry); empty turns it off.
	RegistryAddress string
	// WebAddress serves the browser page (a lesson beside a terminal, each visitor with an own
	// cluster) over plain HTTP; empty turns it off.
	WebAddress string
	// Web configures the page's sessions (idle timeout, cap); its Server is this instance's.
	Web web.Options
}

// Instance is a served cluster.
type Instance struct {
	Server     *apiserver.Server
	Cluster    *cluster.Cluster
	URL        string
	Kubeconfig string
	// RegistryURL is where the OCI registry endpoint listens, if it does.
	RegistryURL string
	// WebURL is where the browser page listens, if it does.
	WebURL     string
	httpServer *http.Server
	registry   *http.Server
	web        *http.Server
	webServer  *web.Server
	done       chan error
}

// Start starts the API server, the default cluster and the HTTPS listener.
func Start(o Options) (*Instance, error) {
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if o.Kubeconfig == "" {
		o.Kubeconfig = filepath.Join(o.DataDir, "kubeconfig")
	}
	bundle, err := certs.LoadOrCreate(filepath.Join(o.DataDir, "pki"), o.BindAddress)
	if err != nil {
		return nil, fmt.Errorf("preparing certificates in %s: %w", o.DataDir, err)
	}
	token, err := loadOrCreateToken(filepath.Join(o.DataDir, "token"))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort)))
	if err != nil {
		return nil, fmt.Errorf("listening on %s:%d: %w (is another kubesim or API server running? choose another --secure-port)", o.BindAddress, o.SecurePort, err)
	}
	server, err := apiserver.New()
	if err != nil {
		ln.Close()
		return nil, err
	}
	cl, err := cluster.New(server, cluster.Options{ID: "default", Seed: o.Seed, Token: token, Admission: o.Admission,
		CACert: bundle.CACert, Clock: o.Clock, Admin: admin.Handler})
	if err != nil {
		ln.Close()
		return nil, err
	}
	inst := &Instance{
		Server:  server,
		Cluster: cl,
		httpServer: &http.Server{
			Handler:           server,
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{bundle.Cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12},
			ReadHeaderTimeout: 30 * time.Second,
		},
		done:       make(chan error, 1),
		Kubeconfig: o.Kubeconfig,
	}
	go func() { inst.done <- inst.httpServer.ServeTLS(ln, "", "") }()
	if o.RegistryAddress != "" {
		if err := inst.serveRegistry(o.RegistryAddress); err != nil {
			inst.Close(context.Background())
			return nil, err
		}
	}
	if o.WebAddress != "" {
		if err := inst.serveWeb(o.WebAddress, o.Web, o.Seed); err != nil {
			inst.Close(context.Background())
			return nil, err
		}
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	inst.URL = "https://" + net.JoinHostPort(host, port)
	if err := writeKubeconfig(o.Kubeconfig, inst.URL, bundle.CACert, token); err != nil {
		inst.Close(context.Background())
		return nil, err
	}
	return inst, nil
}

// serveRegistry serves the cluster's registries over the OCI distribution API.
func (i *Instance) serveRegistry(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for the registry endpoint: %w (choose another --registry-address, or '' to turn it off)", addr, err)
	}
	i.registry = &http.Server{Handler: i.Cluster.World.Handler(), ReadHeaderTimeout: 30 * time.Second}
	i.RegistryURL = "http://" + ln.Addr().String()
	go func() { _ = i.registry.Serve(ln) }()
	return nil
}

// serveWeb serves the browser page. Its sessions' clusters live beside the default one on the same
// API server, each under its own ID and token; their seeds follow the instance's.
func (i *Instance) serveWeb(addr string, opts web.Options, seed int64) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s for the browser page: %w (choose another --web-address, or '' to turn it off)", addr, err)
	}
	opts.Server = i.Server
	if opts.Seed == 0 {
		opts.Seed = seed + 1
	}
	ws, err := web.New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	i.webServer = ws
	i.web = &http.Server{Handler: ws, ReadHeaderTimeout: 30 * time.Second}
	i.WebURL = "http://" + ln.Addr().String()
	go func() { _ = i.web.Serve(ln) }()
	return nil
}

// Done reports the listener's end.
func (i *Instance) Done() <-chan error { return i.done }

// Close stops serving and stops the cluster.
func (i *Instance) Close(ctx context.Context) error {
	err := i.httpServer.Shutdown(ctx)
	if i.registry != nil {
		_ = i.registry.Shutdown(ctx)
	}
	if i.web != nil {
		_ = i.web.Shutdown(ctx)
		i.webServer.Close()
	}
	i.Cluster.Stop()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
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
