package registry

import (
	"sort"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Catalog is the read-only set of public images every cluster sees: Docker Hub official images,
// the Kubernetes images on registry.k8s.io and a private example repository. It is built once per
// process and shared by all Worlds; each repository's blobs are generated on first use, so an unused
// repository costs a few hundred bytes.
type Catalog struct {
	registries map[string]*catalogRegistry
}

type catalogRegistry struct {
	host  string
	token bool // Docker Hub style token auth
	repos map[string]*catalogRepo
}

type catalogRepo struct {
	path   string
	creds  *Credentials // non-nil: private
	builds []catalogBuild

	once sync.Once
	data *repoData
}

type catalogBuild struct {
	tags []string
	spec buildSpec
}

// repoData is the content of one repository: tags and every blob ever published in it.
type repoData struct {
	tags  map[string]digest.Digest
	blobs map[digest.Digest]*blob
}

func newRepoData() *repoData {
	return &repoData{tags: map[string]digest.Digest{}, blobs: map[digest.Digest]*blob{}}
}

func (d *repoData) add(b *built, tags ...string) {
	for _, x := range b.blobs {
		d.blobs[x.desc.Digest] = x
	}
	for _, t := range tags {
		d.tags[t] = b.index.desc.Digest
	}
}

func (r *catalogRepo) content() *repoData {
	r.once.Do(func() {
		d := newRepoData()
		for _, b := range r.builds {
			d.add(build(b.spec), b.tags...)
		}
		r.data = d
	})
	return r.data
}

// Credentials are a username and password (or token) for a registry.
type Credentials struct {
	Username string
	Password string
}

// The private example repository of the catalog and the credentials that can pull it.
const (
	PrivateExampleRepo     = "docker.io/acme/private"
	PrivateExampleUser     = "acme"
	PrivateExamplePassword = "acme-pull-secret"
)

var (
	defaultCatalogOnce sync.Once
	defaultCatalog     *Catalog
)

// DefaultCatalog is the process-wide catalog.
func DefaultCatalog() *Catalog {
	defaultCatalogOnce.Do(func() { defaultCatalog = newCatalog(catalogData()) })
	return defaultCatalog
}

type catalogEntry struct {
	repo   string // normalised name
	creds  *Credentials
	builds []catalogBuild
}

func newCatalog(entries []catalogEntry) *Catalog {
	c := &Catalog{registries: map[string]*catalogRegistry{}}
	for _, e := range entries {
		r, err := ParseRef(e.repo)
		if err != nil {
			panic(err)
		}
		reg := c.registries[r.Domain]
		if reg == nil {
			reg = &catalogRegistry{host: r.Domain, token: r.Domain == DockerHub, repos: map[string]*catalogRepo{}}
			c.registries[r.Domain] = reg
		}
		reg.repos[r.Path] = &catalogRepo{path: r.Path, creds: e.creds, builds: e.builds}
	}
	return c
}

// Repositories lists the catalog's repositories (normalised names), sorted.
func (c *Catalog) Repositories() []string {
	var out []string
	for host, reg := range c.registries {
		for path := range reg.repos {
			out = append(out, host+"/"+path)
		}
	}
	sort.Strings(out)
	return out
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func env(kv ...string) []string {
	return append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, kv...)
}

func ports(ps ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, p := range ps {
		m[p] = struct{}{}
	}
	return m
}

// Base layers shared by several images (same seed and size give the same digest).
var (
	debianBookworm = layerSpec{28227259, "debian:bookworm-slim", "# debian.sh --arch 'amd64' out/ 'bookworm' '@1759104000'"}
	debianTrixie   = layerSpec{29777766, "debian:trixie-slim", "# debian.sh --arch 'amd64' out/ 'trixie' '@1759104000'"}
	alpine320      = layerSpec{3625571, "alpine:3.20", "ADD alpine-minirootfs-3.20.8-x86_64.tar.gz / # buildkit"}
	alpine321      = layerSpec{3644269, "alpine:3.21", "ADD alpine-minirootfs-3.21.5-x86_64.tar.gz / # buildkit"}
	distroless     = layerSpec{104247, "distroless:static", "bazel build @distroless//base:static"}
)

func nginxBuild(version, njs, debian string, base layerSpec, created string, size int64) catalogBuild {
	rel := "1~" + debian
	return catalogBuild{spec: buildSpec{
		seed: "nginx:" + version, created: day(created), size: size,
		layers: []layerSpec{
			base,
			{43950022, "", "RUN /bin/sh -c set -x && groupadd --system --gid 101 nginx # buildkit"},
			{628, "", "COPY docker-entrypoint.sh / # buildkit"},
			{955, "", "COPY 10-listen-on-ipv6-by-default.sh /docker-entrypoint.d # buildkit"},
			{402, "", "COPY 15-local-resolvers.envsh /docker-entrypoint.d # buildkit"},
			{1209, "", "COPY 20-envsubst-on-templates.sh /docker-entrypoint.d # buildkit"},
			{1399, "", "COPY 30-tune-worker-processes.sh /docker-entrypoint.d # buildkit"},
		},
		config: ocispec.ImageConfig{
			Env:          env("NGINX_VERSION="+version, "NJS_VERSION="+njs, "NJS_RELEASE="+rel, "PKG_RELEASE="+rel, "DYNPKG_RELEASE="+rel),
			Entrypoint:   []string{"/docker-entrypoint.sh"},
			Cmd:          []string{"nginx", "-g", "daemon off;"},
			ExposedPorts: ports("80/tcp"),
			StopSignal:   "SIGQUIT",
			Labels:       map[string]string{"maintainer": "NGINX Docker Maintainers <docker-maint@nginx.com>"},
		},
	}}
}

func single(seed, created string, base layerSpec, cfg ocispec.ImageConfig) buildSpec {
	return buildSpec{seed: seed, created: day(created), layers: []layerSpec{base}, config: cfg}
}

func k8sBuild(name, created string, binSize, size int64, cfg ocispec.ImageConfig) catalogBuild {
	return catalogBuild{tags: []string{"v1.37.2"}, spec: buildSpec{
		seed: name + ":v1.37.2", created: day(created), size: size, config: cfg,
		layers: []layerSpec{
			distroless,
			{21202, "distroless:static/etc", "bazel build @distroless//base:static"},
			{1101420, "go-runner:v2.4.0", "COPY /go-runner /go-runner # buildkit"},
			{binSize, "", "COPY /" + name + " /usr/local/bin/" + name + " # buildkit"},
		},
	}}
}

func tagged(b catalogBuild, tags ...string) catalogBuild {
	b.tags = tags
	return b
}

func catalogData() []catalogEntry {
	nginx127 := nginxBuild("1.27.5", "0.8.10", "bookworm", debianBookworm, "2025-04-16T16:21:28Z", 72188133)
	nginx128 := nginxBuild("1.28.0", "0.8.10", "bookworm", debianBookworm, "2025-04-23T18:11:40Z", 72195292)
	nginx129 := nginxBuild("1.29.3", "0.9.4", "trixie", debianTrixie, "2025-10-28T21:03:52Z", 59769826)
	sh := ocispec.ImageConfig{Env: env(), Cmd: []string{"sh"}}
	binsh := ocispec.ImageConfig{Env: env(), Cmd: []string{"/bin/sh"}}
	redis := func(v string, created string, size int64) buildSpec {
		return buildSpec{seed: "redis:" + v, created: day(created), size: size,
			layers: []layerSpec{
				debianBookworm,
				{1091, "", "RUN /bin/sh -c set -eux; groupadd -r -g 999 redis # buildkit"},
				{1287342, "gosu:1.17", "RUN /bin/sh -c set -eux; savedAptMark=\"$(apt-mark showmanual)\" # buildkit"},
				{15823452, "", "RUN /bin/sh -c set -eux; apt-get install redis # buildkit"},
				{99, "", "RUN /bin/sh -c mkdir /data && chown redis:redis /data # buildkit"},
				{576, "", "COPY docker-entrypoint.sh /usr/local/bin/ # buildkit"},
			},
			config: ocispec.ImageConfig{
				Env:          env("GOSU_VERSION=1.17", "REDIS_VERSION="+v),
				Entrypoint:   []string{"docker-entrypoint.sh"},
				Cmd:          []string{"redis-server"},
				ExposedPorts: ports("6379/tcp"),
				Volumes:      map[string]struct{}{"/data": {}},
				WorkingDir:   "/data",
			}}
	}
	postgres := func(major, v, created string, size int64) buildSpec {
		return buildSpec{seed: "postgres:" + v, created: day(created), size: size,
			layers: []layerSpec{
				debianBookworm,
				{3207, "", "RUN /bin/sh -c set -eux; groupadd -r postgres --gid=999 # buildkit"},
				{9534271, "", "RUN /bin/sh -c set -ex; apt-get install -y --no-install-recommends gnupg less # buildkit"},
				{1286322, "gosu:1.17", "RUN /bin/sh -c set -eux; apt-get install gosu # buildkit"},
				{8932117, "", "RUN /bin/sh -c set -eux; localedef -i en_US -c -f UTF-8 en_US.UTF-8 # buildkit"},
				{1125, "", "RUN /bin/sh -c mkdir /docker-entrypoint-initdb.d # buildkit"},
				{99867120, "", "RUN /bin/sh -c set -ex; apt-get install -y postgresql-" + major + " # buildkit"},
				{9864, "", "COPY docker-entrypoint.sh docker-ensure-initdb.sh /usr/local/bin/ # buildkit"},
			},
			config: ocispec.ImageConfig{
				Env:          env("GOSU_VERSION=1.17", "LANG=en_US.utf8", "PG_MAJOR="+major, "PG_VERSION="+v, "PGDATA=/var/lib/postgresql/data"),
				Entrypoint:   []string{"docker-entrypoint.sh"},
				Cmd:          []string{"postgres"},
				ExposedPorts: ports("5432/tcp"),
				Volumes:      map[string]struct{}{"/var/lib/postgresql/data": {}},
				StopSignal:   "SIGINT",
			}}
	}
	httpd := buildSpec{seed: "httpd:2.4.65", created: day("2025-07-23T10:12:04Z"), size: 58826497,
		layers: []layerSpec{
			debianBookworm,
			{145, "", "RUN /bin/sh -c mkdir -p \"$HTTPD_PREFIX\" && chown www-data:www-data \"$HTTPD_PREFIX\" # buildkit"},
			{9312118, "", "RUN /bin/sh -c set -eux; apt-get install -y --no-install-recommends libaprutil1-ldap # buildkit"},
			{21263512, "", "RUN /bin/sh -c set -eux; make -j \"$(nproc)\"; make install # buildkit"},
			{290, "", "COPY httpd-foreground /usr/local/bin/ # buildkit"},
		},
		config: ocispec.ImageConfig{
			Env:          []string{"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HTTPD_PREFIX=/usr/local/apache2", "HTTPD_VERSION=2.4.65"},
			Cmd:          []string{"httpd-foreground"},
			ExposedPorts: ports("80/tcp"),
			StopSignal:   "SIGWINCH",
			WorkingDir:   "/usr/local/apache2",
		}}
	app := func(v, created string, appSize int64) catalogBuild {
		return catalogBuild{tags: []string{v}, spec: buildSpec{seed: "acme/private:" + v, created: day(created),
			layers: []layerSpec{alpine321, {appSize, "", "COPY app /usr/local/bin/app # buildkit"}},
			config: ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/usr/local/bin/app"}, ExposedPorts: ports("8080/tcp"), User: "1000"},
		}}
	}
	return []catalogEntry{
		{repo: "docker.io/library/nginx", builds: []catalogBuild{
			tagged(nginx127, "1.27", "1.27.5"),
			tagged(nginx128, "1.28", "1.28.0", "stable"),
			tagged(nginx129, "1.29", "1.29.3", "mainline", "latest"),
		}},
		{repo: "docker.io/library/busybox", builds: []catalogBuild{
			{tags: []string{"1.36", "1.36.1"}, spec: single("busybox:1.36.1", "2024-09-26T21:31:42Z", layerSpec{2152262, "", "BusyBox 1.36.1 (glibc), Debian 12"}, sh)},
			{tags: []string{"1.37", "1.37.0", "latest"}, spec: single("busybox:1.37.0", "2024-09-26T21:31:42Z", layerSpec{2159977, "", "BusyBox 1.37.0 (glibc), Debian 12"}, sh)},
		}},
		{repo: "docker.io/library/alpine", builds: []catalogBuild{
			{tags: []string{"3.20", "3.20.8"}, spec: single("alpine:3.20.8", "2025-10-08T11:04:55Z", alpine320, binsh)},
			{tags: []string{"3.21", "3.21.5", "latest"}, spec: single("alpine:3.21.5", "2025-10-08T11:05:10Z", alpine321, binsh)},
		}},
		{repo: "docker.io/library/redis", builds: []catalogBuild{
			{tags: []string{"7", "7.4", "7.4.6", "latest"}, spec: redis("7.4.6", "2025-10-03T17:43:09Z", 45478624)},
		}},
		{repo: "docker.io/library/httpd", builds: []catalogBuild{
			{tags: []string{"2.4", "2.4.65", "latest"}, spec: httpd},
		}},
		{repo: "docker.io/library/postgres", builds: []catalogBuild{
			{tags: []string{"16", "16.10"}, spec: postgres("16", "16.10-1.pgdg12+1", "2025-08-14T19:21:37Z", 153728445)},
			{tags: []string{"17", "17.6", "latest"}, spec: postgres("17", "17.6-1.pgdg12+1", "2025-08-14T19:24:02Z", 158321904)},
		}},
		{repo: PrivateExampleRepo, creds: &Credentials{PrivateExampleUser, PrivateExamplePassword}, builds: []catalogBuild{
			app("v1", "2025-11-03T09:00:00Z", 1843270),
			app("v2", "2025-12-01T09:00:00Z", 1911548),
		}},
		{repo: "registry.k8s.io/pause", builds: []catalogBuild{
			{tags: []string{"3.10"}, spec: buildSpec{seed: "pause:3.10", created: day("2024-05-02T10:44:10Z"), size: 320368,
				layers: []layerSpec{{318000, "", "ADD bin/pause-linux-amd64 /pause # buildkit"}},
				config: ocispec.ImageConfig{Entrypoint: []string{"/pause"}, User: "65535:65535", WorkingDir: "/"}}},
		}},
		{repo: "registry.k8s.io/kube-apiserver", builds: []catalogBuild{
			k8sBuild("kube-apiserver", "2026-02-10T12:00:00Z", 27435902, 28742581, ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/go-runner"}}),
		}},
		{repo: "registry.k8s.io/kube-controller-manager", builds: []catalogBuild{
			k8sBuild("kube-controller-manager", "2026-02-10T12:00:00Z", 25005310, 26312877, ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/go-runner"}}),
		}},
		{repo: "registry.k8s.io/kube-scheduler", builds: []catalogBuild{
			k8sBuild("kube-scheduler", "2026-02-10T12:00:00Z", 19456530, 20764118, ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/go-runner"}}),
		}},
		{repo: "registry.k8s.io/kube-proxy", builds: []catalogBuild{
			k8sBuild("kube-proxy", "2026-02-10T12:00:00Z", 30567611, 31875220, ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/go-runner"}}),
		}},
		{repo: "registry.k8s.io/etcd", builds: []catalogBuild{
			{tags: []string{"3.7.0-0"}, spec: buildSpec{seed: "etcd:3.7.0-0", created: day("2025-11-12T08:30:00Z"), size: 24387016,
				layers: []layerSpec{distroless, {21202, "distroless:static/etc", "bazel build @distroless//base:static"}, {24250000, "", "COPY etcd etcdctl etcdutl /usr/local/bin/ # buildkit"}},
				config: ocispec.ImageConfig{Env: env(), Cmd: []string{"/usr/local/bin/etcd"}, ExposedPorts: ports("2379/tcp", "2380/tcp")}}},
		}},
		{repo: "registry.k8s.io/coredns/coredns", builds: []catalogBuild{
			{tags: []string{"v1.14.6"}, spec: buildSpec{seed: "coredns:v1.14.6", created: day("2025-03-31T12:20:00Z"), size: 20944467,
				layers: []layerSpec{distroless, {21202, "distroless:static/etc", "bazel build @distroless//base:static"}, {20800000, "", "COPY /coredns /coredns # buildkit"}},
				config: ocispec.ImageConfig{Env: env(), Entrypoint: []string{"/coredns"}, ExposedPorts: ports("53/tcp", "53/udp"), User: "nonroot:nonroot"}}},
		}},
	}
}
