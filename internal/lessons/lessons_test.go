package lessons

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/yaml"

	content "kubesim.dev/kubesim/lessons"
)

// fakeCluster records the setup actions and serves objects from a fake dynamic client.
type fakeCluster struct {
	log     []string
	tags    map[string]string
	pushes  int
	objects []runtime.Object
	client  dynamic.Interface
	failOn  string
}

func newFake() *fakeCluster {
	f := &fakeCluster{tags: map[string]string{}}
	f.reset()
	return f
}

func (f *fakeCluster) reset() {
	lists := map[schema.GroupVersionResource]string{}
	for _, gvr := range Variables {
		kind := strings.TrimSuffix(gvr.Resource, "s")
		lists[gvr] = strings.ToUpper(kind[:1]) + kind[1:] + "List"
	}
	f.client = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists, f.objects...)
}

func (f *fakeCluster) call(s string) error {
	f.log = append(f.log, s)
	if f.failOn != "" && strings.HasPrefix(s, f.failOn) {
		return errors.New("simulated failure")
	}
	return nil
}

func (f *fakeCluster) LoadImage(_ context.Context, node, image string) error {
	return f.call("LoadImage " + node + " " + image)
}

func (f *fakeCluster) PushImage(_ context.Context, ref string) (string, error) {
	if err := f.call("PushImage " + ref); err != nil {
		return "", err
	}
	f.pushes++
	f.tags[ref] = fmt.Sprintf("sha256:%064d", f.pushes)
	return f.tags[ref], nil
}

func (f *fakeCluster) Advance(_ context.Context, d time.Duration) error {
	return f.call("Advance " + d.String())
}

func (f *fakeCluster) Apply(_ context.Context, manifest []byte) error {
	var names []string
	for _, doc := range SplitDocuments(manifest) {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return err
		}
		names = append(names, u.GetKind()+"/"+u.GetName())
	}
	return f.call("Apply " + strings.Join(names, " "))
}

func (f *fakeCluster) TagDigest(ref string) (string, error) {
	if d, ok := f.tags[ref]; ok {
		return d, nil
	}
	return "", fmt.Errorf("%s: not found", ref)
}

func (f *fakeCluster) Dynamic() dynamic.Interface { return f.client }

type fakeFiles map[string]string

func (f fakeFiles) WriteFile(p string, data []byte) error { f[p] = string(data); return nil }

// instantPoll evaluates once: the fake cluster does not change by itself.
func instantPoll(_ context.Context, _ time.Duration, cond func() (bool, error)) error {
	ok, err := cond()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("timed out waiting for the condition")
	}
	return nil
}

func TestLessons(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var (
			lesson *Lesson
			fake   = newFake()
			files  = fakeFiles{}
			ev     *Evaluator
			prog   *Progress
		)
		bind := func() {
			var err error
			if ev, err = NewEvaluator(lesson, fake); err != nil {
				t.Fatal(err)
			}
		}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				l, err := Parse("test.yaml", []byte(d.Input))
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				lesson, prog = l, NewProgress(l)
				bind()
				return l.Describe()
			case "load":
				// The lesson files shipped in lessons/.
				ls, err := LoadDir(content.FS, ".")
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				var b strings.Builder
				for _, l := range ls {
					if d.HasArg("id") {
						var id string
						d.ScanArgs(t, "id", &id)
						if l.ID != id {
							continue
						}
						lesson, prog = l, NewProgress(l)
						bind()
					}
					b.WriteString(l.Describe())
				}
				return b.String()
			case "objects":
				fake.objects = nil
				for _, doc := range SplitDocuments([]byte(d.Input)) {
					u := &unstructured.Unstructured{}
					if err := yaml.Unmarshal(doc, &u.Object); err != nil {
						t.Fatal(err)
					}
					fake.objects = append(fake.objects, u)
				}
				fake.reset()
				return ""
			case "tag":
				for _, l := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					ref, dg, _ := strings.Cut(l, " ")
					fake.tags[ref] = dg
				}
				return ""
			case "eval":
				var exprs []string
				for _, l := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					if err := lesson.compile(l); err != nil {
						return "error: " + err.Error() + "\n"
					}
					exprs = append(exprs, l)
				}
				bind()
				res := ev.Eval(context.Background(), exprs)
				var b strings.Builder
				for _, x := range exprs {
					r := res[x]
					switch {
					case r.Err != nil:
						fmt.Fprintf(&b, "false (%v)\n", r.Err)
					default:
						fmt.Fprintf(&b, "%v\n", r.OK)
					}
				}
				return b.String()
			case "setup", "tryit":
				var i int
				d.ScanArgs(t, "step", &i)
				if d.HasArg("fail") {
					d.ScanArgs(t, "fail", &fake.failOn)
				}
				fake.log = nil
				var actions []Action
				var ok bool
				if d.Cmd == "setup" {
					actions, ok = prog.StartSetup(i - 1)
				} else {
					actions, ok = prog.StartTryIt(i - 1)
				}
				if !ok {
					return "not started\n"
				}
				err := RunActions(context.Background(), ev, files, instantPoll, actions)
				if d.Cmd == "setup" {
					prog.SetupFinished(i-1, err)
				} else {
					prog.TryItFinished(i-1, err)
				}
				fake.failOn = ""
				out := strings.Join(fake.log, "\n") + "\n"
				var paths []string
				for p := range files {
					paths = append(paths, p)
				}
				sort.Strings(paths)
				for _, p := range paths {
					out += fmt.Sprintf("file %s: %q\n", p, files[p])
				}
				if err != nil {
					out += "error: " + err.Error() + "\n"
				}
				return out
			case "observe":
				changed := prog.Observe(ev.Eval(context.Background(), prog.Exprs()))
				return fmt.Sprintf("changed: %v\n%s", changed, viewString(prog.View()))
			case "answer":
				var i, c int
				d.ScanArgs(t, "step", &i)
				d.ScanArgs(t, "choice", &c)
				return fmt.Sprintf("correct: %v\n%s", prog.Answer(i-1, c), viewString(prog.View()))
			case "reveal":
				var i int
				d.ScanArgs(t, "step", &i)
				prog.Reveal(i - 1)
				return viewString(prog.View())
			case "hint":
				var i int
				d.ScanArgs(t, "step", &i)
				prog.Hint(i - 1)
				return viewString(prog.View())
			case "view":
				return viewString(prog.View())
			}
			return "unknown command " + d.Cmd
		})
	})
}

// viewString prints a progress view one step per line.
func viewString(v View) string {
	var b strings.Builder
	fmt.Fprintf(&b, "progress %d/%d\n", v.Done, v.Total)
	for _, s := range v.Steps {
		mark := " "
		if s.Done {
			mark = "x"
		}
		fmt.Fprintf(&b, "[%s] %s", mark, s.ID)
		if s.Setup != "" && s.Setup != SetupDone {
			fmt.Fprintf(&b, " setup=%s", s.Setup)
		}
		if s.SetupErr != "" {
			fmt.Fprintf(&b, " (%s)", s.SetupErr)
		}
		if s.Hints > 0 {
			fmt.Fprintf(&b, " hints=%d", s.Hints)
		}
		b.WriteString("\n")
		for _, c := range s.Checks {
			fmt.Fprintf(&b, "    check %v: %s\n", c.OK, c.Title)
		}
		if q := s.Quiz; q != nil {
			fmt.Fprintf(&b, "    quiz choice=%d correct=%v revealed=%v", q.Choice, q.Correct, q.Revealed)
			if q.Answer != nil {
				fmt.Fprintf(&b, " answer=%d", *q.Answer)
			}
			if q.TryIt != "" {
				fmt.Fprintf(&b, " tryit=%s", q.TryIt)
			}
			b.WriteString("\n")
			for _, c := range q.TryItChecks {
				fmt.Fprintf(&b, "    try-it check %v: %s\n", c.OK, c.Title)
			}
		}
	}
	return b.String()
}

var _ = strconv.Itoa
var _ = os.Getenv
