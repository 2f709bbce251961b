package registry

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
)

// DockerHub is the canonical domain of Docker Hub in normalised references.
const DockerHub = "docker.io"

// Ref is a normalised image reference, as containerd sees it after reference.ParseDockerRef:
// short names are expanded (nginx → docker.io/library/nginx), a missing tag becomes latest, and a
// reference with both a tag and a digest keeps only the digest.
type Ref struct {
	Domain string        // registry host as written, e.g. docker.io, localhost:5000
	Path   string        // repository path inside the registry, e.g. library/nginx
	Tag    string        // empty when Digest is set
	Digest digest.Digest // empty when pulling by tag
}

// ParseRef normalises s the way containerd's CRI plugin does before a pull (ParseDockerRef).
// The error is distribution/reference's own, e.g. `invalid reference format: repository name
// (library/NGINX) must be lowercase`.
func ParseRef(s string) (Ref, error) {
	named, err := reference.ParseDockerRef(s)
	if err != nil {
		return Ref{}, err
	}
	r := Ref{Domain: reference.Domain(named), Path: reference.Path(named)}
	if c, ok := named.(reference.Canonical); ok {
		r.Digest = c.Digest()
	} else if t, ok := named.(reference.Tagged); ok {
		r.Tag = t.Tag()
	}
	return r, nil
}

// Name is the normalised repository name, e.g. docker.io/library/nginx.
func (r Ref) Name() string { return r.Domain + "/" + r.Path }

// Object is what the resolver asks the registry for: the digest if set, else the tag.
func (r Ref) Object() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// String is the normalised reference, e.g. docker.io/library/nginx:1.28 or
// docker.io/library/nginx@sha256:….
func (r Ref) String() string {
	if r.Digest != "" {
		return r.Name() + "@" + r.Digest.String()
	}
	return r.Name() + ":" + r.Tag
}

// RepoDigest is name@digest for the given digest, the form containerd records after a pull.
func (r Ref) RepoDigest(d digest.Digest) string { return r.Name() + "@" + d.String() }

// ParseRepo normalises a repository name without tag or digest (nginx → docker.io/library/nginx).
func ParseRepo(s string) (domain, path string, err error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", "", err
	}
	if !reference.IsNameOnly(named) {
		return "", "", fmt.Errorf("repository name must not have a tag or digest: %q", s)
	}
	return reference.Domain(named), reference.Path(named), nil
}

// EndpointHost is the host containerd really contacts for a registry domain
// (core/remotes/docker.DefaultHost: docker.io is served by registry-1.docker.io).
func EndpointHost(domain string) string { return endpointHost(domain) }

func endpointHost(domain string) string {
	if domain == DockerHub {
		return "registry-1.docker.io"
	}
	return domain
}

// scheme is the scheme containerd's CRI plugin uses for a host without hosts.toml:
// plain http for localhost and loopback addresses, https for everything else.
func scheme(host string) string {
	h := host
	if i := strings.LastIndex(h, ":"); i > 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.") {
		return "http"
	}
	return "https"
}

// ManifestURL is the URL containerd's resolver sends its HEAD request to, e.g.
// https://registry-1.docker.io/v2/library/nginx/manifests/1.28.
func ManifestURL(r Ref) string {
	host := endpointHost(r.Domain)
	return scheme(host) + "://" + host + "/v2/" + r.Path + "/manifests/" + r.Object()
}
