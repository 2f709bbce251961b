package apiserver

import (
	"net/http"
	"sync"

	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/apiserver/pkg/server/routes"
	openapicommon "k8s.io/kube-openapi/pkg/common"
)

// lazyOpenAPI builds the OpenAPI documents on their first request rather than at start: building
// them takes longer than starting everything else, and most clusters are never asked for them.
// The documents are upstream's own (routes.OpenAPI), installed behind the full handler chain.
type lazyOpenAPI struct {
	server  *Server
	install func(m *mux.PathRecorderMux)
	once    sync.Once
	mux     *mux.PathRecorderMux
}

func (l *lazyOpenAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.once.Do(func() {
		l.mux = mux.NewPathRecorderMux("openapi")
		l.install(l.mux)
	})
	l.mux.ServeHTTP(w, r)
}

// installLazyOpenAPI serves /openapi/v2 and /openapi/v3 as kube-apiserver does.
func (s *Server) installLazyOpenAPI(v2 *openapicommon.Config, v3 *openapicommon.OpenAPIV3Config) {
	container := s.generic.Handler.GoRestfulContainer
	nonRestful := s.generic.Handler.NonGoRestfulMux
	v2h := &lazyOpenAPI{server: s, install: func(m *mux.PathRecorderMux) {
		routes.OpenAPI{Config: v2}.InstallV2(container, m)
	}}
	v3h := &lazyOpenAPI{server: s, install: func(m *mux.PathRecorderMux) {
		routes.OpenAPI{V3Config: v3}.InstallV3(container, m)
	}}
	nonRestful.Handle("/openapi/v2", v2h)
	nonRestful.Handle("/openapi/v3", v3h)
	nonRestful.HandlePrefix("/openapi/v3/", v3h)
}
