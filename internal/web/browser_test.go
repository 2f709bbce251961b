package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	assets "kubesim.dev/kubesim/web"
)

// chromium finds the browser, or skips the test (fails it under CI=1, where it must run).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the browser test needs Chromium: apt-get install -y chromium"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// builtAssets is the embedded page, or skips (fails under CI) when it was not built.
func builtAssets(t *testing.T) fs.FS {
	sub, err := fs.Sub(assets.Static, "static")
	if err == nil {
		if _, err = fs.Stat(sub, "index.html"); err == nil {
			return sub
		}
	}
	msg := "the browser test needs the built page: run make build (scripts/build-web.sh) before go test"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return nil
}

// page drives the lesson page in headless Chromium.
type page struct {
	t   *testing.T
	ctx context.Context
}

func (p *page) eval(js string, out any) {
	p.t.Helper()
	if err := chromedp.Run(p.ctx, chromedp.Evaluate(js, out)); err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
}

// waitJS waits until a JavaScript expression is true.
func (p *page) waitJS(what, js string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		if err := chromedp.Run(p.ctx, chromedp.Evaluate(js, &ok)); err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s (%s): timed out; the terminal shows:\n%s", what, js, p.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *page) screen() string {
	var s string
	_ = chromedp.Run(p.ctx, chromedp.Evaluate(`window.kubesim ? window.kubesim.screen() : ""`, &s))
	return s
}

// typ types into the terminal as keystrokes do (xterm.js's input path).
func (p *page) typ(s string) {
	p.t.Helper()
	b, _ := json.Marshal(s)
	p.eval(fmt.Sprintf(`window.kubesim.term.input(%s, true), true`, b), nil)
}

// waitScreen waits until the terminal shows text.
func (p *page) waitScreen(text string, timeout time.Duration) {
	p.t.Helper()
	b, _ := json.Marshal(text)
	p.waitJS(fmt.Sprintf("the terminal to show %q", text), fmt.Sprintf(`window.kubesim.screen().includes(%s)`, b), timeout)
}

// run types a command line between echoes of two markers and waits for the second: the command
// has finished. It returns what the command printed. The markers are quoted on the command line
// (:st""art-N), so that only the echoes print them whole however the line wraps.
func (p *page) run(cmd string, timeout time.Duration) string {
	p.t.Helper()
	n := time.Now().UnixNano()
	p.typ(fmt.Sprintf(`echo :st""art-%d; %s; echo :do""ne-%d`+"\r", n, cmd, n))
	begin, end := fmt.Sprintf("\n:start-%d\n", n), fmt.Sprintf("\n:done-%d", n)
	p.waitScreen(end, timeout)
	scr := p.screen()
	i, j := strings.LastIndex(scr, begin), strings.LastIndex(scr, end)
	if i < 0 || j < i {
		p.t.Fatalf("%s: its output scrolled out of the terminal:\n%s", cmd, scr)
	}
	if i+len(begin) > j {
		return ""
	}
	return scr[i+len(begin):j] + "\n"
}

func (p *page) click(js string) {
	p.t.Helper()
	var ok bool
	p.eval(`(() => { const el = `+js+`; if (!el) return false; el.click(); return true; })()`, &ok)
	if !ok {
		p.t.Fatalf("nothing to click: %s", js)
	}
}

func (p *page) waitStepDone(id string, timeout time.Duration) {
	p.t.Helper()
	p.waitJS("step "+id+" to turn green", fmt.Sprintf(`!!document.querySelector("#step-%s.done")`, id), timeout)
}

// TestBrowserLesson follows the lesson "Image pull policies" in headless Chromium: it types the
// lesson's commands into the terminal (editing manifests in nano and vi), sees their output,
// sees each step turn green, answers both quizzes with their experiments, and saves a
// screenshot (to $KUBESIM_SCREENSHOT when set).
func TestBrowserLesson(t *testing.T) {
	browser := chromium(t)
	page0 := builtAssets(t)
	_, hs := startServer(t, Options{Assets: page0, CheckInterval: 500 * time.Millisecond})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 8*time.Minute)
	defer cancel()
	p := &page{t: t, ctx: ctx}

	// Start the browser first, so that the time to the prompt is the page's own.
	if err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := chromedp.Run(ctx, chromedp.Navigate(hs.URL+"/")); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the prompt", `!!window.kubesim && window.kubesim.screen().includes("controlplane:~$")`, 30*time.Second)
	t.Logf("page load to prompt: %v", time.Since(start))
	p.waitJS("the lesson", `!!document.querySelector("#step-defaults")`, 10*time.Second)

	// A command typed with real key events, to show the keyboard path works too.
	enter := func(ctx context.Context) error {
		for _, typ := range []input.KeyType{input.KeyDown, input.KeyUp} {
			if err := input.DispatchKeyEvent(typ).WithKey("Enter").WithCode("Enter").WithWindowsVirtualKeyCode(13).Do(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := chromedp.Run(ctx, chromedp.Focus(".xterm-helper-textarea", chromedp.ByQuery),
		input.InsertText("kubectl get nodes -o name"), chromedp.ActionFunc(enter)); err != nil {
		t.Fatal(err)
	}
	p.waitScreen("node/controlplane\nnode/node01", 30*time.Second)

	// Step 1: the defaults.
	p.run("kubectl run web-latest --image=nginx; kubectl run web-pinned --image=nginx:1.28", time.Minute)
	if out := p.run(`kubectl get pod web-latest -o jsonpath='{.spec.containers[0].imagePullPolicy}{"\n"}'`, time.Minute); out != "Always\n" {
		t.Fatalf("web-latest's policy: %q", out)
	}
	if out := p.run(`kubectl get pod web-pinned -o jsonpath='{.spec.containers[0].imagePullPolicy}{"\n"}'`, time.Minute); out != "IfNotPresent\n" {
		t.Fatalf("web-pinned's policy: %q", out)
	}
	p.waitStepDone("defaults", 30*time.Second)

	// Step 2: the manifest, typed in nano.
	p.typ("nano pull-policy-pod.yaml\r")
	p.waitScreen("GNU nano", 10*time.Second)
	for _, line := range []string{"apiVersion: v1", "kind: Pod", "metadata:", "  name: pull-policy-pod", "spec:",
		"  containers:", "  - name: app", "    image: nginx:1.28", "    imagePullPolicy: Always"} {
		p.typ(line + "\r")
	}
	p.typ("\x0f") // Ctrl-O
	p.waitScreen("File Name to Write", 10*time.Second)
	p.typ("\r")
	p.waitScreen("Wrote 9 lines", 10*time.Second)
	p.typ("\x18") // Ctrl-X
	p.waitScreen("controlplane:~$", 10*time.Second)
	if out := p.run("kubectl apply -f pull-policy-pod.yaml", time.Minute); out != "pod/pull-policy-pod created\n" {
		t.Fatalf("apply: %q", out)
	}
	if out := p.run(`kubectl get pod pull-policy-pod -o jsonpath='{.spec.containers[0].imagePullPolicy}{"\n"}'`, time.Minute); out != "Always\n" {
		t.Fatalf("pull-policy-pod's policy: %q", out)
	}
	p.run("until kubectl get pod pull-policy-pod | grep -q Running; do sleep 1; done; kubectl get pod pull-policy-pod", 2*time.Minute)
	p.waitStepDone("pull-policy-pod", 30*time.Second)

	// Step 3: quiz 1, answered wrong then right, and its experiment.
	p.click(`document.querySelector('#step-quiz-moved-tag input[value="0"]')`)
	p.click(`document.querySelector('#step-quiz-moved-tag .check-answer')`)
	p.waitJS("the wrong answer's feedback", `!!document.querySelector("#step-quiz-moved-tag .feedback.wrong")`, 10*time.Second)
	p.click(`document.querySelector('#step-quiz-moved-tag input[value="1"]')`)
	p.click(`document.querySelector('#step-quiz-moved-tag .check-answer')`)
	p.waitStepDone("quiz-moved-tag", 10*time.Second)
	p.click(`document.querySelector('#step-quiz-moved-tag .try-it')`)
	p.waitJS("the experiment's setup", `!!document.querySelector("#step-quiz-moved-tag .tryit .checks")`, 2*time.Minute)
	p.run("kubectl delete pod -l app=my-app", time.Minute)
	// grep -o: the event's whole line is wider than the terminal, and wraps.
	if out := p.run(`until kubectl get pods -l app=my-app | grep -q Running; do sleep 1; done; kubectl describe pod -l app=my-app | grep -o 'Container image "my-app:1.0" already present on machine'`, 2*time.Minute); out != "Container image \"my-app:1.0\" already present on machine\n" {
		t.Fatalf("the new pod's Pulled event: %q", out)
	}
	p.waitJS("the experiment's check", `!!document.querySelector("#step-quiz-moved-tag .tryit .checks li.ok")`, time.Minute)

	// Step 4: Never, edited in vi; ErrImageNeverPull until the node has the image.
	p.run("cp pull-policy-pod.yaml never-pod.yaml", time.Minute)
	p.typ("vi never-pod.yaml\r")
	p.waitScreen(`"never-pod.yaml" 9L`, 10*time.Second)
	p.typ("/pull-policy-pod\r")
	p.typ("Cnever-pod\x1b")
	p.typ("/image:\r")
	p.typ("Cimage: redis:7.4\x1b")
	p.typ("/Always\r")
	p.typ("cwNever\x1b")
	p.typ(":wq\r")
	p.waitScreen("controlplane:~$", 10*time.Second)
	if out := p.run("cat never-pod.yaml", time.Minute); !strings.Contains(out, "name: never-pod\n") || !strings.Contains(out, "    image: redis:7.4\n") || !strings.Contains(out, "imagePullPolicy: Never") {
		t.Fatalf("never-pod.yaml after vi:\n%s", out)
	}
	p.run("kubectl apply -f never-pod.yaml", time.Minute)
	p.run("until kubectl get pod never-pod | grep -q ErrImageNeverPull; do sleep 1; done; kubectl get pod never-pod", 2*time.Minute)
	if out := p.run(`kubectl describe pod never-pod | grep -o 'Container image "redis:7.4" is not present with pull policy of Never' | uniq`, time.Minute); out != "Container image \"redis:7.4\" is not present with pull policy of Never\n" {
		t.Fatalf("never-pod's events:\n%s", out)
	}
	p.typ("ssh node01\r")
	p.waitScreen("node01:~$", 10*time.Second)
	p.typ("crictl pull redis:7.4\r")
	p.waitScreen("Image is up to date for sha256:", time.Minute)
	p.typ("exit\r")
	p.run("until kubectl get pod never-pod | grep -q Running; do sleep 1; done; kubectl get pod never-pod", 2*time.Minute)
	p.waitStepDone("never", 30*time.Second)

	// Step 5: a digest and Always.
	p.run(`kubectl run pinned-pod --image=$(kubectl get pod pull-policy-pod -o jsonpath='{.status.containerStatuses[0].imageID}') --image-pull-policy=Always`, time.Minute)
	if out := p.run(`kubectl get pod pinned-pod -o jsonpath='{.spec.containers[0].image}{" "}{.spec.containers[0].imagePullPolicy}{"\n"}'`, time.Minute); !strings.HasPrefix(out, "docker.io/library/nginx@sha256:") || !strings.HasSuffix(out, " Always\n") {
		t.Fatalf("pinned-pod: %q", out)
	}
	p.waitStepDone("digest", 2*time.Minute)

	// Step 6: quiz 2, a week later.
	p.click(`document.querySelector('#step-quiz-latest-week input[value="1"]')`)
	p.click(`document.querySelector('#step-quiz-latest-week .check-answer')`)
	p.waitStepDone("quiz-latest-week", 10*time.Second)
	p.click(`document.querySelector('#step-quiz-latest-week .try-it')`)
	p.waitJS("the week to pass", `!!document.querySelector("#step-quiz-latest-week .tryit .checks")`, 4*time.Minute)
	p.run("kubectl run week-later --image=nginx:latest --image-pull-policy=IfNotPresent", time.Minute)
	p.run("until kubectl get pod week-later | grep -q Running; do sleep 1; done; kubectl get pods week-old week-later", 2*time.Minute)
	p.waitJS("the experiment's check", `!!document.querySelector("#step-quiz-latest-week .tryit .checks li.ok")`, time.Minute)
	p.waitJS("the progress to show 6/6", `document.querySelector("#progress-text").textContent === "6/6 steps"`, 10*time.Second)

	var png []byte
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`document.querySelector("#step-quiz-latest-week").scrollIntoView(), true`, nil),
		chromedp.Sleep(300*time.Millisecond),
		chromedp.CaptureScreenshot(&png)); err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("KUBESIM_SCREENSHOT")
	if out == "" {
		out = filepath.Join(t.TempDir(), "lesson.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes); the whole lesson took %v", out, len(png), time.Since(start))
}
