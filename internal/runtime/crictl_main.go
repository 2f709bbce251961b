package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Crictl runs a crictl command line (args without the leading "crictl") against the runtime, the
// way the browser terminal's `crictl` does after `ssh node01`. It returns the exit status.
// Supported: images, inspecti, rmi, pull, ps, pods.
func (r *Runtime) Crictl(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if err := r.crictl(ctx, args, stdout, stderr); err != nil {
		Fatal(stderr, err)
		return 1
	}
	return 0
}

// flagSet is a small parser for crictl's urfave/cli flags: --long, -s, combined -aq, --k=v, --k v.
type flagSet struct {
	bools   map[string]*bool
	strings map[string]*string
	aliases map[string]string
	args    []string
}

func newFlags() *flagSet {
	return &flagSet{bools: map[string]*bool{}, strings: map[string]*string{}, aliases: map[string]string{}}
}

func (f *flagSet) boolVar(p *bool, name string, aliases ...string) {
	f.bools[name] = p
	for _, a := range aliases {
		f.aliases[a] = name
	}
}

func (f *flagSet) stringVar(p *string, name string, aliases ...string) {
	f.strings[name] = p
	for _, a := range aliases {
		f.aliases[a] = name
	}
}

func (f *flagSet) lookup(name string) string {
	if n, ok := f.aliases[name]; ok {
		return n
	}
	return name
}

func (f *flagSet) parse(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			f.args = append(f.args, args[i+1:]...)
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			f.args = append(f.args, a)
			continue
		}
		names := []string{strings.TrimLeft(a, "-")}
		value, hasValue := "", false
		if n, v, ok := strings.Cut(names[0], "="); ok {
			names[0], value, hasValue = n, v, true
		}
		if !strings.HasPrefix(a, "--") && len(names[0]) > 1 && !hasValue {
			if _, isString := f.strings[f.lookup(names[0])]; !isString {
				names = strings.Split(names[0], "") // combined short flags
			}
		}
		for _, n := range names {
			name := f.lookup(n)
			switch {
			case f.bools[name] != nil:
				*f.bools[name] = !hasValue || value == "true"
			case f.strings[name] != nil:
				if !hasValue {
					if i+1 >= len(args) {
						return fmt.Errorf("flag needs an argument: %s", a)
					}
					i++
					value = args[i]
				}
				*f.strings[name] = value
			default:
				return fmt.Errorf("flag provided but not defined: -%s", n)
			}
		}
	}
	return nil
}

func (r *Runtime) crictl(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	f := newFlags()
	switch cmd {
	case "images", "image", "img":
		var o ImagesOptions
		f.boolVar(&o.Digests, "digests")
		f.boolVar(&o.Pinned, "pinned")
		f.boolVar(&o.Quiet, "quiet", "q")
		f.boolVar(&o.NoTrunc, "no-trunc")
		f.boolVar(&o.Verbose, "verbose", "v")
		if err := f.parse(rest); err != nil {
			return err
		}
		return r.CrictlImages(stdout, o)
	case "inspecti":
		var quiet bool
		var output string
		f.boolVar(&quiet, "quiet", "q")
		f.stringVar(&output, "output", "o")
		if err := f.parse(rest); err != nil {
			return err
		}
		if len(f.args) == 0 {
			usage(stdout, "inspecti", "Return the status of one or more images", "IMAGE-ID [IMAGE-ID...]")
			return nil
		}
		return r.CrictlInspecti(stdout, f.args)
	case "rmi":
		var all, prune bool
		f.boolVar(&all, "all", "a")
		f.boolVar(&prune, "prune", "q")
		if err := f.parse(rest); err != nil {
			return err
		}
		if len(f.args) == 0 && !all && !prune {
			usage(stdout, "rmi", "Remove one or more images", "IMAGE-ID [IMAGE-ID...]")
			return nil
		}
		return r.CrictlRmi(stdout, stderr, f.args, all, prune)
	case "pull":
		var creds, auth string
		f.stringVar(&creds, "creds")
		f.stringVar(&auth, "auth")
		if err := f.parse(rest); err != nil {
			return err
		}
		image := ""
		if len(f.args) > 0 {
			image = f.args[0]
		}
		return r.CrictlPull(ctx, stdout, image, creds, auth)
	case "ps":
		var o PsOptions
		f.boolVar(&o.All, "all", "a")
		f.boolVar(&o.Quiet, "quiet", "q")
		f.boolVar(&o.NoTrunc, "no-trunc")
		f.stringVar(&o.State, "state", "s")
		f.stringVar(&o.Name, "name")
		if err := f.parse(rest); err != nil {
			return err
		}
		return r.CrictlPs(stdout, o)
	case "pods":
		var o PodsOptions
		f.boolVar(&o.Quiet, "quiet", "q")
		f.boolVar(&o.NoTrunc, "no-trunc")
		f.stringVar(&o.State, "state", "s")
		if err := f.parse(rest); err != nil {
			return err
		}
		return r.CrictlPods(stdout, o)
	}
	// urfave/cli's answer to an unknown command.
	return fmt.Errorf("No help topic for '%s'", cmd)
}

// usage is the head of urfave/cli's subcommand help, which crictl shows for missing arguments.
func usage(w io.Writer, name, about, argsUsage string) {
	fmt.Fprintf(w, "NAME:\n   crictl %s - %s\n\nUSAGE:\n   crictl %s [command options] %s\n", name, about, name, argsUsage)
}
