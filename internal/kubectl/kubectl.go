// Package kubectl runs the genuine kubectl (k8s.io/kubectl) inside the kubesim process.
//
// Each call builds a fresh command tree with its own streams and configuration, so calls from
// different terminals never share state. kubectl's fatal errors, which would end the process,
// come back as the call's exit status with the message on the call's own error stream.
package kubectl

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"

	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// Invocation is one kubectl command line.
type Invocation struct {
	// Args are the arguments after "kubectl".
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Kubeconfig is the kubeconfig file to use unless Args name one.
	Kubeconfig string
	// CacheDir holds kubectl's discovery and HTTP cache; empty means kubectl's default.
	CacheDir string
	// Transport, when set, carries every request (e.g. in-process to a kubesim cluster).
	Transport http.RoundTripper
}

// exit is how a fatal kubectl error travels back to Run.
type exit struct {
	msg  string
	code int
}

var setup sync.Once

// stdinMu guards the process's os.Stdin, which kubectl reads for "-f -" whatever its IOStreams
// say: a call with a stdin of its own swaps it in for the duration of the call.
var stdinMu sync.Mutex

// readsStdin reports whether a command line reads manifests from standard input.
func readsStdin(args []string) bool {
	for i, a := range args {
		switch {
		case a == "-f=-" || a == "--filename=-":
			return true
		case (a == "-f" || a == "--filename") && i+1 < len(args) && args[i+1] == "-":
			return true
		}
	}
	return false
}

// withStdin runs f with os.Stdin reading from r.
func withStdin(r io.Reader, f func()) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	stdinMu.Lock()
	defer stdinMu.Unlock()
	old := os.Stdin
	os.Stdin = pr
	defer func() {
		os.Stdin = old
		pr.Close()
	}()
	go func() {
		_, _ = io.Copy(pw, r)
		pw.Close()
	}()
	f()
	return nil
}

// Run runs kubectl and returns its exit status.
func Run(ctx context.Context, inv Invocation) (code int) {
	setup.Do(func() {
		// kubectl's own configuration file is the host user's: never read it.
		os.Setenv("KUBECTL_KUBERC", "false")
		cmdutil.BehaviorOnFatal(func(msg string, code int) { panic(exit{msg: msg, code: code}) })
	})
	streams := genericiooptions.IOStreams{In: inv.Stdin, Out: inv.Stdout, ErrOut: inv.Stderr}
	if streams.In == nil {
		streams.In = strings.NewReader("")
	}
	flags := genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
		WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams)
	if inv.Kubeconfig != "" {
		flags.KubeConfig = &inv.Kubeconfig
	}
	if inv.CacheDir != "" {
		flags.CacheDir = &inv.CacheDir
	}
	warnings := rest.NewWarningWriter(inv.Stderr, rest.WarningWriterOptions{Deduplicate: true})
	flags = flags.WithWrapConfigFn(func(c *rest.Config) *rest.Config {
		// warnings go to this call's error stream, not to a process-wide handler
		c.WarningHandler = warnings
		if inv.Transport != nil {
			c.Transport = inv.Transport
			c.TLSClientConfig = rest.TLSClientConfig{}
		}
		return c
	})
	root := cmd.NewKubectlCommand(cmd.KubectlOptions{
		Arguments:   append([]string{"kubectl"}, inv.Args...),
		ConfigFlags: flags,
		IOStreams:   streams,
	})
	root.SetArgs(inv.Args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exit)
			if !ok {
				panic(r)
			}
			if e.msg != "" {
				msg := e.msg
				if !strings.HasSuffix(msg, "\n") {
					msg += "\n"
				}
				fmt.Fprint(inv.Stderr, msg)
			}
			code = e.code
		}
	}()
	root.SetContext(ctx)
	run := func() {
		// What kubectl's main does: run, then print any error as kubectl prints it.
		if err := cli.RunNoErrOutput(root); err != nil {
			cmdutil.CheckErr(err)
		}
	}
	if inv.Stdin != nil && inv.Stdin != os.Stdin && readsStdin(inv.Args) {
		if err := withStdin(inv.Stdin, run); err != nil {
			fmt.Fprintf(inv.Stderr, "error: %v\n", err)
			return 1
		}
		return 0
	}
	run()
	return 0
}
