package apiserver

import (
	"encoding/json"
	"net/http"
	"runtime"

	"k8s.io/apimachinery/pkg/version"
)

// Build facts reported by /version. kubesim reports the release it behaves as; the commit and
// build date are those a v1.37.2 control plane built from the release source reports.
var (
	gitCommit    = "$Format:%H$"
	gitTreeState = "clean"
	buildDate    = "2026-11-25T05:53:02Z"
)

// VersionInfo is what /version returns.
func VersionInfo() version.Info {
	return version.Info{
		Major:                 "1",
		Minor:                 "37",
		EmulationMajor:        "1",
		EmulationMinor:        "37",
		MinCompatibilityMajor: "1",
		MinCompatibilityMinor: "36",
		GitVersion:            "v" + Version,
		GitCommit:             gitCommit,
		GitTreeState:          gitTreeState,
		BuildDate:             buildDate,
		GoVersion:             runtime.Version(),
		Compiler:              runtime.Compiler,
		Platform:              runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// serveVersion writes /version as kube-apiserver does (indented JSON).
func serveVersion(w http.ResponseWriter, _ *http.Request) {
	out, err := json.MarshalIndent(VersionInfo(), "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}
