package tracker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/flusher"
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/ring"
)

// Tracker is the asynchronous usage tracker: Record validates a record and
// hands it to a lock-free ring; the flusher folds the ring into memory on
// one goroutine and persists the usage file atomically on another, by size
// and time, with retries. Record never does I/O, never takes a mutex and never allocates.
//
// All methods are safe for concurrent use.
type Tracker struct {
	cfg     config
	ring    *ring.MPSC[Record]
	flusher *flusher.Flusher[Record]
	sink    *fileSink

	dropped atomic.Int64 // records refused with ErrFull (Drop policy)

	finishOnce sync.Once
	closeErr   error // set once, inside finishOnce, after the flusher stopped
}

var _ Recorder = (*Tracker)(nil)

// New opens (or creates) the usage file at path and starts the tracker's
// flusher. A missing parent directory is created. The file is loaded now,
// under the cross-process lock: a corrupt file is recovered from (backup,
// or archived and started afresh; see usagefile.Load); a file that is
// valid JSON but not a usage document is an error wrapping ErrForeignFile,
// and nothing is written to it. Rescue files that earlier runs left for
// this path (records they could not write at Close) are merged into the
// file now, each exactly once.
//
// New fails fast on what can never work, with an error wrapping
// ErrUnusablePath: a directory at path, a directory where no file can be
// created, a lock file that cannot be taken; and on a file it cannot read:
// queries must answer with what the file holds. Faults that appear later
// (a full disk, a directory moved away) are retried by the persists while
// records stay in memory. Invalid options give an error wrapping
// ErrInvalidOption.
func New(path string, opts ...Option) (*Tracker, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	var stamp *stampClock
	if !cfg.clockSet {
		// The tracker's clock: one clock read per stamp; the flusher
		// resyncs it with the wall clock at every persist.
		stamp = newStampClock()
		cfg.clock = stamp.now
	}
	st, err := newFileSink(path, cfg)
	if err != nil {
		return nil, err
	}
	st.stamp = stamp // before the flusher's goroutine reads it
	if cfg.shipper != nil {
		st.ship = newShipper(cfg.shipper, cfg.flushInterval, cfg.retryBase, cfg.retryMax)
		st.sealEvery = cfg.flushInterval
	}
	if err := st.load(); err != nil {
		if !errors.Is(err, ErrForeignFile) && !errors.Is(err, ErrUnusablePath) {
			err = fmt.Errorf("%w: %w", ErrUnusablePath, err)
		}
		return nil, err
	}
	r, err := ring.New[Record](cfg.capacity)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	closeRetries := cfg.closeRetries
	if closeRetries == 0 {
		closeRetries = -1 // flusher: 0 means its default, negative means none
	}
	f, err := flusher.New(r, flusher.Sink[Record](st), flusher.Options{
		BatchSize:     cfg.batchSize,
		FlushInterval: cfg.flushInterval,
		RetryBase:     cfg.retryBase,
		RetryMax:      cfg.retryMax,
		CloseRetries:  closeRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	if st.ship != nil {
		st.ship.persist = f.Persist
		st.ship.start()
	}
	return &Tracker{cfg: cfg, ring: r, flusher: f, sink: st}, nil
}

// Record validates r, stamps it (a zero Timestamp becomes now) and queues
// it for the flusher. It returns an error wrapping ErrInvalidRecord (naming
// the field) for a bad record, ErrClosed after Close, and, under the Drop
// policy, ErrFull when the ring is full. Under the default Block policy a
// full ring makes Record wait for space.
//
// A nil error means the record is accepted: Close or a successful Flush
// will have persisted it (or Close's error says where it went).
//
// The tracker keeps a reference to r.Metadata until the record is
// persisted: do not modify the map after passing it.
func (t *Tracker) Record(r Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if r.Timestamp.IsZero() {
		r.Timestamp = t.cfg.clock()
	}
	if t.cfg.overflow == Drop {
		if t.ring.TryPush(r) {
			return nil
		}
		if t.ring.Closed() {
			return ErrClosed
		}
		t.dropped.Inc()
		return ErrFull
	}
	if t.ring.Push(r) != nil {
		return ErrClosed
	}
	return nil
}

// Flush returns nil once every record accepted before the call is
// persisted (on stable storage unless WithNoSync). It returns the persist
// error if that attempt fails (the records stay in memory and are retried),
// or ctx's error. After Close it returns nil if Close persisted everything,
// else the last persist error (Close's own error says where the data went).
func (t *Tracker) Flush(ctx context.Context) error {
	return t.flusher.Flush(ctx)
}

// Shutdown stops accepting records (Record returns ErrClosed, also for
// callers waiting on a full ring), persists everything accepted, and stops
// the flusher, within ctx.
//
// If the usage file cannot be written, the final persist is retried
// (WithCloseRetries) until ctx ends; then the records that could not be
// written go to a rescue file of their own, beside the usage file or, if
// its directory cannot take it, in the system's temporary directory, and
// Shutdown returns a *FallbackError naming it. The next tracker that opens
// the usage file merges the rescue file into it, exactly once.
//
// If ctx ends while a persist is still running (a stalled disk), Shutdown
// returns an error wrapping ctx.Err(): the records stay in memory, no
// retry follows the running persist, and a later Shutdown or Close waits
// for it and returns the final result (writing the rescue file if it
// failed). Shutdown and Close are idempotent: once the flusher has
// stopped, every call returns the same result.
func (t *Tracker) Shutdown(ctx context.Context) error {
	err := t.flusher.Close(ctx)
	select {
	case <-t.flusher.Done():
		err = t.flusher.Close(context.Background()) // its own result, now final, even if ctx ended too
	default:
		return fmt.Errorf("tracker: shutdown of %s: a persist is still running; %d records wait in memory: %w", t.sink.path, t.flusher.Stats().Pending, err)
	}
	t.finishOnce.Do(func() {
		// The flusher's goroutines have stopped: the sink is ours.
		persisted := err == nil
		if err != nil {
			err = t.sink.writeRescue(err)
		}
		if t.sink.ship != nil {
			t.sink.ship.halt()
			t.shipRest(ctx, persisted)
		}
		t.closeErr = err
	})
	return t.closeErr
}

// shipRest ships, within ctx, the batches the shipping loop had not
// shipped: the in-flight one, and, if the file can be written (persisted),
// the ones each write seals after it. It stops at the first failure: what
// is left waits in the file for the next start. Called by Shutdown once
// the flusher and the shipping loop have stopped.
func (t *Tracker) shipRest(ctx context.Context, persisted bool) {
	sh := t.sink.ship
	t.sink.sealEvery = 0 // ship what is pending now, not one interval later
	for ctx.Err() == nil {
		w := sh.latest.Load()
		switch {
		case w != nil && w.batch.Seq > sh.acked.Load():
			if sh.ship(ctx, w) != nil {
				return
			}
		case w == nil && sh.sealDue.Load() == nil:
			return // nothing in flight, nothing pending
		}
		// Record what was applied (now, or by the loop before it stopped)
		// in the file, which clears the batch in flight and seals the
		// pending rows as the next (and offers it).
		if !persisted || t.sink.Persist() != nil {
			return
		}
	}
}

// Close is Shutdown without a deadline of its own: the final persist is
// tried 1 + WithCloseRetries times (default 4), with backoff, before the
// rescue file. See Shutdown.
func (t *Tracker) Close() error { return t.Shutdown(context.Background()) }

// Stats is the tracker's counters, with the original tool's keys plus
// usagering's.
type Stats struct {
	TotalFlushes         int64         `json:"total_flushes"`         // successful persists
	TotalRecords         int64         `json:"total_records"`         // records persisted
	InMemory             int           `json:"buffer_size"`           // records folded into memory, not yet persisted
	InRing               int           `json:"queue_size"`            // records in the ring, not yet folded
	ErrorCount           int64         `json:"error_count"`           // failed persists
	RetryCount           int64         `json:"retry_count"`           // persist attempts after a failure
	FallbackWrites       int64         `json:"fallback_writes"`       // rescue files written at Close
	LostRecords          int64         `json:"lost_records"`          // dropped (Drop policy) or reaching no file at Close
	CorruptionRecoveries int64         `json:"corruption_recoveries"` // corrupt files recovered from
	LastFlushTime        time.Time     `json:"last_flush_time"`       // zero before the first persist
	LastError            string        `json:"last_error"`            // latest persist error, "" after a success
	Dropped              int64         `json:"dropped"`               // refused with ErrFull
	Pending              int           `json:"pending"`               // accepted, not yet persisted: InMemory + InRing
	RecoveredRecords     int64         `json:"recovered_records"`     // records merged from rescue files of earlier runs
	RecoveredFiles       int64         `json:"recovered_files"`       // rescue files merged
	UnreadableRescues    int64         `json:"unreadable_rescues"`    // rescue files found but not readable (kept, retried)
	UnpricedRecords      int64         `json:"unpriced_records"`      // records without a cost whose model the price table does not know
	UnpricedModels       []string      `json:"unpriced_models"`       // their models, sorted (the first 32 seen)
	RingCapacity         int           `json:"ring_capacity"`         // the ring's slots (InRing of them are in use)
	ShippedBatches       int64         `json:"shipped_batches"`       // batches applied by the shipper (WithShipper)
	ShipErrors           int64         `json:"ship_errors"`           // failed Ship calls (each retried)
	LastShipError        string        `json:"last_ship_error"`       // latest Ship error, "" after a success
	ShipLag              time.Duration `json:"ship_lag_ns"`           // how long the batch in flight has waited since it was sealed; 0 if none
	// PersistSeconds counts every persist attempt by how long it took
	// (cumulative buckets, in seconds).
	PersistSeconds flusher.Histogram `json:"persist_seconds"`
}

// Stats returns the tracker's counters without waiting for the flusher.
func (t *Tracker) Stats() Stats {
	fs := t.flusher.Stats()
	// Pending counts from ring positions (claimed - persisted), so a batch
	// between PopBatch and the end of its Fold is not missed; the queue is
	// what the ring holds, the buffer the rest.
	queue := min(t.ring.Len(), fs.Pending)
	s := Stats{
		TotalFlushes:         fs.Flushes,
		TotalRecords:         int64(fs.Persisted),
		InMemory:             fs.Pending - queue,
		InRing:               queue,
		ErrorCount:           fs.PersistErrors,
		RetryCount:           fs.Retries,
		FallbackWrites:       t.sink.fallbackWrites.Load(),
		LostRecords:          t.dropped.Load() + t.sink.lost.Load(),
		CorruptionRecoveries: t.sink.recoveries.Load(),
		LastFlushTime:        fs.LastFlush,
		Dropped:              t.dropped.Load(),
		RecoveredRecords:     t.sink.rescue.recoveredRecords.Load(),
		RecoveredFiles:       t.sink.rescue.recoveredFiles.Load(),
		UnreadableRescues:    t.sink.rescue.unreadable.Load(),
		UnpricedRecords:      t.sink.prices.unpriced.Load(),
		UnpricedModels:       t.sink.prices.unpricedModels(),
		RingCapacity:         t.ring.Cap(),
		PersistSeconds:       fs.PersistSeconds,
	}
	s.Pending = fs.Pending
	if fs.LastError != nil {
		s.LastError = fs.LastError.Error()
	}
	if sh := t.sink.ship; sh != nil {
		s.ShippedBatches, s.ShipErrors = sh.shipped.Load(), sh.errs.Load()
		if err := sh.lastErr.Load(); err != nil {
			s.LastShipError = err.Error()
		}
		s.ShipLag = sh.lag(time.Now())
	}
	return s
}

// Quote prices a call with the tracker's current price table, as the
// tracker prices records without a cost.
func (t *Tracker) Quote(model string, u pricing.Usage) (pricing.Quote, error) {
	return t.sink.prices.quote(model, u)
}

// SetPrices replaces the tracker's price table: records folded from now
// on are priced from p. It is an atomic swap; Record never waits on it.
// A nil p is an error wrapping ErrInvalidArgument.
func (t *Tracker) SetPrices(p pricing.Pricer) error { return t.sink.prices.set(p) }

// Path returns the absolute path of the usage file.
func (t *Tracker) Path() string { return t.sink.path }
