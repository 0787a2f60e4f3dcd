package usagefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"
)

// Sources of a loaded document (LoadResult.Source).
const (
	SourcePrimary              = "primary"                // the usage file itself
	SourceBackup               = "backup"                 // its backup: the primary was corrupt
	SourceNew                  = "new"                    // no usage file yet
	SourceFreshAfterCorruption = "fresh-after-corruption" // primary and backup unusable; the primary was archived
)

// LoadResult is what Load found.
type LoadResult struct {
	Doc        *Document
	Source     string // SourcePrimary, SourceBackup, SourceNew or SourceFreshAfterCorruption
	Recoveries int    // corruption recoveries done: 0 or 1
	Archived   string // path the corrupt primary was renamed to, if it was
}

// Read reads and parses the usage file at path, and nothing else: no
// backup is consulted and nothing is renamed or written. Its errors wrap
// the read's (fs.ErrNotExist for a missing file), ErrCorrupt or
// ErrForeignFile. For a reader beside a live writer (a report, a check),
// the file is always a complete document: writers replace it atomically.
func Read(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("usagefile: read %s: %w", path, err)
	}
	doc, err := ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("usagefile: read %s: %w", path, err)
	}
	return doc, nil
}

// Load reads the usage file at path for a writer, recovering from
// corruption as the original does:
//
//   - primary parses: it is used (SourcePrimary).
//   - primary missing: a new empty document (SourceNew), even if a backup
//     exists, as in the original, which reads the backup only when the
//     primary is unparsable. (A missing primary with a backup beside it is
//     what a user who deletes the file to start over leaves; an atomic
//     writer never leaves it.)
//   - primary corrupt (ErrCorrupt): the backup (BackupPath) is used if
//     it parses (SourceBackup, Recoveries 1); otherwise the primary is
//     renamed to <stem>.corrupted.<unix seconds of now>.json (with .1, .2, …
//     before .json if that name is taken) and a new document starts
//     (SourceFreshAfterCorruption, Recoveries 1, Archived set).
//   - primary not a usage document (ErrForeignFile): the error, naming the
//     path. A file that is not ours is never archived nor overwritten.
//   - primary unreadable (a directory, no permission, an I/O error): the
//     error; the caller decides.
func Load(path string, now time.Time) (LoadResult, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return LoadResult{Doc: NewDocument(), Source: SourceNew}, nil
	}
	if err != nil {
		return LoadResult{}, fmt.Errorf("usagefile: load %s: %w", path, err)
	}
	doc, perr := ParseDocument(data)
	if perr == nil {
		return LoadResult{Doc: doc, Source: SourcePrimary}, nil
	}
	if !errors.Is(perr, ErrCorrupt) {
		return LoadResult{}, fmt.Errorf("usagefile: load %s: %w", path, perr)
	}
	backup := BackupPath(path)
	if bdata, err := os.ReadFile(backup); err == nil {
		if bdoc, err := ParseDocument(bdata); err == nil {
			return LoadResult{Doc: bdoc, Source: SourceBackup, Recoveries: 1}, nil
		}
	}
	archived, err := archiveCorrupt(path, now)
	if err != nil {
		return LoadResult{}, fmt.Errorf("usagefile: load %s: %w; archiving it failed: %w", path, perr, err)
	}
	return LoadResult{Doc: NewDocument(), Source: SourceFreshAfterCorruption, Recoveries: 1, Archived: archived}, nil
}

// corruptedPath is CorruptedPath with a numeric suffix n > 0 for a name
// already taken: <stem>.corrupted.<unix>.<n>.json.
func corruptedPath(path string, unix int64, n int) string {
	if n == 0 {
		return CorruptedPath(path, unix)
	}
	return SiblingPath(path, "corrupted."+strconv.FormatInt(unix, 10)+"."+strconv.Itoa(n))
}

// archiveCorrupt moves path aside to the first free corrupted name. It links
// then removes, so an existing archive is never replaced; where hard links
// are not supported it checks then renames.
func archiveCorrupt(path string, now time.Time) (string, error) {
	for n := 0; n < 1000; n++ {
		dst := corruptedPath(path, now.Unix(), n)
		err := os.Link(path, dst)
		if err == nil {
			if err := os.Remove(path); err != nil {
				_ = os.Remove(dst)
				return "", err
			}
			return dst, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		// No hard links here: check, then rename.
		if _, serr := os.Lstat(dst); serr == nil {
			continue
		} else if !errors.Is(serr, fs.ErrNotExist) {
			return "", serr
		}
		if err := os.Rename(path, dst); err != nil {
			return "", err
		}
		return dst, nil
	}
	return "", errors.New("no free name to archive the corrupt file to")
}
