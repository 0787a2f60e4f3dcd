package tracker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/flusher"
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
	state   *state

	dropped atomic.Int64 // records refused with ErrFull (Drop policy)

	closeOnce sync.Once
	closeErr  error // set once, inside closeOnce
}

var _ Recorder = (*Tracker)(nil)

// New opens (or creates) the usage file at path and starts the tracker's
// flusher. The file is loaded now, under the cross-process lock: a corrupt
// file is recovered from (backup, or archived and started afresh; see
// LoadDocument); a file that is valid JSON but not a usage document is an
// error wrapping ErrForeignFile, and nothing is written to it. A file that
// cannot be read for a disk reason (a directory at path, a missing or
// unreadable directory) is not an error here: records are kept in memory
// and the load is retried with every persist, so the fault can be cleared
// while the service runs. Invalid options give an error wrapping
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
	st, err := newState(path, cfg)
	if err != nil {
		return nil, err
	}
	st.stamp = stamp // before the flusher's goroutine reads it
	if err := st.load(); err != nil {
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
	return &Tracker{cfg: cfg, ring: r, flusher: f, state: st}, nil
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

// Close stops accepting records (Record returns ErrClosed, also for callers
// waiting on a full ring), persists everything accepted, and stops the
// flusher. If the usage file cannot be written even after the close
// retries, Close writes the data to the first of the backup file,
// <stem>.emergency.<unix>.json beside the file, or the same name in the
// system's temporary directory that works, and returns a *FallbackError
// naming it. Close is idempotent: later calls return the same result.
func (t *Tracker) Close() error {
	t.closeOnce.Do(func() {
		// Background: the flusher's own CloseRetries bound the wait.
		err := t.flusher.Close(context.Background())
		if err != nil {
			// The flusher's goroutine has stopped: the state is ours.
			err = t.state.fallback(err)
		}
		t.closeErr = err
	})
	return t.closeErr
}

// Stats is the tracker's counters, with the original tool's keys plus
// dropped and pending.
type Stats struct {
	TotalFlushes         int64     `json:"total_flushes"`         // successful persists
	TotalRecords         int64     `json:"total_records"`         // records persisted
	BufferSize           int       `json:"buffer_size"`           // folded into memory, not yet persisted
	QueueSize            int       `json:"queue_size"`            // in the ring, not yet folded
	ErrorCount           int64     `json:"error_count"`           // failed persists
	RetryCount           int64     `json:"retry_count"`           // persist attempts after a failure
	FallbackWrites       int64     `json:"fallback_writes"`       // Close wrote a fallback file
	LostRecords          int64     `json:"lost_records"`          // dropped (Drop policy) or reaching no file at Close
	CorruptionRecoveries int64     `json:"corruption_recoveries"` // corrupt files recovered from
	LastFlushTime        time.Time `json:"last_flush_time"`       // zero before the first persist
	LastError            string    `json:"last_error"`            // latest persist error, "" after a success
	Dropped              int64     `json:"dropped"`               // refused with ErrFull
	Pending              int       `json:"pending"`               // accepted, not yet persisted: BufferSize + QueueSize
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
		BufferSize:           fs.Pending - queue,
		QueueSize:            queue,
		ErrorCount:           fs.PersistErrors,
		RetryCount:           fs.Retries,
		FallbackWrites:       t.state.fallbackWrites.Load(),
		LostRecords:          t.dropped.Load() + t.state.lost.Load(),
		CorruptionRecoveries: t.state.recoveries.Load(),
		LastFlushTime:        fs.LastFlush,
		Dropped:              t.dropped.Load(),
	}
	s.Pending = fs.Pending
	if fs.LastError != nil {
		s.LastError = fs.LastError.Error()
	}
	return s
}

// CalculateCost returns the cost in USD of a call to model with the given
// token counts, from the tracker's pricing table (see CalculateCost).
func (t *Tracker) CalculateCost(model string, inputTokens, outputTokens int64) float64 {
	return CalculateCost(t.cfg.pricing, model, inputTokens, outputTokens)
}

// Path returns the absolute path of the usage file.
func (t *Tracker) Path() string { return t.state.path }
