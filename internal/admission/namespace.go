package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	apistorage "k8s.io/apiserver/pkg/storage"
	api "k8s.io/kubernetes/pkg/apis/core"

	"kubesim.dev/kubesim/internal/storage"
)

// immortalNamespaces cannot be deleted, as in kube-apiserver.
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true,
}

// namespaceLifecycle refuses new objects in namespaces that do not exist or are terminating, and
// the deletion of the immortal namespaces.
type namespaceLifecycle struct{ *admission.Handler }

var _ admission.MutationInterface = (*namespaceLifecycle)(nil)

func isNamespace(a admission.Attributes) bool {
	return a.GetKind().GroupKind() == corev1.SchemeGroupVersion.WithKind("Namespace").GroupKind()
}

func (l *namespaceLifecycle) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetOperation() == admission.Delete && isNamespace(a) && immortalNamespaces[a.GetName()] {
		return errors.NewForbidden(a.GetResource().GroupResource(), a.GetName(), fmt.Errorf("this namespace may not be deleted"))
	}
	if isNamespace(a) || a.GetNamespace() == "" || a.GetOperation() != admission.Create || isAccessReview(a) {
		return nil
	}
	st, ok := storage.FromContext(ctx)
	if !ok {
		return errors.NewInternalError(fmt.Errorf("no cluster in the request context"))
	}
	ns := &api.Namespace{}
	if err := st.Get("/namespaces/"+a.GetNamespace(), ns); err != nil {
		if apistorage.IsNotFound(err) {
			return errors.NewNotFound(corev1.Resource("namespaces"), a.GetNamespace())
		}
		return errors.NewInternalError(err)
	}
	if ns.Status.Phase != api.NamespaceTerminating {
		return nil
	}
	err := admission.NewForbidden(a, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.GetNamespace()))
	if se, ok := err.(*errors.StatusError); ok {
		se.ErrStatus.Details.Causes = append(se.ErrStatus.Details.Causes, metav1.StatusCause{
			Type:    corev1.NamespaceTerminatingCause,
			Message: fmt.Sprintf("namespace %s is being terminated", a.GetNamespace()),
			Field:   "metadata.namespace",
		})
	}
	return err
}

// isAccessReview: access reviews are answered whatever the namespace's state.
func isAccessReview(a admission.Attributes) bool {
	gr := a.GetResource().GroupResource()
	return gr.Group == "authorization.k8s.io" && (gr.Resource == "localsubjectaccessreviews")
}
