package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/usagering/usagering/internal/faultfs"
	"pgregory.net/rapid"
)

// faultFS is the tests' view of a faultfs.FS over the real file system:
// it fails chosen operations and logs them. It is used by one goroutine at
// a time, like a Target.
type faultFS struct {
	*faultfs.FS
	// fail, if set, is asked before each operation; a non-nil result fails
	// it. op is "createtemp" (name = dir), "open", "read", "rename" (name =
	// newpath), "remove", "link" (name = newname), "readdir", "sync" or
	// "close" (name = the file's name).
	fail func(op, name string) error
	// writeLimit >= 0 makes writes to a file fail with writeErr once
	// writeLimit bytes were written to it (a partial write).
	writeLimit int
	writeErr   error
	// fakeSync makes Sync succeed without syncing (fast property tests).
	fakeSync bool
	// ops records every operation as "op name".
	ops []string
}

func newFaultFS() *faultFS {
	f := &faultFS{FS: faultfs.New(OSFS), writeLimit: -1}
	f.Set(faultfs.InjectorFunc(f.inject))
	return f
}

func (f *faultFS) inject(ev faultfs.Event) error {
	switch ev.Op {
	case faultfs.OpStat, faultfs.OpChmod:
		return nil // not fault points: they only pick the new file's permissions
	case faultfs.OpWrite:
		if f.writeLimit >= 0 && ev.Written+ev.Len > f.writeLimit {
			return &faultfs.ShortWrite{N: max(f.writeLimit-ev.Written, 0), Err: f.writeErr}
		}
		return nil
	}
	f.ops = append(f.ops, ev.Op.String()+" "+ev.Path)
	if f.fail != nil {
		if err := f.fail(ev.Op.String(), ev.Path); err != nil {
			return err
		}
	}
	if ev.Op == faultfs.OpSync && f.fakeSync {
		return faultfs.ErrSkip
	}
	return nil
}

func (f *faultFS) clear() {
	f.fail = nil
	f.writeLimit = -1
	f.writeErr = nil
}

// backupOf is the backup name these tests use, the usage file's:
// <dir>/<stem>.backup.json.
func backupOf(path string) string {
	dir, base := filepath.Split(path)
	return dir + strings.TrimSuffix(base, ".json") + ".backup.json"
}

// backupUnless returns backupOf(path), or "" (no backup) if none.
func backupUnless(none bool, path string) string {
	if none {
		return ""
	}
	return backupOf(path)
}

// isTmp and isBakTmp classify our temp names (by base name).
func isTmp(name string) bool    { return strings.Contains(filepath.Base(name), tmpInfix) }
func isBakTmp(name string) bool { return strings.Contains(filepath.Base(name), bakInfix) }

// testDoc returns a distinct JSON document of about size bytes.
func testDoc(tag string, size int) []byte {
	return fmt.Appendf(nil, `{"tag":%q,"pad":%q}`, tag, strings.Repeat(tag[:1], size))
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return b
}

func assertContent(t testing.TB, path string, want []byte) {
	t.Helper()
	got := readFile(t, path)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes starting %.40q, want %d bytes starting %.40q", path, len(got), got, len(want), want)
	}
}

func assertMissing(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s: want it missing, Lstat error = %v", path, err)
	}
}

// assertDirNames checks that dir holds exactly the named entries (so no temp
// file is left over).
func assertDirNames(t testing.TB, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("dir %s holds %q, want %q", dir, got, want)
	}
}

// assertStepError checks that err is a *StepError for step and path whose
// cause is cause.
func assertStepError(t testing.TB, err error, step, path string, cause error) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %q error, got nil", step)
	}
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *StepError", err, err)
	}
	if se.Step != step {
		t.Fatalf("step = %q, want %q (error: %v)", se.Step, step, err)
	}
	if se.Path != path {
		t.Fatalf("path = %q, want %q", se.Path, path)
	}
	if !errors.Is(err, cause) {
		t.Fatalf("errors.Is(%v, %v) = false", err, cause)
	}
	if prefix := "atomic replace " + path + ": " + step + ": "; !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %q does not start with %q", err, prefix)
	}
}

// setupV0V1 makes dir/usage.json = v1 and dir/usage.backup.json = v0 with the
// real file system.
func setupV0V1(t *testing.T, v0, v1 []byte) (dir, target, backup string) {
	t.Helper()
	dir = t.TempDir()
	target = filepath.Join(dir, "usage.json")
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][]byte{v0, v1} {
		if err := f.Replace(v); err != nil {
			t.Fatal(err)
		}
	}
	assertContent(t, target, v1)
	assertContent(t, f.BackupPath(), v0)
	return dir, target, f.BackupPath()
}

func TestReplaceFaults(t *testing.T) {
	v0, v1 := testDoc("a", 1000), testDoc("b", 20000)
	v2, v3 := testDoc("c", 30000), testDoc("d", 500)
	onTmp := func(op string, cause error) func(string, string) error {
		return func(o, name string) error {
			if o == op && isTmp(name) {
				return cause
			}
			return nil
		}
	}
	onBak := func(op string, cause error) func(string, string) error {
		return func(o, name string) error {
			if o == op && isBakTmp(name) {
				return cause
			}
			return nil
		}
	}
	linkXDEV := func(next func(string, string) error) func(string, string) error {
		return func(o, name string) error {
			if o == "link" {
				return syscall.EXDEV
			}
			return next(o, name)
		}
	}
	cases := []struct {
		name       string
		fail       func(dir, target, backup string) func(op, name string) error
		writeLimit int
		writeErr   error
		step       string
		cause      error
		// state after the failed Replace(v2); afterBackup is the backup
		// after the successful Replace(v3) that follows.
		target, backup, afterBackup []byte
	}{
		{
			name: "create temp ENOSPC",
			fail: func(dir, _, _ string) func(string, string) error {
				return func(op, name string) error {
					if op == "createtemp" && name == dir {
						return syscall.ENOSPC
					}
					return nil
				}
			},
			step: StepCreateTemp, cause: syscall.ENOSPC, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name:       "write fails midway ENOSPC",
			writeLimit: 4096, writeErr: syscall.ENOSPC,
			step: StepWrite, cause: syscall.ENOSPC, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name:       "write fails at first byte EIO",
			writeLimit: 0, writeErr: syscall.EIO,
			step: StepWrite, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "fsync file EIO",
			fail: func(_, _, _ string) func(string, string) error { return onTmp("sync", syscall.EIO) },
			step: StepSyncFile, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "close file EIO",
			fail: func(_, _, _ string) func(string, string) error { return onTmp("close", syscall.EIO) },
			step: StepCloseFile, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "open dir EMFILE",
			fail: func(dir, _, _ string) func(string, string) error {
				return func(op, name string) error {
					if op == "open" && name == dir {
						return syscall.EMFILE
					}
					return nil
				}
			},
			step: StepOpenDir, cause: syscall.EMFILE, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "link EIO",
			fail: func(_, _, _ string) func(string, string) error { return onBak("link", syscall.EIO) },
			step: StepBackup, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "copy fallback read EIO",
			fail: func(_, target, _ string) func(string, string) error {
				return linkXDEV(func(op, name string) error {
					if op == "read" && name == target {
						return syscall.EIO
					}
					return nil
				})
			},
			step: StepBackup, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "copy fallback fsync EIO",
			fail: func(_, _, _ string) func(string, string) error { return linkXDEV(onBak("sync", syscall.EIO)) },
			step: StepBackup, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "backup rename EIO",
			fail: func(_, _, backup string) func(string, string) error {
				return func(op, name string) error {
					if op == "rename" && name == backup {
						return syscall.EIO
					}
					return nil
				}
			},
			step: StepBackup, cause: syscall.EIO, target: v1, backup: v0, afterBackup: v1,
		},
		{
			name: "rename EBUSY",
			fail: func(_, target, _ string) func(string, string) error {
				return func(op, name string) error {
					if op == "rename" && name == target {
						return syscall.EBUSY
					}
					return nil
				}
			},
			// The backup step already ran: backup = the untouched target.
			step: StepRename, cause: syscall.EBUSY, target: v1, backup: v1, afterBackup: v1,
		},
		{
			name: "dir fsync EIO",
			fail: func(dir, _, _ string) func(string, string) error {
				return func(op, name string) error {
					if op == "sync" && name == dir {
						return syscall.EIO
					}
					return nil
				}
			},
			// After the rename nothing can be undone: the new data is
			// visible, its durability unknown; the retry makes it durable.
			step: StepSyncDir, cause: syscall.EIO, target: v2, backup: v1, afterBackup: v2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir, target, backup := setupV0V1(t, v0, v1)
			ffs := newFaultFS()
			if tc.fail != nil {
				ffs.fail = tc.fail(dir, target, backup)
			}
			ffs.writeLimit, ffs.writeErr = tc.writeLimit, tc.writeErr
			if tc.writeErr == nil {
				ffs.writeLimit = -1
			}
			f, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
			if err != nil {
				t.Fatal(err)
			}

			err = f.Replace(v2)
			assertStepError(t, err, tc.step, target, tc.cause)
			assertContent(t, target, tc.target)
			assertContent(t, backup, tc.backup)
			assertDirNames(t, dir, "usage.json", "usage.backup.json")

			ffs.clear()
			if err := f.Replace(v3); err != nil {
				t.Fatalf("Replace after clearing the fault: %v", err)
			}
			assertContent(t, target, v3)
			assertContent(t, backup, tc.afterBackup)
			assertDirNames(t, dir, "usage.json", "usage.backup.json")
		})
	}
}

func TestReplaceReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	v1, v2 := testDoc("a", 100), testDoc("b", 200)
	if err := WriteFile(target, v1, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })

	ffs := newFaultFS()
	// Root (or CAP_DAC_OVERRIDE) writes into a 0555 directory anyway. Detect
	// that by trying, and then inject the EACCES the kernel would return so
	// the assertions still run.
	probe := filepath.Join(dir, "probe")
	if pf, err := os.OpenFile(probe, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		_ = pf.Close()
		if err := os.Remove(probe); err != nil {
			t.Fatal(err)
		}
		t.Log("directory permissions are not enforced for this user; injecting EACCES")
		ffs.fail = func(op, name string) error {
			if op == "createtemp" && name == dir {
				return syscall.EACCES
			}
			return nil
		}
	} else if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("probe create in read-only dir: %v", err)
	}

	f, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
	if err != nil {
		t.Fatalf("Open must not fail on a read-only directory: %v", err)
	}
	err = f.Replace(v2)
	assertStepError(t, err, StepCreateTemp, target, fs.ErrPermission)
	assertContent(t, target, v1)
	assertDirNames(t, dir, "usage.json")

	// Clear the fault and retry.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ffs.clear()
	if err := f.Replace(v2); err != nil {
		t.Fatal(err)
	}
	assertContent(t, target, v2)
	assertContent(t, f.BackupPath(), v1)
	assertDirNames(t, dir, "usage.json", "usage.backup.json")
}

func TestReplaceTargetIsDirectory(t *testing.T) {
	for _, noBackup := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoBackup=%v", noBackup), func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "usage.json")
			inner := filepath.Join(target, "keep.txt")
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(inner, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := Open(target, Options{Backup: backupUnless(noBackup, target)})
			if err != nil {
				t.Fatalf("Open must not fail on a directory target: %v", err)
			}
			v1, v2 := testDoc("a", 100), testDoc("b", 100)
			err = f.Replace(v1)
			// With a backup, linking a directory fails (EPERM) and the copy
			// fallback cannot read it (EISDIR); without, os.Rename refuses
			// to replace a directory (EEXIST).
			step, cause := StepBackup, error(syscall.EISDIR)
			if noBackup {
				step, cause = StepRename, fs.ErrExist
			}
			assertStepError(t, err, step, target, cause)
			assertContent(t, inner, []byte("keep"))
			assertDirNames(t, dir, "usage.json")
			assertDirNames(t, target, "keep.txt")

			if err := os.RemoveAll(target); err != nil {
				t.Fatal(err)
			}
			if err := f.Replace(v1); err != nil {
				t.Fatal(err)
			}
			assertContent(t, target, v1)
			assertDirNames(t, dir, "usage.json") // no previous version, no backup
			if err := f.Replace(v2); err != nil {
				t.Fatal(err)
			}
			assertContent(t, target, v2)
			if noBackup {
				assertDirNames(t, dir, "usage.json")
			} else {
				assertContent(t, f.BackupPath(), v1)
				assertDirNames(t, dir, "usage.json", "usage.backup.json")
			}
		})
	}
}

func TestReplaceParentMissing(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "missing", "sub")
	target := filepath.Join(dir, "usage.json")
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatalf("Open must not fail on a missing parent: %v", err)
	}
	v1, v2 := testDoc("a", 100), testDoc("b", 100)
	err = f.Replace(v1)
	assertStepError(t, err, StepCreateTemp, target, fs.ErrNotExist)
	assertDirNames(t, root)
	assertMissing(t, target)

	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := f.Replace(v1); err != nil {
		t.Fatal(err)
	}
	assertContent(t, target, v1)
	assertDirNames(t, dir, "usage.json")
	if err := f.Replace(v2); err != nil {
		t.Fatal(err)
	}
	assertContent(t, target, v2)
	assertContent(t, f.BackupPath(), v1)
	assertDirNames(t, dir, "usage.json", "usage.backup.json")
}

// A failure whose cleanup also fails reports both, the step error first, and
// the leftover temp file is removed by the next open.
func TestReplaceCleanupFailureIsJoined(t *testing.T) {
	v0, v1, v2 := testDoc("a", 100), testDoc("b", 10000), testDoc("c", 10000)
	dir, target, backup := setupV0V1(t, v0, v1)
	ffs := newFaultFS()
	ffs.writeLimit, ffs.writeErr = 100, syscall.ENOSPC
	ffs.fail = func(op, name string) error {
		if op == "remove" && isTmp(name) {
			return syscall.EROFS
		}
		return nil
	}
	f, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Replace(v2)
	assertStepError(t, err, StepWrite, target, syscall.ENOSPC)
	if !errors.Is(err, syscall.EROFS) {
		t.Fatalf("cleanup error missing from %v", err)
	}
	if !strings.Contains(err.Error(), "remove temp file after failure") {
		t.Fatalf("error %q does not mention the failed cleanup", err)
	}
	if u, ok := err.(interface{ Unwrap() []error }); !ok {
		t.Fatalf("error %T is not a joined error", err)
	} else if errs := u.Unwrap(); len(errs) != 2 {
		t.Fatalf("joined %d errors, want 2", len(errs))
	} else if _, ok := errs[0].(*StepError); !ok {
		t.Fatalf("first joined error is %T, want *StepError", errs[0])
	}
	assertContent(t, target, v1)
	assertContent(t, backup, v0)
	if n := countStaleTemps(t, dir, "usage.json"); n != 1 {
		t.Fatalf("%d temp files left, want the 1 whose removal failed", n)
	}

	ffs.clear()
	f2, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
	if err != nil {
		t.Fatal(err)
	}
	assertDirNames(t, dir, "usage.json", "usage.backup.json")
	if err := f2.Replace(v2); err != nil {
		t.Fatal(err)
	}
	assertContent(t, target, v2)
	assertContent(t, backup, v1)
}

func countStaleTemps(t testing.TB, dir, base string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if isStaleTemp(base, e.Name()) {
			n++
		}
	}
	return n
}

func TestReplaceKeepsBackup(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Path() != target {
		t.Fatalf("Path() = %q, want %q", f.Path(), target)
	}
	if want := filepath.Join(dir, "usage.backup.json"); f.BackupPath() != want {
		t.Fatalf("BackupPath() = %q, want %q", f.BackupPath(), want)
	}
	v1, v2, v3 := testDoc("a", 300), testDoc("b", 200), testDoc("c", 100)
	if err := f.Replace(v1); err != nil {
		t.Fatal(err)
	}
	assertDirNames(t, dir, "usage.json") // first write: nothing to back up
	for _, v := range [][]byte{v2, v3} {
		if err := f.Replace(v); err != nil {
			t.Fatal(err)
		}
	}
	assertContent(t, target, v3)
	assertContent(t, f.BackupPath(), v2)
	assertDirNames(t, dir, "usage.json", "usage.backup.json")
}

func TestReplaceWithoutJSONExtension(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage")
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1", "2"} {
		if err := f.Replace([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	assertContent(t, target, []byte("2"))
	assertContent(t, filepath.Join(dir, "usage.backup.json"), []byte("1"))
	assertDirNames(t, dir, "usage", "usage.backup.json")
}

func TestReplaceNoBackup(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	f, err := Open(target, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1", "2", "3"} {
		if err := f.Replace([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	assertContent(t, target, []byte("3"))
	assertDirNames(t, dir, "usage.json")
	if f.BackupPath() != "" {
		t.Fatalf("BackupPath() = %q, want \"\" without a backup", f.BackupPath())
	}
}

// Where hard links are unsupported the backup is a copy.
func TestReplaceLinkUnsupportedCopies(t *testing.T) {
	for _, cause := range []error{syscall.EPERM, syscall.EXDEV, syscall.ENOTSUP, syscall.EMLINK, syscall.ENOSYS} {
		t.Run(cause.Error(), func(t *testing.T) {
			v0, v1, v2 := testDoc("a", 100), testDoc("b", 70000), testDoc("c", 100)
			dir, target, backup := setupV0V1(t, v0, v1)
			ffs := newFaultFS()
			links := 0
			ffs.fail = func(op, _ string) error {
				if op == "link" {
					links++
					return cause
				}
				return nil
			}
			f, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Replace(v2); err != nil {
				t.Fatal(err)
			}
			if links != 1 {
				t.Fatalf("link attempted %d times, want 1", links)
			}
			assertContent(t, target, v2)
			assertContent(t, backup, v1)
			assertDirNames(t, dir, "usage.json", "usage.backup.json")
			if !slices.ContainsFunc(ffs.ops, func(op string) bool {
				return strings.HasPrefix(op, "sync ") && isBakTmp(op)
			}) {
				t.Fatalf("copied backup was not fsynced; ops: %q", ffs.ops)
			}
		})
	}
}

// A crash between the backup rename and the target rename leaves the target
// and the backup hard-linked to one inode; rename(2) between two links of
// one inode does nothing, and Replace must still leave no temp file behind.
func TestReplaceBackupSameInodeAsTarget(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	backup := backupOf(target)
	v1, v2 := testDoc("a", 100), testDoc("b", 100)
	if err := os.WriteFile(target, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(target, backup); err != nil {
		t.Skipf("hard links unsupported here: %v", err)
	}
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Replace(v2); err != nil {
		t.Fatal(err)
	}
	assertContent(t, target, v2)
	assertContent(t, backup, v1)
	assertDirNames(t, dir, "usage.json", "usage.backup.json")
}

// The default is durable: the temp file and the directory are fsynced, the
// directory after the rename. NoSync skips both.
func TestReplaceSyncs(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("NoSync=%v", noSync), func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "usage.json")
			if err := os.WriteFile(target, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			ffs := newFaultFS()
			f, err := Open(target, Options{Backup: backupOf(target), FS: ffs, NoSync: noSync})
			if err != nil {
				t.Fatal(err)
			}
			ffs.ops = nil
			if err := f.Replace([]byte("new")); err != nil {
				t.Fatal(err)
			}
			idx := func(pred func(string) bool) int { return slices.IndexFunc(ffs.ops, pred) }
			syncTmp := idx(func(op string) bool { return strings.HasPrefix(op, "sync ") && isTmp(op) })
			syncDir := idx(func(op string) bool { return op == "sync "+dir })
			rename := idx(func(op string) bool { return op == "rename "+target })
			if rename < 0 {
				t.Fatalf("no rename over the target; ops: %q", ffs.ops)
			}
			if noSync {
				if syncTmp >= 0 || syncDir >= 0 || slices.Contains(ffs.ops, "open "+dir) {
					t.Fatalf("NoSync still syncs; ops: %q", ffs.ops)
				}
				return
			}
			if !(syncTmp >= 0 && syncTmp < rename && rename < syncDir) {
				t.Fatalf("want file sync < rename < dir sync, got %d, %d, %d; ops: %q", syncTmp, rename, syncDir, ffs.ops)
			}
		})
	}
}

func TestOpenRemovesOnlyStaleTemps(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	ours := []string{
		".usage.json.tmp-123",
		".usage.json.tmp-4294967295",
		".usage.json.bak-0",
		".usage.json.bak-987654",
	}
	files := []string{
		"usage.json",
		"usage.backup.json",
		"notes.txt",
		".usage.json.tmp-",         // no random part
		".usage.json.tmp-12a",      // not our random part
		".usage.json.tmp-1.json",   // ditto
		".usage.json.tmp-1.tmp-2",  // ditto
		"usage.json.tmp-123",       // no leading dot
		".other.json.tmp-123",      // another target
		".usage.json.old.tmp-123",  // another target
		".usage.json.bak-x1",       // not ours
		".usage.backup.json.tmp-1", // temp of a file named usage.backup.json
		"usage.emergency.1700000000.json",
	}
	for _, name := range append(slices.Clone(ours), files...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".usage.json.tmp-77"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Open(target, Options{Backup: backupOf(target)})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.removeStaleTemps(); n != 0 {
		t.Fatalf("second cleanup removed %d files", n)
	}
	assertDirNames(t, dir, append(slices.Clone(files), ".usage.json.tmp-77")...)
	for _, name := range files {
		assertContent(t, filepath.Join(dir, name), []byte(name))
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open("", Options{Backup: backupOf("")}); !errors.Is(err, ErrEmptyPath) {
		t.Fatalf("Open(\"\") error = %v, want ErrEmptyPath", err)
	}
	if err := WriteFile("", nil, Options{}); !errors.Is(err, ErrEmptyPath) {
		t.Fatalf("WriteFile(\"\") error = %v, want ErrEmptyPath", err)
	}

	dir := t.TempDir()
	t.Chdir(dir)
	f, err := Open("usage.json", Options{Backup: backupOf("usage.json")})
	if err != nil {
		t.Fatal(err)
	}
	// t.TempDir may sit behind a symlink; compare with the working directory.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(wd, "usage.json"); f.Path() != want {
		t.Fatalf("Path() = %q, want absolute %q", f.Path(), want)
	}
	if err := f.Replace([]byte("x")); err != nil {
		t.Fatal(err)
	}
	assertContent(t, filepath.Join(dir, "usage.json"), []byte("x"))
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.emergency.1700000000.json")
	if err := WriteFile(path, []byte("one"), Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two"), Options{Backup: backupOf(path)}); err != nil {
		t.Fatal(err)
	}
	assertContent(t, path, []byte("two"))
	assertDirNames(t, dir, "usage.emergency.1700000000.json") // never a backup

	ffs := newFaultFS()
	ffs.fail = func(op, name string) error {
		if op == "sync" && isTmp(name) {
			return syscall.EIO
		}
		return nil
	}
	err := WriteFile(path, []byte("three"), Options{FS: ffs})
	assertStepError(t, err, StepSyncFile, path, syscall.EIO)
	assertContent(t, path, []byte("two"))
	assertDirNames(t, dir, "usage.emergency.1700000000.json")
}

func TestOpenRejectsABackupElsewhere(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	for _, backup := range []string{filepath.Join(dir, "sub", "usage.backup.json"), target} {
		if _, err := Open(target, Options{Backup: backup}); err == nil {
			t.Errorf("Open with backup %s: want an error", backup)
		}
	}
}

func TestStepErrorFormat(t *testing.T) {
	err := error(&StepError{Step: StepWrite, Path: "/d/usage.json", Err: syscall.ENOSPC})
	if got, want := err.Error(), "atomic replace /d/usage.json: write: "+syscall.ENOSPC.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, syscall.ENOSPC) || errors.Unwrap(err) != syscall.ENOSPC {
		t.Fatal("StepError does not unwrap to its cause")
	}
	if got := (&StepError{Step: StepRename, Path: "p"}).Error(); got != "atomic replace p: rename: <nil>" {
		t.Fatalf("Error() with nil cause = %q", got)
	}
}

func TestIsStaleTemp(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := rapid.StringMatching(`[a-zA-Z0-9._*-]{1,20}`).Draw(t, "base")
		infix := rapid.SampledFrom([]string{tmpInfix, bakInfix}).Draw(t, "infix")
		digits := rapid.StringMatching(`[0-9]{1,10}`).Draw(t, "digits")
		if name := "." + base + infix + digits; !isStaleTemp(base, name) {
			t.Fatalf("isStaleTemp(%q, %q) = false", base, name)
		}
		other := rapid.String().Draw(t, "other")
		_, ok := strings.CutPrefix(other, "."+base+tmpInfix)
		_, ok2 := strings.CutPrefix(other, "."+base+bakInfix)
		if isStaleTemp(base, other) && !ok && !ok2 {
			t.Fatalf("isStaleTemp(%q, %q) = true for a foreign name", base, other)
		}
		if isStaleTemp(base, base) || isStaleTemp(base, backupOf(base)) {
			t.Fatalf("target or backup of %q counted as temp", base)
		}
	})
}

// TestReplaceModel drives a Target through random sequences of replaces
// with random faults and checks the files against a model after each one.
func TestReplaceModel(t *testing.T) {
	type fault struct {
		name  string
		step  string // "" means success
		fail  func(dir, target, backup string) func(op, name string) error
		write bool // partial write
	}
	on := func(op string, match func(dir, target, backup, name string) bool, cause error) func(dir, target, backup string) func(string, string) error {
		return func(dir, target, backup string) func(string, string) error {
			return func(o, name string) error {
				if o == op && match(dir, target, backup, name) {
					return cause
				}
				return nil
			}
		}
	}
	tmp := func(_, _, _, name string) bool { return isTmp(name) }
	faults := []fault{
		{name: "none"},
		{name: "createtemp", step: StepCreateTemp, fail: on("createtemp", func(d, _, _, n string) bool { return n == d }, syscall.ENOSPC)},
		{name: "write", step: StepWrite, write: true},
		{name: "syncfile", step: StepSyncFile, fail: on("sync", tmp, syscall.EIO)},
		{name: "closefile", step: StepCloseFile, fail: on("close", tmp, syscall.EIO)},
		{name: "opendir", step: StepOpenDir, fail: on("open", func(d, _, _, n string) bool { return n == d }, syscall.EMFILE)},
		{name: "link", step: StepBackup, fail: on("link", func(_, _, _, _ string) bool { return true }, syscall.EIO)},
		{name: "linkxdev", fail: on("link", func(_, _, _, _ string) bool { return true }, syscall.EXDEV)},
		{name: "renamebackup", step: StepBackup, fail: on("rename", func(_, _, b, n string) bool { return n == b }, syscall.EIO)},
		{name: "rename", step: StepRename, fail: on("rename", func(_, tg, _, n string) bool { return n == tg }, syscall.EIO)},
		{name: "syncdir", step: StepSyncDir, fail: on("sync", func(d, _, _, n string) bool { return n == d }, syscall.EIO)},
	}
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "model")
		if err != nil {
			rt.Fatal(err)
		}
		target := filepath.Join(dir, "usage.json")
		backup := backupOf(target)
		ffs := newFaultFS()
		ffs.fakeSync = true
		f, err := Open(target, Options{Backup: backupOf(target), FS: ffs})
		if err != nil {
			rt.Fatal(err)
		}
		var mTarget, mBackup []byte // nil: missing
		n := rapid.IntRange(1, 12).Draw(rt, "n")
		for i := range n {
			data := fmt.Appendf(nil, "doc-%d-%s", i, strings.Repeat("x", rapid.IntRange(0, 5000).Draw(rt, "size")))
			ft := rapid.SampledFrom(faults).Draw(rt, "fault")
			ffs.clear()
			if ft.fail != nil {
				ffs.fail = ft.fail(dir, target, backup)
			}
			if ft.write {
				ffs.writeLimit, ffs.writeErr = len(data)/2, syscall.ENOSPC
			}
			err := f.Replace(data)

			step := ft.step
			if mTarget == nil && (ft.name == "renamebackup") {
				step = "" // no target: the backup step has nothing to rename
			}
			switch step {
			case "":
				if err != nil {
					rt.Fatalf("replace %d with fault %s: %v", i, ft.name, err)
				}
			default:
				var se *StepError
				if !errors.As(err, &se) || se.Step != step {
					rt.Fatalf("replace %d with fault %s: error %v, want step %q", i, ft.name, err, step)
				}
			}
			switch step {
			case "":
				if mTarget != nil {
					mBackup = mTarget
				}
				mTarget = data
			case StepRename:
				if mTarget != nil {
					mBackup = mTarget
				}
			case StepSyncDir:
				if mTarget != nil {
					mBackup = mTarget
				}
				mTarget = data
			}

			want := []string{}
			for _, p := range []struct {
				path string
				data []byte
			}{{target, mTarget}, {backup, mBackup}} {
				got, err := os.ReadFile(p.path)
				switch {
				case p.data == nil && !errors.Is(err, fs.ErrNotExist):
					rt.Fatalf("after replace %d (%s): %s exists (err %v), model says missing", i, ft.name, p.path, err)
				case p.data != nil && err != nil:
					rt.Fatalf("after replace %d (%s): %v", i, ft.name, err)
				case p.data != nil && !bytes.Equal(got, p.data):
					rt.Fatalf("after replace %d (%s): %s = %.20q..., model %.20q...", i, ft.name, p.path, got, p.data)
				}
				if p.data != nil {
					want = append(want, filepath.Base(p.path))
				}
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				rt.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			slices.Sort(want)
			if !slices.Equal(names, want) {
				rt.Fatalf("after replace %d (%s): dir holds %q, want %q", i, ft.name, names, want)
			}
		}
	})
}

// TestReplaceKeepsPermissions: the new file gets the replaced file's mode
// (0644 for a new one), not os.CreateTemp's 0600.
func TestReplaceKeepsPermissions(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "usage.json")
	f, err := Open(target, Options{Backup: backupOf(target), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Replace([]byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	mode := func() fs.FileMode {
		fi, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(); m != 0o644 {
		t.Fatalf("new file mode %v, want 0644", m)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := f.Replace([]byte(`{"v":2}`)); err != nil {
		t.Fatal(err)
	}
	if m := mode(); m != 0o640 {
		t.Fatalf("replaced file mode %v, want the previous 0640", m)
	}
}

func TestWriteNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.rescue.1.json")
	if err := WriteNew(path, []byte("first"), Options{}); err != nil {
		t.Fatal(err)
	}
	err := WriteNew(path, []byte("second"), Options{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteNew over an existing file = %v, want fs.ErrExist", err)
	}
	assertContent(t, path, []byte("first"))
	assertDirNames(t, dir, "usage.rescue.1.json") // no temp file left
}

func TestWriteNewWithoutHardLinks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.rescue.1.json")
	ffs := newFaultFS()
	ffs.fail = func(op, name string) error {
		if op == "link" {
			return syscall.EPERM
		}
		return nil
	}
	if err := WriteNew(path, []byte("first"), Options{FS: ffs}); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(path, []byte("second"), Options{FS: ffs}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteNew over an existing file = %v, want fs.ErrExist", err)
	}
	assertContent(t, path, []byte("first"))
	assertDirNames(t, dir, "usage.rescue.1.json")
}

func TestWriteNewManyWritersOneName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	const writers = 16
	errs := make(chan error, writers)
	for i := range writers {
		go func() { errs <- WriteNew(path, fmt.Appendf(nil, "writer %d", i), Options{NoSync: true}) }()
	}
	won := 0
	for range writers {
		err := <-errs
		switch {
		case err == nil:
			won++
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("WriteNew: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers created the file, want exactly 1", won)
	}
	if b := readFile(t, path); !strings.HasPrefix(string(b), "writer ") {
		t.Fatalf("content %q", b)
	}
	assertDirNames(t, dir, "x.json")
}
