package admission

import (
	"context"
	"fmt"

	schedv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/apis/scheduling"
	schedulingv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
)

// priority resolves a pod's priority as kube-apiserver's Priority plugin does. kubesim serves no
// PriorityClass objects: the classes are the built-in system ones, and there is no global default,
// so a pod without a class gets priority 0 and PreemptLowerPriority.
type priority struct{ *admission.Handler }

var _ admission.MutationInterface = (*priority)(nil)

func (p *priority) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || a.GetResource().GroupResource() != api.Resource("pods") {
		return nil
	}
	pod, ok := a.GetObject().(*api.Pod)
	if !ok {
		return errors.NewBadRequest("resource was marked with kind Pod but was unable to be converted")
	}
	if a.GetOperation() == admission.Update {
		old, ok := a.GetOldObject().(*api.Pod)
		if !ok {
			return errors.NewBadRequest("resource was marked with kind Pod but was unable to be converted")
		}
		if pod.Spec.Priority == nil && old.Spec.Priority != nil {
			pod.Spec.Priority = old.Spec.Priority
		}
		if pod.Spec.PreemptionPolicy == nil && old.Spec.PreemptionPolicy != nil {
			pod.Spec.PreemptionPolicy = old.Spec.PreemptionPolicy
		}
		return nil
	}
	value := int32(scheduling.DefaultPriorityWhenNoDefaultClassExists)
	policy := api.PreemptLowerPriority
	if name := pod.Spec.PriorityClassName; name != "" {
		pc := systemPriorityClass(name)
		if pc == nil {
			return admission.NewForbidden(a, fmt.Errorf("no PriorityClass with name %v was found", name))
		}
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = api.PreemptionPolicy(*pc.PreemptionPolicy)
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return admission.NewForbidden(a, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
	}
	pod.Spec.Priority = &value
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return admission.NewForbidden(a, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy))
	}
	pod.Spec.PreemptionPolicy = &policy
	return nil
}

func systemPriorityClass(name string) *schedv1.PriorityClass {
	for _, pc := range schedulingv1.SystemPriorityClasses() {
		if pc.Name == name {
			return pc
		}
	}
	return nil
}
