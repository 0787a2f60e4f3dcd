package tracker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/usagefile"
)

// rescuer merges the rescue files of one usage file into it, each exactly
// once. A rescue file holds records a writer accepted but could not write
// to the usage file at Close (see writeRescue); the next writer that opens
// the file finds it and merges it in the same write, under the file's
// lock, that records its id in the file's usagefile.State.Rescued. A
// rescue file whose id the file already lists is only removed: a crash
// between the merged write and the removal, or another process sharing
// the file, can never count it twice.
//
// absorb and settle run under the usage file's lock, by whoever writes the
// file (the persister goroutine, or the synchronous tracker's Record under
// its mutex); the counters are read by Stats on any goroutine.
type rescuer struct {
	path   string // absolute path of the usage file
	tmpDir string // where rescue files go when the usage file's directory cannot take them

	// Under the file's lock.
	scan   bool          // look for rescue files at the next write: set when opened, cleared once none is left
	merged []foundRescue // merged into the document being written; settle removes their files
	prune  []string      // ids of rescue files removed: dropped from State.Rescued at the next write

	recoveredRecords atomic.Int64 // records merged from rescue files
	recoveredFiles   atomic.Int64 // rescue files merged
	unreadable       atomic.Int64 // rescue files found at the last scan that could not be read: kept, retried
}

// testHookRescueWritten, if set, runs after a write that merged rescue
// files and before their removal: crash tests kill the process there.
var testHookRescueWritten func()

// foundRescue is one rescue file read by absorb.
type foundRescue struct {
	path string
	info usagefile.RescueInfo
}

func newRescuer(abs string) *rescuer {
	return &rescuer{path: abs, tmpDir: os.TempDir(), scan: true}
}

// absorb prepares doc, the document about to be written, by merging into
// it every rescue file of the usage file that the file has not absorbed
// yet, and recording their ids in doc.State.Rescued; rescue files the file
// already lists are removed. Call it after doc was made from the file's
// content and before the new records are merged into it, so that the
// older, rescued sessions come first. After the write, call settle.
func (r *rescuer) absorb(doc *usagefile.Document, maxSessions int) {
	r.merged = r.merged[:0]
	if len(r.prune) > 0 {
		doc.State.Rescued = slices.DeleteFunc(doc.State.Rescued, func(id string) bool { return slices.Contains(r.prune, id) })
	}
	if !r.scan {
		return
	}
	files, listErr := usagefile.RescueFiles(r.path, r.tmpDir)
	unreadable := int64(0)
	if listErr != nil {
		unreadable++ // a directory we could not list may hold some
	}
	seen := make([]string, 0, len(files))
	for _, p := range files {
		rd, err := usagefile.Read(p)
		if err != nil || rd.State.Rescue == nil || rd.State.Rescue.ID == "" {
			unreadable++ // torn or not ours: kept for a person to look at
			continue
		}
		info := *rd.State.Rescue
		if info.For != r.path && !r.beside(p) {
			continue // another usage file's, in the temporary directory
		}
		seen = append(seen, info.ID)
		if slices.Contains(doc.State.Rescued, info.ID) {
			// Merged before, and its removal did not happen (a crash,
			// say): remove it now, and once it is gone its id need not
			// be kept.
			if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
				doc.State.Rescued = slices.DeleteFunc(doc.State.Rescued, func(id string) bool { return id == info.ID })
			}
			continue
		}
		if o := rd.State.Outbox; o != nil && len(o.Pending) > 0 {
			// The rescued records' aggregates still have to ship.
			if doc.State.Outbox == nil {
				doc.State.Outbox = &usagefile.Outbox{NextSeq: 1}
			}
			doc.State.Outbox.AddPending(o.Pending)
		}
		rd.State = usagefile.State{}
		doc.Merge(rd, maxSessions)
		doc.State.Rescued = append(doc.State.Rescued, info.ID)
		r.merged = append(r.merged, foundRescue{path: p, info: info})
	}
	if listErr == nil {
		// An absorbed id whose file no scan finds any more was removed
		// after its merge (by this writer or another); ids are unique, so
		// it cannot come back: forget it.
		doc.State.Rescued = slices.DeleteFunc(doc.State.Rescued, func(id string) bool {
			return !slices.Contains(seen, id) && !r.mergedNow(id)
		})
	}
	r.unreadable.Store(unreadable)
}

// mergedNow reports whether id was merged by the current absorb.
func (r *rescuer) mergedNow(id string) bool {
	for _, f := range r.merged {
		if f.info.ID == id {
			return true
		}
	}
	return false
}

// beside reports whether p is in the usage file's directory (a rescue file
// there is the usage file's by its name, wherever the directory moved).
func (r *rescuer) beside(p string) bool {
	return filepath.Dir(p) == filepath.Dir(r.path)
}

// settle ends a write prepared by absorb: if the document was written, the
// merged rescue files are counted and removed, and the ids pruned now are
// forgotten; if not, nothing happened and the next write starts over.
func (r *rescuer) settle(written bool) {
	if !written {
		r.merged = r.merged[:0]
		return
	}
	r.prune = r.prune[:0]
	if testHookRescueWritten != nil && len(r.merged) > 0 {
		testHookRescueWritten()
	}
	for _, f := range r.merged {
		r.recoveredFiles.Inc()
		r.recoveredRecords.Add(f.info.Records)
		r.remove(f.path, f.info.ID)
	}
	r.merged = r.merged[:0]
	r.scan = r.unreadable.Load() > 0
}

// remove deletes a merged rescue file; once it is gone, its id is pruned
// from the file's list at the next write.
func (r *rescuer) remove(p, id string) {
	if err := os.Remove(p); err == nil || errors.Is(err, fs.ErrNotExist) {
		r.prune = append(r.prune, id)
	} else {
		r.scan = true // try again at the next write
	}
}

// writeRescue writes doc, the records that could not be written to the
// usage file at path, to a new rescue file: beside the usage file, else in
// tmpDir. Each attempt takes a new unique id and creates its file
// exclusively, so no rescue file ever replaces another. It returns the
// path written, or the errors of every attempt.
func writeRescue(path, tmpDir string, doc *usagefile.Document, info usagefile.RescueInfo, noSync bool) (string, error) {
	var errs []error
	for _, name := range []func(id string) string{
		func(id string) string { return usagefile.RescuePath(path, id) },
		func(id string) string { return usagefile.TempRescuePath(tmpDir, path, id) },
	} {
		for range 3 { // a taken name means another id, not another place
			info.ID = newRescueID()
			p := name(info.ID)
			doc.State.Rescue = &info
			data, err := doc.AppendJSON(nil)
			if err != nil {
				return "", err
			}
			err = atomicfile.WriteNew(p, data, atomicfile.Options{NoSync: noSync})
			if err == nil {
				return p, nil
			}
			errs = append(errs, err)
			if !errors.Is(err, fs.ErrExist) {
				break
			}
		}
	}
	return "", errors.Join(errs...)
}

// newRescueID returns a new rescue id: the UTC time and 64 random bits,
// "20261201T134613Z-9f86d081884c7d65".
func newRescueID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// rescueInfo describes the rescue of records records of the usage file at
// path, which could not be written because of cause.
func rescueInfo(path string, records int, now time.Time, cause error) usagefile.RescueInfo {
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	return usagefile.RescueInfo{For: path, Records: int64(records), Created: now.UTC().Format(time.RFC3339), Reason: reason}
}

// records returns "1 record", "2 records".
func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}
