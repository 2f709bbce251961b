package registry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strings"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	digest "github.com/opencontainers/go-digest"
)

// Handler serves the World over the OCI distribution API (read-only: pulls, tag lists, tokens).
//
// One HTTP endpoint stands for every simulated registry host:
//
//   - Path mode (default): the first component of the repository names the simulated host when it
//     looks like one (contains '.' or ':' or is "localhost"), as in
//     docker://127.0.0.1:5000/docker.io/library/nginx:1.28 or …/reg.example.com/app:v1.
//     Otherwise the name is normalised like a Docker reference: …/nginx:1.28 and
//     …/library/nginx:1.28 both mean docker.io/library/nginx.
//   - Host mode: when the request's Host header is itself a simulated registry (reg.example.com,
//     or registry-1.docker.io / index.docker.io / docker.io for Docker Hub), the whole path is the
//     repository inside that registry, as a real client talking to that host would send it.
//
// Authentication follows the simulated registry: basic-auth registries challenge with
// `WWW-Authenticate: Basic realm="Registry Realm"`, token registries (Docker Hub style) with
// `Bearer realm="<endpoint>/token",service=…,scope="repository:<name>:pull"` and, for a token without
// access, `error="insufficient_scope"`. The token endpoint is /token (GET, or POST for OAuth
// clients). In path mode the /v2/ ping answers with a Bearer challenge for service "kubesim" so that
// clients which only learn auth from the ping (skopeo, podman) obtain a token; every endpoint also
// accepts basic credentials directly. A registry that is down drops the connection.
//
// Manifests, indexes and configs come from the World. Blobs are served by go-containerregistry's
// registry handler over a blob store backed by the World: materialised layers are generated on the
// fly, declared-only layers answer BLOB_UNKNOWN.
func (w *World) Handler() http.Handler {
	h := &handler{w: w, key: tokenKey(w.seed)}
	h.blobs = ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)), ggcr.WithBlobHandler(worldBlobs{}))
	return h
}

type handler struct {
	w     *World
	key   []byte
	blobs http.Handler
}

func tokenKey(seed int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	k := sha256.Sum256(append([]byte("kubesim registry token key/"), b[:]...))
	return k[:]
}

const pathModeService = "kubesim"

// target is what a request addresses.
type target struct {
	host     string // simulated registry host
	path     string // repository inside it
	name     string // repository as the client wrote it (for scopes and tag lists)
	hostMode bool
}

func (h *handler) hostFromHeader(r *http.Request) (string, bool) {
	host := strings.ToLower(r.Host)
	switch host {
	case "registry-1.docker.io", "index.docker.io", "docker.io":
		return DockerHub, true
	}
	h.w.mu.RLock()
	defer h.w.mu.RUnlock()
	_, ok := h.w.registry(host)
	return host, ok
}

// resolveName maps the repository name of a request to a simulated host and path.
func (h *handler) resolveName(r *http.Request, name string) (target, bool) {
	if host, ok := h.hostFromHeader(r); ok {
		return target{host: host, path: name, name: name, hostMode: true}, true
	}
	first, rest, _ := strings.Cut(name, "/")
	if rest != "" && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return target{host: first, path: rest, name: name}, true
	}
	domain, path, err := ParseRepo(name)
	if err != nil {
		return target{}, false
	}
	return target{host: domain, path: path, name: name}, true
}

func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rw.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	switch {
	case r.URL.Path == "/token":
		h.serveToken(rw, r)
	case r.URL.Path == "/v2" || r.URL.Path == "/v2/":
		h.servePing(rw, r)
	case strings.HasPrefix(r.URL.Path, "/v2/"):
		h.serveV2(rw, r)
	default:
		writeError(rw, http.StatusNotFound, "NOT_FOUND", "page not found")
	}
}

func (h *handler) servePing(rw http.ResponseWriter, r *http.Request) {
	if host, ok := h.hostFromHeader(r); ok {
		h.w.mu.RLock()
		reg, _ := h.w.registry(host)
		h.w.mu.RUnlock()
		if reg.down {
			dropConnection(rw)
			return
		}
		switch {
		case reg.token:
			realm, service := h.realm(r, host, true)
			rw.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service=%q`, realm, service))
		case reg.creds != nil:
			rw.Header().Set("WWW-Authenticate", basicChallenge)
		default:
			rw.WriteHeader(http.StatusOK)
			return
		}
		writeError(rw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return
	}
	realm, _ := h.realm(r, "", false)
	rw.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service=%q`, realm, pathModeService))
	writeError(rw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

const basicChallenge = `Basic realm="Registry Realm"`

// realm is the token endpoint URL as the client reaches this server, and the service name.
func (h *handler) realm(r *http.Request, host string, hostMode bool) (string, string) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	realm := scheme + "://" + r.Host + "/token"
	if !hostMode {
		return realm, pathModeService
	}
	_, service := tokenRealm(host)
	return realm, service
}

func (h *handler) serveV2(rw http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/v2/")
	var name, kind, ref string
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.LastIndex(rest, k); i > 0 {
			name, kind, ref = rest[:i], strings.Trim(k, "/"), rest[i+len(k):]
			break
		}
	}
	if name == "" {
		writeError(rw, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(rw, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		return
	}
	t, ok := h.resolveName(r, name)
	if !ok {
		writeError(rw, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	h.w.mu.RLock()
	reg, regOK := h.w.registry(t.host)
	repo, exists := reg.repo(t.path)
	var denied bool
	var err error
	if regOK && !reg.down {
		denied, err = h.check(r, t, reg, repo, exists)
	}
	h.w.mu.RUnlock()
	switch {
	case !regOK:
		writeError(rw, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	case reg.down:
		dropConnection(rw)
		return
	case err != nil:
		h.challenge(rw, r, t, reg, denied)
		return
	case !exists:
		writeError(rw, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	switch kind {
	case "manifests":
		h.serveManifest(rw, r, repo, ref)
	case "tags":
		h.serveTags(rw, t, repo)
	default:
		h.blobs.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), repoKey{}, lockedRepo{h.w, repo})))
	}
}

var errDenied = fmt.Errorf("denied")

// check authorises a request. denied is true when a valid token lacked the scope.
func (h *handler) check(r *http.Request, t target, reg regView, repo repoView, exists bool) (denied bool, err error) {
	open := !reg.token && reg.creds == nil && (!exists || repo.creds == nil)
	if open {
		return false, nil
	}
	if user, pass, ok := r.BasicAuth(); ok {
		c := &Credentials{Username: user, Password: pass}
		if allowed(reg, repo, c) && (exists || !reg.token) {
			return false, nil
		}
		return false, errDenied
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		g, valid := h.parseToken(tok)
		if valid && exists && g.Host == t.host && g.grants(t.path) {
			return false, nil
		}
		return valid, errDenied
	}
	return false, errDenied
}

func (h *handler) challenge(rw http.ResponseWriter, r *http.Request, t target, reg regView, denied bool) {
	bearer := strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ")
	if reg.token || !t.hostMode && bearer {
		realm, service := h.realm(r, t.host, t.hostMode)
		c := fmt.Sprintf(`Bearer realm=%q,service=%q,scope=%q`, realm, service, "repository:"+t.name+":pull")
		if denied {
			c += `,error="insufficient_scope"`
		}
		rw.Header().Set("WWW-Authenticate", c)
	} else {
		rw.Header().Set("WWW-Authenticate", basicChallenge)
	}
	writeError(rw, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

func (h *handler) serveManifest(rw http.ResponseWriter, r *http.Request, repo repoView, ref string) {
	h.w.mu.RLock()
	d, err := digest.Parse(ref)
	if err != nil {
		var ok bool
		if d, ok = repo.tag(ref); !ok {
			h.w.mu.RUnlock()
			writeError(rw, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
			return
		}
	}
	b := repo.blob(d)
	h.w.mu.RUnlock()
	if b == nil || b.data == nil || b.config != nil {
		writeError(rw, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	rw.Header().Set("Content-Type", b.desc.MediaType)
	rw.Header().Set("Docker-Content-Digest", b.desc.Digest.String())
	rw.Header().Set("Content-Length", fmt.Sprint(len(b.data)))
	rw.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = rw.Write(b.data)
	}
}

func (h *handler) serveTags(rw http.ResponseWriter, t target, repo repoView) {
	h.w.mu.RLock()
	tags := repo.tags()
	h.w.mu.RUnlock()
	list := make([]string, 0, len(tags))
	for tag := range tags {
		list = append(list, tag)
	}
	sort.Strings(list)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{t.name, list})
}

// ---- tokens ----

type grant struct {
	Host  string   `json:"h"`
	User  string   `json:"u,omitempty"`
	Repos []string `json:"r"`
}

func (g grant) grants(path string) bool {
	for _, r := range g.Repos {
		if r == path {
			return true
		}
	}
	return false
}

func (h *handler) sign(g grant) string {
	body := base64.RawURLEncoding.EncodeToString(mustJSON(g))
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (h *handler) parseToken(tok string) (grant, bool) {
	body, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return grant{}, false
	}
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(body))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return grant{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return grant{}, false
	}
	var g grant
	if json.Unmarshal(raw, &g) != nil {
		return grant{}, false
	}
	return g, true
}

// serveToken issues a token for the pull scopes the credentials allow, as Docker Hub's auth server
// does: bad credentials get 401, an anonymous or valid login gets a token (possibly granting
// nothing, which the registry then answers with insufficient_scope).
func (h *handler) serveToken(rw http.ResponseWriter, r *http.Request) {
	var creds *Credentials
	if user, pass, ok := r.BasicAuth(); ok {
		creds = &Credentials{Username: user, Password: pass}
	}
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") == "password" {
			creds = &Credentials{Username: r.PostForm.Get("username"), Password: r.PostForm.Get("password")}
		} else if r.PostForm.Get("grant_type") != "" {
			creds = &Credentials{Password: r.PostForm.Get("refresh_token")}
		}
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	service := q.Get("service")
	var scopes []string
	for _, s := range q["scope"] {
		scopes = append(scopes, strings.Fields(s)...)
	}
	var g grant
	h.w.mu.RLock()
	for _, s := range scopes {
		parts := strings.Split(s, ":")
		if len(parts) < 3 || parts[0] != "repository" {
			continue
		}
		name := strings.Join(parts[1:len(parts)-1], ":")
		t, ok := h.targetForService(r, service, name)
		if !ok {
			continue
		}
		reg, ok := h.w.registry(t.host)
		if !ok {
			continue
		}
		if !anonymous(creds) && !validAccount(reg, creds) {
			h.w.mu.RUnlock()
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(rw, `{"details":"incorrect username or password"}`+"\n")
			return
		}
		repo, exists := reg.repo(t.path)
		if exists && allowed(reg, repo, creds) && (g.Host == "" || g.Host == t.host) {
			g.Host = t.host
			g.Repos = append(g.Repos, t.path)
		}
	}
	h.w.mu.RUnlock()
	if creds != nil {
		g.User = creds.Username
	}
	tok := h.sign(g)
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
}

func (h *handler) targetForService(r *http.Request, service, name string) (target, bool) {
	if service == pathModeService || service == "" {
		first, rest, _ := strings.Cut(name, "/")
		if rest != "" && (strings.ContainsAny(first, ".:") || first == "localhost") {
			return target{host: first, path: rest, name: name}, true
		}
		domain, path, err := ParseRepo(name)
		return target{host: domain, path: path, name: name}, err == nil
	}
	if service == "registry.docker.io" {
		return target{host: DockerHub, path: name, name: name, hostMode: true}, true
	}
	return target{host: service, path: name, name: name, hostMode: true}, true
}

// ---- blobs via go-containerregistry ----

type repoKey struct{}

type lockedRepo struct {
	w    *World
	repo repoView
}

func (l lockedRepo) blob(d digest.Digest) *blob {
	l.w.mu.RLock()
	defer l.w.mu.RUnlock()
	return l.repo.blob(d)
}

// worldBlobs is a go-containerregistry BlobHandler over the repository put in the request context.
type worldBlobs struct{}

func (worldBlobs) find(ctx context.Context, h v1.Hash) (*blob, error) {
	l, ok := ctx.Value(repoKey{}).(lockedRepo)
	if !ok {
		return nil, ggcr.ErrNotFound
	}
	b := l.blob(digest.Digest(h.String()))
	if b == nil || (b.data == nil && b.gen == nil) {
		return nil, ggcr.ErrNotFound
	}
	return b, nil
}

func (wb worldBlobs) Stat(ctx context.Context, _ string, h v1.Hash) (int64, error) {
	b, err := wb.find(ctx, h)
	if err != nil {
		return 0, err
	}
	return b.desc.Size, nil
}

func (wb worldBlobs) Get(ctx context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	b, err := wb.find(ctx, h)
	if err != nil {
		return nil, err
	}
	if b.gen != nil {
		return b.gen.open(), nil
	}
	return io.NopCloser(strings.NewReader(string(b.data))), nil
}

// ---- helpers ----

func writeError(rw http.ResponseWriter, status int, code, message string) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": message}}})
}

// dropConnection closes the client's connection without an answer, the closest an HTTP handler
// gets to "connection refused".
func dropConnection(rw http.ResponseWriter) {
	if hj, ok := rw.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	writeError(rw, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable")
}
