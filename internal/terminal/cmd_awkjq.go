package terminal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/benhoyt/goawk/interp"
	"github.com/benhoyt/goawk/parser"
	"github.com/itchyny/gojq"
)

// cmdAwk runs GoAWK with every host access switched off: no system() or pipes to commands, no
// file writes, no file reads. File operands are read from the session here and fed as input.
func cmdAwk(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	var vars []string
	var src string
	haveSrc := false
	var operands []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			operands = append(operands, args[i+1:]...)
			i = len(args)
		case a == "-F" && i+1 < len(args):
			vars = append(vars, "FS", unescapeFS(args[i+1]))
			i++
		case strings.HasPrefix(a, "-F") && len(a) > 2:
			vars = append(vars, "FS", unescapeFS(a[2:]))
		case a == "-v" && i+1 < len(args):
			k, v, ok := strings.Cut(args[i+1], "=")
			if !ok {
				return inv.fail(2, "fatal: `%s' argument to `-v' not in `var=value' form", args[i+1])
			}
			vars = append(vars, k, v)
			i++
		case a == "-f" && i+1 < len(args):
			data, err := inv.readAll(args[i+1])
			if err != nil {
				return inv.fail(2, "fatal: can't open source file `%s' for reading: %s", args[i+1], strerr(err))
			}
			src += string(data) + "\n"
			haveSrc = true
			i++
		case !haveSrc && len(operands) == 0 && !strings.HasPrefix(a, "-"):
			src, haveSrc = a, true
		case strings.HasPrefix(a, "-") && a != "-" && !haveSrc:
			return inv.fail(2, "not an option: %s", a)
		default:
			operands = append(operands, a)
		}
	}
	if !haveSrc {
		fmt.Fprintln(inv.Stderr, "usage: awk [-F fs][-v var=value][prog | -f progfile][file ...]")
		return 2
	}
	prog, err := parser.ParseProgram([]byte(src), nil)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "awk: %s\n", err)
		return 2
	}
	var input io.Reader = inv.Stdin
	var files []string
	for _, op := range operands {
		if k, v, ok := strings.Cut(op, "="); ok && k != "" && !strings.ContainsAny(k, "/.") {
			vars = append(vars, k, v)
			continue
		}
		files = append(files, op)
	}
	if len(files) > 0 {
		var buf bytes.Buffer
		for _, f := range files {
			data, err := inv.readAll(f)
			if err != nil {
				return inv.fail(2, "fatal: cannot open file `%s' for reading: %s", f, strerr(err))
			}
			buf.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				buf.WriteByte('\n')
			}
		}
		input = &buf
	}
	it, err := interp.New(prog)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "awk: %s\n", err)
		return 2
	}
	// GoAWK takes the environment as alternating names and values.
	env := []string{}
	for _, kv := range inv.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k, v)
	}
	status, err := it.ExecuteContext(ctx, &interp.Config{
		Stdin: input, Output: inv.Stdout, Error: inv.Stderr, Argv0: "awk", Vars: vars,
		Environ: env, NoExec: true, NoFileWrites: true, NoFileReads: true,
		ShellCommand: []string{"/nonexistent"},
	})
	if err != nil {
		if ctx.Err() != nil {
			return 130
		}
		msg := err.Error()
		if strings.Contains(msg, "NoExec") || strings.Contains(msg, "NoFile") {
			msg = strings.NewReplacer("due to NoExec", "(disabled in this sandbox)", "due to NoFileWrites", "(disabled in this sandbox)", "due to NoFileReads", "(disabled in this sandbox)").Replace(msg)
		}
		fmt.Fprintf(inv.Stderr, "awk: %s\n", msg)
		return 2
	}
	return status
}

func unescapeFS(s string) string {
	if s == "t" || s == `\t` {
		return "\t"
	}
	return s
}

// --- jq ---

func cmdJq(ctx context.Context, inv *Invocation) int {
	args := inv.Args[1:]
	raw, compact, nullInput, slurp, exitStatus, join, tab := false, false, false, false, false, false, false
	indent := 2
	var filter *string
	var files []string
	var names []string
	var values []any
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-r" || a == "--raw-output":
			raw = true
		case a == "-j" || a == "--join-output":
			raw, join = true, true
		case a == "-c" || a == "--compact-output":
			compact = true
		case a == "-n" || a == "--null-input":
			nullInput = true
		case a == "-s" || a == "--slurp":
			slurp = true
		case a == "-e" || a == "--exit-status":
			exitStatus = true
		case a == "-S" || a == "--sort-keys" || a == "-M" || a == "--monochrome-output" || a == "-C" || a == "--color-output":
		case a == "--tab":
			tab = true
		case a == "--indent" && i+1 < len(args):
			indent = atoiDefault(args[i+1], 2)
			i++
		case (a == "--arg" || a == "--argjson") && i+2 < len(args):
			names = append(names, "$"+args[i+1])
			if a == "--arg" {
				values = append(values, args[i+2])
			} else {
				v, err := decodeJSONValue(args[i+2])
				if err != nil {
					fmt.Fprintf(inv.Stderr, "jq: Invalid JSON text passed to --argjson\n")
					return 2
				}
				values = append(values, v)
			}
			i += 2
		case len(a) > 1 && a[0] == '-' && filter == nil && !strings.HasPrefix(a, "--"):
			for _, c := range a[1:] {
				switch c {
				case 'r':
					raw = true
				case 'c':
					compact = true
				case 'n':
					nullInput = true
				case 's':
					slurp = true
				case 'e':
					exitStatus = true
				case 'j':
					raw, join = true, true
				case 'S', 'M', 'C':
				default:
					fmt.Fprintf(inv.Stderr, "jq: Unknown option: %s\n", a)
					return 2
				}
			}
		default:
			if filter == nil {
				f := a
				filter = &f
			} else {
				files = append(files, a)
			}
		}
	}
	if filter == nil {
		fmt.Fprintf(inv.Stderr, "Usage:\tjq [OPTIONS] FILTER [FILES...]\n")
		return 2
	}
	q, err := gojq.Parse(*filter)
	if err != nil {
		fmt.Fprintf(inv.Stderr, "jq: error: %s\njq: 1 compile error\n", err)
		return 3
	}
	env := inv.Env
	code, err := gojq.Compile(q, gojq.WithVariables(names), gojq.WithEnvironLoader(func() []string { return env }))
	if err != nil {
		fmt.Fprintf(inv.Stderr, "jq: error: %s\njq: 1 compile error\n", err)
		return 3
	}
	var data []byte
	if len(files) == 0 {
		data, err = io.ReadAll(io.LimitReader(inv.Stdin, inv.sh.sess.limits.MaxOutput*4))
		if ctx.Err() != nil {
			return 130
		}
	}
	for _, f := range files {
		d, err := inv.readAll(f)
		if err != nil {
			fmt.Fprintf(inv.Stderr, "jq: error: Could not open %s: %s\n", f, strerr(err))
			return 2
		}
		data = append(data, d...)
	}
	var inputs []any
	if !nullInput || slurp {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		for {
			var v any
			if err := dec.Decode(&v); err == io.EOF {
				break
			} else if err != nil {
				fmt.Fprintf(inv.Stderr, "jq: error (at <stdin>:%d): Cannot parse input: %s\n", bytes.Count(data, []byte("\n")), err)
				return 2
			}
			inputs = append(inputs, normalizeJSON(v))
		}
	}
	if slurp {
		if inputs == nil {
			inputs = []any{}
		}
		inputs = []any{inputs}
	}
	if nullInput {
		inputs = []any{nil}
	}
	status := 0
	var last any = true
	var produced bool
	for _, in := range inputs {
		iter := code.RunWithContext(ctx, in, values...)
		for {
			v, ok := iter.Next()
			if !ok {
				break
			}
			if err, isErr := v.(error); isErr {
				var he *gojq.HaltError
				if errors.As(err, &he) {
					if he.Value() != nil {
						fmt.Fprintf(inv.Stderr, "jq: error (at <stdin>:0): %v\n", he.Value())
					}
					return he.ExitCode()
				}
				fmt.Fprintf(inv.Stderr, "jq: error (at <stdin>:%d): %s\n", bytes.Count(data, []byte("\n")), err)
				status = 5
				break
			}
			produced, last = true, v
			var out string
			if s, isStr := v.(string); isStr && raw {
				out = s
			} else {
				pad := strings.Repeat(" ", indent)
				if tab {
					pad = "\t"
				}
				out = jqEncode(v, compact, pad)
			}
			if !join {
				out += "\n"
			}
			if _, err := io.WriteString(inv.Stdout, out); err != nil {
				return 1
			}
		}
	}
	if exitStatus && status == 0 {
		if !produced {
			return 4
		}
		if last == nil || last == false {
			return 1
		}
	}
	return status
}

func decodeJSONValue(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeJSON(v), nil
}

// normalizeJSON turns json.Number into the int, *big.Int or float64 gojq works with.
func normalizeJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		if b, ok := new(big.Int).SetString(string(v), 10); ok {
			return b
		}
		f, _ := v.Float64()
		return f
	case []any:
		for i := range v {
			v[i] = normalizeJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeJSON(v[k])
		}
	}
	return v
}

// jqEncode prints a value as jq does: keys sorted, two-space indentation, or compact.
func jqEncode(v any, compact bool, pad string) string {
	var b strings.Builder
	var enc func(v any, depth int)
	nl := func(depth int) {
		if !compact {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat(pad, depth))
		}
	}
	enc = func(v any, depth int) {
		switch v := v.(type) {
		case map[string]any:
			if len(v) == 0 {
				b.WriteString("{}")
				return
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				nl(depth + 1)
				kb, _ := gojq.Marshal(k)
				b.Write(kb)
				b.WriteByte(':')
				if !compact {
					b.WriteByte(' ')
				}
				enc(v[k], depth+1)
			}
			nl(depth)
			b.WriteByte('}')
		case []any:
			if len(v) == 0 {
				b.WriteString("[]")
				return
			}
			b.WriteByte('[')
			for i, x := range v {
				if i > 0 {
					b.WriteByte(',')
				}
				nl(depth + 1)
				enc(x, depth+1)
			}
			nl(depth)
			b.WriteByte(']')
		default:
			out, err := gojq.Marshal(v)
			if err != nil {
				b.WriteString("null")
				return
			}
			b.Write(out)
		}
	}
	enc(v, 0)
	return b.String()
}
