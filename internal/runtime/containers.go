package runtime

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"
)

// SandboxState is a pod sandbox's CRI state.
type SandboxState int

const (
	SandboxReady SandboxState = iota
	SandboxNotReady
)

// ContainerState is a container's CRI state.
type ContainerState int

const (
	ContainerCreated ContainerState = iota
	ContainerRunning
	ContainerExited
	ContainerUnknown
)

// String is CRI's enum name (containerd's criContainerStateToString).
func (s ContainerState) String() string {
	return [...]string{"CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"}[s]
}

// String is CRI's enum name.
func (s SandboxState) String() string {
	return [...]string{"SANDBOX_READY", "SANDBOX_NOTREADY"}[s]
}

func grpcCode(err error) string {
	if errors.Is(err, errNotFound) {
		return "NotFound"
	}
	return "Unknown"
}

// Labels the kubelet puts on sandboxes and containers (k8s.io/kubelet/pkg/types).
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
)

// SandboxConfig is the part of CRI's PodSandboxConfig the simulation uses.
type SandboxConfig struct {
	Name           string
	Namespace      string
	UID            string
	Attempt        uint32
	Labels         map[string]string
	Annotations    map[string]string
	RuntimeHandler string
}

// Sandbox is a pod sandbox.
type Sandbox struct {
	ID        string
	Config    SandboxConfig
	State     SandboxState
	CreatedAt time.Time
}

// Container is a container.
type Container struct {
	ID         string
	SandboxID  string
	Name       string
	Attempt    uint32
	Image      string // the image as given to CreateContainer (the kubelet gives the image ID)
	ImageRef   string // the image ID
	State      ContainerState
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	Labels     map[string]string
}

// RunPodSandbox creates a ready sandbox and returns its ID.
func (r *Runtime) RunPodSandbox(cfg SandboxConfig) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelPodName], labels[LabelPodNamespace], labels[LabelPodUID] = cfg.Name, cfg.Namespace, cfg.UID
	cfg.Labels = labels
	sb := &Sandbox{ID: r.newID(fmt.Sprintf("sandbox/%s/%s/%s/%d", cfg.Namespace, cfg.Name, cfg.UID, cfg.Attempt)), Config: cfg, State: SandboxReady, CreatedAt: r.clock.Now()}
	r.sandboxes[sb.ID] = sb
	return sb.ID, nil
}

// StopPodSandbox stops a sandbox and every container in it.
func (r *Runtime) StopPodSandbox(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[id]
	if sb == nil {
		return nil // containerd: stopping an absent sandbox succeeds
	}
	for _, c := range r.containers {
		if c.SandboxID == id {
			r.stop(c, 137)
		}
	}
	sb.State = SandboxNotReady
	return nil
}

// RemovePodSandbox removes a sandbox and its containers, stopping them first.
func (r *Runtime) RemovePodSandbox(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sandboxes[id] == nil {
		return nil
	}
	for cid, c := range r.containers {
		if c.SandboxID == id {
			delete(r.containers, cid)
		}
	}
	delete(r.sandboxes, id)
	return nil
}

// CreateContainer creates a container of image imageRef (an image ID or reference already on the
// node) in sandbox sandboxID.
func (r *Runtime) CreateContainer(sandboxID, name, imageRef string, attempt uint32) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb := r.sandboxes[sandboxID]
	if sb == nil {
		return "", &CRIError{Code: "NotFound", Message: fmt.Sprintf("failed to find sandbox id %q: not found", sandboxID)}
	}
	img, err := r.localResolve(imageRef)
	if err != nil {
		// containerd internal/cri/server/container_create.go
		return "", &CRIError{Code: grpcCode(err), Message: fmt.Sprintf("failed to resolve image %q: %v", imageRef, err)}
	}
	labels := map[string]string{
		LabelContainerName: name,
		LabelPodName:       sb.Config.Name,
		LabelPodNamespace:  sb.Config.Namespace,
		LabelPodUID:        sb.Config.UID,
	}
	c := &Container{ID: r.newID(fmt.Sprintf("container/%s/%s/%d", sandboxID, name, attempt)), SandboxID: sandboxID, Name: name, Attempt: attempt,
		Image: imageRef, ImageRef: img.id, State: ContainerCreated, CreatedAt: r.clock.Now(), Labels: labels}
	r.containers[c.ID] = c
	return c.ID, nil
}

func (r *Runtime) container(id string) (*Container, error) {
	c := r.containers[id]
	if c == nil {
		// containerd internal/cri/server/container_stop.go and container_start.go
		return nil, &CRIError{Code: "NotFound", Message: fmt.Sprintf("an error occurred when try to find container %q: not found", id)}
	}
	return c, nil
}

// StartContainer starts a created container.
func (r *Runtime) StartContainer(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.container(id)
	if err != nil {
		return err
	}
	if c.State != ContainerCreated {
		// containerd internal/cri/server/container_start.go, setContainerStarting
		return &CRIError{Code: "Unknown", Message: fmt.Sprintf("failed to set starting state for container %q: container is in %s state", id, c.State)}
	}
	c.State, c.StartedAt = ContainerRunning, r.clock.Now()
	return nil
}

// StopContainer ends a running container with exitCode (the kubelet or the simulated process
// decides it). Stopping an exited container does nothing.
func (r *Runtime) StopContainer(id string, exitCode int32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.container(id)
	if err != nil {
		return err
	}
	r.stop(c, exitCode)
	return nil
}

func (r *Runtime) stop(c *Container, exitCode int32) {
	switch c.State {
	case ContainerRunning:
		c.State, c.FinishedAt, c.ExitCode = ContainerExited, r.clock.Now(), exitCode
	case ContainerCreated:
		c.State, c.FinishedAt, c.ExitCode = ContainerExited, r.clock.Now(), exitCode
		c.StartedAt = time.Time{}
	}
}

// RemoveContainer removes a container, stopping it first if it runs (containerd forcibly stops
// running containers on removal). Removing an absent container succeeds.
func (r *Runtime) RemoveContainer(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.containers[id]; c != nil {
		r.stop(c, 137)
		delete(r.containers, id)
	}
	return nil
}

// ListContainers returns every container, newest first.
func (r *Runtime) ListContainers() []Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Container, 0, len(r.containers))
	for _, c := range r.containers {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ListPodSandboxes returns every sandbox, newest first.
func (r *Runtime) ListPodSandboxes() []Sandbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Sandbox, 0, len(r.sandboxes))
	for _, s := range r.sandboxes {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ImagesInUse returns the IDs of images used by any container, running or exited (the image
// garbage collector never removes them).
func (r *Runtime) ImagesInUse() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	used := map[string]bool{}
	for _, c := range r.containers {
		used[c.ImageRef] = true
	}
	return used
}
