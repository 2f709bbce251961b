package node

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Handler serves the part of the kubelet's HTTP API that the API server proxies to: container
// logs (kubectl logs), /configz (kubectl get --raw /api/v1/nodes/NODE/proxy/configz) and the
// health checks.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.HandleFunc("/configz", n.serveConfigz)
	mux.HandleFunc("/containerLogs/", n.serveLogs)
	return mux
}

// serveConfigz answers as the kubelet's configz endpoint does: its KubeletConfiguration under
// the key "kubeletconfig".
func (n *Node) serveConfigz(w http.ResponseWriter, _ *http.Request) {
	cfg := n.Config().KubeletConfiguration
	cfg.Kind, cfg.APIVersion = "", ""
	body, err := json.Marshal(map[string]any{"kubeletconfig": cfg})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// serveLogs answers /containerLogs/NAMESPACE/POD/CONTAINER. Simulated containers print nothing.
func (n *Node) serveLogs(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
	if len(parts) != 3 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
}
