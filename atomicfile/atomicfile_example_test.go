package atomicfile_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/usagering/usagering/atomicfile"
)

func ExampleTarget_Replace() {
	dir, err := os.MkdirTemp("", "atomicfile-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	f, err := atomicfile.Open(filepath.Join(dir, "usage.json"), atomicfile.Options{Backup: filepath.Join(dir, "usage.backup.json")})
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

func ExampleOpen_errors() {
	dir, err := os.MkdirTemp("", "atomicfile-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// Opening does not touch the file system beyond cleaning stale temp
	// files: a missing directory is reported by Replace, and the caller
	// can create it and retry.
	f, err := atomicfile.Open(filepath.Join(dir, "state", "usage.json"), atomicfile.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = f.Replace([]byte(`{}`))
	var se *atomicfile.StepError
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

func ExampleWriteFile() {
	dir, err := os.MkdirTemp("", "atomicfile-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	name := filepath.Join(dir, "usage.emergency.1700000000.json")
	if err := atomicfile.WriteFile(name, []byte(`{"sessions":[]}`), atomicfile.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(name)
	fmt.Println(string(b))
	// Output:
	// {"sessions":[]}
}
