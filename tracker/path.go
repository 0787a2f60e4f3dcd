package tracker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/usagering/usagering/atomicfile"
)

// usablePath returns the absolute path of a usage file the trackers can
// write. A missing parent directory is created (0755, as the original
// tool's mkdir(parents=True)). What can never work is an error wrapping
// ErrUnusablePath: an empty path, something other than a regular file at
// the path (a directory, say), or a directory in which no file can be
// created (no permission, a read-only file system); the check creates and
// removes a temp file there, through fsys (nil: the real file system).
// Faults that appear later are retried by the persists instead.
func usablePath(path string, fsys atomicfile.FS) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%w: empty path", ErrUnusablePath)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnusablePath, err)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("%w: create the directory of %s: %w", ErrUnusablePath, abs, err)
	}
	switch fi, err := os.Stat(abs); {
	case err == nil && !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %s is a %s, not a file", ErrUnusablePath, abs, kind(fi))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: %w", ErrUnusablePath, err)
	}
	if fsys == nil {
		fsys = atomicfile.OSFS
	}
	// A temp name the atomic file cleans up if a crash leaves it here.
	probe, err := fsys.CreateTemp(dir, "."+filepath.Base(abs)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("%w: cannot create files in %s: %w", ErrUnusablePath, dir, err)
	}
	name := probe.Name()
	if err := errors.Join(probe.Close(), fsys.Remove(name)); err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrUnusablePath, dir, err)
	}
	return abs, nil
}

// kind names what a file info describes.
func kind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "directory"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
