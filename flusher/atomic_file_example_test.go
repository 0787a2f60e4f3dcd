package flusher_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/usagering/usagering/flusher"
)

func ExampleAtomicFile_Replace() {
	dir, err := os.MkdirTemp("", "flusher-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	f, err := flusher.OpenAtomicFile(filepath.Join(dir, "usage.json"), flusher.FileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, doc := range []string{`{"v":1}`, `{"v":2}`, `{"v":3}`} {
		if err := f.Replace([]byte(doc)); err != nil {
			fmt.Println(err)
			return
		}
	}
	current, _ := os.ReadFile(f.Path())
	previous, _ := os.ReadFile(f.BackupPath())
	fmt.Println(filepath.Base(f.Path()), string(current))
	fmt.Println(filepath.Base(f.BackupPath()), string(previous))
	// Output:
	// usage.json {"v":3}
	// usage.backup.json {"v":2}
}

func ExampleOpenAtomicFile_errors() {
	dir, err := os.MkdirTemp("", "flusher-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// Opening does not touch the file system beyond cleaning stale temp
	// files: a missing directory is reported by Replace, and the caller
	// can create it and retry.
	f, err := flusher.OpenAtomicFile(filepath.Join(dir, "state", "usage.json"), flusher.FileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = f.Replace([]byte(`{}`))
	var se *flusher.StepError
	fmt.Println(errors.As(err, &se), se.Step, errors.Is(err, fs.ErrNotExist))

	if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(f.Replace([]byte(`{}`)))
	// Output:
	// true create temp true
	// <nil>
}

func ExampleBackupPath() {
	fmt.Println(flusher.BackupPath("/var/lib/app/usage.json"))
	fmt.Println(flusher.BackupPath("/var/lib/app/usage"))
	// Output:
	// /var/lib/app/usage.backup.json
	// /var/lib/app/usage.backup.json
}

func ExampleWriteFileAtomic() {
	dir, err := os.MkdirTemp("", "flusher-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	name := filepath.Join(dir, "usage.emergency.1700000000.json")
	if err := flusher.WriteFileAtomic(name, []byte(`{"sessions":[]}`), flusher.FileOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(name)
	fmt.Println(string(b))
	// Output:
	// {"sessions":[]}
}
