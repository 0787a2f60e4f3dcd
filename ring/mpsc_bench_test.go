package ring_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usagering/usagering/harness"
)

// BenchmarkPush moves a record-sized value (three strings, two ints, two
// floats, a timestamp: 104 bytes) from P producer goroutines to one
// consumer that drains in batches and touches every item, through the three
// queues of harness.QueueKinds at equal capacity:
//
//	impl=ring   this package's MPSC (Push; PopBatch, Arm to sleep when empty)
//	impl=chan   a buffered channel (blocking send; receive, then drain without blocking)
//	impl=mutex  a mutex-protected slice swapped with a spare by the consumer
//	            (double buffering), bounded by the same capacity with a sync.Cond
//
// ns/op is wall time per item pushed, producers and consumer together.
// Compare in one run with: benchstat -col /impl.
func BenchmarkPush(b *testing.B) {
	const capacity, batch = 4096, 512
	for _, p := range []int{1, 4, 16, 64} {
		for _, kind := range harness.QueueKinds {
			b.Run(fmt.Sprintf("impl=%s/producers=%d", kind, p), func(b *testing.B) {
				q, err := harness.NewQueue[record](kind, capacity, batch)
				if err != nil {
					b.Fatal(err)
				}
				benchPush(b, q, p)
			})
		}
	}
}

type record struct {
	Model, Provider, Operation string
	InputTokens, OutputTokens  int64
	CostUSD, LatencyMS         float64
	Timestamp                  time.Time
}

func benchPush(b *testing.B, q harness.Queue[record], producers int) {
	r := record{
		Model: "claude-3-5-sonnet-20241022", Provider: "anthropic", Operation: "chat",
		InputTokens: 500, OutputTokens: 37, CostUSD: 0.001, LatencyMS: 50, Timestamp: time.Now(),
	}
	consumed := 0
	consumerDone := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(consumerDone)
		for q.Drain(func(batch []record) {
			for i := range batch { // touch every item, as a fold would
				consumed += int(batch[i].InputTokens) / 500
			}
		}) {
		}
	}()
	var wg sync.WaitGroup
	per, extra := b.N/producers, b.N%producers
	for i := range producers {
		n := per
		if i < extra {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rr := r
			for range n {
				q.Push(&rr)
			}
		}()
	}
	wg.Wait()
	q.Close()
	<-consumerDone
	b.StopTimer()
	if consumed != b.N {
		b.Fatalf("consumed %d items, pushed %d", consumed, b.N)
	}
}
