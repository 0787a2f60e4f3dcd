package tracker

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/usagefile"
)

// SyncTracker is the synchronous baseline: the original SyncUsageTracker,
// made correct. Every Record reads the whole usage file, parses it, adds the
// record, encodes the document and replaces the file atomically, under a
// mutex and the same cross-process file lock as Tracker (the original had
// neither, and its concurrent benchmark crashed on torn reads). It uses the
// same parser, encoder (Document.AppendJSON) and atomic write
// (flusher.AtomicFile.Replace) as the asynchronous tracker, so that a
// comparison of the two measures the design only.
//
// A SyncTracker is safe for concurrent use, and several processes may share
// one file.
type SyncTracker struct {
	cfg  config
	path string
	lock fileLock // held around each read-modify-write

	closed atomic.Bool

	mu         sync.Mutex
	file       *atomicfile.Target // guarded by mu; opened under lock
	buf        []byte             // guarded by mu: encode buffer, reused
	recoveries atomic.Int64
}

var _ Recorder = (*SyncTracker)(nil)

// NewSync returns a synchronous tracker of the usage file at path. It takes
// the options New takes, using those that concern a synchronous tracker
// (WithMaxSessions, WithPricing, WithLocation, WithClock, WithNoSync) and
// ignoring the rest. It reads the file once to fail early: it returns an
// error if the file is not a usage document (ErrForeignFile) or cannot be
// read; a missing file is fine (it is written by the first Record) and a
// corrupt one is recovered from as LoadDocument does.
func NewSync(path string, opts ...Option) (*SyncTracker, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrInvalidOption)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("tracker: %w", err)
	}
	t := &SyncTracker{cfg: cfg, path: abs, lock: newFileLock(abs)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.lock.do(func() error { _, err := t.load(); return err }); err != nil {
		return nil, err
	}
	return t, nil
}

// load opens the atomic file on first use (under the lock: opening removes
// stale temp files) and reads the document. Called with mu and the lock
// held.
func (t *SyncTracker) load() (*usagefile.Document, error) {
	if t.file == nil {
		f, err := atomicfile.Open(t.path, atomicfile.Options{Backup: usagefile.BackupPath(t.path), NoSync: t.cfg.noSync, FS: t.cfg.fs})
		if err != nil {
			return nil, fmt.Errorf("tracker: open %s: %w", t.path, err)
		}
		t.file = f
	}
	res, err := usagefile.Load(t.path, t.cfg.clock())
	if err != nil {
		return nil, err
	}
	t.recoveries.Add(int64(res.Recoveries))
	return res.Doc, nil
}

// Record validates r and writes it to the file before returning: read,
// parse, add, encode, replace. A zero r.Timestamp is stamped with the
// current time. After Close it returns ErrClosed.
func (t *SyncTracker) Record(r Record) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if err := r.Validate(); err != nil {
		return err
	}
	now := t.cfg.clock()
	if r.Timestamp.IsZero() {
		r.Timestamp = now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	return t.lock.do(func() error {
		doc, err := t.load()
		if err != nil {
			return err
		}
		s, day := NewSession(&r, t.cfg.loc)
		doc.AddSession(s, day, t.cfg.maxSessions)
		var buf [40]byte
		doc.LastUpdated = string(now.In(t.cfg.loc).AppendFormat(buf[:0], usagefile.TimestampLayout))
		t.buf, err = doc.AppendJSON(t.buf[:0])
		if err != nil {
			return err
		}
		if err := t.file.Replace(t.buf); err != nil {
			return fmt.Errorf("tracker: write %s: %w", t.path, err)
		}
		return nil
	})
}

// Flush returns nil at once: every record is written before Record
// returns.
func (t *SyncTracker) Flush(ctx context.Context) error { return nil }

// Close marks the tracker closed; later Records return ErrClosed. It waits
// for a Record in progress. It is idempotent and always returns nil.
func (t *SyncTracker) Close() error {
	t.mu.Lock()
	t.closed.Store(true)
	t.mu.Unlock()
	return nil
}

// CalculateCost returns the cost of a call with the tracker's price table,
// as the original's calculate_cost method.
func (t *SyncTracker) CalculateCost(model string, inputTokens, outputTokens int64) float64 {
	return CalculateCost(t.cfg.pricing, model, inputTokens, outputTokens)
}

// Recoveries returns the number of corruption recoveries (backup used, or
// corrupt file archived) made while loading the file.
func (t *SyncTracker) Recoveries() int64 { return t.recoveries.Load() }

// Path returns the absolute path of the usage file.
func (t *SyncTracker) Path() string { return t.path }
