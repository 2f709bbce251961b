package registry

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// NodeArch is the architecture of every simulated node; images are multi-arch (amd64 and arm64).
const NodeArch = "amd64"

var platforms = []ocispec.Platform{
	{Architecture: "amd64", OS: "linux"},
	{Architecture: "arm64", OS: "linux", Variant: "v8"},
}

// blob is one piece of content in a repository: a manifest, an index, a config or a layer.
type blob struct {
	desc ocispec.Descriptor
	data []byte    // manifests, indexes, configs
	gen  *layerGen // materialised layers

	// Parsed forms, filled for the kinds that have them.
	index    *ocispec.Index
	manifest *ocispec.Manifest
	config   *ocispec.Image
	layers   []layer // of a manifest
	cfgBlob  *blob   // of a manifest
}

// layerSpec declares one layer of a build: its amd64 compressed size, a seed (shared seeds give
// shared layers), and the Dockerfile line that made it.
type layerSpec struct {
	size      int64
	seed      string
	createdBy string
}

// buildSpec describes one build of an image, for all platforms.
type buildSpec struct {
	seed    string
	created time.Time
	layers  []layerSpec
	size    int64 // exact amd64 size as containerd reports it; 0 keeps the declared layer sizes
	config  ocispec.ImageConfig
}

// built is the result of a build: its index and every blob it made.
type built struct {
	index *blob
	blobs []*blob
}

func seedOf(parts ...string) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func jsonBlob(mediaType string, data []byte) *blob {
	return &blob{desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, data: data}
}

// archSize scales an amd64 layer size to another architecture, so arm64 builds differ a little.
func archSize(size int64, arch string) int64 {
	if arch == "amd64" || size < 4096 {
		return size
	}
	return size * 97 / 100
}

// build makes every blob of spec. When spec.size is set, the last amd64 layer is resized so that
// index + manifest + config + layers (what containerd's CRI plugin reports as the image size) is
// exactly spec.size. The sizing runs on declared-only layers, which serialise to the same length,
// so materialised layers are hashed once.
func build(spec buildSpec) *built {
	sizes := make([]int64, len(spec.layers))
	for i, l := range spec.layers {
		sizes[i] = l.size
	}
	if spec.size > 0 {
		for range 4 {
			b := buildWith(spec, sizes, false)
			diff := spec.size - b.amd64Size()
			if diff == 0 {
				break
			}
			sizes[len(sizes)-1] += diff
		}
	}
	return buildWith(spec, sizes, true)
}

func (b *built) amd64Size() int64 {
	for _, m := range b.index.index.Manifests {
		if m.Platform.Architecture == NodeArch {
			return imageSize(b.index, b.find(m.Digest))
		}
	}
	panic("no amd64 manifest")
}

func (b *built) find(d digest.Digest) *blob {
	for _, x := range b.blobs {
		if x.desc.Digest == d {
			return x
		}
	}
	return nil
}

// imageSize is containerd's image usage for one platform (core/images/usage, WithManifestLimit 1):
// every descriptor walked from the target, i.e. index, manifest, config and layers.
func imageSize(index, manifest *blob) int64 {
	n := manifest.desc.Size + manifest.manifest.Config.Size
	if index != nil && index != manifest {
		n += index.desc.Size
	}
	for _, l := range manifest.manifest.Layers {
		n += l.Size
	}
	return n
}

func buildWith(spec buildSpec, amd64Sizes []int64, materialise bool) *built {
	out := &built{}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, p := range platforms {
		var layers []layer
		for i, ls := range spec.layers {
			seed := ls.seed
			if seed == "" {
				seed = fmt.Sprintf("%s/%d", spec.seed, i)
			}
			s := seedOf(seed, p.Architecture)
			size := archSize(amd64Sizes[i], p.Architecture)
			name := fmt.Sprintf("kubesim/%x", s[:6])
			var l layer
			if materialise && ls.seed != "" {
				l = sharedLayer(s, size, name)
			} else if materialise {
				l = newLayer(s, size, name)
			} else {
				l = newLayer(s, -size, name) // negative: never materialised
				l.Size = size
			}
			l.comment, l.seed = ls.createdBy, seed
			layers = append(layers, l)
		}
		cfg := imageConfig(spec, p, layers)
		cfgBlob := jsonBlob(ocispec.MediaTypeImageConfig, mustJSON(cfg))
		cfgBlob.config = &cfg
		m := ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    cfgBlob.desc,
		}
		for _, l := range layers {
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: l.Digest, Size: l.Size})
			if l.gen != nil {
				out.blobs = append(out.blobs, &blob{desc: m.Layers[len(m.Layers)-1], gen: l.gen})
			}
		}
		mBlob := jsonBlob(ocispec.MediaTypeImageManifest, mustJSON(m))
		mBlob.manifest, mBlob.layers, mBlob.cfgBlob = &m, layers, cfgBlob
		out.blobs = append(out.blobs, cfgBlob, mBlob)
		d := mBlob.desc
		plat := p
		d.Platform = &plat
		idx.Manifests = append(idx.Manifests, d)
	}
	out.index = jsonBlob(ocispec.MediaTypeImageIndex, mustJSON(idx))
	out.index.index = &idx
	out.blobs = append(out.blobs, out.index)
	return out
}

func imageConfig(spec buildSpec, p ocispec.Platform, layers []layer) ocispec.Image {
	created := spec.created.UTC()
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: p.Architecture, OS: p.OS, Variant: p.Variant},
		Config:   spec.config,
		RootFS:   ocispec.RootFS{Type: "layers"},
	}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		cfg.History = append(cfg.History, ocispec.History{Created: &created, CreatedBy: l.comment, Comment: "buildkit.dockerfile.v0"})
	}
	return cfg
}

type sharedKey struct {
	seed [32]byte
	size int64
}

// sharedLayers memoises base layers that several catalog images share, so each is hashed once.
var sharedLayers sync.Map

func sharedLayer(seed [32]byte, size int64, name string) layer {
	k := sharedKey{seed, size}
	if l, ok := sharedLayers.Load(k); ok {
		return l.(layer)
	}
	l, _ := sharedLayers.LoadOrStore(k, newLayer(seed, size, name))
	return l.(layer)
}

// ChainID is the identity of the unpacked root filesystem (containerd's imageidentity.ChainID).
func chainID(cfg *ocispec.Image) digest.Digest {
	return identity.ChainID(cfg.RootFS.DiffIDs)
}
