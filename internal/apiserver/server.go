// Package apiserver serves the Kubernetes API of every kubesim cluster in the process.
//
// It is k8s.io/apiserver's generic API server with k8s.io/kubernetes's own registries, strategies,
// validation, defaulting and table printers installed, so requests are decoded, defaulted,
// validated, patched, applied, printed and refused exactly as by kube-apiserver. Underneath, the
// registries store into internal/storage, which finds the cluster in the request context: one
// handler set serves many clusters. A request reaches a cluster through the path prefix
// /clusters/<id> (or, for the default cluster, no prefix) and that cluster's bearer token.
package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/filters"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/compatibility"
	"k8s.io/kubernetes/pkg/capabilities"
	generatedopenapi "k8s.io/kubernetes/pkg/generated/openapi"

	"kubesim.dev/kubesim/internal/storage"
)

// Version is the Kubernetes version kubesim's API server reports and behaves as.
const Version = "1.37.2"

const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// Cluster is what the API server needs to know of one cluster.
type Cluster struct {
	ID    string
	Token string
	Store *storage.Store
	// Admission is the cluster's admission chain (admission.NewChain).
	Admission admission.Interface
	// Kubelets serves the kubelet API of the cluster's nodes: requests arrive with the node name
	// as URL host (pod logs, node proxy, configz).
	Kubelets http.Handler
	// Admin serves kubesim's own commands (registry, node runtimes, clock) under /kubesim/, to
	// the holder of the cluster's token.
	Admin http.Handler
}

// Server is the process's API server.
type Server struct {
	generic *genericapiserver.GenericAPIServer
	handler http.Handler
	// kubeletTransport carries apiserver → kubelet requests to the cluster's simulated kubelets.
	kubeletTransport http.RoundTripper
	evictions        *evictionREST

	mu       sync.RWMutex
	clusters map[string]*Cluster
	fallback string // the cluster served without a /clusters/<id> prefix
}

type clusterKey struct{}

func withCluster(ctx context.Context, c *Cluster) context.Context {
	return storage.WithStore(context.WithValue(ctx, clusterKey{}, c), c.Store)
}

func clusterFrom(ctx context.Context) *Cluster {
	c, _ := ctx.Value(clusterKey{}).(*Cluster)
	return c
}

// New builds the API server. It serves nothing until clusters are added.
func New() (*Server, error) {
	// kubeadm starts kube-apiserver with --allow-privileged=true (kube-proxy is privileged).
	capabilities.Setup(true, 0)
	s := &Server{clusters: map[string]*Cluster{}}
	s.kubeletTransport = &kubeletTransport{server: s}

	cfg := genericapiserver.NewConfig(Codecs)
	cfg.EffectiveVersion = compatibility.NewEffectiveVersionFromString(Version, "", "")
	// What discovery reports as the server address, as a kubeadm control plane does.
	cfg.ExternalAddress = "172.30.1.2:6443"
	cfg.MergedResourceConfig = serverstorage.NewResourceConfig()
	cfg.LoopbackClientConfig = &rest.Config{Host: "http://kubesim.invalid", Transport: s.InProcessTransport("")}
	cfg.Authentication.Authenticator = authenticator.RequestFunc(s.authenticate)
	cfg.Authorization.Authorizer = authorizer.AuthorizerFunc(authorize)
	cfg.AdmissionControl = clusterAdmission{}
	cfg.LongRunningFunc = filters.BasicLongRunningRequestCheck(
		sets.NewString("watch", "proxy"),
		sets.NewString("attach", "exec", "proxy", "log", "portforward"),
	)
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	namer := openapinamer.NewDefinitionNamer(Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, namer)
	cfg.OpenAPIConfig.Info.Title = "Kubernetes"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, namer)
	cfg.OpenAPIV3Config.Info.Title = "Kubernetes"
	cfg.SkipOpenAPIInstallation = true // installed lazily below
	cfg.EnableProfiling = false
	cfg.EnableMetrics = false
	cfg.EnableIndex = true
	cfg.RESTOptionsGetter = restOptions{}

	generic, err := cfg.Complete(nil).New("kube-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	s.generic = generic
	legacy, groups, err := s.groups()
	if err != nil {
		return nil, err
	}
	if err := generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, legacy); err != nil {
		return nil, err
	}
	if err := generic.InstallAPIGroups(groups...); err != nil {
		return nil, err
	}
	s.installLazyOpenAPI(cfg.OpenAPIConfig, cfg.OpenAPIV3Config)
	prepared := generic.PrepareRun()
	s.handler = prepared.Handler
	generic.RunPostStartHooks(context.Background())
	return s, nil
}

// AddCluster makes c reachable under /clusters/<c.ID>; the first cluster added is also the one
// served without a prefix.
func (s *Server) AddCluster(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters[c.ID] = c
	if s.fallback == "" {
		s.fallback = c.ID
	}
}

// RemoveCluster forgets the cluster: its requests get 404 from now on.
func (s *Server) RemoveCluster(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clusters, id)
	if s.evictions != nil {
		s.evictions.forget(id)
	}
	if s.fallback == id {
		s.fallback = ""
	}
}

// route finds the cluster a request is for and the path within it.
func (s *Server) route(path string) (*Cluster, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if rest, ok := strings.CutPrefix(path, "/clusters/"); ok {
		id, sub, _ := strings.Cut(rest, "/")
		return s.clusters[id], "/" + sub
	}
	return s.clusters[s.fallback], path
}

// ServeHTTP serves a request for one of the clusters.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, path := s.route(r.URL.Path)
	if c == nil {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	r2 := r.WithContext(withCluster(r.Context(), c))
	if path != r.URL.Path {
		u := *r.URL
		u.Path = path
		u.RawPath = ""
		r2.URL = &u
		r2.RequestURI = u.RequestURI()
	}
	if path == "/version" || path == "/version/" {
		serveVersion(w, r2)
		return
	}
	if strings.HasPrefix(path, "/kubesim/") {
		s.serveAdmin(c, w, r2)
		return
	}
	s.handler.ServeHTTP(w, r2)
}

// serveAdmin serves kubesim's own commands to the cluster's administrator only.
func (s *Server) serveAdmin(c *Cluster, w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) != c.Token {
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	}
	if c.Admin == nil {
		http.NotFound(w, r)
		return
	}
	c.Admin.ServeHTTP(w, r)
}

// The identities kubesim knows: the cluster's administrator (its bearer token), and anonymous.
var (
	admin = &user.DefaultInfo{Name: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", user.AllAuthenticated}}
	anon  = &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}
)

// authenticate accepts the cluster's own bearer token. A request without one is anonymous, as
// kube-apiserver's --anonymous-auth makes it; a wrong token is 401 Unauthorized.
func (s *Server) authenticate(r *http.Request) (*authenticator.Response, bool, error) {
	c := clusterFrom(r.Context())
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	if auth == "" {
		return &authenticator.Response{User: anon}, true, nil
	}
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || c == nil || strings.TrimSpace(token) != c.Token {
		return nil, false, nil
	}
	return &authenticator.Response{User: admin}, true, nil
}

// publicInfo is what system:public-info-viewer lets anyone read.
var publicInfo = sets.New("/healthz", "/livez", "/readyz", "/version", "/version/")

// authorize lets the administrator do everything and anonymous users read only public
// information, as kube-apiserver's default RBAC does.
func authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetUser() != nil && a.GetUser().GetName() != user.Anonymous {
		return authorizer.DecisionAllow, "", nil
	}
	if !a.IsResourceRequest() && a.GetVerb() == "get" && publicInfo.Has(a.GetPath()) {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// clusterAdmission runs the admission chain of the request's cluster.
type clusterAdmission struct{}

var (
	_ admission.MutationInterface   = clusterAdmission{}
	_ admission.ValidationInterface = clusterAdmission{}
)

func (clusterAdmission) Handles(admission.Operation) bool { return true }

func (clusterAdmission) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	c := clusterFrom(ctx)
	if c == nil || c.Admission == nil {
		return nil
	}
	if m, ok := c.Admission.(admission.MutationInterface); ok && m.Handles(a.GetOperation()) {
		return m.Admit(ctx, a, o)
	}
	return nil
}

func (clusterAdmission) Validate(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	c := clusterFrom(ctx)
	if c == nil || c.Admission == nil {
		return nil
	}
	if v, ok := c.Admission.(admission.ValidationInterface); ok && v.Handles(a.GetOperation()) {
		return v.Validate(ctx, a, o)
	}
	return nil
}

// clusterNotFound is the error of a request for a cluster that does not exist.
func clusterNotFound(id string) error { return fmt.Errorf("cluster %q not found", id) }
