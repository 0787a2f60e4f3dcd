package flusher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/ring"
)

// ErrInvalidOptions is wrapped by New's error for an out-of-range option.
var ErrInvalidOptions = errors.New("flusher: invalid options")

// Sink is the two-phase destination of a Flusher. Both methods are called
// only from the flusher's goroutine, never concurrently with each other.
type Sink[T any] interface {
	// Fold applies a drained batch to in-memory state (phase 1). It cannot
	// fail, and the state must stay bounded however many items are folded
	// (aggregate, keep the last N). The batch slice is reused after Fold
	// returns: copy what must outlive the call.
	Fold(batch []T)
	// Persist writes everything folded so far (phase 2). It may fail; the
	// flusher keeps folding and retries later, so the state must carry
	// forward whatever an unsuccessful Persist did not write.
	Persist() error
}

// Options configures a Flusher. The zero value of a field selects its
// default.
type Options struct {
	// BatchSize is the pending-item count that wakes the flusher to fold
	// before FlushInterval has passed, and the most items passed to one
	// Fold. Default 512: at 1M records/s a batch arrives every 0.5 ms,
	// far below a ring of thousands, and one Fold of 512 records is a few
	// tens of µs, so producers never wait for space.
	BatchSize int
	// FlushInterval bounds how long a folded item waits to be persisted
	// when nobody calls Flush: the oldest unpersisted item is persisted at
	// most FlushInterval after the flusher first saw it. It is also the
	// persist cadence under load: at most one Persist per FlushInterval
	// unless Flush asks. Default 100 ms: a crash loses at most about that
	// much, and a 1-10 ms persist (two fsyncs) costs under 10% of one
	// core's time.
	FlushInterval time.Duration
	// RetryBase and RetryMax shape the backoff between persist attempts
	// after a failure: attempt k waits a random duration in
	// [d/2, d] with d = min(RetryMax, RetryBase*2^(k-1)). A success resets
	// it. Defaults 100 ms (the original tool's base) and 5 s.
	RetryBase time.Duration
	RetryMax  time.Duration
	// CloseRetries is how many times Close retries a failing final persist
	// (with the same backoff) before it gives up and returns the error.
	// Default 3, as the original tool. Negative means no retry.
	CloseRetries int
}

const (
	defaultBatchSize     = 512
	defaultFlushInterval = 100 * time.Millisecond
	defaultRetryBase     = 100 * time.Millisecond
	defaultRetryMax      = 5 * time.Second
	defaultCloseRetries  = 3
)

func (o Options) withDefaults() (Options, error) {
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = defaultFlushInterval
	}
	if o.RetryBase == 0 {
		o.RetryBase = defaultRetryBase
	}
	if o.RetryMax == 0 {
		o.RetryMax = max(defaultRetryMax, o.RetryBase)
	}
	if o.CloseRetries == 0 {
		o.CloseRetries = defaultCloseRetries
	}
	switch {
	case o.BatchSize < 0:
		return o, fmt.Errorf("%w: BatchSize %d < 0", ErrInvalidOptions, o.BatchSize)
	case o.FlushInterval < 0:
		return o, fmt.Errorf("%w: FlushInterval %v < 0", ErrInvalidOptions, o.FlushInterval)
	case o.RetryBase < 0:
		return o, fmt.Errorf("%w: RetryBase %v < 0", ErrInvalidOptions, o.RetryBase)
	case o.RetryMax < o.RetryBase:
		return o, fmt.Errorf("%w: RetryMax %v < RetryBase %v", ErrInvalidOptions, o.RetryMax, o.RetryBase)
	}
	o.CloseRetries = max(o.CloseRetries, 0)
	return o, nil
}

// Stats is a snapshot of a Flusher's counters. Each field is read
// atomically, but the fields are read one by one while the flusher runs.
type Stats struct {
	Flushes       int64         // successful persists
	Persisted     uint64        // items persisted (covered by a successful Persist)
	Folded        uint64        // items folded into the sink
	Batches       int64         // Fold calls
	PersistErrors int64         // failed persists
	Retries       int64         // persist attempts made after a failure
	LastError     error         // error of the latest failed persist; nil after a success
	LastFlush     time.Time     // when the latest successful persist finished
	LastDuration  time.Duration // how long it took
	Pending       int           // items pushed but not yet persisted (in the ring or folded)
}

// flushRequest is one Flush call waiting for the items claimed before it
// to be persisted.
type flushRequest struct {
	target uint64     // ring position: persisted once Persisted >= target
	done   chan error // buffered 1: the flusher never blocks on it
}

// Flusher drains one ring into one Sink on its own goroutine: it folds
// batches as they arrive and persists the folded state by time, on Flush and
// on Close. It is the only consumer of the ring; producers push into the
// ring directly (ring.Push, ring.TryPush) and never touch the Flusher.
//
// # States
//
// The loop is in one of three states, and sleeps (no polling) in each:
//
//	clean     nothing folded is unpersisted. The ring is armed at 1: the
//	          first push wakes the flusher, which folds it and becomes dirty.
//	dirty     folded items await Persist, due FlushInterval after the
//	          flusher first saw the oldest of them. The ring is armed at
//	          BatchSize: producers wake it only to fold a full batch.
//	failing   the latest Persist failed: like dirty, but the next attempt is
//	          due after the backoff delay. Items keep being folded, none is
//	          dropped; a success returns to clean.
//
// A Flush request makes a persist due at once (after folding every item
// claimed before the request); requests that arrive during one persist share
// the next one. Close stops intake, folds the rest and persists with up to
// CloseRetries retries.
type Flusher[T any] struct {
	ring *ring.MPSC[T]
	sink Sink[T]
	opts Options

	requests chan flushRequest
	closing  chan struct{} // closed by the first Close
	done     chan struct{} // closed when run returns
	closeOne sync.Once
	closeErr error // written by run before done is closed

	// Counters written by run, read by Stats.
	flushes       atomic.Int64
	persisted     atomic.Uint64
	folded        atomic.Uint64
	batches       atomic.Int64
	persistErrors atomic.Int64
	retries       atomic.Int64
	lastError     atomic.Error
	lastFlush     atomic.Time
	lastDuration  atomic.Duration
}

// New starts a Flusher that consumes r into sink. The caller gives up the
// consumer side of r: from now on only the Flusher may call r.PopBatch,
// r.Arm and r.Disarm. Call Close to stop it.
func New[T any](r *ring.MPSC[T], sink Sink[T], opts Options) (*Flusher[T], error) {
	if r == nil || sink == nil {
		return nil, fmt.Errorf("%w: nil ring or sink", ErrInvalidOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Flusher[T]{
		ring:     r,
		sink:     sink,
		opts:     o,
		requests: make(chan flushRequest),
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	go f.run()
	return f, nil
}

// Flush returns nil once every item pushed into the ring before the call is
// persisted (durable, if the Sink's Persist is). It returns the persist
// error if the attempt made for it fails (the flusher keeps the items and
// retries on its own), or ctx.Err() if ctx ends first. Concurrent Flush
// calls are safe and may share one persist. After Close has finished, Flush
// returns Close's result; while Close is running it waits for it.
func (f *Flusher[T]) Flush(ctx context.Context) error {
	req := flushRequest{target: f.ring.Claimed(), done: make(chan error, 1)}
	select {
	case f.requests <- req:
	case <-f.closing:
		return f.waitDone(ctx)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops intake (later pushes fail with ring.ErrClosed, waiting ones
// included), folds everything already pushed, persists it, and stops the
// flusher's goroutine. A failing final persist is retried CloseRetries
// times with backoff; the result (nil, or the last persist error) is
// returned by this and every later Close. If ctx ends first, Close returns
// ctx.Err() and the goroutine still finishes on its own; a later Close
// waits for it again. Close is idempotent and safe to call concurrently
// with producers and with Flush.
func (f *Flusher[T]) Close(ctx context.Context) error {
	f.closeOne.Do(func() {
		f.ring.Close()
		close(f.closing)
	})
	return f.waitDone(ctx)
}

func (f *Flusher[T]) waitDone(ctx context.Context) error {
	select {
	case <-f.done:
		return f.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the flusher's goroutine has returned (after Close).
func (f *Flusher[T]) Done() <-chan struct{} { return f.done }

// Stats returns the flusher's counters without stopping it.
func (f *Flusher[T]) Stats() Stats {
	persisted, claimed := f.persisted.Load(), f.ring.Claimed()
	return Stats{
		Flushes:       f.flushes.Load(),
		Persisted:     persisted,
		Folded:        f.folded.Load(),
		Batches:       f.batches.Load(),
		PersistErrors: f.persistErrors.Load(),
		Retries:       f.retries.Load(),
		LastError:     f.lastError.Load(),
		LastFlush:     f.lastFlush.Load(),
		LastDuration:  f.lastDuration.Load(),
		Pending:       int(claimed - min(persisted, claimed)),
	}
}

// loop state, owned by run.
type loopState[T any] struct {
	buf      []T
	dirty    bool      // folded items are unpersisted
	due      time.Time // when the next persist is due, if dirty
	failures int       // consecutive failed persists; 0 when not failing
	waiting  []flushRequest
	timer    *time.Timer
	rng      *rand.Rand
}

func (f *Flusher[T]) run() {
	defer close(f.done)
	st := &loopState[T]{
		buf:   make([]T, 0, f.opts.BatchSize),
		timer: time.NewTimer(time.Hour),
		rng:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)),
	}
	st.timer.Stop()
	defer st.timer.Stop()
	for {
		f.fold(st, f.ring.Cap())
		select {
		case <-f.closing:
			f.closeErr = f.finish(st)
			return
		default:
		}
		f.collect(st)
		if len(st.waiting) > 0 {
			f.serve(st)
			continue
		}
		if st.dirty && !time.Now().Before(st.due) {
			f.persist(st)
			continue
		}
		f.sleep(st)
	}
}

// fold drains up to limit ready items into the sink in batches. The limit
// (one ring's worth) keeps a steady stream of producers from holding the
// loop in fold past a due persist.
func (f *Flusher[T]) fold(st *loopState[T], limit int) {
	for limit > 0 {
		st.buf = f.ring.PopBatch(st.buf[:0], min(f.opts.BatchSize, limit))
		n := len(st.buf)
		if n == 0 {
			return
		}
		f.sink.Fold(st.buf)
		clear(st.buf) // drop references held by the copies
		f.folded.Add(uint64(n))
		f.batches.Inc()
		if !st.dirty {
			st.dirty = true
			st.due = time.Now().Add(f.opts.FlushInterval)
		}
		limit -= n
	}
}

// foldThrough folds until every item below position target is folded. The
// items exist (claimed before target was read); one not yet published is a
// producer between its claim and its publish, so yield to let it finish.
func (f *Flusher[T]) foldThrough(st *loopState[T], target uint64) {
	for f.ring.Consumed() < target {
		before := f.ring.Consumed()
		f.fold(st, int(target-before))
		if f.ring.Consumed() == before {
			runtime.Gosched()
		}
	}
}

// serve answers the waiting Flush requests with one persist covering them
// all.
func (f *Flusher[T]) serve(st *loopState[T]) {
	var target uint64
	for _, r := range st.waiting {
		target = max(target, r.target)
	}
	f.foldThrough(st, target)
	// Not dirty means everything consumed is persisted (every fold sets
	// dirty, every successful persist covers all that was consumed).
	var err error
	if st.dirty {
		err = f.persist(st)
	}
	for _, r := range st.waiting {
		r.done <- err
	}
	clear(st.waiting)
	st.waiting = st.waiting[:0]
}

// persist runs one Persist of everything folded so far and moves the state
// machine: clean on success, failing with a backoff delay on error.
func (f *Flusher[T]) persist(st *loopState[T]) error {
	covered := f.ring.Consumed()
	if st.failures > 0 {
		f.retries.Inc()
	}
	start := time.Now()
	err := f.sink.Persist()
	end := time.Now()
	if err != nil {
		f.persistErrors.Inc()
		f.lastError.Store(err)
		st.failures++
		st.dirty = true
		st.due = end.Add(f.backoff(st))
		return err
	}
	f.flushes.Inc()
	f.persisted.Store(covered)
	f.lastError.Store(nil)
	f.lastFlush.Store(end)
	f.lastDuration.Store(end.Sub(start))
	st.failures = 0
	st.dirty = false
	return nil
}

// backoff returns the delay before the next attempt after st.failures
// consecutive failures: "equal jitter", a random duration in [d/2, d].
func (f *Flusher[T]) backoff(st *loopState[T]) time.Duration {
	d := f.opts.RetryBase
	for i := 1; i < st.failures && d < f.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, f.opts.RetryMax)
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(st.rng.Int64N(int64(d/2)+1))
}

// sleep waits for the next event: enough pending items, a due persist, a
// Flush request or Close.
func (f *Flusher[T]) sleep(st *loopState[T]) {
	n := 1
	if st.dirty {
		n = f.opts.BatchSize
	}
	if f.ring.Arm(n) {
		return // items are claimed (or the ring closed) already
	}
	var timeout <-chan time.Time
	if st.dirty {
		st.timer.Reset(time.Until(st.due))
		timeout = st.timer.C
	}
	select {
	case <-f.ring.Ready():
	case <-timeout:
	case r := <-f.requests:
		st.waiting = append(st.waiting, r)
	case <-f.closing:
	}
	st.timer.Stop()
	f.ring.Disarm()
}

// collect takes every Flush request whose sender is waiting, without
// blocking, so that they share the next persist and a steady stream of
// pushes (which keeps the loop from sleeping) cannot starve them.
func (f *Flusher[T]) collect(st *loopState[T]) {
	for {
		select {
		case r := <-f.requests:
			st.waiting = append(st.waiting, r)
		default:
			return
		}
	}
}

// finish runs after Close: fold everything claimed before the ring closed,
// persist with up to CloseRetries retries, and answer the Flush requests
// still waiting.
func (f *Flusher[T]) finish(st *loopState[T]) error {
	f.foldThrough(st, f.ring.Claimed()) // closed: Claimed no longer moves
	var err error
	for attempt := 0; st.dirty; attempt++ {
		if attempt > 0 {
			if attempt > f.opts.CloseRetries {
				break
			}
			st.timer.Reset(time.Until(st.due))
			<-st.timer.C
		}
		err = f.persist(st)
	}
	for _, r := range st.waiting {
		r.done <- err
	}
	st.waiting = nil
	return err
}
