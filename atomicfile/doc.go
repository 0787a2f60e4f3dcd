// Package atomicfile replaces a file atomically and durably: the new bytes
// go to a temp file beside the target, are fsynced, renamed over the
// target, and the directory is fsynced, so that after a crash or a power
// cut the target is either the old or the new content, never a mix, and a
// replace reported done survives. The previous version can be kept as a
// backup without a moment where neither file is a complete document.
//
// FS is the seam through which every write goes; tests and benchmarks
// inject faults and stalls through it. What the files are called is the
// caller's policy: a Target writes the paths it is given.
package atomicfile
