package harness_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/usagering/usagering/harness"
)

// item is what the queue tests push: who pushed it and its sequence number
// for that producer, plus a string so that released references matter.
type item struct {
	producer int
	seq      int
	name     string
}

func newQueue(t testing.TB, kind string, capacity, batch int) harness.Queue[item] {
	t.Helper()
	q, err := harness.NewQueue[item](kind, capacity, batch)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestQueueDeliversOnceInOrder pushes from 1, 4 and 16 producers through a
// small queue (so producers wait for space and the consumer sleeps and
// wakes many times) and checks that each item arrives exactly once and each
// producer's items in the order pushed.
func TestQueueDeliversOnceInOrder(t *testing.T) {
	perProducer := 20_000
	if testing.Short() {
		perProducer = 2_000
	}
	for _, kind := range harness.QueueKinds {
		for _, producers := range []int{1, 4, 16} {
			t.Run(fmt.Sprintf("%s/producers=%d", kind, producers), func(t *testing.T) {
				t.Parallel()
				q := newQueue(t, kind, 64, 16)
				next := make([]int, producers) // consumer only
				var errs []string
				total, maxBatch := 0, 0
				done := make(chan struct{})
				go func() {
					defer close(done)
					for q.Drain(func(batch []item) {
						maxBatch = max(maxBatch, len(batch))
						for _, it := range batch {
							total++
							if it.seq != next[it.producer] && len(errs) < 10 {
								errs = append(errs, fmt.Sprintf("producer %d: got seq %d, want %d", it.producer, it.seq, next[it.producer]))
							}
							if it.name != "x" && len(errs) < 10 {
								errs = append(errs, fmt.Sprintf("producer %d seq %d: name %q", it.producer, it.seq, it.name))
							}
							next[it.producer] = it.seq + 1
						}
					}) {
					}
				}()
				var wg sync.WaitGroup
				for p := range producers {
					wg.Go(func() {
						v := item{producer: p, name: "x"}
						for i := range perProducer {
							v.seq = i
							q.Push(&v)
						}
					})
				}
				wg.Wait()
				q.Close()
				<-done
				if len(errs) > 0 {
					t.Fatal(strings.Join(errs, "\n"))
				}
				if want := producers * perProducer; total != want {
					t.Fatalf("consumed %d items, pushed %d", total, want)
				}
				for p, n := range next {
					if n != perProducer {
						t.Errorf("producer %d: last seq %d, want %d", p, n-1, perProducer-1)
					}
				}
				if maxBatch > 16 {
					t.Errorf("batch of %d items, limit 16", maxBatch)
				}
				// Closed and empty: Drain keeps reporting false.
				if q.Drain(func([]item) { t.Error("fn called on a drained queue") }) {
					t.Error("Drain reported true after the queue was drained")
				}
			})
		}
	}
}

// TestQueueDrainAfterClose: items pushed before Close are all delivered,
// with no producer running.
func TestQueueDrainAfterClose(t *testing.T) {
	for _, kind := range harness.QueueKinds {
		t.Run(kind, func(t *testing.T) {
			q := newQueue(t, kind, 128, 8)
			for i := range 100 {
				q.Push(&item{seq: i, name: "x"})
			}
			q.Close()
			got := 0
			for q.Drain(func(b []item) {
				for _, it := range b {
					if it.seq != got {
						t.Fatalf("got seq %d, want %d", it.seq, got)
					}
					got++
				}
			}) {
			}
			if got != 100 {
				t.Fatalf("drained %d items, want 100", got)
			}
		})
	}
}

// TestQueueReleasesItems checks that the batch handed to fn is cleared
// once fn returns, so a drained queue keeps no references.
func TestQueueReleasesItems(t *testing.T) {
	for _, kind := range harness.QueueKinds {
		t.Run(kind, func(t *testing.T) {
			q := newQueue(t, kind, 16, 4)
			for i := range 10 {
				q.Push(&item{seq: i, name: strings.Repeat("y", 3)})
			}
			q.Close()
			var batches [][]item
			for q.Drain(func(b []item) { batches = append(batches, b) }) {
			}
			for _, b := range batches {
				for i := range b {
					if b[i].name != "" {
						t.Fatalf("item %d of a drained batch still holds %q", i, b[i].name)
					}
				}
			}
		})
	}
}

func TestQueuePushAllocs(t *testing.T) {
	for _, kind := range harness.QueueKinds {
		t.Run(kind, func(t *testing.T) {
			// A consumer drains concurrently, so Push goes through its
			// waking and waiting paths as well as the fast one.
			q := newQueue(t, kind, 256, 32)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for q.Drain(func([]item) {}) {
				}
			}()
			v := item{name: "x"}
			for range 10_000 { // warm up
				q.Push(&v)
			}
			if a := testing.AllocsPerRun(20_000, func() { q.Push(&v) }); a != 0 {
				t.Errorf("%v allocations per Push, want 0", a)
			}
			q.Close()
			<-done
		})
	}
}

func TestNewQueueErrors(t *testing.T) {
	for _, tc := range []struct {
		kind            string
		capacity, batch int
	}{
		{"ring", 1, 1}, {"chan", 16, 0}, {"mutex", -1, 4}, {"deque", 16, 4},
	} {
		if _, err := harness.NewQueue[item](tc.kind, tc.capacity, tc.batch); err == nil {
			t.Errorf("NewQueue(%q, %d, %d): no error", tc.kind, tc.capacity, tc.batch)
		}
	}
	for _, kind := range harness.QueueKinds {
		if _, err := harness.NewQueue[item](kind, 2, 1); err != nil {
			t.Errorf("NewQueue(%q, 2, 1): %v", kind, err)
		}
	}
}

func TestQueuePushAfterClosePanics(t *testing.T) {
	for _, kind := range harness.QueueKinds {
		t.Run(kind, func(t *testing.T) {
			q := newQueue(t, kind, 4, 1)
			q.Close()
			defer func() {
				if recover() == nil {
					t.Error("Push after Close did not panic")
				}
			}()
			q.Push(&item{})
		})
	}
}
