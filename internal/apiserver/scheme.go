package apiserver

import (
	"reflect"
	"unsafe"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kubernetes/pkg/api/legacyscheme"

	// The API groups kubesim serves, registered into legacyscheme with their defaulting and
	// conversion functions: upstream's own, so objects default exactly as in kube-apiserver.
	_ "k8s.io/kubernetes/pkg/apis/apps/install"
	_ "k8s.io/kubernetes/pkg/apis/authentication/install"
	_ "k8s.io/kubernetes/pkg/apis/authorization/install"
	_ "k8s.io/kubernetes/pkg/apis/autoscaling/install"
	_ "k8s.io/kubernetes/pkg/apis/batch/install"
	_ "k8s.io/kubernetes/pkg/apis/coordination/install"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
	_ "k8s.io/kubernetes/pkg/apis/events/install"
	_ "k8s.io/kubernetes/pkg/apis/policy/install"

	// Registers the Kubernetes feature gates (with their v1.37 defaults) that validation reads.
	_ "k8s.io/kubernetes/pkg/features"
)

// Scheme is the scheme of every served type.
var Scheme = legacyscheme.Scheme

// Codecs serialize the served types.
var Codecs = legacyscheme.Codecs

// storageVersion is the version objects would be stored in by kube-apiserver; kubesim keeps
// internal objects in memory and uses it only to copy objects for dry-run requests.
func storageVersion(group string) schema.GroupVersion {
	switch group {
	case "":
		return schema.GroupVersion{Version: "v1"}
	case "events.k8s.io":
		return schema.GroupVersion{Version: "v1"} // events.k8s.io events live with core events
	default:
		return schema.GroupVersion{Group: group, Version: "v1"}
	}
}

// legacySchemeName is how kube-apiserver's scheme names itself in errors ("no kind "Pod" is
// registered for version "apps/v1" in scheme …"): the file and line that created it, which a
// build from the Kubernetes repository records as a GOPATH-relative path.
const legacySchemeName = "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"

func init() {
	// The scheme takes its name from the stack of its creator; in a build from the module cache
	// that is a different path ("pkg/runtime/scheme.go:111"). The name is not exported, so it is
	// set through reflection, once, before anything is served.
	f := reflect.ValueOf(Scheme).Elem().FieldByName("schemeName")
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetString(legacySchemeName)
}
