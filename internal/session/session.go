// Package session joins one learner's sandboxed shell (internal/terminal) to the learner's own
// cluster: it injects kubectl (the genuine embedded one, pointed only at that cluster, reading
// and writing only the session's files), ssh to the cluster's nodes, crictl on a node's
// simulated runtime, kubectl edit through the terminal's own editors, and tab completion.
package session

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"kubesim.dev/kubesim/internal/terminal"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Runtime is a node's container runtime as crictl sees it (*runtime.Runtime).
type Runtime interface {
	Crictl(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// Config describes the session's cluster and shell.
type Config struct {
	// ID names the session (used in host temporary directory names only).
	ID string
	// Transport carries kubectl's requests to the cluster in-process
	// (apiserver.Server.InProcessTransport).
	Transport http.RoundTripper
	// Token is the cluster administrator's bearer token, written into ~/.kube/config.
	Token string
	// Server is the API endpoint kubeconfig names (default https://172.30.1.2:6443, the control
	// plane's address).
	Server string
	// Nodes are the node names, control plane first; with their addresses for ssh.
	Nodes []Node
	// Runtime returns a node's runtime, or nil.
	Runtime func(node string) Runtime
	// Clock drives the shell's date, sleep and watch (nil: wall time).
	Clock    terminal.Clock
	Limits   terminal.Limits
	FSLimits memfs.Limits
	// TempDir is where the session's private host directory is made (default os.TempDir()).
	TempDir string
}

// Node is a node the learner can ssh to.
type Node struct {
	Name string
	IP   string
}

// Session is one learner's shell bound to their cluster.
type Session struct {
	cfg  Config
	Term *terminal.Session
	// dir is the session's private host directory (0700): kubectl's cache and the files each
	// kubectl call needs on the host.
	dir     string
	calls   atomic.Int64
	mu      sync.Mutex
	nodeFS  map[string]*memfs.FS
	closed  bool
	control string // the control plane's name
}

// DefaultServer is the API endpoint in the learner's kubeconfig.
const DefaultServer = "https://172.30.1.2:6443"

// New creates a session: a fresh shell with ~/.kube/config for the cluster.
func New(cfg Config) (*Session, error) {
	if cfg.Server == "" {
		cfg.Server = DefaultServer
	}
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []Node{{Name: "controlplane", IP: "172.30.1.2"}, {Name: "node01", IP: "172.30.2.2"}}
	}
	s := &Session{cfg: cfg, nodeFS: map[string]*memfs.FS{}, control: cfg.Nodes[0].Name}
	tmp := cfg.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	dir, err := os.MkdirTemp(tmp, "kubesim-session-")
	if err != nil {
		return nil, fmt.Errorf("making the session's directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.dir = dir
	term, err := terminal.New(terminal.Config{
		Host:       s.control,
		Commands:   s.commands(s.control, true),
		Completers: map[string]terminal.Completer{"kubectl": terminal.CompleterFunc(s.completeKubectl)},
		FSLimits:   cfg.FSLimits,
		Clock:      cfg.Clock,
		Limits:     cfg.Limits,
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.Term = term
	if err := term.FS().MkdirAll("/root/.kube", 0o755); err != nil {
		return nil, err
	}
	if err := term.FS().WriteFile("/root/.kube/config", []byte(s.kubeconfig()), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Close removes the session's host directory.
func (s *Session) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	os.RemoveAll(s.dir)
}

// kubeconfig is the learner's ~/.kube/config, as kubeadm's admin.conf names things.
func (s *Session) kubeconfig() string {
	return fmt.Sprintf(`apiVersion: v1
clusters:
- cluster:
    server: %s
  name: kubernetes
contexts:
- context:
    cluster: kubernetes
    user: kubernetes-admin
  name: kubernetes-admin@kubernetes
current-context: kubernetes-admin@kubernetes
kind: Config
preferences: {}
users:
- name: kubernetes-admin
  user:
    token: %s
`, s.cfg.Server, s.cfg.Token)
}

// commands are the injected programs of a host's shell.
func (s *Session) commands(host string, withKubectl bool) map[string]terminal.Command {
	cmds := map[string]terminal.Command{
		"ssh":    s.ssh,
		"crictl": s.crictl(host),
	}
	if withKubectl {
		cmds["kubectl"] = s.kubectl
	}
	return cmds
}

// crictl runs crictl against the node's runtime.
func (s *Session) crictl(host string) terminal.Command {
	return func(ctx context.Context, inv *terminal.Invocation) int {
		rt := s.cfg.Runtime(host)
		if rt == nil {
			fmt.Fprintf(inv.Stderr, "crictl: no container runtime on %s\n", host)
			return 1
		}
		if len(inv.Args) < 2 {
			fmt.Fprintln(inv.Stdout, "NAME:\n   crictl - client for CRI\n\nUSAGE:\n   crictl [global options] command [command options]\n\nCOMMANDS:\n   images     List images\n   inspecti   Return the status of one or more images\n   pods       List pods\n   ps         List containers\n   pull       Pull an image from a registry\n   rmi        Remove one or more images")
			return 0
		}
		return rt.Crictl(ctx, inv.Args[1:], inv.Stdout, inv.Stderr)
	}
}

// ssh opens a shell on another node of the cluster, or runs a command there.
func (s *Session) ssh(ctx context.Context, inv *terminal.Invocation) int {
	var target string
	var rest []string
	args := inv.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			// Options with a value: -p, -l, -i, -o, -F ...
			if len(a) == 2 && strings.ContainsAny(a[1:], "bcDEeFIiJLlmOopQRSWw") && i+1 < len(args) {
				i++
			}
			continue
		}
		target, rest = a, args[i+1:]
		break
	}
	if target == "" {
		fmt.Fprintln(inv.Stderr, "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n           [-J destination] [-L address] [-l login_name] [-m mac_spec]\n           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n           [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n           destination [command [argument ...]]")
		return 255
	}
	if i := strings.LastIndex(target, "@"); i >= 0 {
		target = target[i+1:]
	}
	host := ""
	for _, n := range s.cfg.Nodes {
		if target == n.Name || target == n.IP {
			host = n.Name
		}
	}
	if host == "" {
		if net.ParseIP(target) != nil {
			fmt.Fprintf(inv.Stderr, "ssh: connect to host %s port 22: Connection refused\n", target)
		} else {
			fmt.Fprintf(inv.Stderr, "ssh: Could not resolve hostname %s: Name or service not known\n", target)
		}
		return 255
	}
	opts := terminal.NestOptions{Host: host, FS: s.fsOf(host, inv.FS), Commands: s.commands(host, host == s.control)}
	if len(rest) > 0 {
		return inv.RunIn(ctx, opts, strings.Join(rest, " "))
	}
	return inv.Nest(ctx, opts)
}

// fsOf is a node's file system: the control plane's is the session's own.
func (s *Session) fsOf(host string, current *memfs.FS) *memfs.FS {
	if host == s.control {
		return s.Term.FS()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.nodeFS[host]
	if !ok {
		f = terminal.NewFS(s.cfg.FSLimits, host, s.Term.FS().Now)
		s.nodeFS[host] = f
	}
	return f
}

// hostDir is a new private directory for one kubectl call.
func (s *Session) callDir() (string, error) {
	d := filepath.Join(s.dir, fmt.Sprintf("call-%d", s.calls.Add(1)))
	if err := os.Mkdir(d, 0o700); err != nil {
		return "", err
	}
	return d, nil
}
