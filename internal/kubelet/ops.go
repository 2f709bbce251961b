package kubelet

import (
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Op is an operation the machine asks the driver to perform against the node's container runtime
// or the API server. Every Op has an ID; the driver answers each one with an OpResult carrying the
// same ID, in the same Step call or a later one at the same instant. Ops whose results carry no
// data (starting, stopping and removing things) are answered the same way; the machine does not
// wait for them.
type Op interface {
	OpID() uint64
}

// OpBase carries the ID shared by all operations.
type OpBase struct{ ID uint64 }

// OpID returns the operation's ID.
func (o OpBase) OpID() uint64 { return o.ID }

// Image is an image in the runtime's store, as CRI ImageStatus and ListImages report it.
type Image struct {
	ID          string // sha256:<config digest>
	RepoTags    []string
	RepoDigests []string
	Size        int64
	Pinned      bool
}

// AuthConfig is one credential to try for a pull (CRI AuthConfig).
type AuthConfig struct {
	Username      string
	Password      string
	Auth          string
	ServerAddress string
	IdentityToken string
	RegistryToken string
}

// ImageStatusOp asks for CRI ImageStatus of an image reference. The result's Image is nil when the
// image is absent.
type ImageStatusOp struct {
	OpBase
	Image string
}

// ResolvePullOp asks the runtime to resolve a pull against the registry (the first phase of a
// pull): the result carries an opaque Plan and the number of bytes still to download, or the error
// the runtime reports. Auth is nil for an anonymous pull.
type ResolvePullOp struct {
	OpBase
	Image string
	Auth  *AuthConfig
}

// CommitPullOp finishes a pull resolved earlier: the runtime stores the image and returns its
// reference (sha256:<config digest>) in the result's ImageRef.
type CommitPullOp struct {
	OpBase
	Plan any
}

// ListImagesOp asks for CRI ListImages.
type ListImagesOp struct{ OpBase }

// RemoveImageOp removes an image (image garbage collection).
type RemoveImageOp struct {
	OpBase
	ImageRef string
}

// ImageFsInfoOp asks for the image filesystem usage (CRI ImageFsInfo).
type ImageFsInfoOp struct{ OpBase }

// RunSandboxOp creates and starts a pod sandbox. The result carries the runtime's sandbox ID.
type RunSandboxOp struct {
	OpBase
	PodUID    types.UID
	Name      string
	Namespace string
	Attempt   uint32
	IP        string // the pod IP the machine allocated from the node's pod CIDR
	CreatedAt time.Time
}

// StopSandboxOp stops a sandbox.
type StopSandboxOp struct {
	OpBase
	SandboxID string
}

// RemoveSandboxOp removes a stopped sandbox.
type RemoveSandboxOp struct {
	OpBase
	SandboxID string
}

// CreateContainerOp creates a container in a sandbox. Image is the image as written in the pod
// spec, ImageRef the image ID the kubelet resolved it to. The result carries the container ID.
type CreateContainerOp struct {
	OpBase
	SandboxID string
	PodUID    types.UID
	Name      string
	Attempt   uint32
	Image     string
	ImageRef  string
	Command   []string
	Args      []string
	CreatedAt time.Time
}

// StartContainerOp starts a created container.
type StartContainerOp struct {
	OpBase
	ContainerID string
	StartedAt   time.Time
}

// ContainerExitOp tells the runtime that a container's process ended: on its own (the command
// finished) or because the kubelet stopped it. The machine decides the outcome because it is the
// one that knows what the simulated command does.
type ContainerExitOp struct {
	OpBase
	ContainerID string
	ExitCode    int32
	Reason      string
	FinishedAt  time.Time
}

// RemoveContainerOp removes an exited container (container garbage collection).
type RemoveContainerOp struct {
	OpBase
	ContainerID string
}

// GetSecretOp reads a Secret from the API server (an image pull secret).
type GetSecretOp struct {
	OpBase
	Namespace string
	Name      string
}

// OpResult answers an Op. Only the fields of the operation's kind are read.
type OpResult struct {
	ID  uint64
	Err error

	Image       *Image     // ImageStatusOp: nil when absent
	Images      []Image    // ListImagesOp
	Plan        any        // ResolvePullOp
	FetchBytes  int64      // ResolvePullOp: bytes the runtime still has to download
	ImageRef    string     // CommitPullOp
	SandboxID   string     // RunSandboxOp
	ContainerID string     // CreateContainerOp
	Secret      *v1.Secret // GetSecretOp: nil with Err when not found
	FsUsed      int64      // ImageFsInfoOp
	FsCapacity  int64      // ImageFsInfoOp
}

func (OpResult) isInput() {}
