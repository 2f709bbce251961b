package registry

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// skopeo talks to the HTTP endpoint like any registry client (containers/image). Install it with
// `apt-get install -y skopeo`; without it these tests are skipped.
func skopeo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", append([]string{"--insecure-policy"}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needSkopeo(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Skip("skopeo is not installed (apt-get install -y skopeo); skipping the OCI client test")
	}
}

func TestSkopeoInspectAndCopy(t *testing.T) {
	needSkopeo(t)
	w := NewWorld(nil, 7, nil)
	if err := w.CreateRegistry("reg.example.com", "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Push("reg.example.com/team/app:v1"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	want, err := w.Resolve("nginx:1.28", nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := skopeo(t, "inspect", "--tls-verify=false", "docker://"+host+"/docker.io/library/nginx:1.28")
	if err != nil {
		t.Fatalf("inspect nginx: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"Digest": "`+want.Digest.String()+`"`) {
		t.Errorf("inspect nginx: digest %s not in\n%s", want.Digest, out)
	}
	// Short names are normalised like Docker references.
	if out, err := skopeo(t, "inspect", "--tls-verify=false", "--raw", "docker://"+host+"/busybox:1.37"); err != nil || !strings.Contains(out, `"manifests"`) {
		t.Errorf("inspect busybox: %v\n%s", err, out)
	}

	// A private repository: refused without credentials, served with them.
	app := "docker://" + host + "/reg.example.com/team/app:v1"
	if out, err := skopeo(t, "inspect", "--tls-verify=false", app); err == nil {
		t.Errorf("inspect private repo without credentials succeeded:\n%s", out)
	} else if !strings.Contains(out, "401") && !strings.Contains(strings.ToLower(out), "unauthorized") && !strings.Contains(out, "authentication required") {
		t.Errorf("inspect private repo without credentials: unexpected failure:\n%s", out)
	}
	if out, err := skopeo(t, "inspect", "--tls-verify=false", "--creds", "alice:wrong", app); err == nil {
		t.Errorf("inspect private repo with a wrong password succeeded:\n%s", out)
	}
	if out, err := skopeo(t, "inspect", "--tls-verify=false", "--creds", "alice:s3cret", app); err != nil {
		t.Errorf("inspect private repo with credentials: %v\n%s", err, out)
	}

	// Docker Hub private repository (token auth).
	priv := "docker://" + host + "/docker.io/acme/private:v1"
	if out, err := skopeo(t, "inspect", "--tls-verify=false", priv); err == nil {
		t.Errorf("inspect acme/private anonymously succeeded:\n%s", out)
	}
	if out, err := skopeo(t, "inspect", "--tls-verify=false", "--creds", PrivateExampleUser+":"+PrivateExamplePassword, priv); err != nil {
		t.Errorf("inspect acme/private with credentials: %v\n%s", err, out)
	}

	// Copy a small image: every layer is materialised, so digests verify.
	dir := t.TempDir()
	if out, err := skopeo(t, "copy", "--src-tls-verify=false", "docker://"+host+"/registry.k8s.io/pause:3.10", "dir:"+dir); err != nil {
		t.Fatalf("copy pause: %v\n%s", err, out)
	}
	pause, _ := w.Resolve("registry.k8s.io/pause:3.10", nil)
	for _, l := range pause.Layers {
		fi, err := os.Stat(filepath.Join(dir, l.Digest.Encoded()))
		if err != nil || fi.Size() != l.Size {
			t.Errorf("layer %s: %v (size %v, want %d)", l.Digest, err, fi, l.Size)
		}
	}
	dir2 := t.TempDir()
	if out, err := skopeo(t, "copy", "--src-tls-verify=false", "--src-creds", "alice:s3cret", app, "dir:"+dir2); err != nil {
		t.Fatalf("copy private app: %v\n%s", err, out)
	}
}
