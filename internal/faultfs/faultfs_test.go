package faultfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/internal/faultfs"
)

func TestSwitch(t *testing.T) {
	dir := t.TempDir()
	fsys, sw := faultfs.NewSwitch(nil)

	sw.Set(faultfs.OpCreateTemp, syscall.EACCES)
	if _, err := fsys.CreateTemp(dir, "x-*"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("CreateTemp = %v, want EACCES", err)
	}
	sw.Set(faultfs.OpCreateTemp, nil)

	f, err := fsys.CreateTemp(dir, "x-*")
	if err != nil {
		t.Fatal(err)
	}
	sw.Set(faultfs.OpWrite, syscall.ENOSPC)
	n, err := f.Write([]byte("0123456789"))
	var pe *fs.PathError
	if n != 5 || !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Op != "write" {
		t.Fatalf("Write = %d, %v; want 5 bytes and ENOSPC", n, err)
	}
	sw.SetFor(faultfs.OpSync, func(p string) bool { return p == "elsewhere" }, syscall.EIO)
	if err := f.Sync(); err != nil {
		t.Fatalf("Sync of a path the filter rejects = %v", err)
	}
	sw.SetFor(faultfs.OpSync, func(p string) bool { return p == f.Name() }, syscall.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	sw.Clear()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	sw.Set(faultfs.OpClose, syscall.EIO)
	if err := f.Close(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Close = %v, want EIO", err)
	}
	if err := f.Close(); err == nil {
		t.Fatal("the file must be closed even when Close fails")
	}
	sw.Clear()
	if b, _ := os.ReadFile(f.Name()); string(b) != "01234" {
		t.Fatalf("file holds %q, want the half written", b)
	}
	sw.Set(faultfs.OpRename, syscall.EXDEV)
	var le *os.LinkError
	if err := fsys.Rename(f.Name(), filepath.Join(dir, "y")); !errors.Is(err, syscall.EXDEV) || !errors.As(err, &le) {
		t.Fatalf("Rename = %v, want an *os.LinkError wrapping EXDEV", err)
	}
}

func TestSkip(t *testing.T) {
	fsys := faultfs.New(nil)
	fsys.Set(faultfs.InjectorFunc(func(ev faultfs.Event) error {
		if ev.Op == faultfs.OpRemove {
			return faultfs.ErrSkip
		}
		return nil
	}))
	f, err := fsys.CreateTemp(t.TempDir(), "x-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fsys.Remove(f.Name()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("a skipped Remove removed the file: %v", err)
	}
}

func TestStall(t *testing.T) {
	fsys := faultfs.New(nil)
	st := faultfs.NewStall(faultfs.OpSync, time.Millisecond)
	fsys.Set(st)
	f, err := fsys.CreateTemp(t.TempDir(), "x-*")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	synced := make(chan error, 1)
	go func() { synced <- f.Sync() }()
	<-st.Started()
	if !st.Stalling() {
		t.Fatal("not stalling after Started")
	}
	select {
	case <-synced:
		t.Fatal("the stalled Sync returned before Release")
	default:
	}
	st.Release()
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	<-st.Done()
	if st.Stalling() {
		t.Fatal("still stalling after Done")
	}
	if err := f.Sync(); err != nil { // one-shot: the next one runs at once
		t.Fatal(err)
	}
}
