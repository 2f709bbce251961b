package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"kubesim.dev/kubesim/internal/admin"
)

// adminCommands are the commands that act on a running `kubesim serve` beyond the Kubernetes API:
// their arguments go to the server, which runs them against its cluster (internal/admin).
func adminCommands() []*cobra.Command {
	names := make([]string, 0, len(admin.Commands))
	for name := range admin.Commands {
		names = append(names, name)
	}
	sort.Strings(names)
	var cmds []*cobra.Command
	for _, name := range names {
		name := name
		cmds = append(cmds, &cobra.Command{
			Use:                name,
			Short:              admin.Commands[name],
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				code, err := runAdmin(append([]string{name}, args...), cmd.OutOrStdout(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				if code != 0 {
					os.Exit(code)
				}
				return nil
			},
		})
	}
	return cmds
}

// runAdmin sends a command line to the running server named by the kubeconfig.
func runAdmin(args []string, stdout, stderr io.Writer) (int, error) {
	cfg, err := adminConfig()
	if err != nil {
		return 1, err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return 1, err
	}
	body, _ := json.Marshal(admin.Request{Args: args})
	resp, err := client.Post(cfg.Host+admin.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 1, fmt.Errorf("cannot reach kubesim at %s: %w (is `kubesim serve` running?)", cfg.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return 1, fmt.Errorf("kubesim at %s answered %s: %s", cfg.Host, resp.Status, bytes.TrimSpace(msg))
	}
	var out admin.Response
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 1, err
	}
	fmt.Fprint(stdout, out.Stdout)
	fmt.Fprint(stderr, out.Stderr)
	return out.Code, nil
}

// adminConfig reads the kubeconfig `kubesim serve` wrote (or $KUBECONFIG).
func adminConfig() (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if os.Getenv("KUBECONFIG") == "" {
		rules.ExplicitPath = filepath.Join(defaultDataDir(), "kubeconfig")
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}
