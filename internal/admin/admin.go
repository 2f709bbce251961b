// Package admin is kubesim's own control of a running cluster, beyond the Kubernetes API: the
// simulated registries (push a new build, list tags, create a private registry, take one down),
// the nodes' container runtimes (crictl's view, preload or remove an image) and the clock
// (fast-forward). `kubesim registry|node|clock …` send their arguments to a running
// `kubesim serve`, which runs them here against its cluster.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kubesim.dev/kubesim/internal/cluster"
	"kubesim.dev/kubesim/internal/registry"
	"kubesim.dev/kubesim/internal/runtime"
)

// Request is what the CLI sends: the command line after "kubesim".
type Request struct {
	Args []string `json:"args"`
}

// Response is what the command printed and its exit status.
type Response struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

// Path is where a cluster serves its admin commands (behind its bearer token).
const Path = "/kubesim/v1/exec"

// Handler serves admin commands for c.
func Handler(c *cluster.Cluster) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != Path || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var req Request
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		var out, errOut strings.Builder
		code := Run(r.Context(), c, req.Args, &out, &errOut)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Response{Stdout: out.String(), Stderr: errOut.String(), Code: code})
	})
}

// Run runs one admin command line against c.
func Run(ctx context.Context, c *cluster.Cluster, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "kubesim", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(registryCommand(c), nodeCommand(ctx, c), clockCommand(c))
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	if err := root.Execute(); err != nil {
		if e, ok := err.(exitError); ok {
			return int(e)
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	return 0
}

// exitError ends a command with a status whose message was already printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Commands lists the top-level admin commands with their one-line help, for the CLI's stubs.
var Commands = map[string]string{
	"registry": "Push builds to the simulated image registries, list their tags, create private ones",
	"node":     "Inspect and change a node's container runtime (crictl's view); stop and start its kubelet",
	"clock":    "Show or fast-forward the cluster's clock",
}

// group is a command that only holds subcommands: an unknown one is an error.
func group(name string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: Commands[name],
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
}

func registryCommand(c *cluster.Cluster) *cobra.Command {
	cmd := group("registry")
	push := &cobra.Command{
		Use:   "push REPO:TAG",
		Short: "Publish a new build of REPO:TAG: the tag moves to it, the old digest stays pullable",
		Example: `  # A new build of my-app:1.0 (the tag moves)
  kubesim registry push my-app:1.0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			before, _ := c.World.List(args[0])
			info, err := c.World.Push(args[0])
			if err != nil {
				return err
			}
			was := ""
			for _, t := range before {
				if t.Repo == info.Repo && t.Tag == info.Tag {
					was = fmt.Sprintf(" (was %s)", t.Digest)
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s:%s: digest: %s size: %d%s\n", info.Repo, info.Tag, info.Digest, info.Size, was)
			return nil
		},
	}
	ls := &cobra.Command{
		Use:   "ls [REPO]",
		Short: "List repositories with their tags and digests",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo := ""
			if len(args) == 1 {
				repo = args[0]
			}
			tags, err := c.World.List(repo)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tSIZE\tPRIVATE")
			for _, t := range tags {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", t.Repo, t.Tag, t.Digest, runtime.HumanSize(t.Size), t.Private)
			}
			return tw.Flush()
		},
	}
	var user, password string
	var token bool
	create := &cobra.Command{
		Use:   "create HOST",
		Short: "Create a registry at HOST; with --user and --password it requires those credentials",
		Example: `  # A private registry that requires credentials
  kubesim registry create registry.example.com --user alice --password s3cret`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []registry.RegistryOption
			if token {
				opts = append(opts, registry.WithTokenAuth())
			}
			if err := c.World.CreateRegistry(args[0], user, password, opts...); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registry %s created\n", args[0])
			return nil
		},
	}
	create.Flags().StringVar(&user, "user", "", "user name the registry requires")
	create.Flags().StringVar(&password, "password", "", "password the registry requires")
	create.Flags().BoolVar(&token, "token-auth", false, "authenticate with the bearer token flow (as Docker Hub does) instead of basic auth")
	private := &cobra.Command{
		Use:   "private REPO --user U --password P",
		Short: "Make a repository require credentials",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.World.SetPrivate(args[0], user, password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "repository %s is now private\n", args[0])
			return nil
		},
	}
	private.Flags().StringVar(&user, "user", "", "user name the repository requires")
	private.Flags().StringVar(&password, "password", "", "password the repository requires")
	down := &cobra.Command{
		Use:   "down HOST",
		Short: "Take a registry down: connections to it are refused",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.World.SetDown(args[0], true); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registry %s is down\n", args[0])
			return nil
		},
	}
	up := &cobra.Command{
		Use:   "up HOST",
		Short: "Bring a registry back up",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.World.SetDown(args[0], false); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registry %s is up\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(push, ls, create, private, down, up)
	return cmd
}

func nodeCommand(ctx context.Context, c *cluster.Cluster) *cobra.Command {
	cmd := group("node")
	crictl := func(use, short string, verb string, minArgs int) *cobra.Command {
		return &cobra.Command{
			Use:                use,
			Short:              short,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				if len(args) < minArgs || args[0] == "--help" || args[0] == "-h" {
					return cmd.Help()
				}
				rt := c.Runtime(args[0])
				if rt == nil {
					return fmt.Errorf("node %q not found (nodes: %s)", args[0], strings.Join(c.Nodes(), ", "))
				}
				if code := rt.Crictl(ctx, append([]string{verb}, args[1:]...), cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
					return exitError(code)
				}
				return nil
			},
		}
	}
	load := &cobra.Command{
		Use:   "load NODE IMAGE",
		Short: "Preload IMAGE on NODE, as an air-gapped node would have it (not pulled by the kubelet)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			rt := c.Runtime(args[0])
			if rt == nil {
				return fmt.Errorf("node %q not found (nodes: %s)", args[0], strings.Join(c.Nodes(), ", "))
			}
			img, err := rt.Load(args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "loaded %s on %s (%s)\n", args[1], args[0], img.ID)
			return nil
		},
	}
	stop := &cobra.Command{
		Use:   "stop NODE",
		Short: "Stop NODE's kubelet (systemctl stop kubelet): the node goes NotReady and its pods are evicted",
		Example: `  # The node stops reporting: NotReady after 50 s, pods evicted 5 minutes later
  kubesim node stop node01`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.StopNode(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kubelet on %s stopped\n", args[0])
			return nil
		},
	}
	start := &cobra.Command{
		Use:   "start NODE",
		Short: "Start NODE's kubelet again (systemctl start kubelet)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.StartNode(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "kubelet on %s started\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(
		crictl("images NODE [--digests] [--pinned] [-q]", "List NODE's images, as crictl images does", "images", 1),
		crictl("rmi NODE IMAGE...", "Remove images from NODE, as crictl rmi does", "rmi", 2),
		crictl("inspecti NODE IMAGE", "Show an image of NODE, as crictl inspecti does", "inspecti", 2),
		crictl("ps NODE [-a]", "List NODE's containers, as crictl ps does", "ps", 1),
		crictl("pods NODE", "List NODE's pod sandboxes, as crictl pods does", "pods", 1),
		crictl("pull NODE IMAGE", "Pull an image on NODE, as crictl pull does", "pull", 2),
		load, stop, start,
	)
	return cmd
}

func clockCommand(c *cluster.Cluster) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clock",
		Short: Commands["clock"],
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), c.Clock.Now().UTC().Format(time.RFC3339))
			return nil
		},
	}
	advance := &cobra.Command{
		Use:   "advance DURATION",
		Short: "Fast-forward: everything due within DURATION happens, and the world ages by it",
		Example: `  # A week later
  kubesim clock advance 168h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[0])
			if err != nil || d <= 0 {
				return fmt.Errorf("invalid duration %q: use a positive Go duration such as 90s, 10m or 168h", args[0])
			}
			start := time.Now()
			c.Clock.Advance(d)
			fmt.Fprintf(cmd.OutOrStdout(), "advanced the clock by %v (took %v)\n", d, time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.AddCommand(advance)
	return cmd
}
