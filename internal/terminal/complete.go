package terminal

import (
	"context"
	"path"
	"sort"
	"strings"

	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"kubesim.dev/kubesim/internal/terminal/memfs"
)

type completion struct {
	start   int // byte offset where the completed word starts
	cands   []string
	display []string
	noSpace bool
}

var shellKeywords = []string{"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac", "function", "select", "in", "time"}

// completeAt computes the completions for the word that ends at pos in line.
func (sh *shell) completeAt(ctx context.Context, line string, pos int) completion {
	before := line[:pos]
	start := strings.LastIndexAny(before, " \t\n;|&(<>`") + 1
	word := before[start:]
	// The words of the current command, from the last separator.
	cmdStart := strings.LastIndexAny(before[:start], ";|&(`\n") + 1
	fields := strings.Fields(before[cmdStart:start])
	for len(fields) > 0 && (fields[0] == "sudo" || fields[0] == "watch" || fields[0] == "time" || fields[0] == "xargs") {
		fields = fields[1:]
		for len(fields) > 0 && strings.HasPrefix(fields[0], "-") {
			fields = fields[1:]
		}
	}
	c := completion{start: start}
	if len(fields) == 0 && !strings.Contains(word, "/") {
		c.cands = sh.commandNames(word)
		c.display = c.cands
		return c
	}
	if len(fields) > 0 {
		args := sh.resolveAlias(fields)
		if comp, ok := sh.sess.cfg.Completers[args[0]]; ok {
			res := comp.Complete(ctx, CompletionRequest{Args: args, Word: word, Dir: sh.runner.Dir, FS: sh.fs, Env: exportedEnv(sh.env)})
			for _, cand := range res.Candidates {
				if strings.HasPrefix(cand, word) {
					c.cands = append(c.cands, cand)
				}
			}
			sort.Strings(c.cands)
			c.cands = dedupe(c.cands)
			c.display, c.noSpace = c.cands, res.NoSpace
			if len(c.cands) > 0 || !res.Files {
				return c
			}
		}
	}
	c.cands, c.display = sh.fileNames(word)
	return c
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// resolveAlias replaces an alias in the first word by its words (k get → kubectl get).
func (sh *shell) resolveAlias(fields []string) []string {
	sh.mu.Lock()
	val, ok := sh.aliases[fields[0]]
	sh.mu.Unlock()
	if !ok {
		return fields
	}
	words := strings.Fields(val)
	if len(words) == 0 || words[0] == fields[0] {
		return fields
	}
	return append(words, fields[1:]...)
}

func (sh *shell) commandNames(prefix string) []string {
	set := map[string]bool{}
	add := func(n string) {
		if strings.HasPrefix(n, prefix) && !strings.HasPrefix(n, reservedPrefix) {
			set[n] = true
		}
	}
	for n := range builtins {
		add(n)
	}
	for n := range sh.commands {
		add(n)
	}
	sh.mu.Lock()
	for n := range sh.aliases {
		add(n)
	}
	for n := range sh.funcs {
		add(n)
	}
	sh.mu.Unlock()
	for _, n := range []string{"cd", "export", "alias", "unalias", "source", "exit", "set", "unset", "read", "type", "echo", "printf", "test", "local", "declare", "eval", "shift", "return", "pushd", "popd", "logout"} {
		if interp.IsBuiltin(n) || syntax.IsKeyword(n) {
			add(n)
		}
	}
	for _, n := range shellKeywords {
		add(n)
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// fileNames completes a file name; directories get a trailing slash.
func (sh *shell) fileNames(word string) (cands, display []string) {
	dirPart, base := "", word
	if i := strings.LastIndex(word, "/"); i >= 0 {
		dirPart, base = word[:i+1], word[i+1:]
	}
	dir := dirPart
	switch {
	case strings.HasPrefix(dir, "~/"):
		dir = "/root/" + dir[2:]
	case dir == "":
		dir = "."
	}
	p := memfs.Resolve(sh.runner.Dir, dir)
	ents, err := sh.fs.ReadDir(p)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, base) || strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".") {
			continue
		}
		if e.IsDir() {
			n += "/"
		}
		cands = append(cands, dirPart+n)
		display = append(display, n)
	}
	_ = path.Join
	return cands, display
}
