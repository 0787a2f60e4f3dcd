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

// Sink is the destination of a Flusher, in three calls:
//
//   - Fold applies a drained batch to in-memory state, on the flusher's
//     loop goroutine.
//   - Snapshot freezes everything folded so far for the next Persist and
//     starts a new generation for the Folds that follow, on the loop
//     goroutine, between Folds, and never while a Persist runs.
//   - Persist writes what the snapshots froze, on the flusher's persister
//     goroutine, concurrently with Fold (that is the point: a slow disk
//     never stops the ring from draining), but never concurrently with
//     Snapshot or another Persist.
//
// The sink synchronizes Fold with Persist itself where they share state;
// the flusher guarantees the happens-before edges Snapshot → Persist →
// the next Snapshot.
type Sink[T any] interface {
	// Fold applies a batch (phase 1). It cannot fail, and the state must
	// stay bounded however many items are folded (aggregate, keep the last
	// N). The batch slice is reused after Fold returns: copy what must
	// outlive the call.
	Fold(batch []T)
	// Snapshot ends the current generation: what was folded up to now is
	// what the next Persist must write. If an earlier Persist failed, its
	// snapshot is still unwritten; the new snapshot includes it (merge
	// the generations, oldest first), so the state stays bounded during a
	// long failure.
	Snapshot()
	// Persist writes every snapshot not yet written (phase 2). It may fail;
	// the flusher keeps folding and retries later (after another
	// Snapshot), so the sink must keep whatever an unsuccessful Persist did
	// not write.
	Persist() error
}

// Options configures a Flusher. The zero value of a field selects its
// default.
type Options struct {
	// BatchSize is the pending-item count that wakes the flusher to fold
	// before FlushInterval has passed, and the most items passed to one
	// Fold. Default DefaultBatchSize.
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
	// it. Defaults DefaultRetryBase and DefaultRetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// CloseRetries is how many times Close retries a failing final persist
	// (with the same backoff) before it gives up and returns the error.
	// Default DefaultCloseRetries. Negative means no retry.
	CloseRetries int
}

// Defaults of Options (docs/design.md says why these).
const (
	// DefaultBatchSize: a batch is a small part of a ring of thousands,
	// and folding one takes a small part of the time it takes to fill.
	DefaultBatchSize = 512
	// DefaultFlushInterval is what a crash can lose while the disk works.
	DefaultFlushInterval = 100 * time.Millisecond
	// DefaultRetryBase and DefaultRetryMax: a dead disk is retried every
	// few seconds, not hammered.
	DefaultRetryBase = 100 * time.Millisecond
	DefaultRetryMax  = 5 * time.Second
	// DefaultCloseRetries is how often Close retries a failing persist.
	DefaultCloseRetries = 3
)

func (o Options) withDefaults() (Options, error) {
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval == 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.RetryBase == 0 {
		o.RetryBase = DefaultRetryBase
	}
	if o.RetryMax == 0 {
		o.RetryMax = max(DefaultRetryMax, o.RetryBase)
	}
	if o.CloseRetries == 0 {
		o.CloseRetries = DefaultCloseRetries
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
	// PersistSeconds counts every persist attempt (failed ones too) by how
	// long it took, in the buckets of PersistBuckets.
	PersistSeconds Histogram
}

// PersistBuckets are the upper bounds, in seconds, of Stats.PersistSeconds'
// buckets: from a page-cache write (1 ms) to a sick disk (10 s).
var PersistBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Histogram is a cumulative histogram of durations, as Prometheus has
// them: Counts[i] observations took at most Bounds[i] seconds; Count
// counts all of them (above the last bound too) and Sum adds them up.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64 // seconds
}

// durations counts persist durations into PersistBuckets, with atomics:
// written by the loop goroutine, read by Stats on any goroutine.
type durations struct {
	buckets [len(PersistBuckets) + 1]atomic.Uint64 // not cumulative; the last is above every bound
	sumNs   atomic.Int64
}

func (d *durations) observe(dur time.Duration) {
	s := dur.Seconds()
	i := 0
	for i < len(PersistBuckets) && s > PersistBuckets[i] {
		i++
	}
	d.buckets[i].Inc()
	d.sumNs.Add(int64(dur))
}

func (d *durations) histogram() Histogram {
	h := Histogram{Bounds: PersistBuckets[:], Counts: make([]uint64, len(PersistBuckets))}
	var cum uint64
	for i := range d.buckets {
		cum += d.buckets[i].Load()
		if i < len(PersistBuckets) {
			h.Counts[i] = cum
		}
	}
	h.Count = cum
	h.Sum = time.Duration(d.sumNs.Load()).Seconds()
	return h
}

// flushRequest is one Flush (or Fold) call waiting for the items claimed
// before it to be persisted (or folded).
type flushRequest struct {
	target uint64     // ring position: persisted (folded) once Persisted (Folded) >= target
	done   chan error // buffered 1: the flusher never blocks on it
	fold   bool       // Fold: answered once folded, without a persist
	force  bool       // Persist: a persist runs even if nothing was folded
}

// Flusher drains one ring into one Sink: its loop goroutine folds batches
// as they arrive, and its persister goroutine persists the folded state by
// time, on Flush and on Close, while the loop goes on folding. It is the
// only consumer of the ring; producers push into the ring directly
// (ring.Push, ring.TryPush) and never touch the Flusher.
//
// # States
//
// The loop is in one of these states, and sleeps (no polling) in each:
//
//	idle        nothing folded is unpersisted. The ring is armed at 1: the
//	            first push wakes the loop, which folds it (draining) and
//	            starts the clock: a persist is due FlushInterval later.
//	draining    folded items await a persist that is not due yet. The ring
//	            is armed at BatchSize: producers wake the loop only to fold
//	            a full batch.
//	persisting  a Persist is running on the persister goroutine. The loop
//	            keeps draining; it starts no other Persist until this one
//	            reports. Items folded meanwhile wait for the next one.
//	backing off the latest Persist failed: like draining, but the next
//	            attempt is due after the backoff delay. Nothing is dropped;
//	            a success returns to idle (or draining, if items were folded
//	            during the persist).
//	closing     Close was called: the ring refuses new items; the loop
//	            waits for a running Persist, folds the rest and persists
//	            with up to CloseRetries retries.
//
// A persist starts with Sink.Snapshot on the loop goroutine, so it covers
// exactly the items consumed from the ring up to then. A Flush request makes
// a persist due at once (after folding every item claimed before the
// request); requests that arrive while a persist runs share the next one.
type Flusher[T any] struct {
	ring *ring.MPSC[T]
	sink Sink[T]
	opts Options

	requests chan flushRequest
	closing  chan struct{} // closed by the first Close
	drained  chan struct{} // closed by run once, after Close, every claimed item is folded
	abandon  chan struct{} // closed when a Close's ctx ends: the final persist is not retried again
	done     chan struct{} // closed when run returns
	closeOne sync.Once
	abandon1 sync.Once
	closeErr error // written by run before done is closed

	// The loop hands a persist to the persister goroutine on persistGo
	// and gets the result on persistDone. Both are unbuffered: a send on
	// persistGo is the happens-before edge Snapshot → Persist, the
	// receive from persistDone the edge Persist → next Snapshot.
	persistGo   chan struct{} // closed by run when it returns
	persistDone chan persistResult
	persistExit chan struct{} // closed by the persister when it returns

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
	durations     durations
}

// persistResult is one Persist's outcome, timed by the persister.
type persistResult struct {
	err        error
	start, end time.Time
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
		ring:        r,
		sink:        sink,
		opts:        o,
		requests:    make(chan flushRequest),
		closing:     make(chan struct{}),
		drained:     make(chan struct{}),
		abandon:     make(chan struct{}),
		done:        make(chan struct{}),
		persistGo:   make(chan struct{}),
		persistDone: make(chan persistResult),
		persistExit: make(chan struct{}),
	}
	go f.persister()
	go f.run()
	return f, nil
}

// persister runs each Persist the loop hands it, until the loop returns.
func (f *Flusher[T]) persister() {
	defer close(f.persistExit)
	for range f.persistGo {
		f.persistDone <- f.persistNow()
	}
}

func (f *Flusher[T]) persistNow() persistResult {
	start := time.Now()
	err := f.sink.Persist()
	return persistResult{err: err, start: start, end: time.Now()}
}

// Flush returns nil once every item pushed into the ring before the call is
// persisted (durable, if the Sink's Persist is). It returns the persist
// error if the attempt made for it fails (the flusher keeps the items and
// retries on its own), or ctx.Err() if ctx ends first. Concurrent Flush
// calls are safe and may share one persist. After Close has finished, Flush
// returns Close's result; while Close is running it waits for it.
func (f *Flusher[T]) Flush(ctx context.Context) error { return f.flush(ctx, false) }

func (f *Flusher[T]) flush(ctx context.Context, force bool) error {
	req := flushRequest{target: f.ring.Claimed(), done: make(chan error, 1), force: force}
	return f.request(ctx, req, f.closing, func() error { return f.waitDone(ctx, false) })
}

// request hands req to the loop and waits for its answer, or ctx's end.
// Once stop is closed the loop takes no more requests: ifStopped answers
// instead.
func (f *Flusher[T]) request(ctx context.Context, req flushRequest, stop <-chan struct{}, ifStopped func() error) error {
	select {
	case f.requests <- req:
	case <-stop:
		return ifStopped()
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

// Persist is Flush that persists even when nothing was folded since the
// last persist: for a sink whose own state changed (the tracker's outbox,
// once a batch is shipped) and must be written. It returns the persist's
// error, or ctx.Err().
func (f *Flusher[T]) Persist(ctx context.Context) error {
	return f.flush(ctx, true)
}

// Fold returns nil once every item pushed into the ring before the call
// has been folded into the sink (Sink.Fold has returned for it), or
// ctx.Err() if ctx ends first. It never waits for a persist: the loop
// goroutine folds while a persist runs, so Fold waits for at most the
// folding of what is pending. It is what a reader of the sink's state
// calls to see everything pushed before it (read-your-writes). After Close
// it returns once Close has folded everything.
func (f *Flusher[T]) Fold(ctx context.Context) error {
	target := f.ring.Claimed()
	if f.folded.Load() >= target {
		return nil // nothing pending: no round trip to the loop
	}
	req := flushRequest{target: target, done: make(chan error, 1), fold: true}
	return f.request(ctx, req, f.drained, func() error { return nil })
}

// Close stops intake (later pushes fail with ring.ErrClosed, waiting ones
// included), folds everything already pushed, persists it, and stops the
// flusher's goroutines. A failing final persist is retried CloseRetries
// times with backoff; the result (nil, or the last persist error) is
// returned by this and every later Close.
//
// If ctx ends first, Close returns ctx.Err(), and the final persist is not
// retried again: the goroutine finishes on its own once the attempt in
// progress (if any) returns, keeping what it could not persist in the
// sink, and a later Close waits for that and returns its result. Close is
// idempotent and safe to call concurrently with producers and with Flush.
func (f *Flusher[T]) Close(ctx context.Context) error {
	f.closeOne.Do(func() {
		f.ring.Close()
		close(f.closing)
	})
	return f.waitDone(ctx, true)
}

// waitDone waits for run to return; if ctx ends first and abandon is set,
// it tells run not to retry the final persist any more.
func (f *Flusher[T]) waitDone(ctx context.Context, abandon bool) error {
	select {
	case <-f.done:
		return f.closeErr
	case <-ctx.Done():
		if abandon {
			f.abandon1.Do(func() { close(f.abandon) })
		}
		return ctx.Err()
	}
}

// Done is closed when the flusher's goroutines have returned (after Close).
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

		PersistSeconds: f.durations.histogram(),
	}
}

// loop state, owned by run.
type loopState[T any] struct {
	buf []T
	// since is when the first item folded after the latest Snapshot was
	// folded; zero if none was. A persist is due FlushInterval after it.
	since time.Time
	// failures counts consecutive failed persists; while it is above 0 the
	// sink holds an unwritten snapshot, due again at retryAt.
	failures int
	retryAt  time.Time
	// inflight: a Persist is running; it covers the items consumed before
	// position covered and answers the Flush requests in served.
	inflight bool
	covered  uint64
	served   []flushRequest
	waiting  []flushRequest // Flush requests for the next persist
	timer    *time.Timer
	rng      *rand.Rand
}

// unpersisted reports whether some folded item awaits a persist that is
// not running: folded since the latest Snapshot, or in a failed one.
func (st *loopState[T]) unpersisted() bool {
	return !st.since.IsZero() || st.failures > 0
}

// due returns when the next persist is due, and false if none is (nothing
// unpersisted, or a persist running).
func (st *loopState[T]) due(interval time.Duration) (time.Time, bool) {
	switch {
	case st.inflight || !st.unpersisted():
		return time.Time{}, false
	case st.failures > 0:
		return st.retryAt, true
	default:
		return st.since.Add(interval), true
	}
}

func (f *Flusher[T]) run() {
	defer func() {
		// After finish no Persist runs: stop the persister, and report
		// done only once both goroutines are gone.
		close(f.persistGo)
		<-f.persistExit
		close(f.done)
	}()
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
		if !st.inflight {
			if len(st.waiting) > 0 {
				f.serve(st)
				continue
			}
			if due, ok := st.due(f.opts.FlushInterval); ok && !time.Now().Before(due) {
				f.startPersist(st)
				continue
			}
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
		if st.since.IsZero() {
			st.since = time.Now()
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

// serve starts one persist covering every waiting Flush request, or
// answers them at once if everything they cover is persisted already.
// Called only while no persist runs.
func (f *Flusher[T]) serve(st *loopState[T]) {
	var target uint64
	force := false
	for _, r := range st.waiting {
		target = max(target, r.target)
		force = force || r.force
	}
	f.foldThrough(st, target)
	if !st.unpersisted() && !force {
		// Everything consumed is persisted: no persist runs, and every
		// fold since the last successful one would have set since.
		answer(st.waiting, nil)
		st.waiting = st.waiting[:0]
		return
	}
	st.served, st.waiting = st.waiting, st.served[:0]
	f.startPersist(st)
}

// startPersist snapshots the sink and hands the Persist to the persister
// goroutine. Called only while no persist runs.
func (f *Flusher[T]) startPersist(st *loopState[T]) {
	f.snapshot(st)
	f.persistGo <- struct{}{}
}

// snapshot begins a persist: the sink freezes what was folded, which
// covers every ring position consumed so far. Called only while no persist
// runs.
func (f *Flusher[T]) snapshot(st *loopState[T]) {
	if st.failures > 0 {
		f.retries.Inc()
	}
	f.sink.Snapshot()
	st.covered = f.ring.Consumed()
	st.since = time.Time{}
	st.inflight = true
}

// completed moves the state machine on a persist's result: idle (or
// draining) on success, backing off on error; and answers the Flush
// requests it served.
func (f *Flusher[T]) completed(st *loopState[T], res persistResult) error {
	st.inflight = false
	f.durations.observe(res.end.Sub(res.start))
	// The counts go last: a reader that sees Flushes or PersistErrors
	// move sees the other fields of that persist too.
	if res.err != nil {
		f.lastError.Store(res.err)
		f.persistErrors.Inc()
		st.failures++
		st.retryAt = res.end.Add(f.backoff(st))
	} else {
		f.persisted.Store(st.covered)
		f.lastError.Store(nil)
		f.lastFlush.Store(res.end)
		f.lastDuration.Store(res.end.Sub(res.start))
		f.flushes.Inc()
		st.failures = 0
	}
	answer(st.served, res.err)
	st.served = st.served[:0]
	return res.err
}

// answer sends err to each request (their channels are buffered) and
// drops the references.
func answer(reqs []flushRequest, err error) {
	for _, r := range reqs {
		r.done <- err
	}
	clear(reqs)
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
// finished persist, a Flush request or Close.
func (f *Flusher[T]) sleep(st *loopState[T]) {
	n := 1
	if st.inflight || st.unpersisted() {
		n = f.opts.BatchSize
	}
	if f.ring.Arm(n) {
		return // items are claimed (or the ring closed) already
	}
	var timeout <-chan time.Time
	if due, ok := st.due(f.opts.FlushInterval); ok {
		st.timer.Reset(time.Until(due))
		timeout = st.timer.C
	}
	var persisted <-chan persistResult
	if st.inflight {
		persisted = f.persistDone
	}
	select {
	case <-f.ring.Ready():
	case <-timeout:
	case res := <-persisted:
		f.completed(st, res)
	case r := <-f.requests:
		f.take(st, r)
	case <-f.closing:
	}
	st.timer.Stop()
	f.ring.Disarm()
}

// collect takes every Flush request whose sender is waiting, and the
// result of a finished persist, without blocking: requests then share the
// next persist, and a steady stream of pushes (which keeps the loop from
// sleeping) can neither starve them nor hold a finished persist unread.
func (f *Flusher[T]) collect(st *loopState[T]) {
	for {
		var persisted <-chan persistResult
		if st.inflight {
			persisted = f.persistDone
		}
		select {
		case r := <-f.requests:
			f.take(st, r)
		case res := <-persisted:
			f.completed(st, res)
		default:
			return
		}
	}
}

// take answers a Fold request at once, after folding what it covers, and
// queues a Flush request for the next persist.
func (f *Flusher[T]) take(st *loopState[T], r flushRequest) {
	if r.fold {
		f.foldThrough(st, r.target)
		r.done <- nil
		return
	}
	st.waiting = append(st.waiting, r)
}

// finish runs after Close: wait for a running persist, fold everything
// claimed before the ring closed, persist with up to CloseRetries retries
// (on this goroutine: nothing folds any more), and answer the Flush
// requests still waiting.
func (f *Flusher[T]) finish(st *loopState[T]) error {
	var err error
	if st.inflight {
		err = f.completed(st, <-f.persistDone)
	}
	f.foldThrough(st, f.ring.Claimed()) // closed: Claimed no longer moves
	close(f.drained)
retries:
	for attempt := 0; st.unpersisted(); attempt++ {
		if attempt > 0 {
			if attempt > f.opts.CloseRetries {
				break
			}
			st.timer.Reset(time.Until(st.retryAt))
			select {
			case <-st.timer.C:
			case <-f.abandon:
				break retries
			}
		}
		f.snapshot(st)
		err = f.completed(st, f.persistNow())
	}
	answer(st.waiting, err)
	st.waiting = nil
	return err
}
