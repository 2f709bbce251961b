package memfs

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"testing"
)

func TestLimitsAndErrors(t *testing.T) {
	f := New(Limits{MaxBytes: 10, MaxFiles: 4}, nil)
	if err := f.MkdirAll("/a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile("/a/b/x", []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		err   error
		errno syscall.Errno
		msg   string
	}{
		{"bytes", f.WriteFile("/a/y", []byte("z"), 0o644), syscall.ENOSPC, "No space left on device"},
		{"missing", f.Mkdir("/nope/x", 0o755), syscall.ENOENT, "No such file or directory"},
		{"exists", f.Mkdir("/a", 0o755), syscall.EEXIST, "File exists"},
		{"notdir", f.Mkdir("/a/b/x/y", 0o755), syscall.ENOTDIR, "Not a directory"},
		{"notempty", f.Remove("/a"), syscall.ENOTEMPTY, "Directory not empty"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.errno) || Strerror(tt.err) != tt.msg {
			t.Errorf("%s: got %v (%q), want %v", tt.name, tt.err, Strerror(tt.err), tt.errno)
		}
	}
	if err := f.RemoveAll("/a/b/x"); err != nil {
		t.Fatal(err)
	}
	if b, n := f.Usage(); b != 0 || n != 3 {
		t.Fatalf("usage after remove: %d bytes, %d nodes", b, n)
	}
	if err := f.WriteFile("/a/1", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile("/a/2", nil, 0o644); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("file count bound: %v", err)
	}
}

func TestOpenFileFlags(t *testing.T) {
	f := New(Limits{}, nil)
	if err := f.WriteFile("/x", []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _ := f.OpenFile("/x", O_WRONLY|O_APPEND, 0)
	h.Write([]byte(" world"))
	h.Close()
	if data, _ := f.ReadFile("/x"); string(data) != "hello world" {
		t.Fatalf("append: %q", data)
	}
	if _, err := f.OpenFile("/x", O_CREATE|O_EXCL|O_WRONLY, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("excl: %v", err)
	}
	r, _ := f.Open("/x")
	data, _ := io.ReadAll(r)
	if string(data) != "hello world" {
		t.Fatalf("read: %q", data)
	}
	if err := f.Rename("/x", "/y"); err != nil || f.Exists("/x") || !f.Exists("/y") {
		t.Fatalf("rename: %v", err)
	}
	if _, err := f.Stat("relative"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("relative paths never reach anything: %v", err)
	}
}
