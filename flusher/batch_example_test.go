package flusher_test

import (
	"context"
	"fmt"
	"time"

	"github.com/usagering/usagering/flusher"
	"github.com/usagering/usagering/ring"
)

// countSink folds ints into a running total and "persists" by printing it.
// Fold and Snapshot run on the flusher's loop goroutine, Persist on its
// persister goroutine: total belongs to the first, persisted to the second,
// and snap passes from one to the other (Snapshot happens before Persist).
type countSink struct{ total, snap, persisted int }

func (s *countSink) Fold(batch []int) {
	for _, v := range batch {
		s.total += v
	}
}

func (s *countSink) Snapshot() { s.snap = s.total }

func (s *countSink) Persist() error {
	if s.snap != s.persisted {
		s.persisted = s.snap
		fmt.Println("persisted total", s.persisted)
	}
	return nil
}

func ExampleFlusher() {
	r, err := ring.New[int](1024)
	if err != nil {
		panic(err)
	}
	f, err := flusher.New(r, &countSink{}, flusher.Options{BatchSize: 256, FlushInterval: time.Hour})
	if err != nil {
		panic(err)
	}
	for i := 1; i <= 100; i++ {
		if err := r.Push(i); err != nil { // producers push into the ring directly
			panic(err)
		}
	}
	if err := f.Flush(context.Background()); err != nil { // durable once nil
		panic(err)
	}
	if err := f.Close(context.Background()); err != nil {
		panic(err)
	}
	fmt.Println("persisted records:", f.Stats().Persisted)
	// Output:
	// persisted total 5050
	// persisted records: 100
}
