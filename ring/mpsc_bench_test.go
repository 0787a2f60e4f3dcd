package ring

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// The push benchmarks move a record-sized value (three strings, two ints,
// two floats, a timestamp: 104 bytes) from P producer goroutines to one
// consumer that drains in batches, through three queues of equal capacity:
//
//	impl=ring   this package's MPSC (Push, PopBatch, Arm to sleep when empty)
//	impl=chan   a buffered channel (blocking send; receive, then drain without blocking)
//	impl=mutex  a mutex-protected slice swapped with a spare by the consumer
//	            (double buffering), bounded by the same capacity with a sync.Cond
//
// ns/op is wall time per item pushed, producers and consumer together.
// Compare with: benchstat -col /impl.

const (
	benchCapacity = 4096
	benchBatch    = 512
)

var benchProducers = []int{1, 4, 16, 64}

type benchQueue interface {
	push(r *record)
	// drain hands up to benchBatch items to fn; it reports false once the
	// queue is closed and empty.
	drain(fn func([]record)) bool
	close()
}

func BenchmarkPush(b *testing.B) {
	impls := []struct {
		name string
		mk   func() benchQueue
	}{
		{"ring", newRingQueue},
		{"chan", newChanQueue},
		{"mutex", newMutexQueue},
	}
	for _, p := range benchProducers {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("impl=%s/producers=%d", impl.name, p), func(b *testing.B) {
				benchPush(b, impl.mk(), p)
			})
		}
	}
}

func benchPush(b *testing.B, q benchQueue, producers int) {
	r := record{
		Model: "claude-3-5-sonnet-20241022", Provider: "anthropic", Operation: "chat",
		InputTokens: 500, OutputTokens: 37, CostUSD: 0.001, LatencyMS: 50, Timestamp: time.Now(),
	}
	var consumed int
	consumerDone := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		defer close(consumerDone)
		for q.drain(func(batch []record) {
			// Touch every item as a flusher's fold would.
			for i := range batch {
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
				q.push(&rr)
			}
		}()
	}
	wg.Wait()
	q.close()
	<-consumerDone
	b.StopTimer()
	if consumed != b.N {
		b.Fatalf("consumed %d items, pushed %d", consumed, b.N)
	}
}

type ringQueue struct {
	q   *MPSC[record]
	buf []record
}

func newRingQueue() benchQueue {
	q, err := New[record](benchCapacity)
	if err != nil {
		panic(err)
	}
	return &ringQueue{q: q, buf: make([]record, 0, benchBatch)}
}

func (r *ringQueue) push(v *record) {
	if err := r.q.Push(*v); err != nil {
		panic(err)
	}
}

func (r *ringQueue) drain(fn func([]record)) bool {
	r.buf = r.q.PopBatch(r.buf[:0], benchBatch)
	if len(r.buf) > 0 {
		fn(r.buf)
		return true
	}
	if r.q.Drained() {
		return false
	}
	// Sleep until a batch is pending (or Close), as the flusher does.
	if !r.q.Arm(benchBatch) {
		<-r.q.Ready()
	}
	return true
}

func (r *ringQueue) close() { r.q.Close() }

type chanQueue struct {
	ch  chan record
	buf []record
}

func newChanQueue() benchQueue {
	return &chanQueue{ch: make(chan record, benchCapacity), buf: make([]record, 0, benchBatch)}
}

func (c *chanQueue) push(v *record) { c.ch <- *v }

func (c *chanQueue) drain(fn func([]record)) bool {
	v, ok := <-c.ch
	if !ok {
		return false
	}
	c.buf = append(c.buf[:0], v)
	for len(c.buf) < benchBatch {
		select {
		case v, ok := <-c.ch:
			if !ok {
				fn(c.buf)
				return false
			}
			c.buf = append(c.buf, v)
			continue
		default:
		}
		break
	}
	fn(c.buf)
	return true
}

func (c *chanQueue) close() { close(c.ch) }

type mutexQueue struct {
	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	buf      []record // guarded by mu: what producers append to
	spare    []record // consumer only: the buffer it drains
	closed   bool     // guarded by mu
}

func newMutexQueue() benchQueue {
	m := &mutexQueue{
		buf:   make([]record, 0, benchCapacity),
		spare: make([]record, 0, benchCapacity),
	}
	m.notEmpty.L = &m.mu
	m.notFull.L = &m.mu
	return m
}

func (m *mutexQueue) push(v *record) {
	m.mu.Lock()
	for len(m.buf) >= benchCapacity {
		m.notFull.Wait()
	}
	m.buf = append(m.buf, *v)
	if len(m.buf) == 1 {
		m.notEmpty.Signal()
	}
	m.mu.Unlock()
}

func (m *mutexQueue) drain(fn func([]record)) bool {
	m.mu.Lock()
	for len(m.buf) == 0 && !m.closed {
		m.notEmpty.Wait()
	}
	if len(m.buf) == 0 {
		m.mu.Unlock()
		return false
	}
	wasFull := len(m.buf) >= benchCapacity
	m.buf, m.spare = m.spare[:0], m.buf
	if wasFull {
		m.notFull.Broadcast()
	}
	m.mu.Unlock()
	for rest := m.spare; len(rest) > 0; {
		n := min(len(rest), benchBatch)
		fn(rest[:n])
		rest = rest[n:]
	}
	return true
}

func (m *mutexQueue) close() {
	m.mu.Lock()
	m.closed = true
	m.notEmpty.Broadcast()
	m.mu.Unlock()
}
