package usagefile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// BackupPath returns <dir>/<stem>.backup.json for the usage file at path,
// where stem is its base name without a ".json" extension: "usage.json"
// and "usage" both give "usage.backup.json". It is the original tool's
// name for the previous version of the file.
func BackupPath(path string) string { return SiblingPath(path, "backup") }

// LockPath returns <path>.lock, the file every writer of path locks
// (flock) around reading and writing it.
func LockPath(path string) string { return path + ".lock" }

// CorruptedPath returns <dir>/<stem>.corrupted.<unix>.json, the name a
// corrupt usage file is archived under, as the original tool names it.
func CorruptedPath(path string, unix int64) string {
	return SiblingPath(path, "corrupted."+strconv.FormatInt(unix, 10))
}

// SiblingPath returns <dir>/<stem>.<infix>.json for the usage file at
// path, where stem is its base name without ".json": the naming of the
// files kept beside it.
func SiblingPath(path, infix string) string {
	return filepath.Join(filepath.Dir(path), strings.TrimSuffix(filepath.Base(path), ".json")+"."+infix+".json")
}

// Rescue files: where a writer puts records it accepted but could not write
// to the usage file at path, until a writer of that file merges them.
//
// Beside the usage file, <dir>/<stem>.rescue.<id>.json; where that
// directory cannot be written, <tmp>/usagering-rescue.<key>.<id>.json in
// the temporary directory, key being derived from the usage file's
// absolute path (TempRescueKey) so that the file's next writer finds it.
// id is unique (a new id for every rescue file; the file is created
// exclusively), so a rescue file never replaces another.

// RescuePath returns <dir>/<stem>.rescue.<id>.json for the usage file at
// path.
func RescuePath(path, id string) string { return SiblingPath(path, "rescue."+id) }

// TempRescuePath returns <tmpDir>/usagering-rescue.<key>.<id>.json for the
// usage file at the absolute path abs.
func TempRescuePath(tmpDir, abs, id string) string {
	return filepath.Join(tmpDir, tempRescuePrefix(abs)+id+".json")
}

// TempRescueKey returns the key of the usage file at the absolute path abs
// in temporary rescue names: 16 hex digits of the SHA-256 of the path.
func TempRescueKey(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:8])
}

func rescuePrefix(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".json") + ".rescue."
}

func tempRescuePrefix(abs string) string { return "usagering-rescue." + TempRescueKey(abs) + "." }

// RescueFiles returns the rescue files of the usage file at the absolute
// path abs: those beside it, then those in tmpDir, each list sorted by
// name. A directory that cannot be listed is reported in the error (joined
// with the other's), and the files of the other are still returned.
func RescueFiles(abs, tmpDir string) ([]string, error) {
	var files []string
	var errs []error
	for _, loc := range []struct{ dir, prefix string }{
		{filepath.Dir(abs), rescuePrefix(abs)},
		{tmpDir, tempRescuePrefix(abs)},
	} {
		entries, err := os.ReadDir(loc.dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("usagefile: list rescue files in %s: %w", loc.dir, err))
		}
		for _, e := range entries {
			name := e.Name()
			id, ok := strings.CutPrefix(name, loc.prefix)
			if !ok || e.IsDir() || !strings.HasSuffix(id, ".json") || len(id) == len(".json") {
				continue
			}
			files = append(files, filepath.Join(loc.dir, name))
		}
	}
	return files, errors.Join(errs...)
}
