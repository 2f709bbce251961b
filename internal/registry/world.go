package registry

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Clock is where a World reads the time of a push (the created time of the new image).
type Clock interface {
	Now() time.Time
}

// World is one cluster's view of all image registries: the shared Catalog plus a copy-on-write
// overlay holding this cluster's pushes, registries, private repositories and outages. A World with
// nothing changed holds no maps at all.
type World struct {
	catalog *Catalog
	seed    int64
	clock   Clock

	mu     sync.RWMutex
	builds int
	regs   map[string]*worldRegistry // overlay, by host
}

type worldRegistry struct {
	created bool // exists only in this World
	token   bool
	creds   *Credentials // registry-wide credentials (created registries)
	down    bool
	repos   map[string]*worldRepo
}

type worldRepo struct {
	data     *repoData
	creds    *Credentials
	credsSet bool // creds override the catalog's
}

// NewWorld returns a World over catalog. seed makes pushes deterministic; clock stamps them
// (nil: pushed images are dated 2026-01-01).
func NewWorld(catalog *Catalog, seed int64, clock Clock) *World {
	if catalog == nil {
		catalog = DefaultCatalog()
	}
	return &World{catalog: catalog, seed: seed, clock: clock}
}

// TagInfo is one tag of a repository, as `kubesim registry ls` shows it.
type TagInfo struct {
	Repo    string // normalised repository name
	Tag     string
	Digest  digest.Digest // index digest
	Size    int64         // linux/amd64 image size as containerd reports it
	Private bool
}

// Image is a resolved image for the node platform (linux/amd64).
type Image struct {
	Ref        Ref           // normalised reference that was resolved
	Digest     digest.Digest // what the reference resolved to (normally the index)
	Manifest   ocispec.Descriptor
	Config     ocispec.Descriptor
	ConfigJSON []byte
	Spec       ocispec.Image
	Layers     []ocispec.Descriptor
	ChainID    digest.Digest
	Size       int64 // containerd's image size: index + manifest + config + layers
}

// ID is the image ID containerd reports: the config digest.
func (i *Image) ID() string { return i.Config.Digest.String() }

// RepoDigest is name@digest, the repo digest containerd records.
func (i *Image) RepoDigest() string { return i.Ref.RepoDigest(i.Digest) }

// Transfer is what a pull downloads when nothing is cached: manifests, config and layers.
func (i *Image) Transfer() int64 { return i.Size }

// ---- views merging catalog and overlay (callers hold w.mu) ----

type regView struct {
	host  string
	cat   *catalogRegistry
	ov    *worldRegistry
	token bool
	creds *Credentials
	down  bool
}

func (w *World) registry(host string) (regView, bool) {
	v := regView{host: host}
	if w.catalog != nil {
		v.cat = w.catalog.registries[host]
	}
	v.ov = w.regs[host]
	if v.cat == nil && (v.ov == nil || !v.ov.created) {
		return v, false
	}
	if v.cat != nil {
		v.token = v.cat.token
	}
	if v.ov != nil {
		v.down = v.ov.down
		if v.ov.created {
			v.token, v.creds = v.ov.token, v.ov.creds
		}
	}
	return v, true
}

type repoView struct {
	cat   *catalogRepo
	ov    *worldRepo
	creds *Credentials
}

func (v regView) repo(path string) (repoView, bool) {
	var r repoView
	if v.cat != nil {
		r.cat = v.cat.repos[path]
	}
	if v.ov != nil {
		r.ov = v.ov.repos[path]
	}
	if r.cat == nil && r.ov == nil {
		return r, false
	}
	if r.cat != nil {
		r.creds = r.cat.creds
	}
	if r.ov != nil && r.ov.credsSet {
		r.creds = r.ov.creds
	}
	return r, true
}

func (r repoView) tag(t string) (digest.Digest, bool) {
	if r.ov != nil && r.ov.data != nil {
		if d, ok := r.ov.data.tags[t]; ok {
			return d, true
		}
	}
	if r.cat != nil {
		d, ok := r.cat.content().tags[t]
		return d, ok
	}
	return "", false
}

func (r repoView) blob(d digest.Digest) *blob {
	if r.ov != nil && r.ov.data != nil {
		if b := r.ov.data.blobs[d]; b != nil {
			return b
		}
	}
	if r.cat != nil {
		return r.cat.content().blobs[d]
	}
	return nil
}

func (r repoView) tags() map[string]digest.Digest {
	out := map[string]digest.Digest{}
	if r.cat != nil {
		for t, d := range r.cat.content().tags {
			out[t] = d
		}
	}
	if r.ov != nil && r.ov.data != nil {
		for t, d := range r.ov.data.tags {
			out[t] = d
		}
	}
	return out
}

// overlay returns the overlay registry for host, creating it (callers hold w.mu for writing).
func (w *World) overlay(host string) *worldRegistry {
	if w.regs == nil {
		w.regs = map[string]*worldRegistry{}
	}
	r := w.regs[host]
	if r == nil {
		r = &worldRegistry{}
		w.regs[host] = r
	}
	return r
}

func (r *worldRegistry) repo(path string) *worldRepo {
	if r.repos == nil {
		r.repos = map[string]*worldRepo{}
	}
	x := r.repos[path]
	if x == nil {
		x = &worldRepo{}
		r.repos[path] = x
	}
	return x
}

// ---- administration ----

// RegistryOption configures CreateRegistry.
type RegistryOption func(*worldRegistry)

// WithTokenAuth makes a created registry use Docker Hub style bearer tokens instead of basic auth.
func WithTokenAuth() RegistryOption { return func(r *worldRegistry) { r.token = true } }

// CreateRegistry adds a registry host to this World. A non-empty user makes every repository
// private to user/password; an empty user makes anonymous pulls possible.
func (w *World) CreateRegistry(host, user, password string, opts ...RegistryOption) error {
	host = strings.ToLower(host)
	if _, _, err := ParseRepo(host + "/x"); err != nil || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return fmt.Errorf("invalid registry host %q", host)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.registry(host); ok {
		return fmt.Errorf("registry %q already exists", host)
	}
	r := w.overlay(host)
	r.created = true
	if user != "" {
		r.creds = &Credentials{Username: user, Password: password}
	}
	for _, o := range opts {
		o(r)
	}
	return nil
}

// SetDown simulates an outage of host: connections are refused until SetDown(host, false).
func (w *World) SetDown(host string, down bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.registry(host); !ok {
		return fmt.Errorf("no registry %q", host)
	}
	w.overlay(host).down = down
	return nil
}

// SetPrivate makes repository repo (created empty if missing) pullable only with user/password.
// An empty user makes it public again.
func (w *World) SetPrivate(repo, user, password string) error {
	domain, path, err := ParseRepo(repo)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.registry(domain); !ok {
		return fmt.Errorf("no registry %q", domain)
	}
	x := w.overlay(domain).repo(path)
	x.credsSet = true
	x.creds = nil
	if user != "" {
		x.creds = &Credentials{Username: user, Password: password}
	}
	if x.data == nil {
		x.data = newRepoData()
	}
	return nil
}

// Push publishes a new build of ref (REPO:TAG) and moves the tag to it. Earlier builds stay
// pullable by digest. The build is derived from the World's seed, its push counter, the repository
// and the tag; it extends the image the tag (or else the repository's latest tag) pointed to, or
// alpine:latest for a new repository.
func (w *World) Push(ref string) (TagInfo, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return TagInfo{}, err
	}
	if r.Digest != "" {
		return TagInfo{}, fmt.Errorf("cannot push by digest: %q", ref)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	reg, ok := w.registry(r.Domain)
	if !ok {
		return TagInfo{}, &UnknownHostError{Ref: r, Host: hostOnly(endpointHost(r.Domain)), URL: ManifestURL(r)}
	}
	if reg.down {
		return TagInfo{}, &ConnectionRefusedError{Ref: r, Addr: dialAddr(r.Domain), URL: ManifestURL(r)}
	}
	w.builds++
	spec := w.pushSpec(reg, r)
	b := build(spec)
	x := w.overlay(r.Domain).repo(r.Path)
	if x.data == nil {
		x.data = newRepoData()
	}
	x.data.add(b, r.Tag)
	reg, _ = w.registry(r.Domain) // now sees the overlay
	return w.tagInfo(reg, r.Path, r.Tag, b.index.desc.Digest), nil
}

func (w *World) now() time.Time {
	if w.clock == nil {
		return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return w.clock.Now().UTC().Truncate(time.Second)
}

// pushSpec derives the next build: the base image's layers plus one new application layer.
func (w *World) pushSpec(reg regView, r Ref) buildSpec {
	var seedBuf [8]byte
	binary.BigEndian.PutUint64(seedBuf[:], uint64(w.seed))
	seed := fmt.Sprintf("push/%x/%d/%s", seedBuf, w.builds, r.String())
	h := sha256.Sum256([]byte(seed))
	appSize := 200_000 + int64(binary.BigEndian.Uint32(h[:4])%1_800_000)

	spec := buildSpec{seed: seed, created: w.now()}
	if base := w.baseOf(reg, r); base != nil {
		spec.config = base.Config
		for _, l := range base.layers {
			spec.layers = append(spec.layers, layerSpec{size: l.Size, seed: l.seed, createdBy: l.comment})
		}
	} else {
		spec.config = ocispec.ImageConfig{Env: env(), Cmd: []string{"/bin/sh"}}
		spec.layers = []layerSpec{alpine321}
	}
	spec.layers = append(spec.layers, layerSpec{size: appSize, createdBy: "COPY . /app # buildkit"})
	return spec
}

type baseImage struct {
	Config ocispec.ImageConfig
	layers []layer
}

// baseOf finds the amd64 build the pushed tag extends: the tag's current image, else latest.
func (w *World) baseOf(reg regView, r Ref) *baseImage {
	repo, ok := reg.repo(r.Path)
	if !ok {
		return nil
	}
	for _, t := range []string{r.Tag, "latest"} {
		d, ok := repo.tag(t)
		if !ok {
			continue
		}
		if m := platformManifest(repo, repo.blob(d)); m != nil {
			return &baseImage{Config: m.cfgBlob.config.Config, layers: m.layers}
		}
	}
	return nil
}

func platformManifest(repo repoView, b *blob) *blob {
	switch {
	case b == nil:
		return nil
	case b.manifest != nil:
		return b
	case b.index != nil:
		for _, m := range b.index.Manifests {
			if m.Platform != nil && m.Platform.Architecture == NodeArch && m.Platform.OS == "linux" {
				return repo.blob(m.Digest)
			}
		}
	}
	return nil
}

func (w *World) tagInfo(reg regView, path, tag string, d digest.Digest) TagInfo {
	repo, _ := reg.repo(path)
	info := TagInfo{Repo: reg.host + "/" + path, Tag: tag, Digest: d, Private: repo.creds != nil || reg.creds != nil}
	if top := repo.blob(d); top != nil {
		if m := platformManifest(repo, top); m != nil {
			if top == m {
				top = nil
			}
			info.Size = imageSize(top, m)
		}
	}
	return info
}

// List returns the tags of repository repo (short names are normalised), or of every repository
// when repo is empty, sorted by repository and tag.
func (w *World) List(repo string) ([]TagInfo, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	var out []TagInfo
	if repo == "" {
		for _, name := range w.repositories() {
			out = append(out, w.listRepo(name)...)
		}
		return out, nil
	}
	domain, path, err := ParseRepo(repo)
	if err != nil {
		return nil, err
	}
	reg, ok := w.registry(domain)
	if !ok {
		return nil, fmt.Errorf("no registry %q", domain)
	}
	if _, ok := reg.repo(path); !ok {
		return nil, fmt.Errorf("repository %q not found", domain+"/"+path)
	}
	return w.listRepo(domain + "/" + path), nil
}

func (w *World) listRepo(name string) []TagInfo {
	domain, path, _ := strings.Cut(name, "/")
	reg, _ := w.registry(domain)
	repo, _ := reg.repo(path)
	tags := repo.tags()
	names := make([]string, 0, len(tags))
	for t := range tags {
		names = append(names, t)
	}
	sort.Strings(names)
	out := make([]TagInfo, 0, len(names))
	for _, t := range names {
		out = append(out, w.tagInfo(reg, path, t, tags[t]))
	}
	return out
}

// Repositories lists every repository this World can see, sorted.
func (w *World) Repositories() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.repositories()
}

func (w *World) repositories() []string {
	seen := map[string]bool{}
	for _, name := range w.catalog.Repositories() {
		seen[name] = true
	}
	for host, reg := range w.regs {
		for path := range reg.repos {
			seen[host+"/"+path] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ---- resolution ----

// Resolve resolves ref the way containerd's resolver does for a pull on a linux/amd64 node:
// normalise, authorise with creds (nil: anonymous), HEAD the manifest, then fetch the platform
// manifest and config. Errors are *NotFoundError, *UnauthorizedError, *UnknownHostError,
// *ConnectionRefusedError, or a reference parse error.
func (w *World) Resolve(ref string, creds *Credentials) (*Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	return w.ResolveRef(r, creds)
}

// ResolveRef is Resolve for an already normalised reference.
func (w *World) ResolveRef(r Ref, creds *Credentials) (*Image, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	reg, ok := w.registry(r.Domain)
	if !ok {
		return nil, &UnknownHostError{Ref: r, Host: hostOnly(endpointHost(r.Domain)), URL: ManifestURL(r)}
	}
	if reg.down {
		return nil, &ConnectionRefusedError{Ref: r, Addr: dialAddr(r.Domain), URL: ManifestURL(r)}
	}
	repo, exists := reg.repo(r.Path)
	if err := authorize(reg, repo, exists, r, creds); err != nil {
		return nil, err
	}
	if !exists {
		return nil, &NotFoundError{Ref: r}
	}
	return lookup(repo, r)
}

// UsesTokenAuth reports whether the registry for domain uses token (Docker Hub style) auth, where
// every request is first challenged and the client always reads its credentials.
func (w *World) UsesTokenAuth(domain string) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	reg, ok := w.registry(domain)
	return ok && reg.token
}

// Lookup resolves ref with no network and no credentials, as importing an image archive would
// (`ctr images import`): only existence matters.
func (w *World) Lookup(ref string) (*Image, error) {
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	reg, ok := w.registry(r.Domain)
	if !ok {
		return nil, &NotFoundError{Ref: r}
	}
	repo, ok := reg.repo(r.Path)
	if !ok {
		return nil, &NotFoundError{Ref: r}
	}
	return lookup(repo, r)
}

func lookup(repo repoView, r Ref) (*Image, error) {
	d := r.Digest
	if d == "" {
		var ok bool
		if d, ok = repo.tag(r.Tag); !ok {
			return nil, &NotFoundError{Ref: r}
		}
	}
	top := repo.blob(d)
	m := platformManifest(repo, top)
	if m == nil {
		return nil, &NotFoundError{Ref: r}
	}
	img := &Image{
		Ref:        r,
		Digest:     d,
		Manifest:   m.desc,
		Config:     m.cfgBlob.desc,
		ConfigJSON: m.cfgBlob.data,
		Spec:       *m.cfgBlob.config,
		Layers:     m.manifest.Layers,
		ChainID:    chainID(m.cfgBlob.config),
	}
	if top == m {
		top = nil
	}
	img.Size = imageSize(top, m)
	return img, nil
}

// validAccount reports whether creds are a login of registry reg (its own or any repository's).
func validAccount(reg regView, creds *Credentials) bool {
	if sameCreds(reg.creds, creds) {
		return true
	}
	check := func(c *Credentials) bool { return sameCreds(c, creds) }
	if reg.cat != nil {
		for _, r := range reg.cat.repos {
			if ov := reg.ov; ov != nil && ov.repos[r.path] != nil && ov.repos[r.path].credsSet {
				continue
			}
			if check(r.creds) {
				return true
			}
		}
	}
	if reg.ov != nil {
		for _, r := range reg.ov.repos {
			if r.credsSet && check(r.creds) {
				return true
			}
		}
	}
	return false
}

func sameCreds(a, b *Credentials) bool {
	return a != nil && b != nil && a.Username == b.Username && a.Password == b.Password
}

func anonymous(c *Credentials) bool { return c == nil || (c.Username == "" && c.Password == "") }

// allowed reports whether creds may pull from repo.
func allowed(reg regView, repo repoView, creds *Credentials) bool {
	if reg.creds == nil && repo.creds == nil {
		return true
	}
	return sameCreds(reg.creds, creds) || sameCreds(repo.creds, creds)
}

// authorize plays the 401 dance of containerd's docker authorizer against the simulated registry.
func authorize(reg regView, repo repoView, exists bool, r Ref, creds *Credentials) error {
	if reg.token {
		if !anonymous(creds) && !validAccount(reg, creds) {
			return &UnauthorizedError{Ref: r, Reason: TokenRejected, URL: tokenURL(reg.host, r.Path)}
		}
		if !exists || !allowed(reg, repo, creds) {
			return &UnauthorizedError{Ref: r, Reason: InsufficientScope}
		}
		return nil
	}
	if reg.creds == nil && (!exists || repo.creds == nil) {
		return nil // anonymous registry, public or missing repository
	}
	if creds == nil || creds.Username == "" || creds.Password == "" {
		return &UnauthorizedError{Ref: r, Reason: NoBasicCredentials}
	}
	if !allowed(reg, repo, creds) {
		return &UnauthorizedError{Ref: r, Reason: BadBasicCredentials, URL: ManifestURL(r)}
	}
	return nil
}

// tokenURL is the token request containerd makes: realm?scope=…&service=… (url.Values order).
func tokenURL(host, path string) string {
	realm, service := tokenRealm(host)
	q := "scope=" + queryEscape("repository:"+path+":pull") + "&service=" + queryEscape(service)
	return realm + "?" + q
}

func tokenRealm(host string) (realm, service string) {
	if host == DockerHub {
		return "https://auth.docker.io/token", "registry.docker.io"
	}
	return scheme(host) + "://" + host + "/token", host
}

func queryEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// hostOnly strips a port.
func hostOnly(host string) string {
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		return host[:i]
	}
	return host
}

// dialAddr is the ip:port a node dials for a registry domain. Every simulated registry host
// resolves to an address in 203.0.113.0/24 (TEST-NET-3) derived from its name; loopback names
// resolve to 127.0.0.1.
func dialAddr(domain string) string {
	host := endpointHost(domain)
	port := "443"
	if scheme(host) == "http" {
		port = "80"
	}
	name := host
	if i := strings.LastIndex(host, ":"); i > 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
	}
	if scheme(host) == "http" {
		return "127.0.0.1:" + port
	}
	h := sha256.Sum256([]byte(name))
	return fmt.Sprintf("203.0.113.%d:%s", 1+int(h[0])%254, port)
}
