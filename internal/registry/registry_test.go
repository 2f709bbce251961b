package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	digest "github.com/opencontainers/go-digest"
)

// Every row of spec §1.1 and the normalisation rule of §5 (containerd's ParseDockerRef).
func TestParseRef(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for _, tc := range []struct{ in, want, err string }{
		{"nginx", "docker.io/library/nginx:latest", ""},
		{"nginx:1.25", "docker.io/library/nginx:1.25", ""},
		{"nginx@" + d, "docker.io/library/nginx@" + d, ""},
		{"nginx:latest@" + d, "docker.io/library/nginx@" + d, ""}, // the tag is dropped
		{"localhost:5000/app", "localhost:5000/app:latest", ""},
		{"localhost:5000/app:v1", "localhost:5000/app:v1", ""},
		{"nginx:LATEST", "docker.io/library/nginx:LATEST", ""},
		{"NGINX", "", "invalid reference format: repository name (library/NGINX) must be lowercase"},
		{"nginx:", "", "invalid reference format"},
		{"index.docker.io/library/nginx:1.28", "docker.io/library/nginx:1.28", ""},
		{"acme/private:v1", "docker.io/acme/private:v1", ""},
		{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10", ""},
	} {
		r, err := ParseRef(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParseRef(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseRef(%q) = %q, %v; want %q", tc.in, r.String(), err, tc.want)
		}
	}
}

func TestManifestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nginx:nope", "https://registry-1.docker.io/v2/library/nginx/manifests/nope"},
		{"reg.example.com/app:v1", "https://reg.example.com/v2/app/manifests/v1"},
		{"localhost:5000/app", "http://localhost:5000/v2/app/manifests/latest"},
	} {
		r, _ := ParseRef(tc.in)
		if got := ManifestURL(r); got != tc.want {
			t.Errorf("ManifestURL(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// Two Worlds with the same seed make identical digests; a push in one is invisible in the other.
func TestDeterminismAndIsolation(t *testing.T) {
	clock := fixedClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	a, b, c := NewWorld(nil, 42, clock), NewWorld(nil, 42, clock), NewWorld(nil, 43, clock)
	pa, err := a.Push("my-app:1.0")
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := b.Push("my-app:1.0")
	pc, _ := c.Push("my-app:1.0")
	if pa.Digest != pb.Digest {
		t.Errorf("same seed, different digests: %s %s", pa.Digest, pb.Digest)
	}
	if pa.Digest == pc.Digest {
		t.Errorf("different seeds, same digest %s", pa.Digest)
	}
	again, _ := a.Push("my-app:1.0")
	if again.Digest == pa.Digest {
		t.Errorf("a second push of the same tag kept digest %s", pa.Digest)
	}
	if _, err := a.Resolve("my-app@"+pa.Digest.String(), nil); err != nil {
		t.Errorf("old digest no longer pullable: %v", err)
	}
	other := NewWorld(nil, 42, clock)
	var nf *UnauthorizedError // Docker Hub answers insufficient_scope for a missing repository
	if _, err := other.Resolve("my-app:1.0", nil); !errors.As(err, &nf) {
		t.Errorf("push leaked into another World: %v", err)
	}
	x, _ := a.Resolve("nginx:1.28", nil)
	y, _ := other.Resolve("nginx:1.28", nil)
	if x.Digest != y.Digest || x.ID() != y.ID() {
		t.Errorf("catalog differs between Worlds")
	}
	a.Push("nginx:1.28")
	z, _ := other.Resolve("nginx:1.28", nil)
	if z.Digest != y.Digest {
		t.Errorf("re-push of nginx:1.28 leaked into another World")
	}
}

// A materialised layer is a valid gzip stream of exactly its declared size whose content is a tar
// archive hashing to its diff ID.
func TestMaterialisedLayer(t *testing.T) {
	for _, size := range []int64{minMaterialisedLayer, 2000, 70000, 65535*3 + 1559, 320000} {
		l := newLayer(seedOf("test", fmt.Sprint(size)), size, "kubesim/test")
		if l.gen == nil {
			t.Fatalf("size %d: not materialised", size)
		}
		var buf bytes.Buffer
		rc := l.gen.open()
		if _, err := io.Copy(&buf, rc); err != nil {
			t.Fatal(err)
		}
		if int64(buf.Len()) != size || digest.FromBytes(buf.Bytes()) != l.Digest {
			t.Errorf("size %d: got %d bytes, digest %s want %s", size, buf.Len(), digest.FromBytes(buf.Bytes()), l.Digest)
		}
		zr, err := gzip.NewReader(&buf)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		tr := tar.NewReader(io.TeeReader(zr, h))
		hdr, err := tr.Next()
		if err != nil || hdr.Name != "kubesim/test" {
			t.Fatalf("size %d: tar: %v %v", size, hdr, err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Fatalf("size %d: want one file, got %v", size, err)
		}
		_, _ = io.Copy(h, zr)
		if got := digest.NewDigest(digest.SHA256, h); got != l.DiffID {
			t.Errorf("size %d: diff ID %s, want %s", size, got, l.DiffID)
		}
	}
	if l := newLayer(seedOf("big"), 50<<20, "x"); l.gen != nil {
		t.Errorf("a 50 MiB layer was materialised")
	}
}

// The size containerd reports must be what the catalog promises.
func TestCatalogSizes(t *testing.T) {
	w := NewWorld(nil, 1, nil)
	for ref, want := range map[string]int64{
		"registry.k8s.io/pause:3.10": 320368,
		"nginx:1.28":                 72195292,
		"nginx:latest":               59769826,
		"postgres:16":                153728445,
	} {
		img, err := w.Resolve(ref, nil)
		if err != nil || img.Size != want {
			t.Errorf("%s: size %v, %v; want %d", ref, img, err, want)
		}
	}
	for _, name := range DefaultCatalog().Repositories() {
		tags, err := w.List(name)
		if err != nil || len(tags) == 0 {
			t.Errorf("%s: %v", name, err)
		}
		for _, tag := range tags {
			if tag.Size <= 0 {
				t.Errorf("%s:%s has size %d", name, tag.Tag, tag.Size)
			}
		}
	}
}

func TestWorld(t *testing.T) {
	datadriven.Walk(t, "testdata/world", func(t *testing.T, path string) {
		clock := fixedClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		w := NewWorld(nil, 1, clock)
		var srv *httptest.Server
		defer func() {
			if srv != nil {
				srv.Close()
			}
		}()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			arg := func(key string) string {
				for _, a := range d.CmdArgs {
					if a.Key == key && len(a.Vals) > 0 {
						return a.Vals[0]
					}
				}
				return ""
			}
			pos := func(i int) string {
				n := 0
				for _, a := range d.CmdArgs {
					if len(a.Vals) == 0 {
						if n == i {
							return a.Key
						}
						n++
					}
				}
				return ""
			}
			switch d.Cmd {
			case "push":
				ti, err := w.Push(pos(0))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return fmt.Sprintf("%s:%s %s %d\n", ti.Repo, ti.Tag, ti.Digest, ti.Size)
			case "ls":
				tags, err := w.List(pos(0))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, ti := range tags {
					priv := ""
					if ti.Private {
						priv = " private"
					}
					fmt.Fprintf(&b, "%s:%s %s %d%s\n", ti.Repo, ti.Tag, ti.Digest.Encoded()[:12], ti.Size, priv)
				}
				return b.String()
			case "resolve":
				var creds *Credentials
				if c := arg("creds"); c != "" {
					u, p, _ := strings.Cut(c, ":")
					creds = &Credentials{Username: u, Password: p}
				}
				img, err := w.Resolve(pos(0), creds)
				if err != nil {
					return fmt.Sprintf("%T: %v\n", err, err)
				}
				return fmt.Sprintf("ref: %s\ndigest: %s\nmanifest: %s\nid: %s\nsize: %d\nlayers: %d\n",
					img.Ref, img.Digest, img.Manifest.Digest, img.ID(), img.Size, len(img.Layers))
			case "create-registry":
				var opts []RegistryOption
				if arg("auth") == "token" {
					opts = append(opts, WithTokenAuth())
				}
				if err := w.CreateRegistry(pos(0), arg("user"), arg("password"), opts...); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			case "private":
				if err := w.SetPrivate(pos(0), arg("user"), arg("password")); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			case "down", "up":
				if err := w.SetDown(pos(0), d.Cmd == "down"); err != nil {
					return "error: " + err.Error() + "\n"
				}
				return "ok\n"
			case "http":
				if srv == nil {
					srv = httptest.NewServer(w.Handler())
				}
				return doHTTP(t, srv, d.Input, arg)
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// doHTTP sends "METHOD PATH" with optional headers (one per line after the first) and prints the
// status, the interesting headers and the body. The server's address prints as SERVER.
func doHTTP(t *testing.T, srv *httptest.Server, input string, arg func(string) string) string {
	lines := strings.Split(strings.TrimSpace(input), "\n")
	method, path, _ := strings.Cut(lines[0], " ")
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ": ")
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	if c := arg("basic"); c != "" {
		u, p, _ := strings.Cut(c, ":")
		req.SetBasicAuth(u, p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "transport error\n"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	host := strings.TrimPrefix(srv.URL, "http://")
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", resp.Status)
	var keys []string
	for k := range resp.Header {
		switch k {
		case "Www-Authenticate", "Docker-Content-Digest", "Content-Type", "Content-Length":
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.ReplaceAll(resp.Header.Get(k), host, "SERVER"))
	}
	if s := string(body); s != "" && method != http.MethodHead {
		if len(s) > 400 {
			s = s[:400] + "…"
		}
		if strings.Contains(s, `"token"`) {
			s = "(token)\n"
		}
		b.WriteString(strings.TrimRight(s, "\n") + "\n")
	}
	return b.String()
}

var sinkWorld *World

// BenchmarkNewWorld: a World that changed nothing is one small struct over the shared catalog.
func BenchmarkNewWorld(b *testing.B) {
	cat := DefaultCatalog()
	b.ReportAllocs()
	for b.Loop() {
		sinkWorld = NewWorld(cat, 1, nil)
	}
}

func BenchmarkResolve(b *testing.B) {
	w := NewWorld(nil, 1, nil)
	if _, err := w.Resolve("nginx:1.28", nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Resolve("nginx:1.28", nil); err != nil {
			b.Fatal(err)
		}
	}
}
