package session

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// kubectl edit launches $KUBE_EDITOR as a host process on a temporary file, with the host's
// stdio. The broker makes that process a shim: KUBE_EDITOR is set once, process-wide, to this
// executable, which (seeing shimEnv) connects back over a unix socket in a private directory,
// names the file and waits. The broker finds the kubectl call the file belongs to (the object
// UIDs in the file were in that call's responses; with one edit in flight, it is that one),
// copies the file into the session's /tmp, opens the terminal's own editor on it, copies the
// result back and lets the shim exit with the editor's status.

const shimEnv = "KUBESIM_EDITOR_SOCKET"

func init() {
	// The shim: this executable started by kubectl as its editor.
	if sock := os.Getenv(shimEnv); sock != "" && len(os.Args) == 2 && strings.HasPrefix(filepath.Base(os.Args[1]), "kubectl-edit-") {
		os.Exit(runShim(sock, os.Args[1]))
	}
}

type shimRequest struct {
	Path string `json:"path"`
}

type shimResponse struct {
	Code int `json:"code"`
}

// runShim hands the file to the broker and returns the editor's exit status.
func runShim(sock, file string) int {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return 1
	}
	defer conn.Close()
	abs, err := filepath.Abs(file)
	if err != nil {
		return 1
	}
	if err := json.NewEncoder(conn).Encode(shimRequest{Path: abs}); err != nil {
		return 1
	}
	var resp shimResponse
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		return 1
	}
	return resp.Code
}

var broker editBroker

type editBroker struct {
	once sync.Once
	err  error
	exe  string
	mu   sync.Mutex
	live map[*editCall]bool
}

// editCall is a kubectl call that may start an editor.
type editCall struct {
	c           *call
	ctx         context.Context
	out, errOut *rewriter
	uids        uidSet
	mu          sync.Mutex
	files       map[string]string // host temporary file → its copy in the session
}

func (e *editCall) sniff(p []byte) { e.uids.add(p) }

// start sets KUBE_EDITOR for the process and listens for shims.
func (b *editBroker) start() {
	exe, err := os.Executable()
	if err != nil {
		b.err = err
		return
	}
	dir, err := os.MkdirTemp("", "kubesim-editor-")
	if err != nil {
		b.err = err
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		b.err = err
		return
	}
	sock := filepath.Join(dir, "broker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.err = err
		return
	}
	b.exe = exe
	b.live = map[*editCall]bool{}
	os.Setenv("KUBE_EDITOR", exe)
	os.Setenv(shimEnv, sock)
	// kubectl names its temporary file after the program: kubectl-edit-*.yaml, as learners
	// know it, not after this executable.
	os.Args[0] = "kubectl"
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(conn)
		}
	}()
}

func (b *editBroker) register(c *call, ctx context.Context, out, errOut *rewriter) (*editCall, error) {
	b.once.Do(b.start)
	if b.err != nil {
		return nil, fmt.Errorf("kubesim: the editor is not available: %v", b.err)
	}
	ec := &editCall{c: c, ctx: ctx, out: out, errOut: errOut, files: map[string]string{}}
	editor := editorOf(c)
	out.add(b.exe, editor)
	errOut.add(b.exe, editor)
	b.mu.Lock()
	b.live[ec] = true
	b.mu.Unlock()
	return ec, nil
}

// unregister ends an edit call: temporary files kubectl removed are removed from the session
// too; those it kept ("A copy of your changes has been stored to ...") stay, with their final
// content, and leave the host.
func (b *editBroker) unregister(ec *editCall) {
	b.mu.Lock()
	delete(b.live, ec)
	b.mu.Unlock()
	ec.mu.Lock()
	defer ec.mu.Unlock()
	fsys := ec.c.inv.FS
	for host, sess := range ec.files {
		data, err := os.ReadFile(host)
		if err != nil {
			_ = fsys.Remove(sess)
			continue
		}
		_ = fsys.WriteFile(sess, data, 0o600)
		os.Remove(host)
	}
}

func editorOf(c *call) string {
	for _, v := range []string{"KUBE_EDITOR", "EDITOR"} {
		if e := c.inv.Getenv(v); e != "" {
			return e
		}
	}
	return "vi"
}

var fileUID = regexp.MustCompile(`"?uid"?:\s*"?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

// match finds the edit call a temporary file belongs to.
func (b *editBroker) match(path string) *editCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.live) == 1 {
		for ec := range b.live {
			return ec
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	for _, m := range fileUID.FindAllSubmatch(data, -1) {
		for ec := range b.live {
			if ec.uids.has(string(m[1])) {
				return ec
			}
		}
	}
	return nil
}

func (b *editBroker) serve(conn net.Conn) {
	defer conn.Close()
	var req shimRequest
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
		return
	}
	code := 1
	if ec := b.match(req.Path); ec != nil {
		code = ec.edit(req.Path)
	}
	_ = json.NewEncoder(conn).Encode(shimResponse{Code: code})
}

// edit opens the terminal's editor on a copy of the host file in the session's /tmp.
func (ec *editCall) edit(host string) int {
	inv := ec.c.inv
	sess := "/tmp/" + filepath.Base(host)
	data, err := os.ReadFile(host)
	if err != nil {
		return 1
	}
	if err := inv.FS.WriteFile(sess, data, 0o600); err != nil {
		fmt.Fprintf(ec.errOut, "kubesim: %s: %v\n", sess, err)
		return 1
	}
	ec.mu.Lock()
	ec.files[host] = sess
	ec.mu.Unlock()
	ec.out.add(host, sess)
	ec.errOut.add(host, sess)
	if err := inv.Edit(ec.ctx, editorOf(ec.c), sess); err != nil {
		fmt.Fprintf(ec.errOut, "kubesim: %v\n", err)
		return 1
	}
	edited, err := inv.FS.ReadFile(sess)
	if err != nil {
		return 1
	}
	if err := os.WriteFile(host, edited, 0o600); err != nil {
		return 1
	}
	return 0
}
