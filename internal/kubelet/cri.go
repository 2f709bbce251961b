package kubelet

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"

	"kubesim.dev/kubesim/internal/runtime"
)

// Runtime is what the kubelet needs from its node's container runtime (the CRI image and runtime
// services); *runtime.Runtime provides it.
type Runtime interface {
	ImageStatus(ref string) (*runtime.Image, error)
	ResolvePull(ctx context.Context, ref string, auth *runtime.AuthConfig) (*runtime.PullPlan, error)
	CommitPull(plan *runtime.PullPlan) (string, error)
	ListImages() []*runtime.Image
	RemoveImage(ref string) error
	ImageFsInfo() runtime.FsInfo

	RunPodSandbox(cfg runtime.SandboxConfig) (string, error)
	StopPodSandbox(id string) error
	RemovePodSandbox(id string) error
	CreateContainer(sandboxID, name, imageRef string, attempt uint32) (string, error)
	StartContainer(id string) error
	StopContainer(id string, exitCode int32) error
	RemoveContainer(id string) error
}

// SecretGetter reads a Secret from the API server (nil and an error when it cannot).
type SecretGetter func(namespace, name string) (*v1.Secret, error)

// Execute performs the machine's operations against the node's runtime and the API server, in
// order, and returns their results, to be passed to the next Step at the same instant.
func Execute(ctx context.Context, rt Runtime, secrets SecretGetter, ops []Op) []Input {
	out := make([]Input, 0, len(ops))
	for _, op := range ops {
		out = append(out, execute(ctx, rt, secrets, op))
	}
	return out
}

func execute(ctx context.Context, rt Runtime, secrets SecretGetter, op Op) OpResult {
	r := OpResult{ID: op.OpID()}
	switch op := op.(type) {
	case ImageStatusOp:
		img, err := rt.ImageStatus(op.Image)
		r.Image, r.Err = fromCRIImage(img), err
	case ResolvePullOp:
		var auth *runtime.AuthConfig
		if a := op.Auth; a != nil {
			auth = &runtime.AuthConfig{Username: a.Username, Password: a.Password, Auth: a.Auth,
				ServerAddress: a.ServerAddress, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		}
		plan, err := rt.ResolvePull(ctx, op.Image, auth)
		if err != nil {
			r.Err = err
			break
		}
		r.Plan, r.FetchBytes = plan, plan.Download
	case CommitPullOp:
		plan, ok := op.Plan.(*runtime.PullPlan)
		if !ok {
			r.Err = fmt.Errorf("kubelet: pull plan of unexpected type %T", op.Plan)
			break
		}
		r.ImageRef, r.Err = rt.CommitPull(plan)
	case ListImagesOp:
		for _, img := range rt.ListImages() {
			r.Images = append(r.Images, *fromCRIImage(img))
		}
	case RemoveImageOp:
		r.Err = rt.RemoveImage(op.ImageRef)
	case ImageFsInfoOp:
		fs := rt.ImageFsInfo()
		r.FsUsed, r.FsCapacity = fs.UsedBytes, fs.Capacity
	case RunSandboxOp:
		r.SandboxID, r.Err = rt.RunPodSandbox(runtime.SandboxConfig{Name: op.Name, Namespace: op.Namespace, UID: string(op.PodUID), Attempt: op.Attempt})
	case StopSandboxOp:
		r.Err = rt.StopPodSandbox(op.SandboxID)
	case RemoveSandboxOp:
		r.Err = rt.RemovePodSandbox(op.SandboxID)
	case CreateContainerOp:
		r.ContainerID, r.Err = rt.CreateContainer(op.SandboxID, op.Name, op.ImageRef, op.Attempt)
	case StartContainerOp:
		r.Err = rt.StartContainer(op.ContainerID)
	case ContainerExitOp:
		r.Err = rt.StopContainer(op.ContainerID, op.ExitCode)
	case RemoveContainerOp:
		r.Err = rt.RemoveContainer(op.ContainerID)
	case GetSecretOp:
		if secrets == nil {
			r.Err = fmt.Errorf("secret %q not found", op.Name)
			break
		}
		r.Secret, r.Err = secrets(op.Namespace, op.Name)
	default:
		r.Err = fmt.Errorf("kubelet: unknown operation %T", op)
	}
	return r
}

func fromCRIImage(img *runtime.Image) *Image {
	if img == nil {
		return nil
	}
	return &Image{ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests, Size: img.Size, Pinned: img.Pinned}
}
