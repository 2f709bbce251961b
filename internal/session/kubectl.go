package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kubesim.dev/kubesim/internal/kubectl"
	"kubesim.dev/kubesim/internal/terminal"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Limits of what one kubectl call copies from the session to its host directory.
const (
	maxCopyBytes = 16 << 20
	maxCopyFiles = 2000
	maxStdin     = 16 << 20
)

// call is one kubectl command line on its way to the host.
type call struct {
	s        *Session
	inv      *terminal.Invocation
	dir      string            // private host directory of this call
	names    map[string]string // host path → what the learner typed
	n        int
	copied   int64
	files    int
	kcHost   string // host copy of the kubeconfig
	kcPath   string // its path in the session ("" when kubectl must not write it back)
	kcBefore []byte
	// explicitKubeconfig: the learner gave --kubeconfig.
	explicitKubeconfig bool
}

// kubectl runs the genuine kubectl against the session's cluster.
func (s *Session) kubectl(ctx context.Context, inv *terminal.Invocation) int {
	args := inv.Args[1:]
	if r := refused(args, s.cfg.Server); r != nil {
		fmt.Fprintln(inv.Stderr, r.msg)
		return 1
	}
	args, verbose := stripVerbosity(args)
	if verbose {
		fmt.Fprintln(inv.Stderr, "kubesim: kubectl's -v logs are not shown in this terminal (they would go to the host's log); the command runs without them")
	}
	dir, err := s.callDir()
	if err != nil {
		fmt.Fprintf(inv.Stderr, "kubesim: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	c := &call{s: s, inv: inv, dir: dir, names: map[string]string{}}
	if args, err = c.mapFiles(args); err != nil {
		fmt.Fprintln(inv.Stderr, err)
		return 1
	}
	if err := c.prepareKubeconfig(args); err != nil {
		fmt.Fprintln(inv.Stderr, err)
		return 1
	}
	// Name the kubeconfig explicitly: kubectl config reads --kubeconfig, else $KUBECONFIG and
	// ~/.kube/config of the host process.
	if !c.explicitKubeconfig {
		args = append([]string{"--kubeconfig=" + c.kcHost}, args...)
	}
	var stdin io.Reader = strings.NewReader("")
	if readsStdin(args) {
		data, err := io.ReadAll(io.LimitReader(inv.Stdin, maxStdin+1))
		if err != nil && ctx.Err() != nil {
			return 130
		}
		if len(data) > maxStdin {
			fmt.Fprintf(inv.Stderr, "kubesim: standard input is larger than %d MiB\n", maxStdin>>20)
			return 1
		}
		stdin = bytes.NewReader(data)
	}
	c.names[filepath.Join(s.dir, "cache")] = "/root/.kube/cache"
	out := newRewriter(inv.Stdout, c.names)
	errOut := newRewriter(inv.Stderr, c.names)
	transport := s.transport(ctx, nil)
	if editing(args) {
		ec, err := broker.register(c, ctx, out, errOut)
		if err != nil {
			fmt.Fprintln(inv.Stderr, err)
			return 1
		}
		defer broker.unregister(ec)
		transport = s.transport(ctx, ec.sniff)
	}
	code := kubectl.Run(ctx, kubectl.Invocation{
		Args:       args,
		Stdin:      stdin,
		Stdout:     out,
		Stderr:     errOut,
		Kubeconfig: c.kcHost,
		CacheDir:   filepath.Join(s.dir, "cache"),
		Transport:  transport,
	})
	// kubectl makes its error stream the process-wide default warning handler (for clients
	// that set none): take this terminal out of it again.
	rest.SetDefaultWarningHandler(rest.WarningLogger{})
	out.Flush()
	errOut.Flush()
	c.writeBackKubeconfig()
	return code
}

// readsStdin reports whether kubectl will read manifests from standard input (after mapFiles,
// which writes every such flag as --filename=-).
func readsStdin(args []string) bool {
	for _, a := range args {
		if a == "--filename=-" {
			return true
		}
	}
	return false
}

// editing reports whether the command line may start an editor.
func editing(args []string) bool {
	for _, a := range args {
		if a == "edit" || a == "--edit" || a == "--edit=true" || a == "edit-last-applied" {
			return true
		}
	}
	return false
}

// mapFiles copies the files named on the command line from the session to the call's host
// directory and rewrites the arguments to name the copies.
func (c *call) mapFiles(args []string) ([]string, error) {
	words, pos := scan(args)
	sub := ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	output := ""
	for _, w := range words {
		if w.flag == "output" && w.hasValue {
			output = w.value
		}
	}
	var out []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		kind, isFile := fileFlags[w.flag]
		if configFileFlags[w.flag] && sub == "config" {
			kind, isFile = pathSingle, true
		}
		isTemplateFile := w.flag == "template" && strings.HasSuffix(output, "-file") || w.flag == "template" && output == "templatefile"
		isOutputFile := w.flag == "output" && w.hasValue && strings.Contains(w.value, "-file=") || w.flag == "output" && strings.HasPrefix(w.value, "templatefile=")
		switch {
		case !w.hasValue || (!isFile && !isTemplateFile && !isOutputFile):
			out = append(out, w.text)
			continue
		case w.flag == "filename":
			// One --filename=X per file, so that "-" is always written the one way kubectl's
			// stdin handling recognises, whatever form the learner used (-f-, -Rf -, a,-).
			if w.shorts != "" {
				out = append(out, "-"+w.shorts)
			}
			for _, p := range strings.Split(w.value, ",") {
				if p == "-" {
					out = append(out, "--filename=-")
					continue
				}
				h, err := c.materialize(p)
				if err != nil {
					return nil, err
				}
				out = append(out, "--filename="+h)
			}
		default:
			var mapped string
			var err error
			switch {
			case isOutputFile:
				format, p, _ := strings.Cut(w.value, "=")
				var h string
				h, err = c.materialize(p)
				mapped = format + "=" + h
			case kind == pathSingle || isTemplateFile:
				mapped, err = c.materialize(w.value)
			case kind == pathList || kind == pathKeyedList:
				var parts []string
				for _, p := range strings.Split(w.value, ",") {
					key := ""
					if kind == pathKeyedList {
						if k, v, ok := strings.Cut(p, "="); ok {
							key, p = k+"=", v
						}
					}
					h, err2 := c.materialize(p)
					if err2 != nil {
						err = err2
						break
					}
					parts = append(parts, key+h)
				}
				mapped = strings.Join(parts, ",")
			}
			if err != nil {
				return nil, err
			}
			if w.flag == "kubeconfig" {
				c.kcHost, c.kcPath, c.explicitKubeconfig = mapped, c.inv.Path(w.value), true
			}
			if w.inline {
				out = append(out, w.prefix+mapped)
			} else {
				out = append(out, w.text, mapped)
				i++ // the value word
			}
		}
		if !w.inline && w.hasValue && w.flag == "filename" {
			i++
		}
	}
	return out, nil
}

// materialize copies a session path (a file or a directory) to the call's host directory and
// returns the host path. A path that does not exist gets a host path that does not exist
// either, so kubectl reports it as it would, under the name typed.
func (c *call) materialize(typed string) (string, error) {
	if typed == "" {
		return typed, nil
	}
	if strings.HasPrefix(typed, "http://") || strings.HasPrefix(typed, "https://") {
		return "", refuse("this terminal has no network access beyond your cluster: cannot read %s", typed)
	}
	p := c.inv.Path(strings.Replace(typed, "~/", "/root/", 1))
	c.n++
	base := path.Base(p)
	if base == "/" {
		base = "root"
	}
	slot := filepath.Join(c.dir, fmt.Sprintf("f%d", c.n))
	if err := os.Mkdir(slot, 0o700); err != nil {
		return "", err
	}
	host := filepath.Join(slot, base)
	fi, err := c.inv.FS.Stat(p)
	switch {
	case err != nil:
		// kubectl will say the path does not exist.
	case fi.IsDir():
		if err := c.copyDir(p, host); err != nil {
			return "", err
		}
	default:
		if err := c.copyFile(p, host); err != nil {
			return "", err
		}
	}
	name := typed
	if err == nil && fi.IsDir() {
		name = strings.TrimSuffix(typed, "/")
		if name == "" {
			name = "/"
		}
	}
	c.names[host] = name
	return host, nil
}

func (c *call) copyFile(from, to string) error {
	data, err := c.inv.FS.ReadFile(from)
	if err != nil {
		return fmt.Errorf("kubesim: %s: %s", from, memfs.Strerror(err))
	}
	c.copied += int64(len(data))
	c.files++
	if c.copied > maxCopyBytes || c.files > maxCopyFiles {
		return refuse("the files given to kubectl are larger than %d MiB or more than %d files", maxCopyBytes>>20, maxCopyFiles)
	}
	return os.WriteFile(to, data, 0o600)
}

func (c *call) copyDir(from, to string) error {
	if err := os.Mkdir(to, 0o700); err != nil {
		return err
	}
	ents, err := c.inv.FS.ReadDir(from)
	if err != nil {
		return fmt.Errorf("kubesim: %s: %s", from, memfs.Strerror(err))
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), "/") || e.Name() == ".." || e.Name() == "." {
			continue
		}
		src, dst := path.Join(from, e.Name()), filepath.Join(to, e.Name())
		if e.IsDir() {
			err = c.copyDir(src, dst)
		} else if e.Type()&fs.ModeType == 0 || e.Type()&fs.ModeSymlink != 0 {
			err = c.copyFile(src, dst)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// prepareKubeconfig copies the kubeconfig kubectl is to use ($KUBECONFIG or ~/.kube/config,
// unless --kubeconfig named one) to the host, and refuses settings that would run host
// programs or read host files.
func (c *call) prepareKubeconfig(args []string) error {
	if c.kcHost == "" {
		p := "/root/.kube/config"
		if env := c.inv.Getenv("KUBECONFIG"); env != "" {
			p, _, _ = strings.Cut(env, ":")
		}
		c.kcPath = c.inv.Path(p)
		c.kcHost = filepath.Join(c.dir, "config")
		data, err := c.inv.FS.ReadFile(c.kcPath)
		if err != nil {
			// No kubeconfig: kubectl falls back to http://localhost:8080, as it would.
			data = []byte{}
		}
		if err := os.WriteFile(c.kcHost, data, 0o600); err != nil {
			return err
		}
		c.kcBefore = data
		c.names[c.kcHost] = p
	} else if data, err := os.ReadFile(c.kcHost); err == nil {
		c.kcBefore = data
	}
	if words, pos := scan(args); len(pos) > 0 && pos[0] == "config" {
		_ = words
		return nil // config subcommands only read and write the file
	}
	cfg, err := clientcmd.LoadFromFile(c.kcHost)
	if err != nil {
		return nil // kubectl reports it
	}
	for name, a := range cfg.AuthInfos {
		switch {
		case a.Exec != nil:
			return refuse("%s: user %q uses a credential plugin (exec), which would run a program on the host; it is not available in this terminal", c.names[c.kcHost], name)
		case a.AuthProvider != nil:
			return refuse("%s: user %q uses an auth-provider, which is not available in this terminal", c.names[c.kcHost], name)
		case a.ClientCertificate != "" || a.ClientKey != "" || a.TokenFile != "":
			return refuse("%s: user %q refers to files (client-certificate, client-key or tokenFile); in this terminal use the inline -data fields or token", c.names[c.kcHost], name)
		}
	}
	for name, cl := range cfg.Clusters {
		if cl.CertificateAuthority != "" {
			return refuse("%s: cluster %q refers to a file (certificate-authority); in this terminal use certificate-authority-data", c.names[c.kcHost], name)
		}
	}
	return nil
}

// writeBackKubeconfig copies a kubeconfig that kubectl changed (kubectl config ...) back to the
// session.
func (c *call) writeBackKubeconfig() {
	if c.kcPath == "" {
		return
	}
	data, err := os.ReadFile(c.kcHost)
	if err != nil || bytes.Equal(data, c.kcBefore) {
		return
	}
	_ = c.inv.FS.MkdirAll(path.Dir(c.kcPath), 0o755)
	_ = c.inv.FS.WriteFile(c.kcPath, data, 0o600)
}

// transport reaches the session's cluster in-process. A request for any other host fails as an
// unreachable host would, so a kubeconfig pointed elsewhere behaves as it would on a machine
// that can only reach its own cluster.
// transport carries one kubectl call's requests to the session's cluster only. When ctx ends
// (Ctrl-C), it closes the responses still open: kubectl get -w and logs -f wait on their streams
// with contexts of their own that only a signal to the process would end, and the call runs in
// the server's process.
func (s *Session) transport(ctx context.Context, sniff func([]byte)) http.RoundTripper {
	u, _ := url.Parse(s.cfg.Server)
	return &sessionTransport{ctx: ctx, base: s.cfg.Transport, host: u.Host, sniff: sniff}
}

type sessionTransport struct {
	ctx   context.Context
	base  http.RoundTripper
	host  string
	sniff func([]byte)
}

func (t *sessionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.host {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &refusedDial{&net.OpError{Op: "dial", Net: "tcp", Addr: hostAddrOf(req.URL), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if t.sniff != nil {
		resp.Body = &sniffBody{ReadCloser: resp.Body, sniff: t.sniff}
	}
	resp.Body = closeOnDone(t.ctx, resp.Body)
	return resp, nil
}

// closeOnDone closes body when ctx ends, unless it was closed before.
func closeOnDone(ctx context.Context, body io.ReadCloser) io.ReadCloser {
	b := &ctxBody{ReadCloser: body}
	b.stop = context.AfterFunc(ctx, func() { b.ReadCloser.Close() })
	return b
}

type ctxBody struct {
	io.ReadCloser
	stop func() bool
}

func (b *ctxBody) Close() error {
	b.stop()
	return b.ReadCloser.Close()
}

// refusedDial is the error of a request for another host. kubectl sees a refused connection
// (and says "The connection to the server ... was refused"); the process's error log does not
// record it, since it is the learner's, not the server's.
type refusedDial struct{ *net.OpError }

func (e *refusedDial) Unwrap() error { return e.OpError }

func init() {
	// client-go's discovery reports failed requests through the process-wide error handlers,
	// which log to the host's stderr: leave out those of learners' kubectl calls.
	logError := utilruntime.ErrorHandlers[0]
	utilruntime.ErrorHandlers[0] = func(ctx context.Context, err error, msg string, kv ...any) {
		var rd *refusedDial
		if errors.As(err, &rd) {
			return
		}
		logError(ctx, err, msg, kv...)
	}
}

// hostAddrT is the address a dial to u would use.
type hostAddrT struct{ u *url.URL }

func (h hostAddrT) Network() string { return "tcp" }

func (h hostAddrT) String() string {
	host := h.u.Host
	if h.u.Port() == "" {
		if h.u.Scheme == "http" {
			host += ":80"
		} else {
			host += ":443"
		}
	}
	return host
}

func hostAddrOf(u *url.URL) net.Addr { return hostAddrT{u} }

// sniffBody shows a response to the edit broker as kubectl reads it.
type sniffBody struct {
	io.ReadCloser
	sniff func([]byte)
}

func (b *sniffBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.sniff(p[:n])
	}
	return n, err
}

var uidPattern = regexp.MustCompile(`"uid":"([0-9a-f-]{36})"`)

// uidSet collects object UIDs seen in responses.
type uidSet struct {
	mu   sync.Mutex
	tail []byte
	uids map[string]bool
}

func (u *uidSet) add(p []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	data := append(u.tail, p...)
	for _, m := range uidPattern.FindAllSubmatch(data, -1) {
		if u.uids == nil {
			u.uids = map[string]bool{}
		}
		u.uids[string(m[1])] = true
	}
	if len(data) > 64 {
		data = data[len(data)-64:]
	}
	u.tail = append([]byte(nil), data...)
}

func (u *uidSet) has(uid string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uids[uid]
}
