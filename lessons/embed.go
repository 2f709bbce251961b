// Package lessons holds kubesim's lesson content (one YAML file per lesson, see README.md) and
// embeds it in the binary. The format is implemented by internal/lessons.
package lessons

import "embed"

// FS holds the lesson files at its root.
//
//go:embed *.yaml
var FS embed.FS
