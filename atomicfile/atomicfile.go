package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// ErrEmptyPath is returned by Open and WriteFile for an empty path.
var ErrEmptyPath = errors.New("atomicfile: empty file path")

// Steps of an atomic replace, as reported in StepError.Step.
const (
	StepCreateTemp = "create temp" // exclusive creation of the temp file beside the target
	StepWrite      = "write"       // writing the new bytes into the temp file
	StepSyncFile   = "sync file"   // fsync of the temp file
	StepCloseFile  = "close file"  // close of the temp file
	StepBackup     = "backup"      // keeping the current target as the backup
	StepRename     = "rename"      // rename of the temp file over the target
	StepOpenDir    = "open dir"    // opening the directory for its fsync (before any rename)
	StepSyncDir    = "sync dir"    // fsync of the directory, after the rename: the new content is visible
)

// StepError reports which step of an atomic replace failed. Err is the
// underlying cause, so errors.Is(err, fs.ErrPermission) or
// errors.Is(err, syscall.ENOSPC) work on the returned error.
type StepError struct {
	Step string // one of the Step* constants
	Path string // the target path
	Err  error  // the underlying cause
}

// Error returns "atomic replace <path>: <step>: <err>".
func (e *StepError) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = e.Err.Error()
	}
	return "atomic replace " + e.Path + ": " + e.Step + ": " + msg
}

// Unwrap returns the underlying cause.
func (e *StepError) Unwrap() error { return e.Err }

// Options configure Open and WriteFile.
type Options struct {
	// Backup is where Replace keeps the previous version of the target;
	// "" keeps none. It must be in the target's directory (renames do not
	// cross directories). Its name is the caller's policy.
	Backup string
	// NoSync skips both fsyncs: for benchmarks only, never the default.
	NoSync bool
	// FS is the file system to write through; nil means OSFS.
	FS FS
}

// Name infixes of our temp files. For a target "usage.json" they are
// ".usage.json.tmp-<digits>" (the new content) and ".usage.json.bak-<digits>"
// (the next backup). Stale-temp cleanup removes exactly these names.
const (
	tmpInfix = ".tmp-"
	bakInfix = ".bak-"
)

// Target is one file replaced atomically and durably, keeping the previous
// version as a backup (see Replace).
//
// A Target is safe for use by one goroutine at a time; callers that share
// it must serialise Replace themselves. Only one Target (in one process)
// should write a given path at a time: opening removes stale temp files,
// which would include those of a concurrent writer of the same path (that
// writer's Replace then fails with StepRename or StepBackup and leaves the
// target intact). Writers in several processes serialise on a lock of
// their own.
type Target struct {
	path   string // absolute target path
	dir    string // filepath.Dir(path)
	base   string // filepath.Base(path)
	backup string // absolute backup path, or "": none
	noSync bool
	fs     FS
}

// Open prepares atomic replaces of path. It is cheap: it makes the path
// absolute, removes (best effort) stale temp files that a crashed process
// left for this target, and returns. It fails only for an empty path
// (ErrEmptyPath), a backup outside the target's directory, or if the
// working directory is unknown; a missing parent, a read-only directory or
// a directory at path are reported by Replace, so the caller can clear the
// fault and retry.
func Open(path string, opts Options) (*Target, error) {
	abs, err := absPath(path)
	if err != nil {
		return nil, err
	}
	f := &Target{
		path:   abs,
		dir:    filepath.Dir(abs),
		base:   filepath.Base(abs),
		noSync: opts.NoSync,
		fs:     opts.fs(),
	}
	if opts.Backup != "" {
		if f.backup, err = absPath(opts.Backup); err != nil {
			return nil, err
		}
		if filepath.Dir(f.backup) != f.dir || f.backup == f.path {
			return nil, fmt.Errorf("atomicfile: backup %s must be another file in %s", f.backup, f.dir)
		}
	}
	f.removeStaleTemps()
	return f, nil
}

// Path returns the absolute target path.
func (f *Target) Path() string { return f.path }

// BackupPath returns the absolute backup path, "" if none is kept.
func (f *Target) BackupPath() string { return f.backup }

// Replace atomically and durably replaces the target's content with data,
// keeping the previous content as the backup.
//
// Steps: the data is written to a temp file created exclusively in the
// target's directory, fsynced and closed; the current target (if any) is
// hard-linked to a second temp name that is renamed over the backup (if hard
// links are unsupported the target is copied and fsynced instead); the temp
// file is renamed over the target; the directory is fsynced once. At every
// instant both the target and the backup are complete documents (each is only
// ever replaced by a rename), and when Replace returns nil the new content,
// the new name and the backup are on stable storage.
//
// On error the result is a *StepError (possibly joined with a cleanup error)
// naming the failed step, the temp files are removed and the target is
// untouched, with one exception: if the directory fsync itself fails
// (StepSyncDir after the rename) the new content is already visible but its
// durability is unknown; retrying Replace is the remedy. A failure after the
// backup step (StepRename) leaves the backup equal to the untouched target.
func (f *Target) Replace(data []byte) error {
	return replaceFile(f.fs, f.path, f.dir, f.base, f.backup, data, f.noSync)
}

// WriteFile writes data to path atomically and durably in one shot (temp
// file, fsync, rename, directory fsync) without keeping a backup
// (opts.Backup is ignored). Errors are reported as by Replace.
func WriteFile(path string, data []byte, opts Options) error {
	abs, err := absPath(path)
	if err != nil {
		return err
	}
	fsys := opts.fs()
	return replaceFile(fsys, abs, filepath.Dir(abs), filepath.Base(abs), "", data, opts.NoSync)
}

// WriteNew writes data to a new file at path, atomically and durably, and
// never replaces an existing file: if path exists it returns an error
// wrapping fs.ErrExist and writes nothing. The data goes to a temp file
// that is fsynced and then hard-linked to path (link(2) fails if the name
// is taken), and the directory is fsynced. Where hard links are not
// supported it checks that path is free and renames, which is exclusive
// only against other writers that choose unique names. opts.Backup is
// ignored. Errors are *StepError, as from Replace.
func WriteNew(path string, data []byte, opts Options) error {
	abs, err := absPath(path)
	if err != nil {
		return err
	}
	fsys := opts.fs()
	dir, base := filepath.Dir(abs), filepath.Base(abs)
	stepErr := func(step string, err error) error { return &StepError{Step: step, Path: abs, Err: err} }
	tmp, err := fsys.CreateTemp(dir, "."+base+tmpInfix+"*")
	if err != nil {
		return stepErr(StepCreateTemp, err)
	}
	tmpName := tmp.Name()
	discard := func(step string, err error) error {
		errs := []error{stepErr(step, err)}
		if rerr := fsys.Remove(tmpName); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove temp file after failure: %w", rerr))
		}
		return errors.Join(errs...)
	}
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return discard(StepCreateTemp, err)
	}
	n, err := tmp.Write(data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		_ = tmp.Close()
		return discard(StepWrite, err)
	}
	if !opts.NoSync {
		if err := tmp.Sync(); err != nil {
			_ = tmp.Close()
			return discard(StepSyncFile, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return discard(StepCloseFile, err)
	}
	switch err := fsys.Link(tmpName, abs); {
	case err == nil:
		if err := fsys.Remove(tmpName); err != nil {
			return stepErr(StepRename, err) // path is complete; a stale temp name is left
		}
	case linkUnsupported(err):
		if _, serr := fsys.Stat(abs); serr == nil {
			return discard(StepRename, &fs.PathError{Op: "create", Path: abs, Err: fs.ErrExist})
		}
		if err := fsys.Rename(tmpName, abs); err != nil {
			return discard(StepRename, err)
		}
	default:
		return discard(StepRename, err) // fs.ErrExist if path is taken
	}
	if !opts.NoSync && dirSyncSupported {
		d, err := fsys.Open(dir)
		if err != nil {
			return stepErr(StepSyncDir, err)
		}
		serr := d.Sync()
		if cerr := d.Close(); serr == nil {
			serr = cerr
		}
		if serr != nil {
			return stepErr(StepSyncDir, serr)
		}
	}
	return nil
}

// fs is the file system opts name: OSFS unless FS is set.
func (o Options) fs() FS {
	if o.FS != nil {
		return o.FS
	}
	return OSFS
}

func absPath(path string) (string, error) {
	if path == "" {
		return "", ErrEmptyPath
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("atomicfile: %w", err)
	}
	return abs, nil
}

// dirSyncSupported: Windows cannot fsync a directory handle (and its
// MoveFileEx rename is not made durable that way).
const dirSyncSupported = runtime.GOOS != "windows"

// replaceFile implements Replace and WriteFile. backup == "" means no
// backup.
func replaceFile(fsys FS, path, dir, base, backup string, data []byte, noSync bool) error {
	stepErr := func(step string, err error) error {
		return &StepError{Step: step, Path: path, Err: err}
	}

	tmp, err := fsys.CreateTemp(dir, "."+base+tmpInfix+"*")
	if err != nil {
		return stepErr(StepCreateTemp, err)
	}
	tmpName := tmp.Name()
	tmpOpen := true
	// os.CreateTemp makes the file 0600. Keep the mode of the file being
	// replaced, so readers running as other users (other tools'
	// scripts, say) can still read it; a new file gets 0644, what the
	// original tool's open() gives under the usual umask.
	mode := fs.FileMode(0o644)
	if fi, err := fsys.Stat(path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	var dirFile File // opened before the renames so that an open failure leaves the target untouched
	fail := func(step string, err error) error {
		errs := []error{stepErr(step, err)}
		if tmpOpen {
			if cerr := tmp.Close(); cerr != nil {
				errs = append(errs, fmt.Errorf("close temp file after failure: %w", cerr))
			}
		}
		if rerr := fsys.Remove(tmpName); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove temp file after failure: %w", rerr))
		}
		if dirFile != nil {
			if cerr := dirFile.Close(); cerr != nil {
				errs = append(errs, fmt.Errorf("close directory after failure: %w", cerr))
			}
		}
		return errors.Join(errs...)
	}

	if err := tmp.Chmod(mode); err != nil {
		return fail(StepCreateTemp, err)
	}
	n, err := tmp.Write(data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fail(StepWrite, err)
	}
	if !noSync {
		if err := tmp.Sync(); err != nil {
			return fail(StepSyncFile, err)
		}
	}
	tmpOpen = false
	if err := tmp.Close(); err != nil {
		return fail(StepCloseFile, err)
	}

	if !noSync && dirSyncSupported {
		d, err := fsys.Open(dir)
		if err != nil {
			return fail(StepOpenDir, err)
		}
		dirFile = d
	}

	if backup != "" {
		if err := keepBackup(fsys, path, dir, base, backup, noSync); err != nil {
			return fail(StepBackup, err)
		}
	}

	if err := fsys.Rename(tmpName, path); err != nil {
		return fail(StepRename, err)
	}

	if dirFile != nil {
		// The rename is done: from here on the temp file no longer exists
		// and the target holds the new data whatever happens.
		serr := dirFile.Sync()
		cerr := dirFile.Close()
		if serr != nil {
			return errors.Join(stepErr(StepSyncDir, serr), cerr)
		}
		if cerr != nil {
			return stepErr(StepSyncDir, cerr)
		}
	}
	return nil
}

// keepBackup makes backup a complete copy of the current target, atomically
// (a rename over the old backup). No current target means no backup.
func keepBackup(fsys FS, path, dir, base, backup string, noSync bool) error {
	prefix := filepath.Join(dir, "."+base+bakInfix)
	for range 100 {
		name := prefix + strconv.FormatUint(uint64(rand.Uint32()), 10)
		err := fsys.Link(path, name)
		switch {
		case err == nil:
			return installBackup(fsys, name, backup)
		case errors.Is(err, fs.ErrExist):
			continue // name taken: draw another
		case errors.Is(err, fs.ErrNotExist):
			return nil // no current target: nothing to keep
		case linkUnsupported(err):
			return copyBackup(fsys, path, dir, base, backup, noSync)
		default:
			return err
		}
	}
	return fmt.Errorf("no unused temp name with prefix %s: %w", prefix, fs.ErrExist)
}

// linkUnsupported reports errors meaning "hard links are not possible here"
// (file system without links, link count limit, directory target, protected
// hard links), for which copying is the fallback.
func linkUnsupported(err error) bool {
	for _, e := range []error{syscall.EPERM, syscall.ENOTSUP, syscall.EOPNOTSUPP, syscall.EXDEV, syscall.EMLINK, syscall.ENOSYS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// copyBackup is the fallback of keepBackup: copy the target into a temp file,
// fsync it and install it.
func copyBackup(fsys FS, path, dir, base, backup string, noSync bool) (err error) {
	src, err := fsys.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := src.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	tmp, err := fsys.CreateTemp(dir, "."+base+bakInfix+"*")
	if err != nil {
		return err
	}
	discard := func(err error) error {
		errs := []error{err}
		if cerr := tmp.Close(); cerr != nil {
			errs = append(errs, fmt.Errorf("close backup temp file after failure: %w", cerr))
		}
		if rerr := fsys.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove backup temp file after failure: %w", rerr))
		}
		return errors.Join(errs...)
	}
	if _, err := io.Copy(tmp, src); err != nil {
		return discard(err)
	}
	if !noSync {
		if err := tmp.Sync(); err != nil {
			return discard(err)
		}
	}
	if err := tmp.Close(); err != nil {
		if rerr := fsys.Remove(tmp.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return errors.Join(err, fmt.Errorf("remove backup temp file after failure: %w", rerr))
		}
		return err
	}
	return installBackup(fsys, tmp.Name(), backup)
}

// installBackup renames the temp name over the backup. If the backup already
// was the same inode as the target (a crash between the backup rename and the
// target rename leaves them hard-linked), rename(2) does nothing and leaves
// name in place, so name is removed afterwards.
func installBackup(fsys FS, name, backup string) error {
	if err := fsys.Rename(name, backup); err != nil {
		if rerr := fsys.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return errors.Join(err, fmt.Errorf("remove backup temp file after failure: %w", rerr))
		}
		return err
	}
	if err := fsys.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeStaleTemps removes, best effort, the temp files of this target that a
// crashed process left behind. It returns how many it removed.
func (f *Target) removeStaleTemps() int {
	entries, err := f.fs.ReadDir(f.dir)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		if e.IsDir() || !isStaleTemp(f.base, e.Name()) {
			continue
		}
		if f.fs.Remove(filepath.Join(f.dir, e.Name())) == nil {
			removed++
		}
	}
	return removed
}

// isStaleTemp reports whether name is one of our temp names for target base:
// "."+base+".tmp-"+digits or "."+base+".bak-"+digits.
func isStaleTemp(base, name string) bool {
	rest, ok := strings.CutPrefix(name, "."+base)
	if !ok {
		return false
	}
	digits, ok := strings.CutPrefix(rest, tmpInfix)
	if !ok {
		if digits, ok = strings.CutPrefix(rest, bakInfix); !ok {
			return false
		}
	}
	if digits == "" {
		return false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
