package flusher

import (
	"context"
	"testing"
	"time"

	"github.com/usagering/usagering/ring"
)

// sumSink folds by summing a field: the cheapest sink, so the benchmark
// measures the loop (pop, fold call, bookkeeping) rather than a fold.
type sumSink struct{ sum int64 }

func (s *sumSink) Fold(batch []benchItem) {
	for i := range batch {
		s.sum += batch[i].tokens
	}
}
func (s *sumSink) Snapshot()      {}
func (s *sumSink) Persist() error { return nil }

// benchItem is record-sized: three strings, two ints, two floats, a time.
type benchItem struct {
	model, provider, operation string
	tokens                     int64
	_                          int64
	_, _                       float64
	at                         time.Time
}

// BenchmarkDrain measures how fast the flusher moves items from the ring
// into a sink: one producer fills the ring with record-sized items, the
// flusher folds them, and the timed loop ends when Flush has covered all
// of them. items/s is the drain rate with a producer feeding it.
func BenchmarkDrain(b *testing.B) {
	r, err := ring.New[benchItem](1 << 16)
	if err != nil {
		b.Fatal(err)
	}
	sink := &sumSink{}
	f, err := New(r, sink, Options{FlushInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	it := benchItem{model: "gpt-4", provider: "openai", operation: "chat", tokens: 1, at: time.Now()}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Push(it); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
	if err := f.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	if sink.sum != int64(b.N) {
		b.Fatalf("folded %d items, pushed %d", sink.sum, b.N)
	}
}
