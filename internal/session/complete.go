package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"

	"kubesim.dev/kubesim/internal/kubectl"
	"kubesim.dev/kubesim/internal/terminal"
)

// Cobra's completion directives (the number after ":" on the last line of __complete).
const (
	compNoSpace    = 2
	compNoFileComp = 4
	compFilterExt  = 8
	compFilterDirs = 16
)

// completeKubectl completes kubectl's command line with kubectl's own completion (cobra's
// __complete): subcommands, flags, resource types and object names from the cluster.
func (s *Session) completeKubectl(ctx context.Context, req terminal.CompletionRequest) terminal.Completion {
	args := append([]string{"__complete"}, req.Args[1:]...)
	args = append(args, req.Word)
	if r := refused(req.Args[1:], s.cfg.Server); r != nil {
		return terminal.Completion{Files: true}
	}
	args, _ = stripVerbosity(args)
	dir, err := s.callDir()
	if err != nil {
		return terminal.Completion{}
	}
	defer os.RemoveAll(dir)
	inv := &terminal.Invocation{Args: append([]string{"kubectl"}, req.Args[1:]...), Env: req.Env, Dir: req.Dir, FS: req.FS}
	c := &call{s: s, inv: inv, dir: dir, names: map[string]string{}}
	if err := c.prepareKubeconfig(args); err != nil {
		return terminal.Completion{}
	}
	c.kcPath = "" // completion never changes the kubeconfig
	args = append([]string{args[0], "--kubeconfig=" + c.kcHost}, args[1:]...)
	var out, errOut bytes.Buffer
	kubectl.Run(ctx, kubectl.Invocation{
		Args: args, Stdout: &out, Stderr: &errOut, Kubeconfig: c.kcHost,
		CacheDir: filepath.Join(s.dir, "cache"), Transport: s.transport(ctx, nil),
	})
	rest.SetDefaultWarningHandler(rest.WarningLogger{})
	return parseCompletion(out.String())
}

// parseCompletion reads cobra's __complete output: one candidate per line (a tab starts its
// description), then ":<directive>".
func parseCompletion(out string) terminal.Completion {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	var res terminal.Completion
	directive := 0
	if n := len(lines); n > 0 && strings.HasPrefix(lines[n-1], ":") {
		directive, _ = strconv.Atoi(lines[n-1][1:])
		lines = lines[:n-1]
	}
	for _, l := range lines {
		if l == "" || strings.HasPrefix(l, "Completion ended with directive") {
			continue
		}
		name, _, _ := strings.Cut(l, "\t")
		res.Candidates = append(res.Candidates, name)
	}
	res.NoSpace = directive&compNoSpace != 0
	if directive&compNoFileComp == 0 && len(res.Candidates) == 0 || directive&(compFilterExt|compFilterDirs) != 0 {
		res.Candidates = nil
		res.Files = true
	}
	return res
}
