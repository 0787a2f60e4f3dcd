package usagefile

import (
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
