package session

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// rewriter replaces host paths in kubectl's output with the names the learner typed. It holds
// back only a tail that could be the start of a path, so prompts without a newline still show.
type rewriter struct {
	mu    sync.Mutex
	w     io.Writer
	pairs [][2]string // old, new; longest old first
	max   int
	buf   []byte
}

func newRewriter(w io.Writer, m map[string]string) *rewriter {
	r := &rewriter{w: w}
	for old, nw := range m {
		if old == "" {
			continue
		}
		r.pairs = append(r.pairs, [2]string{old, nw})
		r.max = max(r.max, len(old))
	}
	sort.Slice(r.pairs, func(i, j int) bool { return len(r.pairs[i][0]) > len(r.pairs[j][0]) })
	return r
}

func (r *rewriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pairs) == 0 {
		return r.w.Write(p)
	}
	r.buf = append(r.buf, p...)
	keep := r.heldTail()
	out := r.replace(string(r.buf[:len(r.buf)-keep]))
	r.buf = append(r.buf[:0], r.buf[len(r.buf)-keep:]...)
	if out != "" {
		if _, err := io.WriteString(r.w, out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// heldTail is the length of the longest suffix of buf that is a proper prefix of a path.
func (r *rewriter) heldTail() int {
	for k := min(len(r.buf), r.max-1); k > 0; k-- {
		tail := string(r.buf[len(r.buf)-k:])
		for _, pr := range r.pairs {
			if strings.HasPrefix(pr[0], tail) {
				return k
			}
		}
	}
	return 0
}

func (r *rewriter) replace(s string) string {
	for _, pr := range r.pairs {
		if strings.Contains(s, pr[0]) {
			s = strings.ReplaceAll(s, pr[0], pr[1])
		}
	}
	return s
}

// Flush writes what is held back.
func (r *rewriter) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		_, _ = io.WriteString(r.w, r.replace(string(r.buf)))
		r.buf = r.buf[:0]
	}
}

// add registers one more replacement while the command runs (an editor's temporary file).
func (r *rewriter) add(old, nw string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pairs = append(r.pairs, [2]string{old, nw})
	r.max = max(r.max, len(old))
	sort.Slice(r.pairs, func(i, j int) bool { return len(r.pairs[i][0]) > len(r.pairs[j][0]) })
}
