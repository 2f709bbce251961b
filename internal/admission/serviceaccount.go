package admission

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	apistorage "k8s.io/apiserver/pkg/storage"
	podutil "k8s.io/kubernetes/pkg/api/pod"
	api "k8s.io/kubernetes/pkg/apis/core"
	saplugin "k8s.io/kubernetes/plugin/pkg/admission/serviceaccount"

	"kubesim.dev/kubesim/internal/storage"
)

// serviceAccount does what kube-apiserver's ServiceAccount plugin does for pods: default the
// account to "default", refuse pods whose account does not exist, mount the projected API token
// volume, copy the account's imagePullSecrets, and enforce mountable secrets when asked to.
type serviceAccount struct{ *admission.Handler }

var (
	_ admission.MutationInterface   = (*serviceAccount)(nil)
	_ admission.ValidationInterface = (*serviceAccount)(nil)
)

func podOf(a admission.Attributes) (*api.Pod, bool) {
	if a.GetResource().GroupResource() != api.Resource("pods") || (a.GetSubresource() != "" && a.GetSubresource() != "ephemeralcontainers") {
		return nil, false
	}
	pod, ok := a.GetObject().(*api.Pod)
	return pod, ok
}

func (s *serviceAccount) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok || a.GetOperation() != admission.Create {
		return nil
	}
	if _, mirror := pod.Annotations[api.MirrorPodAnnotationKey]; mirror {
		return s.Validate(ctx, a, o)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = saplugin.DefaultServiceAccountName
		pod.Spec.DeprecatedServiceAccount = saplugin.DefaultServiceAccountName //nolint:staticcheck // kept for compatibility, as upstream does
	}
	sa, err := lookupServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		mountToken(ctx, pod)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 {
		pod.Spec.ImagePullSecrets = make([]api.LocalObjectReference, len(sa.ImagePullSecrets))
		for i, ref := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets[i].Name = ref.Name
		}
	}
	return s.Validate(ctx, a, o)
}

func (s *serviceAccount) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok {
		return nil
	}
	if a.GetOperation() == admission.Update && a.GetSubresource() == "ephemeralcontainers" {
		return limitEphemeralSecrets(ctx, a, pod)
	}
	if a.GetOperation() != admission.Create {
		return nil
	}
	if _, mirror := pod.Annotations[api.MirrorPodAnnotationKey]; mirror {
		return validateMirrorPod(a, pod)
	}
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := lookupServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %v", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if enforceMountableSecrets(sa) {
		if err := limitSecretReferences(sa, pod); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

func validateMirrorPod(a admission.Attributes, pod *api.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference service accounts"))
	}
	hasSecrets := false
	podutil.VisitPodSecretNames(pod, func(string) bool { hasSecrets = true; return false }, podutil.AllContainers)
	if hasSecrets {
		return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not reference secrets"))
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return admission.NewForbidden(a, fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
			}
		}
	}
	return nil
}

// lookupServiceAccount reads the account from the request's cluster. The default account is
// created by a controller right after its namespace, so a miss on it is retried briefly, as
// kube-apiserver does.
func lookupServiceAccount(ctx context.Context, namespace, name string) (*api.ServiceAccount, error) {
	st, ok := storage.FromContext(ctx)
	if !ok {
		return nil, fmt.Errorf("no cluster in the request context")
	}
	attempts := 1
	if name == saplugin.DefaultServiceAccountName {
		attempts = 10
	}
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		sa := &api.ServiceAccount{}
		err := st.Get("/serviceaccounts/"+namespace+"/"+name, sa)
		if err == nil {
			return sa, nil
		}
		if !apistorage.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, errors.NewNotFound(api.Resource("serviceaccount"), name)
}

func automount(sa *api.ServiceAccount, pod *api.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

func enforceMountableSecrets(sa *api.ServiceAccount) bool {
	v, ok := sa.Annotations[saplugin.EnforceMountableSecretsAnnotation]
	if !ok {
		return false
	}
	b, _ := strconv.ParseBool(v)
	return b
}

// mountToken adds the kube-api-access projected volume and mounts it in every container that has
// nothing at the token path yet. The volume name's suffix comes from the cluster's seed.
func mountToken(ctx context.Context, pod *api.Pod) {
	volumeName := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, saplugin.ServiceAccountVolumeName+"-") {
			volumeName = v.Name
			break
		}
	}
	hasVolume := volumeName != ""
	if !hasVolume {
		base := saplugin.ServiceAccountVolumeName + "-"
		if st, ok := storage.FromContext(ctx); ok {
			// named after the pod it belongs to (its generateName while it has no name yet)
			volumeName = base + st.Suffix("kube-api-access/"+pod.Namespace+"/"+pod.Name+"/"+pod.GenerateName, 5)
		}
	}
	mount := api.VolumeMount{Name: volumeName, ReadOnly: true, MountPath: saplugin.DefaultAPITokenMountPath}
	needsVolume := false
	addMount := func(cs []api.Container) {
		for i := range cs {
			present := false
			for _, m := range cs[i].VolumeMounts {
				if m.MountPath == saplugin.DefaultAPITokenMountPath {
					present = true
					break
				}
			}
			if !present {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
				needsVolume = true
			}
		}
	}
	addMount(pod.Spec.InitContainers)
	addMount(pod.Spec.Containers)
	if !hasVolume && needsVolume {
		pod.Spec.Volumes = append(pod.Spec.Volumes, api.Volume{
			Name:         volumeName,
			VolumeSource: api.VolumeSource{Projected: saplugin.TokenVolumeSource()},
		})
	}
}

func limitSecretReferences(sa *api.ServiceAccount, pod *api.Pod) error {
	mountable := map[string]bool{}
	for _, s := range sa.Secrets {
		mountable[s.Name] = true
	}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil && !mountable[v.Secret.SecretName] {
			return fmt.Errorf("volume with secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", v.Secret.SecretName, sa.Name)
		}
	}
	if err := checkEnvSecrets("init container", pod.Spec.InitContainers, mountable, sa.Name); err != nil {
		return err
	}
	if err := checkEnvSecrets("container", pod.Spec.Containers, mountable, sa.Name); err != nil {
		return err
	}
	pullSecrets := map[string]bool{}
	for _, s := range sa.ImagePullSecrets {
		pullSecrets[s.Name] = true
	}
	for i, ref := range pod.Spec.ImagePullSecrets {
		if !pullSecrets[ref.Name] {
			return fmt.Errorf(`imagePullSecrets[%d].name="%s" is not allowed because service account %s does not reference that imagePullSecret`, i, ref.Name, sa.Name)
		}
	}
	return nil
}

func checkEnvSecrets(what string, containers []api.Container, mountable map[string]bool, saName string) error {
	for _, c := range containers {
		for _, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil && !mountable[env.ValueFrom.SecretKeyRef.Name] {
				return fmt.Errorf("%s %s with envVar %s referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", what, c.Name, env.Name, env.ValueFrom.SecretKeyRef.Name, saName)
			}
		}
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil && !mountable[from.SecretRef.Name] {
				return fmt.Errorf("%s %s with envFrom referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", what, c.Name, from.SecretRef.Name, saName)
			}
		}
	}
	return nil
}

func limitEphemeralSecrets(ctx context.Context, a admission.Attributes, pod *api.Pod) error {
	if pod.Spec.ServiceAccountName == "" {
		return admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := lookupServiceAccount(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if !enforceMountableSecrets(sa) {
		return nil
	}
	mountable := map[string]bool{}
	for _, s := range sa.Secrets {
		mountable[s.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		for _, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil && !mountable[env.ValueFrom.SecretKeyRef.Name] {
				return fmt.Errorf("ephemeral container %s with envVar %s referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", c.Name, env.Name, env.ValueFrom.SecretKeyRef.Name, sa.Name)
			}
		}
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil && !mountable[from.SecretRef.Name] {
				return fmt.Errorf("ephemeral container %s with envFrom referencing secret.secretName=\"%s\" is not allowed because service account %s does not reference that secret", c.Name, from.SecretRef.Name, sa.Name)
			}
		}
	}
	return nil
}
