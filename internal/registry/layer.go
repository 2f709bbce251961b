package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// Layers are never stored. A layer small enough to hash quickly is "materialised": its bytes are a
// deterministic function of a seed, regenerated on every request, so its digest is the real sha256
// of what the HTTP endpoint serves and clients such as skopeo can verify it. Larger layers are only
// declared (realistic size, digest derived from the seed); the endpoint answers BLOB_UNKNOWN for them.
const (
	maxMaterialisedLayer = 8 << 20
	minMaterialisedLayer = gzipHeaderLen + 3*tarBlock + storedBlockOverhead + gzipTrailerLen

	gzipHeaderLen       = 10
	gzipTrailerLen      = 8
	storedBlockOverhead = 5 // BFINAL/BTYPE byte, LEN, NLEN
	storedBlockMax      = 65535
	tarBlock            = 512
)

// layer is one layer of one image build.
type layer struct {
	Digest  digest.Digest // of the compressed bytes
	DiffID  digest.Digest // of the uncompressed tar
	Size    int64         // compressed size
	gen     *layerGen     // nil when the layer is only declared
	comment string        // history line for the image config
	seed    string        // the layerSpec seed it was made from (with its amd64 size, its identity)
}

// layerGen produces a gzip stream of exactly size bytes whose content is a tar archive holding one
// file of seeded random bytes. Deflate "stored" blocks keep the compressed size predictable; a gzip
// FCOMMENT field pads the stream to the exact size.
type layerGen struct {
	seed     [32]byte
	size     int64
	fileSize int64
	pad      int // length of the FCOMMENT field including its NUL; 0 for none
	name     string
}

// layerMTime is the modification time of every generated file: a layer's bytes depend only on its
// seed and size, so a pushed build can reuse its base image's layers exactly.
var layerMTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func storedBlocks(n int64) int64 {
	if n == 0 {
		return 1
	}
	return (n + storedBlockMax - 1) / storedBlockMax
}

func gzipSize(tarLen int64) int64 {
	return gzipHeaderLen + tarLen + storedBlockOverhead*storedBlocks(tarLen) + gzipTrailerLen
}

// newLayer builds the layer for seed with the given compressed size, materialising it when the size
// allows.
func newLayer(seed [32]byte, size int64, name string) layer {
	if size < minMaterialisedLayer || size > maxMaterialisedLayer {
		return layer{
			Digest: digest.FromString("kubesim layer " + digest.NewDigestFromBytes(digest.SHA256, seed[:]).Encoded()),
			DiffID: digest.FromString("kubesim diff " + digest.NewDigestFromBytes(digest.SHA256, seed[:]).Encoded()),
			Size:   size,
		}
	}
	// The largest payload (a multiple of the tar block) whose stream still fits.
	file := (size - gzipHeaderLen - gzipTrailerLen - 3*tarBlock) / tarBlock * tarBlock
	for file > 0 && gzipSize(3*tarBlock+file) > size {
		file -= tarBlock
	}
	g := &layerGen{seed: seed, size: size, fileSize: file, name: name}
	g.pad = int(size - gzipSize(g.tarLen()))
	comp, diff := sha256.New(), sha256.New()
	if err := g.generate(comp, diff); err != nil {
		panic(err) // hashes never fail
	}
	return layer{
		Digest: digest.NewDigest(digest.SHA256, comp),
		DiffID: digest.NewDigest(digest.SHA256, diff),
		Size:   size,
		gen:    g,
	}
}

func (g *layerGen) tarLen() int64 { return 3*tarBlock + g.fileSize }

// generate writes the compressed stream to w and the uncompressed tar to tarSink (may be nil).
func (g *layerGen) generate(w io.Writer, tarSink io.Writer) error {
	header := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}
	if g.pad > 0 {
		header[3] = 0x10 // FCOMMENT
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	if g.pad > 0 {
		comment := bytes.Repeat([]byte{' '}, g.pad)
		comment[g.pad-1] = 0
		if _, err := w.Write(comment); err != nil {
			return err
		}
	}
	crc := crc32.NewIEEE()
	sinks := []io.Writer{crc}
	if tarSink != nil {
		sinks = append(sinks, tarSink)
	}
	bw := &storedWriter{w: w, remaining: g.tarLen(), tee: io.MultiWriter(sinks...)}
	if err := g.writeTar(bw); err != nil {
		return err
	}
	trailer := make([]byte, 8)
	binary.LittleEndian.PutUint32(trailer[0:], crc.Sum32())
	binary.LittleEndian.PutUint32(trailer[4:], uint32(g.tarLen()))
	_, err := w.Write(trailer)
	return err
}

func (g *layerGen) writeTar(w io.Writer) error {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: g.name, Mode: 0o644, Size: g.fileSize,
		ModTime: layerMTime, Format: tar.FormatUSTAR,
	}); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()[:tarBlock]); err != nil {
		return err
	}
	src := rand.NewChaCha8(g.seed)
	buf := make([]byte, 32<<10)
	for left := g.fileSize; left > 0; {
		n := min(left, int64(len(buf)))
		_, _ = src.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	_, err := w.Write(make([]byte, 2*tarBlock))
	return err
}

// storedWriter frames what it is given as deflate stored blocks of at most 65535 bytes.
type storedWriter struct {
	w         io.Writer
	tee       io.Writer
	remaining int64 // bytes still to come; the block that reaches 0 is final
	inBlock   int64 // bytes left in the current block
}

func (s *storedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if s.inBlock == 0 {
			n := min(s.remaining, storedBlockMax)
			final := byte(0)
			if n == s.remaining {
				final = 1
			}
			hdr := []byte{final, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)}
			if _, err := s.w.Write(hdr); err != nil {
				return written, err
			}
			s.inBlock = n
		}
		n := min(int64(len(p)), s.inBlock)
		if _, err := s.w.Write(p[:n]); err != nil {
			return written, err
		}
		_, _ = s.tee.Write(p[:n])
		s.inBlock -= n
		s.remaining -= n
		written += int(n)
		p = p[n:]
	}
	return written, nil
}

// open streams the layer's bytes.
func (g *layerGen) open() io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(g.generate(pw, nil)) }()
	return pr
}
