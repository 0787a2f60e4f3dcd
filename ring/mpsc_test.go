package ring

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
	"pgregory.net/rapid"
)

// TestMain raises rapid's default of 30 steps per sequence so the model
// test wraps small rings around many times (a -rapid.steps flag given on
// the command line still wins), and fails the run if a test leaves a
// goroutine behind (a producer parked in Push forever, say).
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.steps" })
	if !set {
		if err := flag.Set("rapid.steps", "500"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	goleak.VerifyTestMain(m)
}

func TestNewCapacity(t *testing.T) {
	for _, c := range []int{-1, 0, 1, MaxCapacity + 1, 1 << 40} {
		if q, err := New[int](c); !errors.Is(err, ErrCapacity) || q != nil {
			t.Errorf("New(%d) = %v, %v; want nil, ErrCapacity", c, q, err)
		}
	}
	for _, tc := range []struct{ in, want int }{
		{2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, 1024}, {1024, 1024}, {4097, 8192},
	} {
		q, err := New[int](tc.in)
		if err != nil {
			t.Fatalf("New(%d): %v", tc.in, err)
		}
		if q.Cap() != tc.want {
			t.Errorf("New(%d).Cap() = %d, want %d", tc.in, q.Cap(), tc.want)
		}
		if q.Len() != 0 {
			t.Errorf("New(%d).Len() = %d, want 0", tc.in, q.Len())
		}
	}
}

// TestCapacityBounds checks the limits without allocating 1<<30 slots.
func TestCapacityBounds(t *testing.T) {
	for _, tc := range []struct {
		in   int
		want uint64
		ok   bool
	}{
		{MinCapacity, MinCapacity, true},
		{MaxCapacity, MaxCapacity, true},
		{MaxCapacity/2 + 1, MaxCapacity, true},
		{MaxCapacity + 1, 0, false},
		{MinCapacity - 1, 0, false},
	} {
		n, err := roundCapacity(tc.in)
		if tc.ok != (err == nil) || n != tc.want {
			t.Errorf("roundCapacity(%d) = %d, %v; want %d, ok=%v", tc.in, n, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrCapacity) {
			t.Errorf("roundCapacity(%d) error %v does not wrap ErrCapacity", tc.in, err)
		}
	}
}

// TestLayout checks that the producer and consumer counters are on
// separate 128-byte blocks and not on the block the struct starts in.
func TestLayout(t *testing.T) {
	var q MPSC[int]
	tail, head := unsafe.Offsetof(q.tail), unsafe.Offsetof(q.head)
	if tail < cacheLinePad {
		t.Errorf("tail at offset %d shares the first %d bytes", tail, cacheLinePad)
	}
	if head-tail < cacheLinePad {
		t.Errorf("head at %d, tail at %d: less than %d bytes apart", head, tail, cacheLinePad)
	}
	if mask := unsafe.Offsetof(q.mask); mask-head < cacheLinePad {
		t.Errorf("mask at %d, head at %d: less than %d bytes apart", mask, head, cacheLinePad)
	}
}

// TestModel runs random sequences of TryPush and PopBatch against a plain
// slice queue. Small capacities and long sequences make every run wrap
// around the ring many times.
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		capacity := rapid.IntRange(2, 64).Draw(rt, "capacity")
		q, err := New[int](capacity)
		if err != nil {
			rt.Fatal(err)
		}
		var model []int
		next := 0
		rt.Repeat(map[string]func(*rapid.T){
			"push": func(rt *rapid.T) {
				ok := q.TryPush(next)
				if want := len(model) < q.Cap(); ok != want {
					rt.Fatalf("TryPush(%d) = %v with %d of %d queued", next, ok, len(model), q.Cap())
				}
				if ok {
					model = append(model, next)
				}
				next++
			},
			"fill": func(rt *rapid.T) {
				for q.TryPush(next) {
					model = append(model, next)
					next++
				}
				if len(model) != q.Cap() {
					rt.Fatalf("full at %d items, cap %d", len(model), q.Cap())
				}
			},
			"pop": func(rt *rapid.T) {
				max := rapid.IntRange(0, q.Cap()+2).Draw(rt, "max")
				prefix := rapid.IntRange(0, 3).Draw(rt, "prefix")
				dst := make([]int, prefix, prefix+max)
				got := q.PopBatch(dst, max)
				want := min(max, len(model))
				if len(got) != prefix+want {
					rt.Fatalf("PopBatch(max=%d) gave %d items, want %d", max, len(got)-prefix, want)
				}
				for i := range want {
					if got[prefix+i] != model[i] {
						rt.Fatalf("item %d = %d, want %d", i, got[prefix+i], model[i])
					}
				}
				model = model[want:]
			},
			"": func(rt *rapid.T) {
				if q.Len() != len(model) {
					rt.Fatalf("Len() = %d, model has %d", q.Len(), len(model))
				}
			},
		})
	})
}

// item is what the stress tests push: who pushed it, its index in that
// producer's sequence, and a check word so a torn value is caught.
type item struct {
	producer int32
	index    int32
	check    uint64
	_        [10]uint64 // make the value record-sized, so tearing is possible
}

func mkItem(p, i int) item {
	return item{producer: int32(p), index: int32(i), check: uint64(p)<<32 ^ uint64(i)*0x9e3779b97f4a7c15}
}

// verifier checks, on the consumer side, that every producer's items
// arrive exactly once and in that producer's order.
type verifier struct {
	next []int32 // next expected index per producer
	n    int
}

func newVerifier(producers int) *verifier { return &verifier{next: make([]int32, producers)} }

func (v *verifier) see(it item) error {
	if it.producer < 0 || int(it.producer) >= len(v.next) {
		return fmt.Errorf("item from unknown producer %d", it.producer)
	}
	if want := mkItem(int(it.producer), int(it.index)).check; it.check != want {
		return fmt.Errorf("torn item %+v", it)
	}
	if exp := v.next[it.producer]; it.index != exp {
		return fmt.Errorf("producer %d: got item %d, want %d (lost, duplicated or reordered)", it.producer, it.index, exp)
	}
	v.next[it.producer]++
	v.n++
	return nil
}

// consumeUntil pops until done reports true and the ring is empty,
// checking every item. It yields between empty polls; it never sleeps.
func consumeUntil(t *testing.T, q *MPSC[item], v *verifier, done func() bool) {
	t.Helper()
	buf := make([]item, 0, 64)
	for {
		buf = q.PopBatch(buf[:0], cap(buf))
		for _, it := range buf {
			if err := v.see(it); err != nil {
				t.Fatal(err)
			}
		}
		if len(buf) == 0 {
			if done() && q.Len() == 0 {
				return
			}
			runtime.Gosched()
		}
	}
}

func TestStress(t *testing.T) {
	total := 200_000
	if testing.Short() {
		total = 20_000
	}
	for _, producers := range []int{1, 2, 8, 64} {
		for _, capacity := range []int{2, 16, 4096} {
			for _, blocking := range []bool{true, false} {
				name := fmt.Sprintf("P=%d/cap=%d/blocking=%v", producers, capacity, blocking)
				t.Run(name, func(t *testing.T) {
					stress(t, producers, capacity, total/producers, blocking)
				})
			}
		}
	}
}

func stress(t *testing.T, producers, capacity, perProducer int, blocking bool) {
	q, err := New[item](capacity)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	finished := make(chan struct{})
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				it := mkItem(p, i)
				if blocking {
					if err := q.Push(it); err != nil {
						t.Errorf("Push: %v", err)
						return
					}
					continue
				}
				for !q.TryPush(it) {
					runtime.Gosched()
				}
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	v := newVerifier(producers)
	consumeUntil(t, q, v, func() bool {
		select {
		case <-finished:
			return true
		default:
			return false
		}
	})
	if v.n != producers*perProducer {
		t.Fatalf("consumed %d items, want %d", v.n, producers*perProducer)
	}
	for p, n := range v.next {
		if int(n) != perProducer {
			t.Fatalf("producer %d: %d items arrived, want %d", p, n, perProducer)
		}
	}
}

// waitParked yields until n producers are parked in Push.
func waitParked(q *MPSC[int], n int32) {
	for q.waiters.Load() != n {
		runtime.Gosched()
	}
}

func TestPushWaitsForSpace(t *testing.T) {
	q, _ := New[int](2)
	if !q.TryPush(1) || !q.TryPush(2) {
		t.Fatal("TryPush on an empty ring of 2 failed")
	}
	if q.TryPush(99) {
		t.Fatal("TryPush on a full ring succeeded")
	}
	done := make(chan error, 2)
	go func() { done <- q.Push(3) }()
	go func() { done <- q.Push(4) }()
	waitParked(q, 2)
	select {
	case err := <-done:
		t.Fatalf("Push returned %v on a full ring", err)
	default:
	}
	var got []int
	got = q.PopBatch(got, 1)
	// One slot freed: exactly one parked Push gets it.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got = q.PopBatch(got, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got = q.PopBatch(got, 10)
	if len(got) != 4 || got[0] != 1 || got[1] != 2 || got[2]+got[3] != 7 {
		t.Fatalf("popped %v, want [1 2] then 3 and 4", got)
	}
}

func TestCloseWakesParkedPush(t *testing.T) {
	q, _ := New[int](2)
	q.TryPush(1)
	q.TryPush(2)
	const parked = 3
	done := make(chan error, parked)
	for i := range parked {
		go func() { done <- q.Push(10 + i) }()
	}
	waitParked(q, parked)
	q.Close()
	q.Close() // idempotent
	for range parked {
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("parked Push after Close = %v, want ErrClosed", err)
		}
	}
	if q.TryPush(5) {
		t.Fatal("TryPush after Close succeeded")
	}
	if err := q.Push(5); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close = %v, want ErrClosed", err)
	}
	if !q.Closed() || q.Drained() {
		t.Fatalf("Closed() = %v, Drained() = %v with 2 items left", q.Closed(), q.Drained())
	}
	got := q.PopBatch(nil, 10)
	if len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("items pushed before Close: got %v, want [1 2]", got)
	}
	if !q.Drained() {
		t.Fatal("Drained() = false after popping everything")
	}
}

// TestCloseRacesPush closes the ring while producers push: every push that
// reported success is consumed exactly once, every later one failed.
func TestCloseRacesPush(t *testing.T) {
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range rounds {
		const producers = 4
		q, _ := New[item](8)
		accepted := make([]int, producers)
		var wg sync.WaitGroup
		for p := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					var err error
					if i%2 == 0 {
						err = q.Push(mkItem(p, i))
					} else if !q.TryPush(mkItem(p, i)) {
						if q.Closed() {
							err = ErrClosed
						} else {
							i-- // full: the same index again
							runtime.Gosched()
							continue
						}
					}
					if errors.Is(err, ErrClosed) {
						accepted[p] = i
						return
					}
					if err != nil {
						t.Errorf("Push: %v", err)
						return
					}
				}
			}()
		}
		closeAfter := rng.IntN(200)
		v := newVerifier(producers)
		buf := make([]item, 0, 4)
		for !q.Drained() {
			if v.n >= closeAfter {
				q.Close()
			}
			buf = q.PopBatch(buf[:0], cap(buf))
			for _, it := range buf {
				if err := v.see(it); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if len(buf) == 0 {
				runtime.Gosched()
			}
		}
		wg.Wait()
		for p := range producers {
			if int(v.next[p]) != accepted[p] {
				t.Fatalf("round %d: producer %d had %d pushes accepted, consumer saw %d", round, p, accepted[p], v.next[p])
			}
		}
	}
}

func TestZeroesConsumedSlots(t *testing.T) {
	q, _ := New[*int](4)
	x := 7
	q.TryPush(&x)
	q.PopBatch(nil, 1)
	for i := range q.slots {
		if q.slots[i].val != nil {
			t.Fatalf("slot %d still references a consumed value", i)
		}
	}
}

type record struct {
	Model, Provider, Operation string
	InputTokens, OutputTokens  int64
	CostUSD, LatencyMS         float64
	Timestamp                  time.Time
}

func TestZeroAllocs(t *testing.T) {
	q, _ := New[record](64)
	r := record{Model: "gpt-4", Provider: "openai", Operation: "chat", InputTokens: 10, Timestamp: time.Now()}
	dst := make([]record, 0, 64)
	if n := testing.AllocsPerRun(1000, func() {
		q.TryPush(r)
		dst = q.PopBatch(dst[:0], 64)
	}); n != 0 {
		t.Errorf("TryPush+PopBatch: %v allocs per run, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := q.Push(r); err != nil {
			t.Fatal(err)
		}
		dst = q.PopBatch(dst[:0], 64)
	}); n != 0 {
		t.Errorf("Push+PopBatch: %v allocs per run, want 0", n)
	}
}
