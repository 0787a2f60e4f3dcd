// Package vfs is the file-system surface through which usagering writes
// files: an interface over package os that tests and benchmarks replace
// (see internal/faultfs) to inject faults and stalls. Package atomicfile
// exports it as atomicfile.FS and atomicfile.File.
package vfs

import (
	"io"
	"io/fs"
	"os"
)

// FS is the file-system surface atomicfile uses. Tests inject faults
// through it; OS is the real one.
type FS interface {
	// CreateTemp creates a new file exclusively (O_EXCL) in dir, like
	// os.CreateTemp: the last "*" in pattern is replaced by a random string.
	// The returned File's Name is the full path of the new file.
	CreateTemp(dir, pattern string) (File, error)
	// Open opens name read-only. Replace uses it to open the directory
	// for fsync and the target for the copy fallback of the backup.
	Open(name string) (File, error)
	// Rename atomically replaces newpath by oldpath, like os.Rename.
	Rename(oldpath, newpath string) error
	// Remove removes the named file, like os.Remove.
	Remove(name string) error
	// Link creates newname as a hard link to oldname, like os.Link.
	Link(oldname, newname string) error
	// ReadDir lists the named directory, like os.ReadDir.
	ReadDir(name string) ([]fs.DirEntry, error)
	// Stat describes the named file, like os.Stat. Replace uses it to
	// give the new file the permissions of the one it replaces.
	Stat(name string) (fs.FileInfo, error)
}

// File is an open file as FS returns it. *os.File satisfies it.
type File interface {
	io.Reader
	io.Writer
	Sync() error
	Close() error
	Name() string
	Chmod(mode fs.FileMode) error
}

// OS is the real file system (package os).
var OS FS = osFS{}

type osFS struct{}

func (osFS) CreateTemp(dir, pattern string) (File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err // not a typed-nil *os.File inside a non-nil File
	}
	return f, nil
}

func (osFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (osFS) Rename(oldpath, newpath string) error       { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                   { return os.Remove(name) }
func (osFS) Link(oldname, newname string) error         { return os.Link(oldname, newname) }
func (osFS) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFS) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }
