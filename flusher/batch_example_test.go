package flusher_test

import (
	"context"
	"fmt"
	"time"

	"github.com/usagering/usagering/flusher"
	"github.com/usagering/usagering/ring"
)

// countSink folds ints into a running total and "persists" by printing it.
type countSink struct{ total, persisted int }

func (s *countSink) Fold(batch []int) {
	for _, v := range batch {
		s.total += v
	}
}

func (s *countSink) Persist() error {
	if s.total != s.persisted {
		s.persisted = s.total
		fmt.Println("persisted total", s.total)
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
