// Package lessons is kubesim's lesson format: a lesson is a YAML file with Markdown fields that a
// person writes without Go (lessons/README.md describes it). A lesson is a list of steps; a step
// has text, setup actions run against the learner's cluster (preload an image on a node, push a
// new build of a tag, fast-forward the clock, create objects, wait for a condition), hints, checks
// written in CEL over the cluster's objects that turn the step green, and an optional quiz whose
// "try it" sets up the experiment.
//
// The package does no I/O of its own: the cluster is reached through the small Cluster interface,
// and Progress is a state machine the caller feeds with check results and answers.
package lessons

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Lesson is one lesson, as written in its file.
type Lesson struct {
	// ID names the lesson in URLs; it defaults to the file name without its extension.
	ID      string `json:"id,omitempty"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Intro is Markdown shown above the steps.
	Intro string `json:"intro,omitempty"`
	Steps []Step `json:"steps"`
	// Outro is Markdown shown once every step is done.
	Outro string `json:"outro,omitempty"`

	programs map[string]*compiled // by expression
}

// Step is one thing the learner does (or one quiz).
type Step struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Text is Markdown.
	Text string `json:"text,omitempty"`
	// Setup runs against the cluster when the learner first opens the step.
	Setup []Action `json:"setup,omitempty"`
	// Hints are Markdown, revealed one at a time.
	Hints []string `json:"hints,omitempty"`
	// Checks must all hold for the step to turn green.
	Checks []Check `json:"checks,omitempty"`
	Quiz   *Quiz   `json:"quiz,omitempty"`
}

// Check is a condition over the cluster's state.
type Check struct {
	// Title says what the learner has to achieve ("pull-policy-pod is Running").
	Title string `json:"title"`
	// Expr is a CEL expression over the variables listed in Variables; it must be a bool.
	Expr string `json:"expr"`
}

// Quiz is a multiple-choice question.
type Quiz struct {
	Question string   `json:"question"`
	Choices  []string `json:"choices"`
	// Answer is the index of the right choice, from 0.
	Answer int `json:"answer"`
	// Explanation is Markdown shown once the learner answers (or reveals the answer).
	Explanation string `json:"explanation"`
	TryIt       *TryIt `json:"tryIt,omitempty"`
}

// TryIt sets up a quiz's scenario in the cluster so the learner can see the answer happen.
type TryIt struct {
	// Text is Markdown: what was set up and what to do.
	Text  string   `json:"text"`
	Setup []Action `json:"setup"`
	// Checks turn green when the learner has reproduced the answer.
	Checks []Check `json:"checks,omitempty"`
}

// Action is one setup action; exactly one field is set.
type Action struct {
	// LoadImage puts an image on a node as a preloaded image (not pulled by the kubelet), as
	// `ctr images import` or `kind load` would.
	LoadImage *LoadImage `json:"loadImage,omitempty"`
	// PushImage publishes a new build of REPO:TAG: the tag moves, the old digest stays pullable.
	PushImage string `json:"pushImage,omitempty"`
	// Advance fast-forwards the cluster's clock by a Go duration ("168h").
	Advance string `json:"advance,omitempty"`
	// Apply creates or updates the objects of a YAML manifest (several documents allowed).
	Apply string `json:"apply,omitempty"`
	// WaitFor waits until a CEL expression holds.
	WaitFor *WaitFor `json:"waitFor,omitempty"`
	// WriteFile puts a file into the learner's home directory.
	WriteFile *WriteFile `json:"writeFile,omitempty"`
}

// LoadImage is the argument of a loadImage action.
type LoadImage struct {
	Node  string `json:"node"`
	Image string `json:"image"`
}

// WaitFor is the argument of a waitFor action.
type WaitFor struct {
	Expr string `json:"expr"`
	// Timeout is a Go duration of wall time (default 60s).
	Timeout string `json:"timeout,omitempty"`
}

// WriteFile is the argument of a writeFile action.
type WriteFile struct {
	// Path is absolute or relative to /root.
	Path    string `json:"path"`
	Content string `json:"content"`
}

// Parse reads a lesson file. It checks the structure and compiles every CEL expression, so a
// lesson with a mistake is refused when it is loaded, not when a learner reaches the step.
func Parse(name string, data []byte) (*Lesson, error) {
	var l Lesson
	if err := yaml.UnmarshalStrict(data, &l); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if l.ID == "" {
		base := path.Base(name)
		l.ID = strings.TrimSuffix(base, path.Ext(base))
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &l, nil
}

// LoadDir reads every *.yaml lesson in a directory of fsys, sorted by file name.
func LoadDir(fsys fs.FS, dir string) ([]*Lesson, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []*Lesson
	for _, e := range ents {
		if e.IsDir() || (path.Ext(e.Name()) != ".yaml" && path.Ext(e.Name()) != ".yml") {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		l, err := Parse(e.Name(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (l *Lesson) validate() error {
	if strings.TrimSpace(l.Title) == "" {
		return fmt.Errorf("the lesson has no title")
	}
	if len(l.Steps) == 0 {
		return fmt.Errorf("the lesson has no steps")
	}
	l.programs = map[string]*compiled{}
	seen := map[string]bool{}
	for i := range l.Steps {
		s := &l.Steps[i]
		where := fmt.Sprintf("step %d (%s)", i+1, s.ID)
		if s.ID == "" {
			return fmt.Errorf("step %d has no id", i+1)
		}
		if seen[s.ID] {
			return fmt.Errorf("%s: the id is used twice", where)
		}
		seen[s.ID] = true
		if s.Title == "" {
			return fmt.Errorf("%s has no title", where)
		}
		if err := l.validateActions(where+" setup", s.Setup); err != nil {
			return err
		}
		if err := l.compileChecks(where, s.Checks); err != nil {
			return err
		}
		if q := s.Quiz; q != nil {
			if q.Question == "" || len(q.Choices) < 2 {
				return fmt.Errorf("%s: a quiz needs a question and at least two choices", where)
			}
			if q.Answer < 0 || q.Answer >= len(q.Choices) {
				return fmt.Errorf("%s: the quiz's answer %d is not one of its %d choices (counted from 0)", where, q.Answer, len(q.Choices))
			}
			if t := q.TryIt; t != nil {
				if err := l.validateActions(where+" tryIt", t.Setup); err != nil {
					return err
				}
				if err := l.compileChecks(where+" tryIt", t.Checks); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (l *Lesson) compileChecks(where string, checks []Check) error {
	for j, c := range checks {
		if c.Title == "" {
			return fmt.Errorf("%s: check %d has no title", where, j+1)
		}
		if err := l.compile(c.Expr); err != nil {
			return fmt.Errorf("%s: check %q: %w", where, c.Title, err)
		}
	}
	return nil
}

func (l *Lesson) validateActions(where string, actions []Action) error {
	for j, a := range actions {
		n := 0
		if a.LoadImage != nil {
			n++
			if a.LoadImage.Node == "" || a.LoadImage.Image == "" {
				return fmt.Errorf("%s: action %d: loadImage needs a node and an image", where, j+1)
			}
		}
		if a.PushImage != "" {
			n++
		}
		if a.Advance != "" {
			n++
			if d, err := time.ParseDuration(a.Advance); err != nil || d <= 0 {
				return fmt.Errorf("%s: action %d: advance: %q is not a positive Go duration such as 90s or 168h", where, j+1, a.Advance)
			}
		}
		if a.Apply != "" {
			n++
		}
		if a.WaitFor != nil {
			n++
			if err := l.compile(a.WaitFor.Expr); err != nil {
				return fmt.Errorf("%s: action %d: waitFor: %w", where, j+1, err)
			}
			if a.WaitFor.Timeout != "" {
				if _, err := time.ParseDuration(a.WaitFor.Timeout); err != nil {
					return fmt.Errorf("%s: action %d: waitFor: timeout %q: %w", where, j+1, a.WaitFor.Timeout, err)
				}
			}
		}
		if a.WriteFile != nil {
			n++
			if a.WriteFile.Path == "" {
				return fmt.Errorf("%s: action %d: writeFile needs a path", where, j+1)
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: action %d must have exactly one of loadImage, pushImage, advance, apply, waitFor, writeFile", where, j+1)
		}
	}
	return nil
}

// Describe is a plain-text outline of the lesson (for tests and `kubesim lesson`).
func (l *Lesson) Describe() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "lesson %s: %s\n", l.ID, l.Title)
	for i, s := range l.Steps {
		fmt.Fprintf(&b, "%d. %s: %s\n", i+1, s.ID, s.Title)
		for _, a := range s.Setup {
			fmt.Fprintf(&b, "   setup: %s\n", a)
		}
		for _, c := range s.Checks {
			fmt.Fprintf(&b, "   check: %s\n", c.Title)
		}
		if len(s.Hints) > 0 {
			fmt.Fprintf(&b, "   hints: %d\n", len(s.Hints))
		}
		if q := s.Quiz; q != nil {
			fmt.Fprintf(&b, "   quiz: %d choices, answer %d\n", len(q.Choices), q.Answer)
			if t := q.TryIt; t != nil {
				for _, a := range t.Setup {
					fmt.Fprintf(&b, "   try it: %s\n", a)
				}
				for _, c := range t.Checks {
					fmt.Fprintf(&b, "   try-it check: %s\n", c.Title)
				}
			}
		}
	}
	return b.String()
}

// String describes an action in one line.
func (a Action) String() string {
	switch {
	case a.LoadImage != nil:
		return fmt.Sprintf("load %s on %s", a.LoadImage.Image, a.LoadImage.Node)
	case a.PushImage != "":
		return "push " + a.PushImage
	case a.Advance != "":
		return "advance the clock by " + a.Advance
	case a.Apply != "":
		var kinds []string
		for _, doc := range splitDocs([]byte(a.Apply)) {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if yaml.Unmarshal(doc, &meta) == nil {
				kinds = append(kinds, meta.Kind+"/"+meta.Metadata.Name)
			}
		}
		return "apply " + strings.Join(kinds, ", ")
	case a.WaitFor != nil:
		return "wait for " + a.WaitFor.Expr
	case a.WriteFile != nil:
		return "write " + a.WriteFile.Path
	}
	return "nothing"
}

// splitDocs splits a multi-document YAML stream, dropping empty documents.
func splitDocs(data []byte) [][]byte {
	var out [][]byte
	for _, doc := range bytes.Split(append([]byte("\n"), data...), []byte("\n---")) {
		// "---" may be followed by a comment or spaces on its line.
		if i := bytes.IndexByte(doc, '\n'); i >= 0 && len(bytes.TrimSpace(doc[:i])) > 0 && bytes.HasPrefix(bytes.TrimSpace(doc[:i]), []byte("#")) {
			doc = doc[i:]
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			out = append(out, doc)
		}
	}
	return out
}

// SplitDocuments splits a multi-document YAML manifest; Cluster.Apply implementations use it.
func SplitDocuments(data []byte) [][]byte { return splitDocs(data) }
