package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConformance replays the differential corpus (testdata/conformance, recorded from a real
// v1.37.2 control plane) with each kubectl version it has expected outputs for, and requires every
// case to match.
func TestConformance(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		missing(t, "python3 (the corpus normalizer) is not installed")
	}
	corpus := filepath.Join(repoRoot(), "testdata", "conformance")
	dir := kubectlDir()
	for _, run := range []struct{ kubectl, expected string }{
		{"kubectl.1.33", "expected/cases"},
		{"kubectl.1.27", "expected-1.27/cases"},
	} {
		t.Run(run.kubectl, func(t *testing.T) {
			bin := filepath.Join(dir, run.kubectl)
			if _, err := os.Stat(bin); err != nil {
				missing(t, run.kubectl+" is not installed")
			}
			out := t.TempDir()
			cmd := exec.Command(filepath.Join(corpus, "run.sh"), inst.Kubeconfig, out)
			cmd.Env = append(os.Environ(), "KUBECTL="+bin)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("run.sh: %v\n%s", err, b)
			}
			cmp := exec.Command(filepath.Join(corpus, "compare.sh"), filepath.Join(corpus, run.expected), out)
			b, err := cmp.CombinedOutput()
			report := string(b)
			lines := strings.Split(strings.TrimSpace(report), "\n")
			t.Logf("%s: %s", run.kubectl, lines[len(lines)-1])
			if err != nil {
				t.Fatalf("conformance cases differ from the real control plane:\n%s", report)
			}
		})
	}
}
