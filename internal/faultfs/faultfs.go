// Package faultfs is a file system that fails and stalls on demand: a
// vfs.FS over another one that asks an Injector before every operation,
// in the spirit of Pebble's vfs/errorfs. Tests and benchmarks inject disk
// faults (a full disk, a failing fsync, a read-only directory) and stalls
// (an fsync that takes seconds) through it; production code never uses it.
package faultfs

import (
	"errors"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/usagering/usagering/internal/vfs"
)

// Op is a file-system operation.
type Op uint8

// The operations an Injector is asked about.
const (
	OpCreateTemp Op = iota // FS.CreateTemp; Path is the directory
	OpOpen                 // FS.Open
	OpRename               // FS.Rename; Path is the new path
	OpRemove               // FS.Remove
	OpLink                 // FS.Link; Path is the new name
	OpReadDir              // FS.ReadDir
	OpStat                 // FS.Stat
	OpRead                 // File.Read
	OpWrite                // File.Write
	OpSync                 // File.Sync (of a file, or of a directory opened with Open)
	OpClose                // File.Close: the file is closed whatever the injector says
	OpChmod                // File.Chmod
	numOps
)

var opNames = [numOps]string{"createtemp", "open", "rename", "remove", "link", "readdir", "stat", "read", "write", "sync", "close", "chmod"}

func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op?"
}

// Event is one operation about to happen.
type Event struct {
	Op      Op
	Path    string // the file, directory or new name it concerns
	Written int    // OpWrite: bytes written to this file so far
	Len     int    // OpWrite: bytes this write would write
}

// Injector decides the fate of each operation. Inject returns nil to let
// it run, or an error to fail it: the operation returns that error wrapped
// as the os package would (*fs.PathError, *os.LinkError), so errors.Is
// finds it. Inject may block before it returns: that is a stall. Two
// errors have a meaning of their own: ErrSkip makes the operation succeed
// without doing it (a Sync, in fast tests), and a *ShortWrite fails a
// write after writing part of it. Inject is called concurrently by every
// goroutine using the FS.
type Injector interface {
	Inject(ev Event) error
}

// InjectorFunc is an Injector function.
type InjectorFunc func(ev Event) error

// Inject calls f.
func (f InjectorFunc) Inject(ev Event) error { return f(ev) }

// ErrSkip, returned by an Injector, makes the operation succeed without
// being done.
var ErrSkip = errors.New("faultfs: skip")

// ShortWrite, returned by an Injector for an OpWrite, writes the first N
// bytes of the write, then fails it with Err: a disk that fills up midway.
type ShortWrite struct {
	N   int
	Err error
}

func (e *ShortWrite) Error() string { return "short write: " + e.Err.Error() }
func (e *ShortWrite) Unwrap() error { return e.Err }

// FS is a vfs.FS that asks its injector before each operation. It is safe
// for concurrent use; Set swaps the injector atomically.
type FS struct {
	base vfs.FS
	inj  atomic.Pointer[Injector]
}

var _ vfs.FS = (*FS)(nil)

// New returns an FS over base (nil: the real file system) that injects
// nothing until Set.
func New(base vfs.FS) *FS {
	if base == nil {
		base = vfs.OS
	}
	return &FS{base: base}
}

// Set makes inj decide the fate of every later operation; nil injects
// nothing.
func (f *FS) Set(inj Injector) {
	if inj == nil {
		f.inj.Store(nil)
		return
	}
	f.inj.Store(&inj)
}

func (f *FS) inject(ev Event) error {
	if p := f.inj.Load(); p != nil {
		return (*p).Inject(ev)
	}
	return nil
}

func pathErr(op, path string, err error) error { return &fs.PathError{Op: op, Path: path, Err: err} }

// CreateTemp implements vfs.FS.
func (f *FS) CreateTemp(dir, pattern string) (vfs.File, error) {
	switch err := f.inject(Event{Op: OpCreateTemp, Path: dir}); {
	case errors.Is(err, ErrSkip):
		return nil, pathErr("open", dir, err) // nothing to return without creating it
	case err != nil:
		return nil, pathErr("open", dir, err)
	}
	file, err := f.base.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &File{File: file, fs: f}, nil
}

// Open implements vfs.FS.
func (f *FS) Open(name string) (vfs.File, error) {
	if err := f.inject(Event{Op: OpOpen, Path: name}); err != nil {
		return nil, pathErr("open", name, err)
	}
	file, err := f.base.Open(name)
	if err != nil {
		return nil, err
	}
	return &File{File: file, fs: f}, nil
}

// Rename implements vfs.FS.
func (f *FS) Rename(oldpath, newpath string) error {
	switch err := f.inject(Event{Op: OpRename, Path: newpath}); {
	case errors.Is(err, ErrSkip):
		return nil
	case err != nil:
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return f.base.Rename(oldpath, newpath)
}

// Remove implements vfs.FS.
func (f *FS) Remove(name string) error {
	switch err := f.inject(Event{Op: OpRemove, Path: name}); {
	case errors.Is(err, ErrSkip):
		return nil
	case err != nil:
		return pathErr("remove", name, err)
	}
	return f.base.Remove(name)
}

// Link implements vfs.FS.
func (f *FS) Link(oldname, newname string) error {
	switch err := f.inject(Event{Op: OpLink, Path: newname}); {
	case errors.Is(err, ErrSkip):
		return nil
	case err != nil:
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return f.base.Link(oldname, newname)
}

// ReadDir implements vfs.FS.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.inject(Event{Op: OpReadDir, Path: name}); err != nil {
		return nil, pathErr("readdirent", name, err)
	}
	return f.base.ReadDir(name)
}

// Stat implements vfs.FS.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if err := f.inject(Event{Op: OpStat, Path: name}); err != nil {
		return nil, pathErr("stat", name, err)
	}
	return f.base.Stat(name)
}

// File is an open file of an FS: its operations ask the FS's injector.
type File struct {
	vfs.File
	fs      *FS
	written int
}

// Read implements vfs.File.
func (f *File) Read(p []byte) (int, error) {
	if err := f.fs.inject(Event{Op: OpRead, Path: f.Name()}); err != nil {
		return 0, pathErr("read", f.Name(), err)
	}
	return f.File.Read(p)
}

// Write implements vfs.File.
func (f *File) Write(p []byte) (int, error) {
	err := f.fs.inject(Event{Op: OpWrite, Path: f.Name(), Written: f.written, Len: len(p)})
	var short *ShortWrite
	switch {
	case err == nil:
	case errors.Is(err, ErrSkip):
		return len(p), nil
	case errors.As(err, &short):
		n, werr := f.File.Write(p[:max(0, min(short.N, len(p)))])
		f.written += n
		if werr == nil {
			werr = pathErr("write", f.Name(), short.Err)
		}
		return n, werr
	default:
		return 0, pathErr("write", f.Name(), err)
	}
	n, err := f.File.Write(p)
	f.written += n
	return n, err
}

// Sync implements vfs.File.
func (f *File) Sync() error {
	switch err := f.fs.inject(Event{Op: OpSync, Path: f.Name()}); {
	case errors.Is(err, ErrSkip):
		return nil
	case err != nil:
		return pathErr("sync", f.Name(), err)
	}
	return f.File.Sync()
}

// Close implements vfs.File: the file is closed in any case, and the
// injector's error, if any, returned.
func (f *File) Close() error {
	cerr := f.File.Close()
	if err := f.fs.inject(Event{Op: OpClose, Path: f.Name()}); err != nil && !errors.Is(err, ErrSkip) {
		return pathErr("close", f.Name(), err)
	}
	return cerr
}

// Chmod implements vfs.File.
func (f *File) Chmod(mode fs.FileMode) error {
	switch err := f.fs.inject(Event{Op: OpChmod, Path: f.Name()}); {
	case errors.Is(err, ErrSkip):
		return nil
	case err != nil:
		return pathErr("chmod", f.Name(), err)
	}
	return f.File.Chmod(mode)
}
