package flusher

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/atomic"
	"go.uber.org/goleak"

	"github.com/usagering/usagering/ring"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errDisk = errors.New("injected disk failure")

// memSink is a Sink that records what was folded and what was persisted.
// Persist fails while fail is set. Every Fold and Persist call is reported
// on the events channel (if non-nil), which is how tests wait for the
// flusher without sleeping.
type memSink struct {
	fail atomic.Bool

	mu        sync.Mutex
	folded    []int // guarded by mu
	frozen    []int // guarded by mu: copy of folded at the latest Snapshot
	persisted []int // guarded by mu: copy of frozen at the last successful Persist
	attempts  []time.Time

	events chan string
}

func newMemSink(events int) *memSink {
	s := &memSink{}
	if events > 0 {
		s.events = make(chan string, events)
	}
	return s
}

func (s *memSink) Fold(batch []int) {
	s.mu.Lock()
	s.folded = append(s.folded, batch...)
	s.mu.Unlock()
	s.emit("fold")
}

// Snapshot freezes everything folded so far: a failed persist's snapshot
// is a prefix of the next one, so the carry-forward is implicit.
func (s *memSink) Snapshot() {
	s.mu.Lock()
	s.frozen = append(s.frozen[:0], s.folded...)
	s.mu.Unlock()
}

func (s *memSink) Persist() error {
	s.mu.Lock()
	s.attempts = append(s.attempts, time.Now())
	var err error
	if s.fail.Load() {
		err = fmt.Errorf("write usage.json: %w", errDisk)
	} else {
		s.persisted = append(s.persisted[:0], s.frozen...)
	}
	s.mu.Unlock()
	if err != nil {
		s.emit("fail")
	} else {
		s.emit("persist")
	}
	return err
}

func (s *memSink) emit(ev string) {
	if s.events != nil {
		s.events <- ev
	}
}

func (s *memSink) snapshot() (folded, persisted []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.folded...), append([]int(nil), s.persisted...)
}

// waitEvent returns the next event, failing the test if none comes within
// a minute (a hang, not a timing assumption).
func waitEvent(t *testing.T, s *memSink) string {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(time.Minute):
		t.Fatal("no flusher event within a minute")
		return ""
	}
}

func waitFor(t *testing.T, s *memSink, want string) {
	t.Helper()
	for waitEvent(t, s) != want {
	}
}

func start(t *testing.T, capacity int, sink Sink[int], opts Options) (*ring.MPSC[int], *Flusher[int]) {
	t.Helper()
	r, err := ring.New[int](capacity)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(r, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sink, ok := sink.(*memSink); ok {
			sink.fail.Store(false)
			if sink.events != nil {
				go func() {
					for range sink.events {
					}
				}()
				defer close(sink.events)
			}
		}
		if err := f.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r, f
}

func checkExactlyOnce(t *testing.T, got []int, want int) {
	t.Helper()
	seen := make([]bool, want)
	for _, v := range got {
		if v < 0 || v >= want {
			t.Fatalf("unexpected item %d", v)
		}
		if seen[v] {
			t.Fatalf("item %d persisted twice", v)
		}
		seen[v] = true
	}
	if len(got) != want {
		t.Fatalf("%d items persisted, want %d", len(got), want)
	}
}

func TestOptionsValidation(t *testing.T) {
	r, _ := ring.New[int](8)
	for _, o := range []Options{
		{BatchSize: -1},
		{FlushInterval: -time.Second},
		{RetryBase: -1},
		{RetryBase: time.Second, RetryMax: time.Millisecond},
	} {
		if _, err := New[int](r, newMemSink(0), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("New(%+v) error = %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := New[int](nil, newMemSink(0), Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New(nil ring) error = %v, want ErrInvalidOptions", err)
	}
}

// TestFoldBySizePersistByTime: with a long interval, pushes are folded when
// the batch threshold is crossed but not persisted until Flush.
func TestFoldBySizePersistByTime(t *testing.T) {
	sink := newMemSink(100)
	r, f := start(t, 64, sink, Options{BatchSize: 8, FlushInterval: time.Hour})
	// The first push wakes a clean flusher, which folds it.
	if err := r.Push(0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sink, "fold")
	// Now dirty: the next wake-up is the batch threshold. Push 8 more.
	for i := 1; i <= 8; i++ {
		if err := r.Push(i); err != nil {
			t.Fatal(err)
		}
	}
	for {
		folded, _ := sink.snapshot()
		if len(folded) == 9 {
			break
		}
		waitFor(t, sink, "fold")
	}
	// The sink reports a fold from inside Fold; the flusher counts it
	// after Fold returns. Wait for the count before observing.
	if err := foldedWithin(f, 9); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	if st.Flushes != 0 || st.Persisted != 0 {
		t.Fatalf("persisted before the interval or a Flush: %+v", st)
	}
	if st.Pending != 9 || st.Folded != 9 {
		t.Fatalf("Pending = %d, Folded = %d; want 9, 9", st.Pending, st.Folded)
	}
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, persisted := sink.snapshot()
	checkExactlyOnce(t, persisted, 9)
	if st := f.Stats(); st.Flushes != 1 || st.Persisted != 9 || st.Pending != 0 {
		t.Fatalf("after Flush: %+v", st)
	}
}

// TestIntervalPersist: a single record is persisted once FlushInterval has
// passed since the flusher saw it, never earlier, without any Flush call.
func TestIntervalPersist(t *testing.T) {
	const interval = 20 * time.Millisecond
	sink := newMemSink(100)
	r, f := start(t, 64, sink, Options{BatchSize: 512, FlushInterval: interval})
	if err := r.Push(42); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sink, "fold")
	folded := time.Now()
	waitFor(t, sink, "persist")
	if waited := time.Since(folded); waited < interval-time.Millisecond {
		t.Fatalf("persisted %v after the fold, before the %v interval", waited, interval)
	}
	_, persisted := sink.snapshot()
	if len(persisted) != 1 || persisted[0] != 42 {
		t.Fatalf("persisted %v, want [42]", persisted)
	}
	for f.Stats().Flushes < 1 { // counted after Persist returns
		runtime.Gosched()
	}
	if st := f.Stats(); st.Flushes != 1 || st.LastFlush.IsZero() || st.LastError != nil {
		t.Fatalf("stats after interval persist: %+v", st)
	}
}

// TestIdleFlusherSleeps: with nothing pushed, the loop does not spin.
func TestIdleFlusherSleeps(t *testing.T) {
	sink := newMemSink(100)
	r, f := start(t, 64, sink, Options{FlushInterval: time.Millisecond})
	r.Push(1)
	waitFor(t, sink, "persist")
	// The sink reports the persist from inside Persist; the flusher counts
	// it after Persist returns. Wait for the count before observing.
	for f.Stats().Flushes < 1 {
		runtime.Gosched()
	}
	before := f.Stats()
	time.Sleep(50 * time.Millisecond) // the observation window, not synchronization
	after := f.Stats()
	if after.Batches != before.Batches || after.Flushes != before.Flushes || after.Retries != before.Retries {
		t.Fatalf("idle flusher did work: before %+v, after %+v", before, after)
	}
	select {
	case ev := <-sink.events:
		t.Fatalf("idle flusher called the sink: %s", ev)
	default:
	}
}

// TestFlushBarrier: many producers push while others call Flush; each
// Flush returning nil covers every item its caller pushed before it.
func TestFlushBarrier(t *testing.T) {
	sink := newMemSink(0)
	r, f := start(t, 16, sink, Options{BatchSize: 4, FlushInterval: time.Hour})
	const producers, perProducer = 8, 2000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				v := p*perProducer + i
				if err := r.Push(v); err != nil {
					t.Error(err)
					return
				}
				if i%250 == 249 {
					if err := f.Flush(context.Background()); err != nil {
						t.Error(err)
						return
					}
					// Everything this producer pushed so far is persisted.
					_, persisted := sink.snapshot()
					have := make(map[int]bool, len(persisted))
					for _, x := range persisted {
						have[x] = true
					}
					for j := 0; j <= i; j++ {
						if !have[p*perProducer+j] {
							t.Errorf("producer %d: item %d pushed before Flush is not persisted", p, j)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, persisted := sink.snapshot()
	checkExactlyOnce(t, persisted, producers*perProducer)
}

// TestFailingPersistRetriesAndLosesNothing: while Persist fails, items keep
// being folded, attempts back off, Flush reports the error; once the fault
// clears, everything is persisted.
func TestFailingPersistRetriesAndLosesNothing(t *testing.T) {
	const base = 2 * time.Millisecond
	sink := newMemSink(1000)
	sink.fail.Store(true)
	r, f := start(t, 8, sink, Options{BatchSize: 2, FlushInterval: time.Millisecond, RetryBase: base, RetryMax: 50 * time.Millisecond})

	pushed := 0
	push := func(n int) {
		for range n {
			if err := r.Push(pushed); err != nil {
				t.Fatal(err)
			}
			pushed++
		}
	}
	push(5)
	// Let four automatic attempts fail; keep pushing between them, more
	// than the ring holds in total, so folding must go on during the fault.
	for fails := 0; fails < 4; {
		if waitEvent(t, sink) == "fail" {
			fails++
			push(10)
		}
	}
	err := f.Flush(context.Background())
	if !errors.Is(err, errDisk) {
		t.Fatalf("Flush during the fault = %v, want errDisk", err)
	}
	st := f.Stats()
	if st.PersistErrors < 5 || st.Retries < 4 || !errors.Is(st.LastError, errDisk) || st.Flushes != 0 {
		t.Fatalf("stats during the fault: %+v", st)
	}
	if st.Pending != pushed {
		t.Fatalf("Pending = %d, want %d", st.Pending, pushed)
	}
	// The automatic attempts backed off: the gap before the k-th retry is
	// at least half of base*2^(k-1) (equal jitter).
	sink.mu.Lock()
	attempts := append([]time.Time(nil), sink.attempts...)
	sink.mu.Unlock()
	for k := 1; k < 4; k++ {
		if gap, min := attempts[k].Sub(attempts[k-1]), base<<(k-1)/2; gap < min {
			t.Errorf("retry %d came %v after the previous attempt, want >= %v", k, gap, min)
		}
	}

	sink.fail.Store(false)
	if err := f.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the fault cleared: %v", err)
	}
	_, persisted := sink.snapshot()
	checkExactlyOnce(t, persisted, pushed)
	if st := f.Stats(); st.LastError != nil || st.Flushes != 1 || st.Pending != 0 {
		t.Fatalf("stats after recovery: %+v", st)
	}
}

// TestCloseRacesProducers: every push that succeeded before Close is
// persisted exactly once; later pushes fail with ring.ErrClosed; Close is
// idempotent and concurrent Closes agree; no goroutine outlives Close
// (goleak in TestMain).
func TestCloseRacesProducers(t *testing.T) {
	for round := range 20 {
		sink := newMemSink(0)
		r, err := ring.New[int](32)
		if err != nil {
			t.Fatal(err)
		}
		f, err := New(r, sink, Options{BatchSize: 8, FlushInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		const producers, perProducer = 6, 100_000
		accepted := make([]int, producers)
		var wg sync.WaitGroup
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perProducer {
					if err := r.Push(p*perProducer + i); err != nil {
						if !errors.Is(err, ring.ErrClosed) {
							t.Errorf("Push: %v", err)
						}
						return
					}
					accepted[p]++
				}
			}()
		}
		// Close after the flusher has folded something, while producers run.
		for f.Stats().Folded < uint64(100*round) {
			runtime.Gosched()
		}
		var cwg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			cwg.Add(1)
			go func() { defer cwg.Done(); errs[i] = f.Close(context.Background()) }()
		}
		cwg.Wait()
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		_, persisted := sink.snapshot()
		total := 0
		for p, n := range accepted {
			total += n
			// Producer p's accepted items are exactly its first n.
			for _, v := range persisted {
				if v/perProducer == p && v%perProducer >= n {
					t.Fatalf("round %d: producer %d item %d persisted but Push failed", round, p, v%perProducer)
				}
			}
		}
		if len(persisted) != total {
			t.Fatalf("round %d: %d persisted, %d accepted", round, len(persisted), total)
		}
		if err := f.Flush(context.Background()); err != nil {
			t.Fatalf("Flush after Close = %v, want Close's nil", err)
		}
		if err := r.Push(1); !errors.Is(err, ring.ErrClosed) {
			t.Fatalf("Push after Close = %v, want ring.ErrClosed", err)
		}
	}
}

// TestCloseUnderPersistentFault: Close retries CloseRetries times, then
// returns the persist error; the goroutine stops anyway.
func TestCloseUnderPersistentFault(t *testing.T) {
	sink := newMemSink(0)
	sink.fail.Store(true)
	r, _ := ring.New[int](8)
	f, err := New(r, sink, Options{FlushInterval: time.Hour, RetryBase: time.Millisecond, CloseRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	r.Push(7)
	err = f.Close(context.Background())
	if !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want errDisk", err)
	}
	if err2 := f.Close(context.Background()); err2 != err {
		t.Fatalf("second Close = %v, want the first's %v", err2, err)
	}
	<-f.Done()
	sink.mu.Lock()
	n := len(sink.attempts)
	sink.mu.Unlock()
	if n != 3 {
		t.Fatalf("%d persist attempts at Close, want 1 + CloseRetries = 3", n)
	}
	folded, _ := sink.snapshot()
	if len(folded) != 1 || folded[0] != 7 {
		t.Fatalf("folded %v, want [7]: the data stays with the sink for its fallbacks", folded)
	}
}

// TestCloseContext: a Close whose context ends returns ctx.Err(); a later
// Close still returns the final result.
func TestCloseContext(t *testing.T) {
	sink := newMemSink(0)
	sink.fail.Store(true)
	r, _ := ring.New[int](8)
	f, _ := New(r, sink, Options{FlushInterval: time.Hour, RetryBase: 20 * time.Millisecond, CloseRetries: 1})
	r.Push(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(canceled) = %v, want context.Canceled", err)
	}
	if err := f.Close(context.Background()); !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want errDisk", err)
	}
}

func TestFlushContext(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	r, f := start(t, 8, sink, Options{FlushInterval: time.Hour})
	r.Push(1)
	go f.Flush(context.Background()) // occupies the flusher in Persist
	<-sink.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Flush(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush(canceled) while persisting = %v, want context.Canceled", err)
	}
	close(sink.release)
}

// blockingSink's Persist blocks until release is closed.
type blockingSink struct {
	release chan struct{}
	entered chan struct{}
}

func (s *blockingSink) Fold([]int) {}
func (s *blockingSink) Snapshot()  {}
func (s *blockingSink) Persist() error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return nil
}

func TestStatsPending(t *testing.T) {
	sink := newMemSink(0)
	r, f := start(t, 64, sink, Options{FlushInterval: time.Hour, BatchSize: 64})
	for i := range 10 {
		r.Push(i)
	}
	if p := f.Stats().Pending; p != 10 {
		t.Fatalf("Pending = %d before any persist, want 10", p)
	}
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Pending != 0 || st.Persisted != 10 || st.Folded != 10 || st.LastDuration <= 0 {
		t.Fatalf("after Flush: %+v", st)
	}
}

// gatedSink is a memSink whose Persist waits at a gate: entered receives
// once per Persist when it starts waiting, and each receive from release
// lets one Persist go on.
type gatedSink struct {
	*memSink
	entered chan struct{}
	release chan struct{}
}

func (s *gatedSink) Persist() error {
	s.entered <- struct{}{}
	<-s.release
	return s.memSink.Persist()
}

// TestFoldContinuesWhilePersisting: a Persist stuck on a slow disk does not
// stop the ring from draining. Many times the ring's capacity is pushed
// while a Persist is held; every push completes (producers never find the
// ring full for long), everything is folded, and once the disk comes back
// the next persist writes it all, in order.
func TestFoldContinuesWhilePersisting(t *testing.T) {
	sink := &gatedSink{memSink: newMemSink(0), entered: make(chan struct{}), release: make(chan struct{})}
	const capacity, n = 16, 16 * 64
	r, f := start(t, capacity, sink, Options{BatchSize: 4, FlushInterval: time.Hour})
	r.Push(0)
	flushed := make(chan error, 1)
	go func() { flushed <- f.Flush(context.Background()) }()
	<-sink.entered // the persist covering item 0 is held
	pushed := make(chan error, 1)
	go func() {
		for i := 1; i < n; i++ {
			if err := r.Push(i); err != nil {
				pushed <- err
				return
			}
		}
		pushed <- nil
	}()
	// n items go through a ring of 16 while the persist is held: only if
	// the loop keeps folding. (A loop stuck in Persist would leave the
	// producer parked in Push and this wait failing after a minute.)
	if err := foldedWithin(f, n); err != nil {
		sink.release <- struct{}{}
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Flushes != 0 || st.Persisted != 0 {
		t.Fatalf("stats while the persist is held: %+v", st)
	}
	sink.release <- struct{}{}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if _, persisted := sink.snapshot(); len(persisted) != 1 {
		t.Fatalf("first persist wrote %v, want [0] (its snapshot)", persisted)
	}
	go func() {
		<-sink.entered
		sink.release <- struct{}{}
	}()
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	folded, persisted := sink.snapshot()
	if len(persisted) != n || len(folded) != n {
		t.Fatalf("persisted %d, folded %d, want %d", len(persisted), len(folded), n)
	}
	for i, v := range persisted {
		if v != i {
			t.Fatalf("persisted[%d] = %d: out of order", i, v)
		}
	}
}

// foldedWithin waits (yielding, without a sleep) until f has folded n items,
// and fails after a minute: a hang, not a timing assumption.
func foldedWithin(f *Flusher[int], n uint64) error {
	deadline := time.Now().Add(time.Minute)
	for f.Stats().Folded < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("folded %d of %d items within a minute", f.Stats().Folded, n)
		}
		runtime.Gosched()
	}
	return nil
}

// TestFoldReadsYourWrites: after Fold returns, everything pushed before it
// is in the sink, while a persist is stuck and never completes: readers of
// the sink see their writes without waiting for the disk. Eight producers
// check it after each of their pushes.
func TestFoldReadsYourWrites(t *testing.T) {
	sink := &gatedSink{memSink: newMemSink(0), entered: make(chan struct{}), release: make(chan struct{})}
	// A batch as large as the ring: pushes never wake the loop to fold
	// (while a persist runs it waits for a full batch); only Fold does.
	r, f := start(t, 4096, sink, Options{BatchSize: 4096, FlushInterval: time.Hour})
	r.Push(-1)
	go f.Flush(context.Background())
	<-sink.entered // a persist is stuck from now on
	const producers, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				v := p*each + i
				if err := r.Push(v); err != nil {
					errs <- err
					return
				}
				if err := f.Fold(context.Background()); err != nil {
					errs <- err
					return
				}
				if !sink.hasFolded(v) {
					errs <- fmt.Errorf("producer %d: %d pushed, then Fold returned, but it is not folded", p, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Flushes != 0 || st.Folded != producers*each+1 {
		t.Fatalf("stats %+v: want every item folded and no persist done", st)
	}
	// Let the stuck persist, and the one Close makes, finish.
	go func() {
		for {
			select {
			case <-sink.entered:
			case <-f.Done():
				return
			}
		}
	}()
	close(sink.release)
}

// hasFolded reports whether v was folded.
func (s *memSink) hasFolded(v int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.folded {
		if x == v {
			return true
		}
	}
	return false
}

// TestFoldAfterClose returns at once: Close folded everything.
func TestFoldAfterClose(t *testing.T) {
	sink := newMemSink(0)
	r, f := start(t, 8, sink, Options{FlushInterval: time.Hour})
	r.Push(1)
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := f.Fold(context.Background()); err != nil {
		t.Fatalf("Fold after Close = %v", err)
	}
	if folded, _ := sink.snapshot(); len(folded) != 1 {
		t.Fatalf("folded %v, want [1]", folded)
	}
}

// TestCloseContextStopsRetries: a Close whose context ends stops the final
// persist's retries after the attempt in progress, so a caller's deadline
// bounds the shutdown; the data stays in the sink and a later Close
// returns the persist error.
func TestCloseContextStopsRetries(t *testing.T) {
	sink := newMemSink(16)
	sink.fail.Store(true)
	r, _ := ring.New[int](8)
	f, err := New(r, sink, Options{FlushInterval: time.Hour, RetryBase: 5 * time.Millisecond, RetryMax: 5 * time.Millisecond, CloseRetries: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	r.Push(1)
	ctx, cancel := context.WithCancel(context.Background())
	closed := make(chan error, 1)
	go func() { closed <- f.Close(ctx) }()
	waitFor(t, sink, "fail") // the first attempt failed; retries are due
	cancel()
	if err := <-closed; !errors.Is(err, context.Canceled) {
		t.Fatalf("Close(canceled) = %v, want context.Canceled", err)
	}
	go func() {
		for range sink.events {
		}
	}()
	if err := f.Close(context.Background()); !errors.Is(err, errDisk) {
		t.Fatalf("second Close = %v, want errDisk", err)
	}
	close(sink.events)
	sink.mu.Lock()
	n := len(sink.attempts)
	sink.mu.Unlock()
	// The retries stop once the canceled Close is seen: a few attempts at
	// most, not a million.
	if n > 100 {
		t.Fatalf("%d persist attempts after the deadline, want the retries stopped", n)
	}
	if folded, _ := sink.snapshot(); len(folded) != 1 {
		t.Fatalf("folded %v: the data stays in the sink", folded)
	}
}

// foldGateSink's Fold announces itself on entered, then waits for gate.
type foldGateSink struct {
	*memSink
	entered chan struct{} // buffered: Fold never blocks on it
	gate    chan struct{}
}

func (s *foldGateSink) Fold(batch []int) {
	s.entered <- struct{}{}
	<-s.gate
	s.memSink.Fold(batch)
}

// TestFoldWaitsForTheFold: Fold returns only after the sink's Fold has
// returned for the items pushed before it. Each round pushes one item
// (which does not wake the loop: it waits for a full batch) and calls Fold;
// the caller of Fold checks, as soon as it returns, that the item is
// folded. A Fold that answered before the sink's Fold ran for the item
// would be seen returning, or returning with the item not folded.
func TestFoldWaitsForTheFold(t *testing.T) {
	sink := &foldGateSink{memSink: newMemSink(0), entered: make(chan struct{}, 64), gate: make(chan struct{})}
	r, f := start(t, 64, sink, Options{BatchSize: 64, FlushInterval: time.Hour})
	defer close(sink.gate) // lets Close fold
	r.Push(-1)             // wakes the idle loop: fold it, then the loop waits for a batch
	<-sink.entered
	sink.gate <- struct{}{}
	for v := range 20 {
		if err := r.Push(v); err != nil {
			t.Fatal(err)
		}
		// The caller looks at the sink as soon as Fold returns.
		type result struct {
			err    error
			folded bool
		}
		done := make(chan result, 1)
		go func() {
			err := f.Fold(context.Background())
			done <- result{err, sink.hasFolded(v)}
		}()
		select {
		case res := <-done:
			t.Fatalf("round %d: Fold returned (%v, folded %v) before the sink's Fold ran", v, res.err, res.folded)
		case <-sink.entered:
			// The sink's Fold is held. Give a Fold that answered early
			// every chance to be seen: it would be runnable now. (A
			// correct Fold cannot return before the gate opens, so this
			// never fails it.)
			for range 1000 {
				runtime.Gosched()
			}
			select {
			case res := <-done:
				t.Fatalf("round %d: Fold returned (%v) while the sink's Fold was held", v, res.err)
			default:
			}
			sink.gate <- struct{}{}
			if res := <-done; res.err != nil || !res.folded {
				t.Fatalf("round %d: Fold = %v, item folded when it returned: %v", v, res.err, res.folded)
			}
		}
	}
}

// TestPersistHistogram counts every persist attempt, failed ones too, in
// cumulative buckets.
func TestPersistHistogram(t *testing.T) {
	sink := newMemSink(0)
	r, f := start(t, 8, sink, Options{FlushInterval: time.Hour, RetryBase: time.Millisecond})
	for i := range 3 {
		r.Push(i)
		if err := f.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sink.fail.Store(true)
	r.Push(3)
	if err := f.Flush(context.Background()); err == nil {
		t.Fatal("Flush succeeded on a failing sink")
	}
	h := f.Stats().PersistSeconds
	if h.Count != 4 || len(h.Counts) != len(PersistBuckets) || h.Sum <= 0 {
		t.Fatalf("histogram %+v, want 4 persists", h)
	}
	for i := 1; i < len(h.Counts); i++ {
		if h.Counts[i] < h.Counts[i-1] || h.Counts[i] > h.Count {
			t.Fatalf("buckets not cumulative: %v", h.Counts)
		}
	}
	sink.fail.Store(false)
}

// TestPersistForces: Persist writes even when nothing was folded.
func TestPersistForces(t *testing.T) {
	sink := newMemSink(0)
	_, f := start(t, 8, sink, Options{FlushInterval: time.Hour})
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.Stats().Flushes; n != 0 {
		t.Fatalf("Flush with nothing folded persisted (%d)", n)
	}
	if err := f.Persist(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.Stats().Flushes; n != 1 {
		t.Fatalf("Persist made %d persists, want 1", n)
	}
}
