package session

import (
	"fmt"
	"strings"
)

// The kubectl flags this terminal has to look at: those that read or write host files, reach
// other hosts, or change process-wide state. Everything else passes through untouched.

// fileFlags name the flags whose value is a path (or a list of paths) on the session's file
// system. The value says how the value is written: a comma-separated list, an optional
// "key=" before the path, or a single path.
type valueKind int

const (
	pathSingle    valueKind = iota // one path
	pathList                       // comma-separated paths (pflag StringSlice)
	pathKeyedList                  // comma-separated [key=]path (--from-file)
)

var fileFlags = map[string]valueKind{
	"filename":      pathList,
	"kustomize":     pathSingle,
	"from-file":     pathKeyedList,
	"from-env-file": pathList,
	"patch-file":    pathSingle,
	"cert":          pathSingle,
	"key":           pathSingle,
	"kubeconfig":    pathSingle,
}

// configFileFlags read files only as arguments of `kubectl config set-cluster|set-credentials`
// (with --embed-certs); elsewhere they are global flags that would point the client at host
// files, which the terminal refuses.
var configFileFlags = map[string]bool{
	"certificate-authority": true,
	"client-certificate":    true,
	"client-key":            true,
}

// shortValue lists the short flags of kubectl that take a value; a cluster such as -Rf stops at
// the first of them and the rest of the word (or the next word) is its value.
var shortValue = map[byte]string{
	'f': "filename", 'k': "kustomize", 'n': "namespace", 'l': "selector", 'o': "output",
	'c': "container", 's': "server", 'p': "patch", 'L': "label-columns", 'e': "env", 'v': "v",
}

// longValue lists the long flags that take a value, so that "--flag value" keeps its value
// with it while the arguments are scanned. Flags not listed are taken as booleans unless
// written --flag=value; a value-taking flag missing here could only make a following word be
// read as an argument, which the refusals below do not depend on.
var longValue = map[string]bool{
	"namespace": true, "selector": true, "output": true, "container": true, "server": true,
	"context": true, "cluster": true, "user": true, "token": true, "as": true, "as-group": true,
	"as-uid": true, "request-timeout": true, "field-selector": true, "sort-by": true,
	"template": true, "image": true, "type": true, "patch": true, "env": true, "port": true,
	"replicas": true, "labels": true, "overrides": true, "restart": true, "image-pull-policy": true,
	"timeout": true, "for": true, "grace-period": true, "cascade": true, "dry-run": true,
	"field-manager": true, "label-columns": true, "show-managed-fields": false, "chunk-size": true,
	"subresource": true, "raw": true, "from-literal": true, "tls-server-name": true, "username": true,
	"password": true, "vmodule": true, "v": true, "cache-dir": true, "profile": true,
	"profile-output": true, "kuberc": true, "output-directory": true, "warnings-as-errors": false,
	"all-containers": false, "pod-running-timeout": true, "since": true, "tail": true,
	"validate": true, "selector-columns": true, "resource-version": true, "api-group": true,
	"max-unavailable": true, "to-revision": true, "revision": true, "attach": false,
	"filename": true, "kustomize": true, "from-file": true, "from-env-file": true, "patch-file": true,
	"cert": true, "key": true, "kubeconfig": true, "certificate-authority": true,
	"client-certificate": true, "client-key": true, "docker-server": true, "docker-username": true,
	"docker-password": true, "docker-email": true, "schedule": true, "serviceaccount": true,
	"clusterrole": true, "role": true, "verb": true, "resource": true, "resource-name": true,
	"group": true, "tcp": true, "target-port": true, "protocol": true, "name": true,
	"external-ip": true, "generator": true, "hostport": true, "limits": true, "requests": true,
	"min": true, "max": true, "cpu-percent": true, "current-replicas": true, "containers": true,
	"local-ssd": false, "copy-to": true, "share-processes": false, "target": true, "profile-name": true,
	"custom": true, "duration": true, "audience": true, "bound-object-kind": true,
	"bound-object-name": true, "bound-object-uid": true, "set-raw-bytes": false,
}

// arg is one word of the command line with what the scan found out about it.
type arg struct {
	text string
	flag string // long name of the flag this word is (or starts), "" for a positional word
	// value is the flag's value and where it sits: in this word after "=" or after a short
	// letter (inline), or in the next word.
	value     string
	hasValue  bool
	inline    bool
	valueWord int // index of the word holding the value when !inline
	prefix    string
	shorts    string // boolean short flags of a cluster such as -it
}

// scan parses kubectl's command line into flags and positional words.
func scan(args []string) (words []arg, positional []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			for _, r := range args[i:] {
				words = append(words, arg{text: r})
			}
			positional = append(positional, args[i+1:]...)
			return words, positional
		case strings.HasPrefix(a, "--"):
			name, val, eq := strings.Cut(a[2:], "=")
			w := arg{text: a, flag: name}
			switch {
			case eq:
				w.value, w.hasValue, w.inline, w.prefix = val, true, true, "--"+name+"="
			case longValue[name] && i+1 < len(args):
				w.value, w.hasValue, w.valueWord = args[i+1], true, i+1
			}
			words = append(words, w)
			if w.hasValue && !w.inline {
				words = append(words, arg{text: args[i+1]})
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			w := arg{text: a}
			for j := 1; j < len(a); j++ {
				long, ok := shortValue[a[j]]
				if !ok {
					w.shorts += string(a[j]) // a boolean short flag
					continue
				}
				w.flag = long
				rest := a[j+1:]
				switch {
				case rest != "":
					w.prefix = a[:j+1]
					if strings.HasPrefix(rest, "=") {
						w.prefix += "="
						rest = rest[1:]
					}
					w.value, w.hasValue, w.inline = rest, true, true
				case i+1 < len(args):
					w.value, w.hasValue, w.valueWord = args[i+1], true, i+1
				}
				break
			}
			words = append(words, w)
			if w.hasValue && !w.inline {
				words = append(words, arg{text: args[i+1]})
				i++
			}
		default:
			words = append(words, arg{text: a})
			positional = append(positional, a)
		}
	}
	return words, positional
}

// refusal is a command line this terminal does not run, with the reason shown to the learner.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func refuse(format string, a ...any) *refusal {
	return &refusal{msg: "kubesim: " + fmt.Sprintf(format, a...)}
}

// refused checks a kubectl command line against what the terminal allows: kubectl may only talk
// to the session's own cluster, through the session's files, and may not start processes, open
// ports or touch host files.
func refused(args []string, server string) *refusal {
	words, pos := scan(args)
	sub := ""
	if len(pos) > 0 {
		sub = pos[0]
	}
	for _, w := range words {
		if sub == "config" {
			// kubectl config set-cluster --server, set-credentials --token ... only edit the
			// kubeconfig; requests go to the cluster whatever it says.
			switch w.flag {
			case "server", "token", "username", "password", "certificate-authority", "client-certificate", "client-key":
				continue
			}
		}
		switch w.flag {
		case "server", "s":
			if w.hasValue && strings.TrimSuffix(w.value, "/") == server {
				continue
			}
			return refuse("kubectl in this terminal talks only to your cluster (%s): --server cannot point elsewhere", server)
		case "token":
			return refuse("kubectl in this terminal authenticates with the credentials of ~/.kube/config: --token is not available")
		case "username", "password":
			return refuse("kubectl in this terminal authenticates with the credentials of ~/.kube/config: --%s is not available", w.flag)
		case "certificate-authority", "client-certificate", "client-key":
			if sub == "config" {
				continue
			}
			return refuse("kubectl in this terminal talks only to your cluster: --%s is not available (the TLS settings come from ~/.kube/config)", w.flag)
		case "profile", "profile-output":
			return refuse("kubectl's profiling (--%s) writes files on the host and is not available in this terminal", w.flag)
		case "cache-dir":
			return refuse("--cache-dir is not available in this terminal (kubectl keeps its cache in the session)")
		case "kuberc":
			return refuse("--kuberc is not available in this terminal (kubectl preferences are not read)")
		case "output-directory":
			if w.value != "" && w.value != "-" {
				return refuse("cluster-info dump --output-directory writes on the host and is not available in this terminal; it prints to stdout without it")
			}
		}
		if kind, ok := fileFlags[w.flag]; ok && w.hasValue && kind != pathKeyedList {
			for _, p := range strings.Split(w.value, ",") {
				if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
					return refuse("this terminal has no network access beyond your cluster: cannot read %s", p)
				}
			}
		}
	}
	switch sub {
	case "proxy":
		return refuse("kubectl proxy would listen on a port of the host; it is not available in this terminal. Use kubectl get --raw PATH to call the API directly")
	case "port-forward":
		return refuse("kubectl port-forward would listen on a port of the host, and containers are simulated: it is not available in this terminal")
	case "cp":
		return refuse("kubectl cp needs a running container, and containers are simulated: it is not available in this terminal")
	case "exec", "attach":
		return refuse("kubectl %s needs a running container, and containers are simulated in this cluster: it is not available in this terminal", sub)
	case "plugin":
		return refuse("kubectl plugins run programs on the host and are not available in this terminal")
	case "diff":
		return refuse("kubectl diff runs the host's diff program and is not available in this terminal; compare with kubectl get -o yaml and diff instead")
	case "run", "debug":
		for _, w := range words {
			switch w.flag {
			case "stdin", "tty", "i", "t":
				return refuse("kubectl %s -i/-t attaches to a container, and containers are simulated: run it without -i, -t and --attach", sub)
			case "attach":
				if !w.hasValue || w.value != "false" {
					return refuse("kubectl %s --attach attaches to a container, and containers are simulated: run it without -i, -t and --attach", sub)
				}
			}
			if strings.ContainsAny(w.shorts, "it") {
				return refuse("kubectl %s -i/-t attaches to a container, and containers are simulated: run it without -i, -t and --attach", sub)
			}
		}
	}
	return nil
}

// stripVerbosity takes -v/--v and --vmodule out of the command line: they would set the log
// levels of the whole host process, whose logs go to the host's stderr.
func stripVerbosity(args []string) (out []string, stripped bool) {
	words, _ := scan(args)
	skip := false
	for _, w := range words {
		if skip {
			skip = false
			continue
		}
		if w.flag == "v" || w.flag == "vmodule" {
			stripped = true
			skip = w.hasValue && !w.inline
			continue
		}
		out = append(out, w.text)
	}
	return out, stripped
}
