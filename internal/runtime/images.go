package runtime

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"kubesim.dev/kubesim/internal/registry"
)

// Image is an image as CRI ImageStatus and ListImages report it (containerd's toCRIImage).
type Image struct {
	ID          string // sha256:<config digest>
	RepoTags    []string
	RepoDigests []string
	Size        int64
	UID         *int64 // numeric image user, if any
	Username    string // non-numeric image user, if any
	Pinned      bool

	ChainID string
	Spec    ocispec.Image // the image config
	// Preloaded is true for an image imported onto the node (Load) rather than pulled.
	Preloaded bool
}

// storedImage is containerd's CRI image store entry.
type storedImage struct {
	id        string
	refs      []string // sorted by reference.Sort, includes the ID itself
	pinnedRef map[string]bool
	size      int64
	chainID   string
	spec      ocispec.Image
	content   []ocispec.Descriptor // index, manifest, config and layers, for disk usage
	preloaded bool

	// The parsed CRI view of refs, kept until refs change: the kubelet lists images every 30 s,
	// and parsing references dominated fast-forwards.
	viewRefs    []string
	viewTags    []string
	viewDigests []string
}

// AuthConfig mirrors CRI's AuthConfig.
type AuthConfig struct {
	Username      string
	Password      string
	Auth          string // base64 of username:password
	ServerAddress string
	IdentityToken string
	RegistryToken string
}

// ---- status and listing ----

func (s *storedImage) cri() *Image {
	img := &Image{ID: s.id, Size: s.size, ChainID: s.chainID, Spec: s.spec, Preloaded: s.preloaded}
	if !slices.Equal(s.viewRefs, s.refs) {
		s.viewRefs = slices.Clone(s.refs)
		s.viewTags, s.viewDigests = parseImageReferences(s.refs)
	}
	img.RepoTags, img.RepoDigests = slices.Clone(s.viewTags), slices.Clone(s.viewDigests)
	img.Pinned = len(s.pinnedRef) > 0
	img.UID, img.Username = userFromImage(s.spec.Config.User)
	return img
}

// parseImageReferences splits references into repo tags and repo digests, skipping image IDs
// (containerd internal/cri/util.ParseImageReferences).
func parseImageReferences(refs []string) (tags, digests []string) {
	for _, ref := range refs {
		parsed, err := reference.ParseAnyReference(ref)
		if err != nil {
			continue
		}
		if _, ok := parsed.(reference.Canonical); ok {
			digests = append(digests, parsed.String())
		} else if _, ok := parsed.(reference.Tagged); ok {
			tags = append(tags, parsed.String())
		}
	}
	return tags, digests
}

// userFromImage is containerd's getUserFromImage: a numeric user (before any ":group") is a UID.
func userFromImage(user string) (*int64, string) {
	if user == "" {
		return nil, ""
	}
	user, _, _ = strings.Cut(user, ":")
	uid, err := strconv.ParseInt(user, 10, 64)
	if err != nil {
		return nil, user
	}
	return &uid, ""
}

// localResolve finds an image by full image ID, by reference (normalised) or by a unique ID prefix
// (containerd LocalResolve). Callers hold r.mu.
func (r *Runtime) localResolve(refOrID string) (*storedImage, error) {
	id := ""
	if _, err := digest.Parse(refOrID); err == nil {
		id = refOrID
	} else if named, err := reference.ParseDockerRef(refOrID); err == nil {
		id = r.refs[named.String()]
	}
	if id == "" {
		id = refOrID
	}
	if img := r.images[id]; img != nil {
		return img, nil
	}
	// digestset.Lookup: a prefix of the hex, with or without "sha256:".
	prefix := strings.TrimPrefix(id, "sha256:")
	if prefix == "" || strings.ContainsAny(prefix, ":/@") {
		return nil, errNotFound
	}
	var found *storedImage
	for _, img := range r.images {
		if strings.HasPrefix(strings.TrimPrefix(img.id, "sha256:"), prefix) {
			if found != nil {
				return nil, errAmbiguous
			}
			found = img
		}
	}
	if found == nil {
		return nil, errNotFound
	}
	return found, nil
}

var (
	errNotFound  = errors.New("not found")
	errAmbiguous = errors.New("ambiguous digest string")
)

// ImageStatus returns the image refOrID names, or nil, nil when it is absent.
func (r *Runtime) ImageStatus(refOrID string) (*Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	img, err := r.localResolve(refOrID)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("can not resolve %q locally: %w", refOrID, err)
	}
	return img.cri(), nil
}

// ListImages returns every image, ordered by ID (containerd's order is a map's; callers sort).
func (r *Runtime) ListImages() []*Image {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Image, 0, len(r.images))
	for _, img := range r.images {
		out = append(out, img.cri())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RemoveImage removes the image refOrID names with all its references (tags, digests, ID), as
// containerd does; an absent image is not an error.
func (r *Runtime) RemoveImage(refOrID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	img, err := r.localResolve(refOrID)
	if errors.Is(err, errNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("can not resolve %q locally: %w", refOrID, err)
	}
	for _, ref := range img.refs {
		delete(r.refs, ref)
	}
	delete(r.images, img.id)
	return nil
}

// FsInfo is the image filesystem's usage (CRI ImageFsInfo plus the capacity cadvisor reports).
type FsInfo struct {
	Mountpoint string
	Capacity   int64
	UsedBytes  int64
	Available  int64
	InodesUsed uint64
}

// ImageFsInfo reports the image filesystem: used bytes are the unique content of all images.
func (r *Runtime) ImageFsInfo() FsInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[digest.Digest]bool{}
	var used int64
	var inodes uint64
	for _, img := range r.images {
		for _, d := range img.content {
			if !seen[d.Digest] {
				seen[d.Digest] = true
				used += d.Size
				inodes++
			}
		}
	}
	return FsInfo{Mountpoint: ImageFsMountpoint, Capacity: r.cfg.ImageFsCapacity, UsedBytes: used,
		Available: max(r.cfg.ImageFsCapacity-used, 0), InodesUsed: inodes}
}

// ---- storing ----

// addRef points ref at img (containerd image store update): a reference that pointed elsewhere
// moves, and an image left without references disappears. Callers hold r.mu.
func (r *Runtime) addRef(ref string, img *storedImage, pinned bool) {
	if old, ok := r.refs[ref]; ok && old != img.id {
		if o := r.images[old]; o != nil {
			o.refs = slices.DeleteFunc(o.refs, func(s string) bool { return strings.EqualFold(s, ref) })
			delete(o.pinnedRef, ref)
			if len(o.refs) == 0 {
				delete(r.images, old)
			}
		}
	}
	r.refs[ref] = img.id
	if cur := r.images[img.id]; cur != nil && cur != img {
		img = cur
	}
	r.images[img.id] = img
	img.refs = slices.Compact(reference.Sort(append(img.refs, ref)))
	if pinned {
		if img.pinnedRef == nil {
			img.pinnedRef = map[string]bool{}
		}
		img.pinnedRef[ref] = true
	}
}

func newStored(ri *registry.Image) *storedImage {
	s := &storedImage{id: ri.ID(), size: ri.Size, chainID: ri.ChainID.String(), spec: ri.Spec}
	s.content = append(s.content, ocispec.Descriptor{Digest: ri.Digest}, ri.Manifest, ri.Config)
	s.content = append(s.content, ri.Layers...)
	return s
}

func (r *Runtime) pinned(ref string) bool {
	return slices.Contains(r.cfg.PinnedImages, ref)
}

// Load imports an image onto the node without the kubelet (`ctr -n k8s.io images import` of an
// archive): it records the tag and the image ID but no repo digest, and is marked preloaded.
// Registry credentials and outages do not matter.
func (r *Runtime) Load(ref string) (*Image, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, err
	}
	ri, err := r.world.Lookup(named.String())
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := newStored(ri)
	s.preloaded = true
	if cur := r.images[s.id]; cur != nil {
		s = cur
	}
	pinned := r.pinned(named.String())
	for _, x := range []string{s.id, named.String()} {
		r.addRef(x, s, pinned)
	}
	return s.cri(), nil
}

// ---- pulling ----

// PullPlan is a resolved pull waiting to be committed.
type PullPlan struct {
	Ref      string          // normalised reference, e.g. docker.io/library/nginx:1.28
	Image    *registry.Image // what the reference resolved to
	Download int64           // bytes not yet on the node
}

// CRIError is a failed CRI call as the kubelet's CRI client reports it. Code is the gRPC code
// containerd returned; cri-client strips the prefix of Unknown errors, so for a pull Error() is
// exactly the text the kubelet puts in its events and in the container's waiting message.
type CRIError struct {
	Code    string // "NotFound" or "Unknown"
	Message string // containerd's message
	Cause   error  // the registry error, if any
}

func (e *CRIError) Error() string {
	if e.Code == "Unknown" {
		return e.Message
	}
	return "rpc error: code = " + e.Code + " desc = " + e.Message
}

func (e *CRIError) Unwrap() error { return e.Cause }

// ResolvePull contacts the registry for ref with auth (nil: anonymous) the way containerd's CRI
// PullImage does, and returns what a pull would download, or containerd's error.
func (r *Runtime) ResolvePull(ctx context.Context, ref string, auth *AuthConfig) (*PullPlan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, &CRIError{Code: "Unknown", Message: fmt.Sprintf("failed to parse image reference %q: %v", ref, err), Cause: err}
	}
	nref, _ := registry.ParseRef(named.String())
	norm := nref.String()
	creds, credErr := parseAuth(auth, registry.EndpointHost(nref.Domain))
	var img *registry.Image
	if credErr != nil {
		// Credentials are only read when the registry asks for them.
		img, err = r.world.ResolveRef(nref, nil)
		var ue *registry.UnauthorizedError
		if errors.As(err, &ue) || r.world.UsesTokenAuth(nref.Domain) {
			return nil, &CRIError{Code: "Unknown", Message: pullPrefix(norm) + credErr.Error(), Cause: credErr}
		}
	} else {
		img, err = r.world.ResolveRef(nref, creds)
	}
	if err != nil {
		return nil, pullError(norm, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return &PullPlan{Ref: norm, Image: img, Download: r.missing(img)}, nil
}

// missing is the bytes of img's content not already on the node (callers hold r.mu).
func (r *Runtime) missing(img *registry.Image) int64 {
	have := map[digest.Digest]bool{}
	for _, s := range r.images {
		for _, d := range s.content {
			have[d.Digest] = true
		}
	}
	var n int64
	if !have[img.Digest] && img.Digest != img.Manifest.Digest {
		n += img.Size - img.Manifest.Size - img.Config.Size
		for _, l := range img.Layers {
			n -= l.Size
		}
	}
	for _, d := range append([]ocispec.Descriptor{img.Manifest, img.Config}, img.Layers...) {
		if !have[d.Digest] {
			n += d.Size
			have[d.Digest] = true
		}
	}
	return n
}

// CommitPull stores a resolved image and returns its image reference (sha256:<config digest>). It
// records the image ID, the repo tag (pulls by tag only) and the repo digest, like containerd.
func (r *Runtime) CommitPull(plan *PullPlan) (string, error) {
	nref, err := registry.ParseRef(plan.Ref)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := newStored(plan.Image)
	if cur := r.images[s.id]; cur != nil {
		s = cur
		s.preloaded = false
	}
	pinned := r.pinned(plan.Ref)
	refs := []string{s.id}
	if nref.Tag != "" {
		refs = append(refs, plan.Ref)
	}
	refs = append(refs, plan.Image.RepoDigest())
	for _, x := range refs {
		r.addRef(x, s, pinned)
	}
	return s.id, nil
}

// Pull resolves and commits at once (crictl pull, preloading with a registry).
func (r *Runtime) Pull(ctx context.Context, ref string, auth *AuthConfig) (string, error) {
	plan, err := r.ResolvePull(ctx, ref, auth)
	if err != nil {
		return "", err
	}
	return r.CommitPull(plan)
}

// parseAuth is containerd's ParseAuth: credentials for host from a CRI AuthConfig.
func parseAuth(auth *AuthConfig, host string) (*registry.Credentials, error) {
	if auth == nil {
		return nil, nil
	}
	if auth.ServerAddress != "" {
		u, err := url.Parse(auth.ServerAddress)
		if err != nil {
			return nil, fmt.Errorf("parse server address: %w", err)
		}
		if host != u.Host {
			return nil, nil
		}
	}
	if auth.Username != "" {
		return &registry.Credentials{Username: auth.Username, Password: auth.Password}, nil
	}
	if auth.IdentityToken != "" {
		return &registry.Credentials{Password: auth.IdentityToken}, nil
	}
	if auth.Auth != "" {
		decoded := make([]byte, base64.StdEncoding.DecodedLen(len(auth.Auth)))
		if _, err := base64.StdEncoding.Decode(decoded, []byte(auth.Auth)); err != nil {
			return nil, err
		}
		user, pass, ok := strings.Cut(string(decoded), ":")
		if !ok {
			return nil, fmt.Errorf("invalid decoded auth: %q", decoded)
		}
		return &registry.Credentials{Username: user, Password: strings.Trim(pass, "\x00")}, nil
	}
	return nil, nil
}

// pullPrefix is how containerd's local pull path wraps a resolver error
// (internal/cri/server/images/image_pull.go and client/pull.go).
func pullPrefix(ref string) string {
	return fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: ", ref, ref)
}

// pullError words a registry error as containerd 2.x does (core/remotes/docker: resolver.go,
// authorizer.go, auth/fetch.go, errors.go; Go's net/http and net errors for the network cases).
func pullError(ref string, err error) *CRIError {
	p := pullPrefix(ref)
	var (
		nf *registry.NotFoundError
		ua *registry.UnauthorizedError
		uh *registry.UnknownHostError
		cr *registry.ConnectionRefusedError
	)
	switch {
	case errors.As(err, &nf):
		return &CRIError{Code: "NotFound", Message: p + ref + ": not found", Cause: err}
	case errors.As(err, &ua):
		var msg string
		switch ua.Reason {
		case registry.InsufficientScope:
			msg = "pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
		case registry.NoBasicCredentials:
			msg = "pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials"
		case registry.TokenRejected:
			msg = "failed to authorize: failed to fetch oauth token: unexpected status from GET request to " + ua.URL + ": 401 Unauthorized"
		default:
			msg = "unexpected status from HEAD request to " + ua.URL + ": 401 Unauthorized"
		}
		return &CRIError{Code: "Unknown", Message: p + msg, Cause: err}
	case errors.As(err, &uh):
		return &CRIError{Code: "Unknown", Message: p + fmt.Sprintf("failed to do request: Head %q: dial tcp: %v", uh.URL, uh), Cause: err}
	case errors.As(err, &cr):
		return &CRIError{Code: "Unknown", Message: p + fmt.Sprintf("failed to do request: Head %q: %v", cr.URL, cr), Cause: err}
	}
	return &CRIError{Code: "Unknown", Message: p + err.Error(), Cause: err}
}
