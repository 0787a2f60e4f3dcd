package atomicfile

import "github.com/usagering/usagering/internal/vfs"

// FS is the file-system surface a Target writes through. Tests and
// benchmarks inject faults and stalls through it (internal/faultfs); OSFS
// is the real one.
type FS = vfs.FS

// File is an open file as FS returns it. *os.File satisfies it.
type File = vfs.File

// OSFS is the real file system (package os).
var OSFS = vfs.OS
