package lessons

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/functions"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Variables are the lists a check can use, each the cluster's objects of one resource in every
// namespace, as JSON (the same fields `kubectl get -o json` shows): pods, events, nodes, ...
var Variables = map[string]schema.GroupVersionResource{
	"pods":        {Version: "v1", Resource: "pods"},
	"events":      {Version: "v1", Resource: "events"},
	"nodes":       {Version: "v1", Resource: "nodes"},
	"namespaces":  {Version: "v1", Resource: "namespaces"},
	"configmaps":  {Version: "v1", Resource: "configmaps"},
	"services":    {Version: "v1", Resource: "services"},
	"deployments": {Group: "apps", Version: "v1", Resource: "deployments"},
	"replicasets": {Group: "apps", Version: "v1", Resource: "replicasets"},
}

// tagDigestDoc documents the one function checks get besides CEL's standard library.
const tagDigestDoc = `tagDigest('REPO:TAG') is the digest ("sha256:...") the registry's tag points at now, or "" when the tag does not exist`

// env is the CEL environment of checks: the variables above, and tagDigest, whose
// implementation is bound per cluster when a program is made.
var env = func() *cel.Env {
	opts := []cel.EnvOption{
		cel.Function("tagDigest", cel.Overload("tagDigest_string", []*cel.Type{cel.StringType}, cel.StringType)),
	}
	for name := range Variables {
		opts = append(opts, cel.Variable(name, cel.ListType(cel.DynType)))
	}
	e, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err)
	}
	return e
}()

// compiled is a checked expression and the variables it reads.
type compiled struct {
	ast  *cel.Ast
	vars []string
}

var ident = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)

func (l *Lesson) compile(expr string) error {
	if _, ok := l.programs[expr]; ok {
		return nil
	}
	if strings.TrimSpace(expr) == "" {
		return fmt.Errorf("empty expression")
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return fmt.Errorf("%w (checks are CEL over %s; %s)", iss.Err(), strings.Join(variableNames(), ", "), tagDigestDoc)
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return fmt.Errorf("the expression is a %v, not a bool", ast.OutputType())
	}
	c := &compiled{ast: ast}
	seen := map[string]bool{}
	for _, w := range ident.FindAllString(expr, -1) {
		if _, ok := Variables[w]; ok && !seen[w] {
			seen[w] = true
			c.vars = append(c.vars, w)
		}
	}
	sort.Strings(c.vars)
	l.programs[expr] = c
	return nil
}

func variableNames() []string {
	var out []string
	for k := range Variables {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Evaluator evaluates a lesson's expressions against one cluster. It lists only the resources
// the expressions read, once per Eval.
type Evaluator struct {
	lesson   *Lesson
	cluster  Cluster
	programs map[string]cel.Program
}

// NewEvaluator binds the lesson's expressions to a cluster.
func NewEvaluator(l *Lesson, c Cluster) (*Evaluator, error) {
	tagDigest := &functions.Overload{
		Operator: "tagDigest_string",
		Unary: func(v ref.Val) ref.Val {
			s, ok := v.(types.String)
			if !ok {
				return types.NewErr("tagDigest needs a string")
			}
			d, err := c.TagDigest(string(s))
			if err != nil {
				return types.String("")
			}
			return types.String(d)
		},
	}
	e := &Evaluator{lesson: l, cluster: c, programs: map[string]cel.Program{}}
	for expr, comp := range l.programs {
		p, err := env.Program(comp.ast, cel.Functions(tagDigest), cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			return nil, fmt.Errorf("%q: %w", expr, err)
		}
		e.programs[expr] = p
	}
	return e, nil
}

// Result is the outcome of one expression.
type Result struct {
	OK bool
	// Err is set when the expression failed (a missing field is not an error: see Eval).
	Err error
}

// Eval evaluates exprs (each must belong to the lesson) and returns their results by
// expression. An expression that fails, e.g. because it reads a field the object does not have
// yet, is false: use has() to make that explicit.
func (e *Evaluator) Eval(ctx context.Context, exprs []string) map[string]Result {
	need := map[string]bool{}
	for _, x := range exprs {
		if c := e.lesson.programs[x]; c != nil {
			for _, v := range c.vars {
				need[v] = true
			}
		}
	}
	act := map[string]any{}
	var listErr error
	for name := range Variables {
		if !need[name] {
			act[name] = []any{}
			continue
		}
		items, err := e.list(ctx, name)
		if err != nil {
			listErr = err
			items = []any{}
		}
		act[name] = items
	}
	out := map[string]Result{}
	for _, x := range exprs {
		p, ok := e.programs[x]
		if !ok {
			out[x] = Result{Err: fmt.Errorf("not an expression of lesson %s", e.lesson.ID)}
			continue
		}
		if listErr != nil {
			out[x] = Result{Err: listErr}
			continue
		}
		v, _, err := p.ContextEval(ctx, act)
		if err != nil {
			out[x] = Result{Err: err}
			continue
		}
		b, _ := v.Value().(bool)
		out[x] = Result{OK: b}
	}
	return out
}

func (e *Evaluator) list(ctx context.Context, name string) ([]any, error) {
	l, err := e.cluster.Dynamic().Resource(Variables[name]).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", name, err)
	}
	items := make([]any, len(l.Items))
	for i := range l.Items {
		items[i] = l.Items[i].Object
	}
	return items, nil
}
