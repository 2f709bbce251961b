// Package memfs is the in-memory file system of one terminal session.
//
// Nothing here touches the host: every path names a node in a tree held in memory. The tree is
// bounded in total bytes and in node count; a write past either bound fails with ENOSPC, which the
// commands print as bash and coreutils do ("No space left on device"). Errors are *fs.PathError
// values wrapping a syscall.Errno, so callers can match them with errors.Is(err, fs.ErrNotExist)
// or compare the errno.
//
// Paths are absolute and slash-separated; callers resolve relative names against their working
// directory first (Resolve does that). Symbolic links are not supported.
package memfs

import (
	"errors"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Limits bound the size of a file system. Zero values mean the defaults.
type Limits struct {
	MaxBytes int64 // total bytes of file contents (default 64 MiB)
	MaxFiles int   // total number of files and directories (default 10000)
}

const (
	defaultMaxBytes = 64 << 20
	defaultMaxFiles = 10000
)

// FS is an in-memory file system. It is safe for concurrent use.
type FS struct {
	mu     sync.Mutex
	root   *node
	limits Limits
	bytes  int64
	nodes  int
	now    func() time.Time
}

type node struct {
	name     string
	mode     fs.FileMode
	modTime  time.Time
	data     []byte
	children map[string]*node // nil for files
	parent   *node
}

// New returns an empty file system holding only "/". now stamps modification times; nil means a
// fixed epoch (deterministic).
func New(limits Limits, now func() time.Time) *FS {
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = defaultMaxBytes
	}
	if limits.MaxFiles <= 0 {
		limits.MaxFiles = defaultMaxFiles
	}
	if now == nil {
		epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		now = func() time.Time { return epoch }
	}
	f := &FS{limits: limits, now: now}
	f.root = &node{name: "/", mode: fs.ModeDir | 0o755, modTime: now(), children: map[string]*node{}}
	f.nodes = 1
	return f
}

// Limits returns the bounds in force.
func (f *FS) Limits() Limits { return f.limits }

// Usage returns the bytes and nodes in use.
func (f *FS) Usage() (bytes int64, nodes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes, f.nodes
}

// Resolve makes name absolute against dir and cleans it. "~" is not expanded here.
func Resolve(dir, name string) string {
	if name == "" {
		return ""
	}
	if !strings.HasPrefix(name, "/") {
		name = dir + "/" + name
	}
	return path.Clean(name)
}

func perr(op, name string, errno syscall.Errno) error {
	return &fs.PathError{Op: op, Path: name, Err: errno}
}

// walk finds the node for a clean absolute path.
func (f *FS) walk(op, name string) (*node, error) {
	if !strings.HasPrefix(name, "/") {
		return nil, perr(op, name, syscall.ENOENT)
	}
	n := f.root
	for _, part := range strings.Split(strings.Trim(path.Clean(name), "/"), "/") {
		if part == "" {
			continue
		}
		if n.children == nil {
			return nil, perr(op, name, syscall.ENOTDIR)
		}
		c, ok := n.children[part]
		if !ok {
			return nil, perr(op, name, syscall.ENOENT)
		}
		n = c
	}
	return n, nil
}

// parentOf finds the directory that holds name and returns it with the base name.
func (f *FS) parentOf(op, name string) (*node, string, error) {
	name = path.Clean(name)
	if name == "/" {
		return nil, "", perr(op, name, syscall.EEXIST)
	}
	dir, base := path.Split(name)
	p, err := f.walk(op, dir)
	if err != nil {
		return nil, "", perr(op, name, err.(*fs.PathError).Err.(syscall.Errno))
	}
	if p.children == nil {
		return nil, "", perr(op, name, syscall.ENOTDIR)
	}
	return p, base, nil
}

func (f *FS) addNode(op, name string, p *node, n *node) error {
	if f.nodes+1 > f.limits.MaxFiles {
		return perr(op, name, syscall.ENOSPC)
	}
	f.nodes++
	n.parent = p
	p.children[n.name] = n
	p.modTime = f.now()
	return nil
}

// Stat describes name. There are no symbolic links, so Lstat is the same.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("stat", name)
	if err != nil {
		return nil, err
	}
	return n.info(), nil
}

// Exists reports whether name exists.
func (f *FS) Exists(name string) bool {
	_, err := f.Stat(name)
	return err == nil
}

// IsDir reports whether name is a directory.
func (f *FS) IsDir(name string) bool {
	fi, err := f.Stat(name)
	return err == nil && fi.IsDir()
}

// Mkdir makes one directory.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, base, err := f.parentOf("mkdir", name)
	if err != nil {
		return err
	}
	if _, ok := p.children[base]; ok {
		return perr("mkdir", name, syscall.EEXIST)
	}
	return f.addNode("mkdir", name, p, &node{name: base, mode: fs.ModeDir | perm.Perm(), modTime: f.now(), children: map[string]*node{}})
}

// MkdirAll makes a directory and its missing parents.
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	name = path.Clean(name)
	if fi, err := f.Stat(name); err == nil {
		if fi.IsDir() {
			return nil
		}
		return perr("mkdir", name, syscall.ENOTDIR)
	}
	if dir := path.Dir(name); dir != name {
		if err := f.MkdirAll(dir, perm); err != nil {
			return err
		}
	}
	err := f.Mkdir(name, perm)
	if errors.Is(err, fs.ErrExist) && f.IsDir(name) {
		return nil
	}
	return err
}

// ReadDir lists a directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("open", name)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, perr("readdirent", name, syscall.ENOTDIR)
	}
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(c.info()))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// ReadFile returns the contents of a file.
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("open", name)
	if err != nil {
		return nil, err
	}
	if n.children != nil {
		return nil, perr("read", name, syscall.EISDIR)
	}
	return append([]byte(nil), n.data...), nil
}

// WriteFile creates or truncates a file and writes data to it.
func (f *FS) WriteFile(name string, data []byte, perm fs.FileMode) error {
	h, err := f.OpenFile(name, O_WRONLY|O_CREATE|O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := h.Write(data); err != nil {
		h.Close()
		return err
	}
	return h.Close()
}

// Remove removes a file or an empty directory.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("remove", name)
	if err != nil {
		return err
	}
	if n == f.root {
		return perr("remove", name, syscall.EBUSY)
	}
	if n.children != nil && len(n.children) > 0 {
		return perr("remove", name, syscall.ENOTEMPTY)
	}
	f.unlink(n)
	return nil
}

// RemoveAll removes name and everything below it. A missing name is not an error.
func (f *FS) RemoveAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("remove", name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if n == f.root {
		return perr("remove", name, syscall.EBUSY)
	}
	f.unlink(n)
	return nil
}

func (f *FS) unlink(n *node) {
	var count func(*node)
	count = func(n *node) {
		f.nodes--
		f.bytes -= int64(len(n.data))
		for _, c := range n.children {
			count(c)
		}
	}
	count(n)
	delete(n.parent.children, n.name)
	n.parent.modTime = f.now()
	n.parent = nil
}

// Rename moves oldname to newname, replacing a file (or an empty directory) already there.
func (f *FS) Rename(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("rename", oldname)
	if err != nil {
		return err
	}
	if n == f.root {
		return perr("rename", oldname, syscall.EBUSY)
	}
	p, base, err := f.parentOf("rename", newname)
	if err != nil {
		return err
	}
	for a := p; a != nil; a = a.parent {
		if a == n {
			return perr("rename", newname, syscall.EINVAL)
		}
	}
	if old, ok := p.children[base]; ok {
		if old == n {
			return nil
		}
		switch {
		case old.children != nil && n.children == nil:
			return perr("rename", newname, syscall.EISDIR)
		case old.children == nil && n.children != nil:
			return perr("rename", newname, syscall.ENOTDIR)
		case old.children != nil && len(old.children) > 0:
			return perr("rename", newname, syscall.ENOTEMPTY)
		}
		f.unlink(old)
	}
	delete(n.parent.children, n.name)
	n.parent.modTime = f.now()
	n.name = base
	n.parent = p
	p.children[base] = n
	p.modTime = f.now()
	return nil
}

// Chmod changes the permission bits.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("chmod", name)
	if err != nil {
		return err
	}
	n.mode = n.mode&fs.ModeType | mode.Perm()
	return nil
}

// Chtimes sets the modification time.
func (f *FS) Chtimes(name string, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.walk("chtimes", name)
	if err != nil {
		return err
	}
	n.modTime = mtime
	return nil
}

// Now is the time the file system stamps on changes.
func (f *FS) Now() time.Time { return f.now() }

// Open flags (the os package's values, repeated so callers need not import os for them).
const (
	O_RDONLY = syscall.O_RDONLY
	O_WRONLY = syscall.O_WRONLY
	O_RDWR   = syscall.O_RDWR
	O_APPEND = syscall.O_APPEND
	O_CREATE = syscall.O_CREAT
	O_EXCL   = syscall.O_EXCL
	O_TRUNC  = syscall.O_TRUNC
)

// File is an open file. Reads and writes go straight to the shared node, so a file written by one
// handle is seen by the others at once.
type File struct {
	fs     *FS
	n      *node
	name   string
	off    int64
	read   bool
	write  bool
	append bool
	closed bool
}

// Open opens a file for reading.
func (f *FS) Open(name string) (*File, error) { return f.OpenFile(name, O_RDONLY, 0) }

// OpenFile opens a file with os-style flags.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	acc := flag & (O_RDONLY | O_WRONLY | O_RDWR)
	h := &File{fs: f, name: name, read: acc != O_WRONLY, write: acc != O_RDONLY, append: flag&O_APPEND != 0}
	n, err := f.walk("open", name)
	switch {
	case err == nil:
		if flag&O_CREATE != 0 && flag&O_EXCL != 0 {
			return nil, perr("open", name, syscall.EEXIST)
		}
		if n.children != nil && h.write {
			return nil, perr("open", name, syscall.EISDIR)
		}
		if flag&O_TRUNC != 0 && h.write {
			f.bytes -= int64(len(n.data))
			n.data = nil
			n.modTime = f.now()
		}
	case errors.Is(err, fs.ErrNotExist) && flag&O_CREATE != 0:
		p, base, perr2 := f.parentOf("open", name)
		if perr2 != nil {
			return nil, perr2
		}
		if strings.HasSuffix(name, "/") {
			return nil, perr("open", name, syscall.EISDIR)
		}
		n = &node{name: base, mode: perm.Perm(), modTime: f.now()}
		if err := f.addNode("open", name, p, n); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	h.n = n
	return h, nil
}

// Name is the path the file was opened with.
func (h *File) Name() string { return h.name }

// Stat describes the open file.
func (h *File) Stat() (fs.FileInfo, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	return h.n.info(), nil
}

// Read implements io.Reader.
func (h *File) Read(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return 0, fs.ErrClosed
	}
	if !h.read {
		return 0, perr("read", h.name, syscall.EBADF)
	}
	if h.n.children != nil {
		return 0, perr("read", h.name, syscall.EISDIR)
	}
	if h.off >= int64(len(h.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.n.data[h.off:])
	h.off += int64(n)
	return n, nil
}

// Write implements io.Writer. A write that would pass the file system's byte bound writes nothing
// and fails with ENOSPC.
func (h *File) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return 0, fs.ErrClosed
	}
	if !h.write {
		return 0, perr("write", h.name, syscall.EBADF)
	}
	if h.n.parent == nil && h.n != h.fs.root {
		// Removed while open: writes go nowhere, as to an unlinked inode nobody can reach.
		return len(p), nil
	}
	if h.append {
		h.off = int64(len(h.n.data))
	}
	end := h.off + int64(len(p))
	grow := end - int64(len(h.n.data))
	if grow > 0 && h.fs.bytes+grow > h.fs.limits.MaxBytes {
		return 0, perr("write", h.name, syscall.ENOSPC)
	}
	if grow > 0 {
		h.n.data = append(h.n.data, make([]byte, grow)...)
		h.fs.bytes += grow
	}
	copy(h.n.data[h.off:], p)
	h.off = end
	h.n.modTime = h.fs.now()
	return len(p), nil
}

// Seek implements io.Seeker.
func (h *File) Seek(offset int64, whence int) (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += h.off
	case io.SeekEnd:
		offset += int64(len(h.n.data))
	}
	if offset < 0 {
		return 0, perr("seek", h.name, syscall.EINVAL)
	}
	h.off = offset
	return offset, nil
}

// Close implements io.Closer.
func (h *File) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	h.closed = true
	return nil
}

type info struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (n *node) info() fs.FileInfo {
	return &info{name: n.name, size: int64(len(n.data)), mode: n.mode, modTime: n.modTime}
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.size }
func (i *info) Mode() fs.FileMode  { return i.mode }
func (i *info) ModTime() time.Time { return i.modTime }
func (i *info) IsDir() bool        { return i.mode.IsDir() }

// Sys returns a zeroed stat record owned by root, for code (like the shell's -O test) that looks
// at the owner.
func (i *info) Sys() any {
	st := &syscall.Stat_t{Mode: uint32(i.mode.Perm()), Size: i.size}
	if i.mode.IsDir() {
		st.Mode |= syscall.S_IFDIR
		st.Nlink = 2
		st.Size = 4096
	} else {
		st.Mode |= syscall.S_IFREG
		st.Nlink = 1
	}
	return st
}

// Strerror is the C library's text for an error's errno, as GNU tools print it
// ("No such file or directory"). Errors without an errno give their own text.
func Strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOENT:
			return "No such file or directory"
		case syscall.ENOTDIR:
			return "Not a directory"
		case syscall.EISDIR:
			return "Is a directory"
		case syscall.EEXIST:
			return "File exists"
		case syscall.ENOTEMPTY:
			return "Directory not empty"
		case syscall.ENOSPC:
			return "No space left on device"
		case syscall.EACCES:
			return "Permission denied"
		case syscall.EPERM:
			return "Operation not permitted"
		case syscall.EINVAL:
			return "Invalid argument"
		case syscall.EBUSY:
			return "Device or resource busy"
		case syscall.EBADF:
			return "Bad file descriptor"
		}
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
