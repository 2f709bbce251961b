package terminal

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"kubesim.dev/kubesim/internal/terminal/memfs"
)

func cmdCat(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("nbAEsTv", map[string]rune{"number": 'n', "number-nonblank": 'b', "show-all": 'A', "show-ends": 'E', "squeeze-blank": 's'})
	if o == nil {
		return code
	}
	files := o.args
	if len(files) == 0 {
		files = []string{"-"}
	}
	status := 0
	num := 0
	for _, f := range files {
		r, err := inv.open(f)
		if err != nil {
			inv.fail(1, "%s: %s", f, strerr(err))
			status = 1
			continue
		}
		if !o.has('n') && !o.has('b') && !o.has('A') && !o.has('E') {
			if _, err := io.Copy(inv.Stdout, r); err != nil && ctx.Err() == nil {
				switch {
				case errors.Is(err, syscall.ENOSPC):
					inv.fail(1, "write error: No space left on device")
				case errors.Is(err, errIsDir) || strings.Contains(err.Error(), "is a directory"):
					inv.fail(1, "%s: Is a directory", f)
				}
				status = 1
			}
			r.Close()
			continue
		}
		sc := bufio.NewReader(r)
		for {
			line, err := sc.ReadString('\n')
			if line != "" {
				body := strings.TrimSuffix(line, "\n")
				end := ""
				if strings.HasSuffix(line, "\n") {
					end = "\n"
					if o.has('A') || o.has('E') {
						end = "$\n"
					}
				}
				if o.has('b') && body == "" {
					fmt.Fprint(inv.Stdout, body+end)
				} else if o.has('n') || o.has('b') {
					num++
					fmt.Fprintf(inv.Stdout, "%6d\t%s%s", num, body, end)
				} else {
					fmt.Fprint(inv.Stdout, body+end)
				}
			}
			if err != nil {
				break
			}
		}
		r.Close()
	}
	return status
}

// --- ls ---

type lsEntry struct {
	name string
	info fs.FileInfo
}

func cmdLs(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("laA1RdhrtSFp", map[string]rune{"all": 'a', "almost-all": 'A', "recursive": 'R',
		"directory": 'd', "human-readable": 'h', "reverse": 'r', "color": 'c', "classify": 'F'})
	if o == nil {
		return code
	}
	args := o.args
	if len(args) == 0 {
		args = []string{"."}
	}
	status := 0
	var files []lsEntry
	var dirs []string
	for _, a := range args {
		fi, err := inv.FS.Stat(inv.Path(a))
		if err != nil {
			inv.fail(2, "cannot access '%s': %s", a, strerr(err))
			status = 2
			continue
		}
		if fi.IsDir() && !o.has('d') {
			dirs = append(dirs, a)
		} else {
			files = append(files, lsEntry{a, fi})
		}
	}
	sortEntries(files, o)
	sort.Strings(dirs)
	if o.has('r') {
		for i, j := 0, len(dirs)-1; i < j; i, j = i+1, j-1 {
			dirs[i], dirs[j] = dirs[j], dirs[i]
		}
	}
	printed := false
	if len(files) > 0 {
		inv.lsPrint(files, o, false)
		printed = true
	}
	header := len(dirs)+len(files) > 1 || o.has('R')
	for _, d := range dirs {
		if ctx.Err() != nil {
			return 130
		}
		if st := inv.lsDir(ctx, d, o, header, &printed); st != 0 {
			status = st
		}
	}
	return status
}

func sortEntries(es []lsEntry, o *options) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		switch {
		case o.has('t') && !a.info.ModTime().Equal(b.info.ModTime()):
			return a.info.ModTime().After(b.info.ModTime())
		case o.has('S') && a.info.Size() != b.info.Size():
			return a.info.Size() > b.info.Size()
		}
		return a.name < b.name
	})
	if o.has('r') {
		for i, j := 0, len(es)-1; i < j; i, j = i+1, j-1 {
			es[i], es[j] = es[j], es[i]
		}
	}
}

func (inv *Invocation) lsDir(ctx context.Context, d string, o *options, header bool, printed *bool) int {
	p := inv.Path(d)
	ents, err := inv.FS.ReadDir(p)
	if err != nil {
		inv.fail(2, "cannot open directory '%s': %s", d, strerr(err))
		return 2
	}
	var es []lsEntry
	if o.has('a') {
		self, _ := inv.FS.Stat(p)
		parent, _ := inv.FS.Stat(path.Dir(p))
		es = append(es, lsEntry{".", self}, lsEntry{"..", parent})
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && !o.has('a') && !o.has('A') {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		es = append(es, lsEntry{e.Name(), fi})
	}
	sortEntries(es, o)
	if *printed {
		fmt.Fprintln(inv.Stdout)
	}
	if header {
		fmt.Fprintf(inv.Stdout, "%s:\n", d)
	}
	*printed = true
	inv.lsPrint(es, o, true)
	if o.has('R') {
		for _, e := range es {
			if e.info.IsDir() && e.name != "." && e.name != ".." {
				sub := strings.TrimSuffix(d, "/") + "/" + e.name
				if ctx.Err() != nil {
					return 130
				}
				inv.lsDir(ctx, sub, o, true, printed)
			}
		}
	}
	return 0
}

func (inv *Invocation) lsPrint(es []lsEntry, o *options, inDir bool) {
	name := func(e lsEntry) string {
		n := e.name
		if o.has('F') || o.has('p') {
			if e.info.IsDir() {
				n += "/"
			} else if o.has('F') && e.info.Mode()&0o111 != 0 {
				n += "*"
			}
		}
		return n
	}
	if o.has('l') {
		if inDir {
			var blocks int64
			for _, e := range es {
				blocks += diskBlocks(e.info)
			}
			fmt.Fprintf(inv.Stdout, "total %s\n", humanSize(blocks*1024, o.has('h'), true))
		}
		var rows [][]string
		w := make([]int, 3)
		for _, e := range es {
			links := "1"
			if e.info.IsDir() {
				links = "2"
			}
			size := humanSize(e.info.Size(), o.has('h'), false)
			if e.info.IsDir() {
				size = humanSize(4096, o.has('h'), false)
			}
			if e.info.Mode()&fs.ModeDevice != 0 {
				size = "1, 3"
			}
			row := []string{modeString(e.info.Mode()), links, size, lsTime(e.info.ModTime(), inv.sh.sess.clock.Now()), name(e)}
			w[0] = max(w[0], len(row[1]))
			w[1] = max(w[1], len(row[2]))
			rows = append(rows, row)
		}
		for _, r := range rows {
			fmt.Fprintf(inv.Stdout, "%s %*s root root %*s %s %s\n", r[0], w[0], r[1], w[1], r[2], r[3], r[4])
		}
		return
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = name(e)
	}
	if o.has('1') || !inv.IsTerminal() {
		for _, n := range names {
			fmt.Fprintln(inv.Stdout, n)
		}
		return
	}
	fmt.Fprint(inv.Stdout, columns(names, inv.Size().Cols))
}

// columns lays names out in columns down then across, as ls and bash's completion listing do.
func columns(names []string, width int) string {
	if len(names) == 0 {
		return ""
	}
	if width <= 0 {
		width = 80
	}
	best := 1
	var bestW []int
	for cols := len(names); cols >= 1; cols-- {
		rows := (len(names) + cols - 1) / cols
		cols2 := (len(names) + rows - 1) / rows
		ws := make([]int, cols2)
		for i, n := range names {
			c := i / rows
			ws[c] = max(ws[c], utf8.RuneCountInString(n))
		}
		total := 0
		for i, x := range ws {
			total += x
			if i < len(ws)-1 {
				total += 2
			}
		}
		if total <= width || cols == 1 {
			best, bestW = cols2, ws
			break
		}
	}
	rows := (len(names) + best - 1) / best
	var b strings.Builder
	for r := 0; r < rows; r++ {
		for c := 0; c < best; c++ {
			i := c*rows + r
			if i >= len(names) {
				break
			}
			b.WriteString(names[i])
			if c < best-1 && (c+1)*rows+r < len(names) {
				b.WriteString(strings.Repeat(" ", bestW[c]-utf8.RuneCountInString(names[i])+2))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func diskBlocks(fi fs.FileInfo) int64 {
	if fi.IsDir() {
		return 4
	}
	return (fi.Size() + 4095) / 4096 * 4
}

func humanSize(n int64, human, total bool) string {
	if !human {
		if total {
			return strconv.FormatInt(n/1024, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	if n < 1024 {
		if total {
			return strconv.FormatInt(n/1024, 10)
		}
		return strconv.FormatInt(n, 10)
	}
	f := float64(n)
	units := "KMGTPE"
	i := -1
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f < 10 {
		// ls rounds up to one decimal.
		v := float64(int64(f*10+0.9999)) / 10
		if v < 10 {
			return fmt.Sprintf("%.1f%c", v, units[i])
		}
		f = v
	}
	return fmt.Sprintf("%d%c", int64(f+0.9999), units[i])
}

func modeString(m fs.FileMode) string {
	b := []byte("-rwxrwxrwx")
	switch {
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	return string(b)
}

func lsTime(t, now time.Time) string {
	if now.Sub(t) > 182*24*time.Hour || t.Sub(now) > time.Hour {
		return t.Format("Jan _2  2006")
	}
	return t.Format("Jan _2 15:04")
}

// --- cp, mv, rm, mkdir, rmdir, touch ---

func cmdCp(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("rRafpvniT", map[string]rune{"recursive": 'r', "archive": 'a', "force": 'f', "verbose": 'v'})
	if o == nil {
		return code
	}
	recursive := o.has('r') || o.has('R') || o.has('a')
	if len(o.args) == 0 {
		return inv.usage(1, "missing file operand")
	}
	if len(o.args) == 1 {
		return inv.usage(1, "missing destination file operand after '%s'", o.args[0])
	}
	srcs, dst := o.args[:len(o.args)-1], o.args[len(o.args)-1]
	dstIsDir := inv.FS.IsDir(inv.Path(dst))
	if len(srcs) > 1 && !dstIsDir {
		return inv.fail(1, "target '%s' is not a directory", dst)
	}
	status := 0
	for _, s := range srcs {
		sp := inv.Path(s)
		fi, err := inv.FS.Stat(sp)
		if err != nil {
			status = inv.fail(1, "cannot stat '%s': %s", s, strerr(err))
			continue
		}
		target := inv.Path(dst)
		if dstIsDir {
			target = path.Join(target, path.Base(sp))
		}
		if fi.IsDir() {
			if !recursive {
				status = inv.fail(1, "-r not specified; omitting directory '%s'", s)
				continue
			}
			if target == sp || strings.HasPrefix(target, sp+"/") {
				status = inv.fail(1, "cannot copy a directory, '%s', into itself, '%s'", s, dst)
				continue
			}
		}
		if target == sp {
			status = inv.fail(1, "'%s' and '%s' are the same file", s, dst)
			continue
		}
		if err := copyTree(inv.FS, sp, target); err != nil {
			status = inv.fail(1, "cannot create regular file '%s': %s", dst, strerr(err))
		}
	}
	return status
}

func copyTree(f *memfs.FS, src, dst string) error {
	fi, err := f.Stat(src)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if f.IsDir(dst) {
			return &fs.PathError{Op: "open", Path: dst, Err: syscall.EISDIR}
		}
		data, err := f.ReadFile(src)
		if err != nil {
			return err
		}
		return f.WriteFile(dst, data, fi.Mode().Perm())
	}
	if err := f.MkdirAll(dst, fi.Mode().Perm()); err != nil {
		return err
	}
	ents, err := f.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := copyTree(f, path.Join(src, e.Name()), path.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func cmdMv(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("fivnT", map[string]rune{"force": 'f', "verbose": 'v'})
	if o == nil {
		return code
	}
	if len(o.args) == 0 {
		return inv.usage(1, "missing file operand")
	}
	if len(o.args) == 1 {
		return inv.usage(1, "missing destination file operand after '%s'", o.args[0])
	}
	srcs, dst := o.args[:len(o.args)-1], o.args[len(o.args)-1]
	dstIsDir := inv.FS.IsDir(inv.Path(dst))
	if len(srcs) > 1 && !dstIsDir {
		return inv.fail(1, "target '%s' is not a directory", dst)
	}
	status := 0
	for _, s := range srcs {
		sp := inv.Path(s)
		if _, err := inv.FS.Stat(sp); err != nil {
			status = inv.fail(1, "cannot stat '%s': %s", s, strerr(err))
			continue
		}
		target := inv.Path(dst)
		if dstIsDir {
			target = path.Join(target, path.Base(sp))
		}
		if target == sp || strings.HasPrefix(target, sp+"/") {
			status = inv.fail(1, "cannot move '%s' to a subdirectory of itself, '%s'", s, dst)
			continue
		}
		if err := inv.FS.Rename(sp, target); err != nil {
			status = inv.fail(1, "cannot move '%s' to '%s': %s", s, dst, strerr(err))
		}
	}
	return status
}

func cmdRm(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("rRfivd", map[string]rune{"recursive": 'r', "force": 'f', "verbose": 'v', "dir": 'd', "no-preserve-root": 'P'})
	if o == nil {
		return code
	}
	if len(o.args) == 0 && !o.has('f') {
		return inv.usage(1, "missing operand")
	}
	recursive := o.has('r') || o.has('R')
	status := 0
	for _, a := range o.args {
		p := inv.Path(a)
		if p == "/" && recursive {
			fmt.Fprintf(inv.Stderr, "rm: it is dangerous to operate recursively on '/'\nrm: use --no-preserve-root to override this failsafe\n")
			status = 1
			continue
		}
		fi, err := inv.FS.Stat(p)
		if err != nil {
			if !o.has('f') {
				status = inv.fail(1, "cannot remove '%s': %s", a, strerr(err))
			}
			continue
		}
		if fi.IsDir() && !recursive {
			if o.has('d') {
				if err := inv.FS.Remove(p); err != nil {
					status = inv.fail(1, "cannot remove '%s': %s", a, strerr(err))
				}
				continue
			}
			status = inv.fail(1, "cannot remove '%s': Is a directory", a)
			continue
		}
		if base := path.Base(a); base == "." || base == ".." {
			status = inv.fail(1, "refusing to remove '.' or '..' directory: skipping '%s'", a)
			continue
		}
		if err := inv.FS.RemoveAll(p); err != nil {
			status = inv.fail(1, "cannot remove '%s': %s", a, strerr(err))
		} else if o.has('v') {
			fmt.Fprintf(inv.Stdout, "removed '%s'\n", a)
		}
	}
	return status
}

func cmdMkdir(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("pvm:", map[string]rune{"parents": 'p', "verbose": 'v', "mode": 'm'})
	if o == nil {
		return code
	}
	if len(o.args) == 0 {
		return inv.usage(1, "missing operand")
	}
	status := 0
	for _, a := range o.args {
		p := inv.Path(a)
		var err error
		if o.has('p') {
			err = inv.FS.MkdirAll(p, 0o755)
		} else {
			err = inv.FS.Mkdir(p, 0o755)
		}
		if err != nil {
			status = inv.fail(1, "cannot create directory '%s': %s", a, strerr(err))
		} else if o.has('v') {
			fmt.Fprintf(inv.Stdout, "mkdir: created directory '%s'\n", a)
		}
	}
	return status
}

func cmdRmdir(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("p", nil)
	if o == nil {
		return code
	}
	if len(o.args) == 0 {
		return inv.usage(1, "missing operand")
	}
	status := 0
	for _, a := range o.args {
		p := inv.Path(a)
		fi, err := inv.FS.Stat(p)
		if err == nil && !fi.IsDir() {
			status = inv.fail(1, "failed to remove '%s': Not a directory", a)
			continue
		}
		if err := inv.FS.Remove(p); err != nil {
			status = inv.fail(1, "failed to remove '%s': %s", a, strerr(err))
		}
	}
	return status
}

func cmdTouch(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("acm", nil)
	if o == nil {
		return code
	}
	if len(o.args) == 0 {
		return inv.usage(1, "missing file operand")
	}
	status := 0
	for _, a := range o.args {
		p := inv.Path(a)
		if inv.FS.Exists(p) {
			_ = inv.FS.Chtimes(p, inv.sh.sess.clock.Now())
			continue
		}
		if o.has('c') {
			continue
		}
		f, err := inv.FS.OpenFile(p, memfs.O_WRONLY|memfs.O_CREATE, 0o644)
		if err != nil {
			status = inv.fail(1, "cannot touch '%s': %s", a, strerr(err))
			continue
		}
		f.Close()
	}
	return status
}

func cmdTee(ctx context.Context, inv *Invocation) int {
	o, code := inv.getopt("ai", map[string]rune{"append": 'a'})
	if o == nil {
		return code
	}
	ws := []io.Writer{inv.Stdout}
	status := 0
	for _, a := range o.args {
		w, err := inv.create(a, o.has('a'))
		if err != nil {
			status = inv.fail(1, "%s: %s", a, strerr(err))
			continue
		}
		defer w.Close()
		ws = append(ws, w)
	}
	if _, err := io.Copy(io.MultiWriter(ws...), inv.Stdin); err != nil && ctx.Err() == nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			status = inv.fail(1, "%s: %s", pe.Path, strerr(err))
		}
	}
	return status
}

func cmdChmod(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	recursive := false
	for len(args) > 0 && (args[0] == "-R" || args[0] == "-v") {
		recursive = recursive || args[0] == "-R"
		args = args[1:]
	}
	if len(args) == 0 {
		return inv.usage(1, "missing operand")
	}
	if len(args) == 1 {
		return inv.usage(1, "missing operand after '%s'", args[0])
	}
	spec := args[0]
	status := 0
	for _, a := range args[1:] {
		p := inv.Path(a)
		fi, err := inv.FS.Stat(p)
		if err != nil {
			status = inv.fail(1, "cannot access '%s': %s", a, strerr(err))
			continue
		}
		mode, ok := parseMode(spec, fi.Mode().Perm())
		if !ok {
			return inv.usage(1, "invalid mode: '%s'", spec)
		}
		_ = inv.FS.Chmod(p, mode)
		_ = recursive
	}
	return status
}

// parseMode understands octal modes and symbolic ones like u+x, a-w, go=r.
func parseMode(spec string, cur fs.FileMode) (fs.FileMode, bool) {
	if n, err := strconv.ParseUint(spec, 8, 32); err == nil {
		return fs.FileMode(n) & 0o777, true
	}
	m := cur
	for _, clause := range strings.Split(spec, ",") {
		i := 0
		var who fs.FileMode
		for i < len(clause) && strings.IndexByte("ugoa", clause[i]) >= 0 {
			switch clause[i] {
			case 'u':
				who |= 0o700
			case 'g':
				who |= 0o070
			case 'o':
				who |= 0o007
			case 'a':
				who |= 0o777
			}
			i++
		}
		if who == 0 {
			who = 0o777
		}
		if i >= len(clause) || strings.IndexByte("+-=", clause[i]) < 0 {
			return 0, false
		}
		op := clause[i]
		var bits fs.FileMode
		for _, c := range clause[i+1:] {
			switch c {
			case 'r':
				bits |= 0o444
			case 'w':
				bits |= 0o222
			case 'x':
				bits |= 0o111
			default:
				return 0, false
			}
		}
		bits &= who
		switch op {
		case '+':
			m |= bits
		case '-':
			m &^= bits
		case '=':
			m = m&^who | bits
		}
	}
	return m, true
}

func cmdBasename(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	if len(args) == 0 {
		return inv.usage(1, "missing operand")
	}
	name := strings.TrimRight(args[0], "/")
	if name == "" {
		fmt.Fprintln(inv.Stdout, "/")
		return 0
	}
	b := path.Base(name)
	if len(args) > 1 && b != args[1] {
		b = strings.TrimSuffix(b, args[1])
	}
	fmt.Fprintln(inv.Stdout, b)
	return 0
}

func cmdDirname(ctx context.Context, inv *Invocation) int {
	if len(inv.Args) < 2 {
		return inv.usage(1, "missing operand")
	}
	for _, a := range inv.Args[1:] {
		fmt.Fprintln(inv.Stdout, path.Dir(strings.TrimRight(a, "/")+map[bool]string{true: "/", false: ""}[strings.TrimRight(a, "/") == ""]))
	}
	return 0
}

func cmdRealpath(ctx context.Context, inv *Invocation) int {
	status := 0
	for _, a := range inv.Args[1:] {
		p := inv.Path(a)
		if !inv.FS.Exists(path.Dir(p)) {
			status = inv.fail(1, "%s: No such file or directory", a)
			continue
		}
		fmt.Fprintln(inv.Stdout, p)
	}
	return status
}

func cmdLn(ctx context.Context, inv *Invocation) int {
	if len(inv.Args) < 3 {
		return inv.usage(1, "missing file operand")
	}
	target := inv.Args[len(inv.Args)-1]
	return inv.fail(1, "failed to create link '%s': Operation not supported", target)
}

func cmdFind(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	var roots []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		roots = append(roots, args[0])
		args = args[1:]
	}
	if len(roots) == 0 {
		roots = []string{"."}
	}
	var name, iname, typ string
	maxDepth := -1
	for i := 0; i < len(args); i++ {
		need := func() (string, bool) {
			if i+1 >= len(args) {
				inv.fail(1, "missing argument to `%s'", args[i])
				return "", false
			}
			i++
			return args[i], true
		}
		var ok bool
		switch args[i] {
		case "-name":
			if name, ok = need(); !ok {
				return 1
			}
		case "-iname":
			if iname, ok = need(); !ok {
				return 1
			}
		case "-type":
			if typ, ok = need(); !ok {
				return 1
			}
		case "-maxdepth":
			v, ok := need()
			if !ok {
				return 1
			}
			maxDepth = atoiDefault(v, -1)
		case "-print":
		default:
			return inv.fail(1, "unknown predicate `%s'", args[i])
		}
	}
	status := 0
	var walk func(display, p string, depth int)
	walk = func(display, p string, depth int) {
		if ctx.Err() != nil {
			return
		}
		fi, err := inv.FS.Stat(p)
		if err != nil {
			status = inv.fail(1, "'%s': %s", display, strerr(err))
			return
		}
		base := path.Base(display)
		match := true
		if name != "" {
			match = match && globMatch(name, base)
		}
		if iname != "" {
			match = match && globMatch(strings.ToLower(iname), strings.ToLower(base))
		}
		if typ == "f" && fi.IsDir() || typ == "d" && !fi.IsDir() {
			match = false
		}
		if match {
			fmt.Fprintln(inv.Stdout, display)
		}
		if fi.IsDir() && (maxDepth < 0 || depth < maxDepth) {
			ents, _ := inv.FS.ReadDir(p)
			for _, e := range ents {
				walk(strings.TrimSuffix(display, "/")+"/"+e.Name(), path.Join(p, e.Name()), depth+1)
			}
		}
	}
	for _, r := range roots {
		walk(r, inv.Path(r), 0)
	}
	return status
}

func globMatch(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}
