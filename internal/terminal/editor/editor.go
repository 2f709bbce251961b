// Package editor implements the full-screen nano and vi of the sandboxed terminal.
package editor

import (
	"context"

	"kubesim.dev/kubesim/internal/terminal/keys"
	"kubesim.dev/kubesim/internal/terminal/memfs"
)

// Terminal is the raw-mode terminal an editor draws on.
type Terminal interface {
	ReadKey(ctx context.Context) (keys.Key, error)
	Write(p []byte) (int, error)
	Size() (cols, rows int)
}

// Nano edits path (may be empty: a new buffer) full-screen until the user exits.
func Nano(ctx context.Context, t Terminal, fsys *memfs.FS, path string) error { return nil }

// Vi edits path full-screen until the user quits.
func Vi(ctx context.Context, t Terminal, fsys *memfs.FS, path string) error { return nil }
