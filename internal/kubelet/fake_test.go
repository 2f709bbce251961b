package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/distribution/reference"
)

// fakeRuntime is a test stand-in for the node's containerd and the registries behind it. Its
// error texts are containerd 2.x's as the spec (§5) records them.
type fakeRuntime struct {
	registry map[string]*fakeRepo // by normalized repository name
	hosts    map[string]*fakeHost
	images   map[string]*Image // by ID
	order    []string          // image IDs in the order they arrived
	seq      int
	failNext map[string]error // image → error for ImageStatus
	capacity int64            // image filesystem capacity
}

type fakeRepo struct {
	tags map[string]*fakeManifest
}

type fakeManifest struct {
	id     string // config digest
	digest string // index digest
	size   int64
}

type fakeHost struct {
	down     bool   // DNS does not resolve
	user     string // when set, the registry wants these credentials
	password string
}

type fakePlan struct {
	repo, tag string
	m         *fakeManifest
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{registry: map[string]*fakeRepo{}, hosts: map[string]*fakeHost{}, images: map[string]*Image{}, failNext: map[string]error{}, capacity: DefaultImageFSCapacity}
}

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// push adds or moves a tag in the registry.
func (f *fakeRuntime) push(ref string, size int64) error {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return err
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("push needs a tag: %s", ref)
	}
	repo := f.registry[named.Name()]
	if repo == nil {
		repo = &fakeRepo{tags: map[string]*fakeManifest{}}
		f.registry[named.Name()] = repo
	}
	salt := fmt.Sprintf("%s:%d", named.String(), size)
	repo.tags[tagged.Tag()] = &fakeManifest{id: digestOf("config " + salt), digest: digestOf("index " + salt), size: size}
	return nil
}

func (f *fakeRuntime) host(name string) *fakeHost {
	h := f.hosts[name]
	if h == nil {
		h = &fakeHost{}
		f.hosts[name] = h
	}
	return h
}

// find looks an image up by any of its references, as containerd's ImageStatus does.
func (f *fakeRuntime) find(ref string) *Image {
	if img, ok := f.images[ref]; ok {
		return img
	}
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil
	}
	s := named.String()
	for _, id := range f.order {
		img := f.images[id]
		for _, n := range append(append([]string{}, img.RepoTags...), img.RepoDigests...) {
			if n == s {
				return img
			}
		}
	}
	return nil
}

func (f *fakeRuntime) imageStatus(ref string) (*Image, error) {
	if err, ok := f.failNext[ref]; ok {
		delete(f.failNext, ref)
		return nil, err
	}
	if img := f.find(ref); img != nil {
		c := *img
		return &c, nil
	}
	return nil, nil
}

func (f *fakeRuntime) resolvePull(ref string, auth *AuthConfig) (any, int64, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return nil, 0, err
	}
	full := named.String()
	domain := reference.Domain(named)
	path := reference.Path(named)
	prefix := fmt.Sprintf("failed to pull and unpack image %q: failed to resolve reference %q: ", full, full)
	h := f.host(domain)
	if h.down {
		return nil, 0, fmt.Errorf(`%sfailed to do request: Head "https://%s/v2/%s/manifests/%s": dial tcp: lookup %s on 10.0.0.2:53: no such host`,
			prefix, domain, path, tagOrDigest(named), domain)
	}
	if h.user != "" && (auth == nil || auth.Username != h.user || auth.Password != h.password) {
		return nil, 0, fmt.Errorf("%sunexpected status from HEAD request to https://%s/v2/%s/manifests/%s: 401 Unauthorized", prefix, domain, path, tagOrDigest(named))
	}
	repo := f.registry[named.Name()]
	if repo == nil {
		if domain == "docker.io" {
			return nil, 0, fmt.Errorf("%spull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed", prefix)
		}
		return nil, 0, fmt.Errorf("rpc error: code = NotFound desc = %s%s: not found", prefix, full)
	}
	var m *fakeManifest
	tag := ""
	if d, ok := named.(reference.Digested); ok {
		for _, mm := range repo.tags {
			if mm.digest == d.Digest().String() {
				m = mm
			}
		}
	} else if t, ok := named.(reference.Tagged); ok {
		m, tag = repo.tags[t.Tag()], t.Tag()
	}
	if m == nil {
		return nil, 0, fmt.Errorf("rpc error: code = NotFound desc = %s%s: not found", prefix, full)
	}
	fetch := m.size
	if _, ok := f.images[m.id]; ok {
		fetch = 0
	}
	return &fakePlan{repo: named.Name(), tag: tag, m: m}, fetch, nil
}

func tagOrDigest(n reference.Named) string {
	if d, ok := n.(reference.Digested); ok {
		return d.Digest().String()
	}
	if t, ok := n.(reference.Tagged); ok {
		return t.Tag()
	}
	return "latest"
}

func (f *fakeRuntime) commitPull(plan any) string {
	p := plan.(*fakePlan)
	img := f.images[p.m.id]
	if img == nil {
		img = &Image{ID: p.m.id, Size: p.m.size}
		f.images[p.m.id] = img
		f.order = append(f.order, p.m.id)
	}
	addName(&img.RepoDigests, p.repo+"@"+p.m.digest)
	if p.tag != "" {
		name := p.repo + ":" + p.tag
		for _, other := range f.images {
			if other != img {
				other.RepoTags = remove(other.RepoTags, name)
			}
		}
		addName(&img.RepoTags, name)
	}
	return img.ID
}

// load puts an image on the node without the kubelet (kind load, ctr import).
func (f *fakeRuntime) load(ref string) error {
	var auth *AuthConfig // an import needs no registry credentials
	if named, err := reference.ParseDockerRef(ref); err == nil {
		h := f.host(reference.Domain(named))
		auth = &AuthConfig{Username: h.user, Password: h.password}
	}
	plan, _, err := f.resolvePull(ref, auth)
	if err != nil {
		return err
	}
	f.commitPull(plan)
	return nil
}

func (f *fakeRuntime) remove(ref string) error {
	img := f.find(ref)
	if img == nil {
		return errors.New("not found")
	}
	delete(f.images, img.ID)
	f.order = remove(f.order, img.ID)
	return nil
}

func (f *fakeRuntime) list() []Image {
	var out []Image
	for _, id := range f.order {
		out = append(out, *f.images[id])
	}
	return out
}

func (f *fakeRuntime) newID() string {
	f.seq++
	return strings.TrimPrefix(digestOf(fmt.Sprint("container ", f.seq)), "sha256:")
}

// exec performs the machine's operations, in order.
func (f *fakeRuntime) exec(ops []Op, secrets map[string]*secretEntry) []Input {
	var out []Input
	for _, op := range ops {
		r := OpResult{ID: op.OpID()}
		switch op := op.(type) {
		case ImageStatusOp:
			r.Image, r.Err = f.imageStatus(op.Image)
		case ResolvePullOp:
			r.Plan, r.FetchBytes, r.Err = f.resolvePull(op.Image, op.Auth)
		case CommitPullOp:
			r.ImageRef = f.commitPull(op.Plan)
		case ListImagesOp:
			r.Images = f.list()
		case RemoveImageOp:
			r.Err = f.remove(op.ImageRef)
		case ImageFsInfoOp:
			r.FsCapacity = f.capacity
			for _, img := range f.images {
				r.FsUsed += img.Size
			}
		case RunSandboxOp:
			r.SandboxID = f.newID()
		case CreateContainerOp:
			r.ContainerID = f.newID()
		case GetSecretOp:
			if s, ok := secrets[op.Namespace+"/"+op.Name]; ok {
				r.Secret = s.secret
			} else {
				r.Err = fmt.Errorf("secret %q not found", op.Name)
			}
		}
		out = append(out, r)
	}
	return out
}

func addName(list *[]string, name string) {
	for _, n := range *list {
		if n == name {
			return
		}
	}
	*list = append(*list, name)
	sort.Strings(*list)
}

func remove(list []string, name string) []string {
	out := list[:0]
	for _, n := range list {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}
