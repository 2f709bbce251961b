// Package web holds the browser page: its sources in src/, its npm dependencies in
// package.json, and the built page in static/ (made by scripts/build-web.sh, which `make build`
// runs; not committed). The built files are embedded in the kubesim binary.
package web

import "embed"

// Static is the built page under "static/". Without a build it holds only static/README.md,
// and the server answers with a page that says to run make build.
//
//go:embed all:static
var Static embed.FS
