// Package admission holds kubesim's admission chain: the plugins a default kube-apiserver runs
// (NamespaceLifecycle, ServiceAccount, TaintNodesByCondition, Priority, DefaultTolerationSeconds)
// and AlwaysPullImages when enabled, in kube-apiserver's order.
//
// Plugins that need no cluster state are upstream's own. The ones that read cluster state
// (namespaces, service accounts) are kubesim's: upstream's read through process-wide listers,
// while kubesim serves many clusters and reads each request's own cluster store.
package admission

import (
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/kubernetes/plugin/pkg/admission/alwayspullimages"
	"k8s.io/kubernetes/plugin/pkg/admission/defaulttolerationseconds"
	"k8s.io/kubernetes/plugin/pkg/admission/nodetaint"
)

// Options selects the optional plugins.
type Options struct {
	// AlwaysPullImages is --enable-admission-plugins=AlwaysPullImages.
	AlwaysPullImages bool
}

// Plugin names as kube-apiserver's --enable-admission-plugins spells them.
const (
	NamespaceLifecycle       = "NamespaceLifecycle"
	ServiceAccount           = "ServiceAccount"
	TaintNodesByCondition    = "TaintNodesByCondition"
	AlwaysPullImages         = "AlwaysPullImages"
	Priority                 = "Priority"
	DefaultTolerationSeconds = "DefaultTolerationSeconds"
)

// Optional lists the plugins that may be enabled on top of the defaults.
var Optional = []string{AlwaysPullImages}

// NewChain returns the admission chain, in kube-apiserver's plugin order.
func NewChain(opts Options) admission.Interface {
	plugins := []admission.Interface{
		&namespaceLifecycle{Handler: admission.NewHandler(admission.Create, admission.Update, admission.Delete)},
		&serviceAccount{Handler: admission.NewHandler(admission.Create, admission.Update)},
		nodetaint.NewPlugin(),
	}
	if opts.AlwaysPullImages {
		plugins = append(plugins, alwayspullimages.NewAlwaysPullImages())
	}
	plugins = append(plugins,
		&priority{Handler: admission.NewHandler(admission.Create, admission.Update)},
		defaulttolerationseconds.NewDefaultTolerationSeconds(),
	)
	for _, p := range plugins {
		// what kube-apiserver's plugin initializer does for these plugins
		if f, ok := p.(initializer.WantsFeatures); ok {
			f.InspectFeatureGates(utilfeature.DefaultFeatureGate)
		}
		if v, ok := p.(admission.InitializationValidator); ok {
			if err := v.ValidateInitialization(); err != nil {
				panic(err) // a programming error: the plugin list above is fixed
			}
		}
	}
	return admission.NewChainHandler(plugins...)
}
