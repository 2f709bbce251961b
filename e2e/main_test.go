// Package e2e drives a served kubesim cluster with the genuine kubectl: the embedded one and the
// kubectl binaries installed on the machine.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"kubesim.dev/kubesim/internal/logs"
	"kubesim.dev/kubesim/internal/serve"
)

// inst is the cluster every test in this package drives.
var inst *serve.Instance

func TestMain(m *testing.M) {
	logs.SetVerbosity(0)
	dir, err := os.MkdirTemp("", "kubesim-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	inst, err = serve.Start(serve.Options{DataDir: dir, Seed: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting kubesim:", err)
		os.Exit(1)
	}
	code := m.Run()
	inst.Close(context.Background())
	os.RemoveAll(dir)
	os.Exit(code)
}

// kubectlDir is where the machine's kubectl binaries are: beside the file `kubectl` links to.
func kubectlDir() string {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return filepath.Dir(path)
}

// kubectlBinaries lists the installed kubectl binaries: kubectl on PATH and every kubectl.1.N
// beside it. In CI their absence is an error.
func kubectlBinaries(t *testing.T) map[string]string {
	t.Helper()
	bins := map[string]string{}
	if p, err := exec.LookPath("kubectl"); err == nil {
		bins["kubectl"] = p
	}
	if dir := kubectlDir(); dir != "" {
		matches, _ := filepath.Glob(filepath.Join(dir, "kubectl.1.*"))
		for _, m := range matches {
			bins[filepath.Base(m)] = m
		}
	}
	if len(bins) == 0 {
		missing(t, "no kubectl binary on this machine")
	}
	return bins
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// missing skips a test whose tool is absent, or fails it in CI, where every tool must be there.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI must have it)", what)
	}
	t.Skip(what)
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return filepath.Dir(wd)
}

func trimLines(s string) string { return strings.TrimRight(s, "\n") }
