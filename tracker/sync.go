package tracker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/pricing"
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
	rescue     *rescuer           // guarded by mu, used under the lock
	prices     *prices            // priced under mu
	recoveries atomic.Int64
}

var _ Recorder = (*SyncTracker)(nil)

// NewSync returns a synchronous tracker of the usage file at path. It
// takes the options New takes that concern a synchronous tracker
// (WithMaxSessions, WithPrices, WithLocation, WithClock, WithNoSync,
// WithFS) and fails, naming them, on the others. Like New it creates a
// missing parent directory, fails with ErrUnusablePath on a path that can
// never be written, reads the file once to fail early (ErrForeignFile, or
// an unreadable file; a corrupt one is recovered from as usagefile.Load
// does), and merges the rescue files earlier runs left for the path.
func NewSync(path string, opts ...Option) (*SyncTracker, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	if len(cfg.asyncOnly) > 0 {
		return nil, fmt.Errorf("%w: %s configure the asynchronous tracker (New) only", ErrInvalidOption, strings.Join(cfg.asyncOnly, ", "))
	}
	abs, err := usablePath(path, cfg.fs)
	if err != nil {
		return nil, err
	}
	t := &SyncTracker{cfg: cfg, path: abs, lock: newFileLock(abs), rescue: newRescuer(abs), prices: newPrices(cfg.prices)}
	t.mu.Lock()
	defer t.mu.Unlock()
	err = t.lock.do(func() error {
		doc, err := t.load()
		if err != nil {
			return err
		}
		if files, _ := usagefile.RescueFiles(abs, t.rescue.tmpDir); len(files) == 0 && len(doc.State.Rescued) == 0 {
			t.rescue.scan = false
			return nil
		}
		_ = t.write(doc, nil, cfg.clock()) // retried by every Record until it works
		return nil
	})
	if err != nil {
		if !errors.Is(err, ErrForeignFile) {
			err = fmt.Errorf("%w: %w", ErrUnusablePath, err)
		}
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
		return t.write(doc, &r, now)
	})
}

// write adds r (if not nil) and the rescue files not yet absorbed to doc,
// the file's content, and replaces the file with it. Called with mu and the
// lock held.
func (t *SyncTracker) write(doc *usagefile.Document, r *Record, now time.Time) error {
	t.rescue.absorb(doc, t.cfg.maxSessions)
	if r != nil {
		s := session(r, t.prices.cost(r), t.cfg.loc)
		doc.AddSession(s, s.Timestamp[:len(usagefile.DayLayout)], t.cfg.maxSessions)
	}
	var buf [40]byte
	doc.LastUpdated = string(now.In(t.cfg.loc).AppendFormat(buf[:0], usagefile.TimestampLayout))
	var err error
	t.buf, err = doc.AppendJSON(t.buf[:0])
	if err != nil {
		t.rescue.settle(false)
		return err
	}
	err = t.file.Replace(t.buf)
	var step *atomicfile.StepError
	t.rescue.settle(err == nil || errors.As(err, &step) && step.Step == atomicfile.StepSyncDir)
	if err != nil {
		return fmt.Errorf("tracker: write %s: %w", t.path, err)
	}
	return nil
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

// Quote prices a call with the tracker's price table, as the tracker
// prices records without a cost.
func (t *SyncTracker) Quote(model string, u pricing.Usage) (pricing.Quote, error) {
	return t.prices.quote(model, u)
}

// SetPrices replaces the tracker's price table (see Tracker.SetPrices).
func (t *SyncTracker) SetPrices(p pricing.Pricer) error { return t.prices.set(p) }

// UnpricedRecords returns how many records the tracker could not price
// (see Stats.UnpricedRecords), and their models.
func (t *SyncTracker) UnpricedRecords() (int64, []string) {
	return t.prices.unpriced.Load(), t.prices.unpricedModels()
}

// Recoveries returns the number of corruption recoveries (backup used, or
// corrupt file archived) made while loading the file.
func (t *SyncTracker) Recoveries() int64 { return t.recoveries.Load() }

// Path returns the absolute path of the usage file.
func (t *SyncTracker) Path() string { return t.path }
