package runtime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	digest "github.com/opencontainers/go-digest"
)

// The crictl views below print what cri-tools' crictl prints for the same runtime state
// (cmd/crictl/image.go, container.go, sandbox.go, util.go, display.go). They take parsed
// arguments and write to the given writers, so `kubesim node images NODE` and `crictl images`
// in the browser terminal share them. Messages crictl logs through logrus are written to the
// error writer in logrus' terminal form; Main turns a returned error into crictl's fatal line.

const truncatedIDLen = 13

// newTable is crictl's table display: tabwriter(minwidth 20, tabwidth 1, padding 3, ' ').
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 20, 1, 3, ' ', 0) }

func addRow(tw io.Writer, cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }

func truncatedID(id, prefix string) string {
	id = strings.TrimPrefix(id, prefix)
	if len(id) > truncatedIDLen {
		id = id[:truncatedIDLen]
	}
	return id
}

// ImagesOptions are `crictl images` flags.
type ImagesOptions struct {
	Digests bool // --digests
	Pinned  bool // --pinned
	Quiet   bool // -q
	NoTrunc bool // --no-trunc
	Verbose bool // -v
}

// imageByRef is crictl's sort order.
func imageLess(a, b *Image) bool {
	if len(a.RepoTags) > 0 && len(b.RepoTags) > 0 {
		return a.RepoTags[0] < b.RepoTags[0]
	}
	if len(a.RepoDigests) > 0 && len(b.RepoDigests) > 0 {
		return a.RepoDigests[0] < b.RepoDigests[0]
	}
	return a.ID < b.ID
}

func normalizeRepoDigest(repoDigests []string) (string, string) {
	if len(repoDigests) == 0 {
		return "<none>", "<none>"
	}
	name, d, ok := strings.Cut(repoDigests[0], "@")
	if !ok || strings.Contains(d, "@") {
		return "errorName", "errorRepoDigest"
	}
	return name, d
}

func normalizeRepoTagPair(repoTags []string, imageName string) [][2]string {
	const none = "<none>"
	if len(repoTags) == 0 {
		return [][2]string{{imageName, none}}
	}
	var pairs [][2]string
	for _, rt := range repoTags {
		idx := strings.LastIndex(rt, ":")
		if idx == -1 {
			pairs = append(pairs, [2]string{"errorRepoTag", "errorRepoTag"})
			continue
		}
		name := rt[:idx]
		if name == none {
			name = imageName
		}
		pairs = append(pairs, [2]string{name, rt[idx+1:]})
	}
	return pairs
}

// HumanSize is crictl's size column: decimal units, 3 significant digits.
func HumanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

// CrictlImages prints `crictl images`. containerd ignores the REPOSITORY[:TAG] filter of
// ListImages, so every image is listed whatever the argument.
func (r *Runtime) CrictlImages(w io.Writer, o ImagesOptions) error {
	imgs := r.ListImages()
	sort.Sort(imageSorter(imgs))
	tw := newTable(w)
	if !o.Verbose && !o.Quiet {
		row := []string{"IMAGE", "TAG"}
		if o.Digests {
			row = append(row, "DIGEST")
		}
		row = append(row, "IMAGE ID", "SIZE")
		if o.Pinned {
			row = append(row, "PINNED")
		}
		addRow(tw, row...)
	}
	for _, img := range imgs {
		if o.Quiet {
			fmt.Fprintf(w, "%s\n", img.ID)
			continue
		}
		if !o.Verbose {
			name, repoDigest := normalizeRepoDigest(img.RepoDigests)
			size := HumanSize(img.Size)
			id := img.ID
			if !o.NoTrunc {
				id = truncatedID(id, "sha256:")
				repoDigest = truncatedID(repoDigest, "sha256:")
			}
			for _, p := range normalizeRepoTagPair(img.RepoTags, name) {
				row := []string{p[0], p[1]}
				if o.Digests {
					row = append(row, repoDigest)
				}
				row = append(row, id, size)
				if o.Pinned {
					row = append(row, strconv.FormatBool(img.Pinned))
				}
				addRow(tw, row...)
			}
			continue
		}
		fmt.Fprintf(w, "ID: %s\n", img.ID)
		for _, t := range img.RepoTags {
			fmt.Fprintf(w, "RepoTags: %s\n", t)
		}
		for _, d := range img.RepoDigests {
			fmt.Fprintf(w, "RepoDigests: %s\n", d)
		}
		if img.Size != 0 {
			fmt.Fprintf(w, "Size: %d\n", img.Size)
		}
		if img.UID != nil {
			fmt.Fprintf(w, "Uid: value:%d\n", *img.UID)
		}
		if img.Username != "" {
			fmt.Fprintf(w, "Username: %v\n", img.Username)
		}
		if img.Pinned {
			fmt.Fprintf(w, "Pinned: %v\n", img.Pinned)
		}
		fmt.Fprintf(w, "\n")
	}
	return tw.Flush()
}

type imageSorter []*Image

func (s imageSorter) Len() int           { return len(s) }
func (s imageSorter) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s imageSorter) Less(i, j int) bool { return imageLess(s[i], s[j]) }

// CrictlInspecti prints `crictl inspecti IMAGE...` (JSON, verbose: status plus containerd's info).
func (r *Runtime) CrictlInspecti(w io.Writer, refs []string) error {
	var results []map[string]any
	for _, ref := range refs {
		img, err := r.ImageStatus(ref)
		if err != nil {
			return fmt.Errorf("image status for %q request: %w", ref, err)
		}
		if img == nil {
			return fmt.Errorf("no such image %q present", ref)
		}
		results = append(results, inspectiJSON(img))
	}
	var out any = results
	if len(results) == 1 {
		out = results[0]
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// inspectiJSON is the image as crictl shows it: the CRI Image as protojson with default values
// (uint64 as a string, unset messages left out) under "status", and containerd's verbose info
// {"chainID", "imageSpec"} under "info". crictl re-encodes both through maps, so keys are sorted.
func inspectiJSON(img *Image) map[string]any {
	status := map[string]any{
		"id":          img.ID,
		"repoTags":    nonNil(img.RepoTags),
		"repoDigests": nonNil(img.RepoDigests),
		"size":        strconv.FormatInt(img.Size, 10),
		"username":    img.Username,
		"pinned":      img.Pinned,
	}
	if img.UID != nil {
		status["uid"] = map[string]any{"value": strconv.FormatInt(*img.UID, 10)}
	}
	spec, _ := json.Marshal(img.Spec)
	var specMap any
	_ = json.Unmarshal(spec, &specMap)
	return map[string]any{
		"status": status,
		"info":   map[string]any{"chainID": img.ChainID, "imageSpec": specMap},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CrictlRmi prints `crictl rmi IMAGE...` (or --all / --prune). Per-image failures go to errw as
// logrus errors; the returned error is crictl's final one.
func (r *Runtime) CrictlRmi(w, errw io.Writer, refs []string, all, prune bool) error {
	ids := append([]string(nil), refs...)
	if all || prune {
		inUse := r.ImagesInUse()
		for _, img := range r.ListImages() {
			if prune && (img.Pinned || inUse[img.ID]) {
				continue
			}
			ids = append(ids, img.ID)
		}
	}
	if len(ids) == 0 {
		if all || prune {
			logLine(errw, "INFO", "No images to remove")
			return nil
		}
		return nil
	}
	errored := false
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		img, err := r.ImageStatus(id)
		if err != nil {
			logLine(errw, "ERRO", fmt.Sprintf("image status request for %q failed: %v", id, err))
			errored = true
			continue
		}
		if img == nil {
			logLine(errw, "ERRO", "no such image "+id)
			errored = true
			continue
		}
		if err := r.RemoveImage(id); err != nil {
			if !prune {
				logLine(errw, "ERRO", fmt.Sprintf("error of removing image %q: %v", id, err))
				errored = true
			}
			continue
		}
		names := img.RepoTags
		if len(names) == 0 {
			names = img.RepoDigests
		}
		for _, n := range names {
			fmt.Fprintf(w, "Deleted: %s\n", n)
		}
	}
	if errored {
		return errors.New("unable to remove the image(s)")
	}
	return nil
}

// CrictlPull prints `crictl pull [--creds USER[:PASS] | --auth AUTH] IMAGE`.
func (r *Runtime) CrictlPull(ctx context.Context, w io.Writer, image, creds, auth string) error {
	if image == "" {
		return errors.New("Image name cannot be empty")
	}
	a, err := crictlAuth(creds, auth)
	if err != nil {
		return err
	}
	ref, err := r.Pull(ctx, image, a)
	if err != nil {
		return fmt.Errorf("pulling image: %w", err)
	}
	fmt.Fprintf(w, "Image is up to date for %s\n", ref)
	return nil
}

// crictlAuth is crictl's getAuth for --creds and --auth.
func crictlAuth(creds, auth string) (*AuthConfig, error) {
	if creds != "" && auth != "" {
		return nil, errors.New("both `--creds` and `--auth` are specified")
	}
	if creds != "" {
		user, pass, ok := strings.Cut(creds, ":")
		if ok && user == "" {
			return nil, errors.New("username can't be empty")
		}
		return &AuthConfig{Username: user, Password: pass}, nil
	}
	if auth != "" {
		if _, err := base64.StdEncoding.DecodeString(auth); err != nil {
			return &AuthConfig{Auth: auth}, nil
		}
		return &AuthConfig{Auth: auth}, nil
	}
	return nil, nil
}

// PsOptions are `crictl ps` flags.
type PsOptions struct {
	All     bool // -a
	Quiet   bool // -q
	NoTrunc bool // --no-trunc
	State   string
	Name    string // exact container name filter (crictl takes a regexp; kept simple)
}

func containerStateName(s ContainerState) string {
	return [...]string{"Created", "Running", "Exited", "Unknown"}[s]
}

// CrictlPs prints `crictl ps`: running containers, or all with -a, newest first.
func (r *Runtime) CrictlPs(w io.Writer, o PsOptions) error {
	var want *ContainerState
	switch strings.ToLower(o.State) {
	case "":
		if !o.All {
			s := ContainerRunning
			want = &s
		}
	case "created", "running", "exited", "unknown":
		s := map[string]ContainerState{"created": ContainerCreated, "running": ContainerRunning, "exited": ContainerExited, "unknown": ContainerUnknown}[strings.ToLower(o.State)]
		want = &s
	default:
		return errors.New("listing containers: --state should be one of created, running, exited or unknown")
	}
	now := r.clock.Now()
	tw := newTable(w)
	if !o.Quiet {
		addRow(tw, "CONTAINER", "IMAGE", "CREATED", "STATE", "NAME", "ATTEMPT", "POD ID", "POD", "NAMESPACE")
	}
	for _, c := range r.ListContainers() {
		if want != nil && c.State != *want || o.Name != "" && c.Name != o.Name {
			continue
		}
		if o.Quiet {
			fmt.Fprintf(w, "%s\n", c.ID)
			continue
		}
		id, podID, image := c.ID, c.SandboxID, c.Image
		if !o.NoTrunc {
			id, podID = truncatedID(id, ""), truncatedID(podID, "")
			if d, err := digest.Parse(image); err == nil {
				image = truncatedID(d.String(), string(d.Algorithm())+":")
			}
		}
		addRow(tw, id, image, ago(now, c.CreatedAt), containerStateName(c.State), c.Name,
			strconv.FormatUint(uint64(c.Attempt), 10), podID, label(c.Labels, LabelPodName), label(c.Labels, LabelPodNamespace))
	}
	return tw.Flush()
}

func label(labels map[string]string, key string) string {
	if v, ok := labels[key]; ok {
		return v
	}
	return "unknown"
}

func ago(now, t time.Time) string { return units.HumanDuration(now.UTC().Sub(t)) + " ago" }

// PodsOptions are `crictl pods` flags.
type PodsOptions struct {
	Quiet   bool
	NoTrunc bool
	State   string // ready, notready
}

// CrictlPods prints `crictl pods`, newest first.
func (r *Runtime) CrictlPods(w io.Writer, o PodsOptions) error {
	var want *SandboxState
	switch strings.ToLower(o.State) {
	case "":
	case "ready":
		s := SandboxReady
		want = &s
	case "notready":
		s := SandboxNotReady
		want = &s
	default:
		return errors.New("--state should be ready or notready")
	}
	now := r.clock.Now()
	tw := newTable(w)
	if !o.Quiet {
		addRow(tw, "POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME")
	}
	for _, sb := range r.ListPodSandboxes() {
		if want != nil && sb.State != *want {
			continue
		}
		if o.Quiet {
			fmt.Fprintf(w, "%s\n", sb.ID)
			continue
		}
		id := sb.ID
		if !o.NoTrunc {
			id = truncatedID(id, "")
		}
		state := "Ready"
		if sb.State == SandboxNotReady {
			state = "NotReady"
		}
		handler := sb.Config.RuntimeHandler
		if handler == "" {
			handler = "(default)"
		}
		addRow(tw, id, ago(now, sb.CreatedAt), state, sb.Config.Name, sb.Config.Namespace,
			strconv.FormatUint(uint64(sb.Config.Attempt), 10), handler)
	}
	return tw.Flush()
}

// logLine writes a logrus line as a terminal shows it: level, seconds since start, message padded
// to 44 columns (logrus TextFormatter with colours off).
func logLine(w io.Writer, level, msg string) {
	fmt.Fprintf(w, "%s[0000] %-44s \n", level, msg)
}

// Fatal writes crictl's exit message for err (main's logrus.Fatal) to w.
func Fatal(w io.Writer, err error) { logLine(w, "FATA", err.Error()) }
