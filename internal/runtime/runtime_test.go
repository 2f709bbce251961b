package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"kubesim.dev/kubesim/internal/clock"
	"kubesim.dev/kubesim/internal/registry"
)

// TestRuntime runs the transcripts in testdata/runtime: a node01 runtime over a fresh World.
func TestRuntime(t *testing.T) {
	datadriven.Walk(t, "testdata/runtime", func(t *testing.T, path string) {
		clk := clock.NewFrozen(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
		world := registry.NewWorld(nil, 1, clk)
		rt := New(world, clk, rand.New(rand.NewSource(1)), Config{ImageFsCapacity: 20 << 30})
		sandboxes := map[string]string{}  // pod name → sandbox ID
		containers := map[string]string{} // container name → ID
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runCmd(t, d, clk, world, rt, sandboxes, containers)
		})
	})
}

func runCmd(t *testing.T, d *datadriven.TestData, clk *clock.Clock, world *registry.World, rt *Runtime,
	sandboxes, containers map[string]string) string {
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
	errOut := func(err error) string { return "error: " + err.Error() + "\n" }
	ok := func(err error) string {
		if err != nil {
			return errOut(err)
		}
		return "ok\n"
	}
	switch d.Cmd {
	case "crictl":
		var args []string
		for _, a := range d.CmdArgs {
			args = append(args, a.String())
		}
		var out, errw bytes.Buffer
		code := rt.Crictl(context.Background(), args, &out, &errw)
		s := out.String()
		if errw.Len() > 0 {
			s += "stderr:\n" + trimLines(errw.String())
		}
		if code != 0 {
			s += fmt.Sprintf("exit status %d\n", code)
		}
		return s
	case "pull":
		var auth *AuthConfig
		if c := arg("creds"); c != "" {
			u, p, _ := strings.Cut(c, ":")
			auth = &AuthConfig{Username: u, Password: p}
		}
		if a := arg("auth"); a != "" {
			auth = &AuthConfig{Auth: a}
		}
		if s := arg("server"); s != "" && auth != nil {
			auth.ServerAddress = s
		}
		plan, err := rt.ResolvePull(context.Background(), pos(0), auth)
		if err != nil {
			var ce *CRIError
			if !errors.As(err, &ce) {
				t.Fatalf("pull error of type %T", err)
			}
			return errOut(err)
		}
		ref, err := rt.CommitPull(plan)
		if err != nil {
			return errOut(err)
		}
		return fmt.Sprintf("ref: %s\nsize: %d\ndownload: %d\nimageRef: %s\n", plan.Ref, plan.Image.Size, plan.Download, ref)
	case "status":
		img, err := rt.ImageStatus(pos(0))
		if err != nil {
			return errOut(err)
		}
		if img == nil {
			return "<nil>\n"
		}
		return fmt.Sprintf("id: %s\ntags: %v\ndigests: %v\nsize: %d\npinned: %v\npreloaded: %v\n",
			img.ID, img.RepoTags, img.RepoDigests, img.Size, img.Pinned, img.Preloaded)
	case "load":
		img, err := rt.Load(pos(0))
		if err != nil {
			return errOut(err)
		}
		return fmt.Sprintf("id: %s\ntags: %v\ndigests: %v\n", img.ID, img.RepoTags, img.RepoDigests)
	case "remove-image":
		return ok(rt.RemoveImage(pos(0)))
	case "fsinfo":
		fs := rt.ImageFsInfo()
		return fmt.Sprintf("mountpoint: %s\ncapacity: %d\nused: %d\navailable: %d\n", fs.Mountpoint, fs.Capacity, fs.UsedBytes, fs.Available)
	case "push":
		ti, err := world.Push(pos(0))
		if err != nil {
			return errOut(err)
		}
		return fmt.Sprintf("%s:%s %s\n", ti.Repo, ti.Tag, ti.Digest)
	case "create-registry":
		return ok(world.CreateRegistry(pos(0), arg("user"), arg("password")))
	case "private":
		return ok(world.SetPrivate(pos(0), arg("user"), arg("password")))
	case "down", "up":
		return ok(world.SetDown(pos(0), d.Cmd == "down"))
	case "advance":
		dur, err := time.ParseDuration(pos(0))
		if err != nil {
			t.Fatal(err)
		}
		clk.Step(dur)
		return ""
	case "runp":
		var attempt uint32
		if a := arg("attempt"); a != "" {
			fmt.Sscan(a, &attempt)
		}
		id, err := rt.RunPodSandbox(SandboxConfig{Name: pos(0), Namespace: pos(1), UID: "uid-" + pos(0), Attempt: attempt})
		if err != nil {
			return errOut(err)
		}
		sandboxes[pos(0)] = id
		return id + "\n"
	case "create":
		var attempt uint32
		if a := arg("attempt"); a != "" {
			fmt.Sscan(a, &attempt)
		}
		id, err := rt.CreateContainer(sandboxes[pos(0)], pos(1), pos(2), attempt)
		if err != nil {
			return errOut(err)
		}
		containers[pos(1)] = id
		return id + "\n"
	case "start":
		return ok(rt.StartContainer(containers[pos(0)]))
	case "stop":
		var code int32
		fmt.Sscan(arg("exit"), &code)
		return ok(rt.StopContainer(containers[pos(0)], code))
	case "rm":
		return ok(rt.RemoveContainer(containers[pos(0)]))
	case "stopp":
		return ok(rt.StopPodSandbox(sandboxes[pos(0)]))
	case "rmp":
		return ok(rt.RemovePodSandbox(sandboxes[pos(0)]))
	case "in-use":
		var ids []string
		for id := range rt.ImagesInUse() {
			ids = append(ids, id)
		}
		return fmt.Sprintf("%v\n", ids)
	}
	t.Fatalf("unknown command %q", d.Cmd)
	return ""
}

// trimLines drops logrus' trailing padding so transcripts stay readable.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{72195292: "72.2MB", 320368: "320kB", 999: "999B", 1000: "1kB", 153728445: "154MB", 2161303: "2.16MB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestParseAuth(t *testing.T) {
	for _, tc := range []struct {
		auth       *AuthConfig
		host, want string
	}{
		{nil, "reg", "<nil>"},
		{&AuthConfig{Username: "u", Password: "p"}, "reg", "u:p"},
		{&AuthConfig{Auth: "dTpw"}, "reg", "u:p"},
		{&AuthConfig{IdentityToken: "tok"}, "reg", ":tok"},
		{&AuthConfig{Username: "u", Password: "p", ServerAddress: "https://reg"}, "reg", "u:p"},
		{&AuthConfig{Username: "u", Password: "p", ServerAddress: "https://other"}, "reg", "<nil>"},
		// url.Parse of a bare host has no Host: containerd then never sends the credentials.
		{&AuthConfig{Username: "u", Password: "p", ServerAddress: "reg"}, "reg", "<nil>"},
		{&AuthConfig{Auth: "dQ=="}, "reg", `error: invalid decoded auth: "u\x00\x00"`},
	} {
		c, err := parseAuth(tc.auth, tc.host)
		got := "<nil>"
		switch {
		case err != nil:
			got = "error: " + err.Error()
		case c != nil:
			got = c.Username + ":" + c.Password
		}
		if got != tc.want {
			t.Errorf("parseAuth(%+v) = %s, want %s", tc.auth, got, tc.want)
		}
	}
}
