package harness

import (
	"fmt"
	"sync"

	"github.com/usagering/usagering/ring"
)

// Queue is a bounded multi-producer single-consumer hand-off, the shape of
// the path between the goroutines that record usage and the one flusher.
// The benchmarks put three implementations side by side (QueueKinds): the
// ring of package ring, a buffered channel and a mutex-protected double
// buffer.
//
// Push copies *v into the queue, waiting while it is full; any number of
// goroutines may call it. Push after Close panics.
//
// Drain is the consumer, "flusher-shaped": it sleeps until there is work
// (each implementation with its natural primitive), takes up to the batch
// size given to the constructor and calls fn with those items, oldest first.
// It reports false once the queue is closed and empty: call it in a loop,
// from one goroutine only. fn must not keep the slice: it is reused, and
// the items are released (zeroed) once fn returns, so the queue keeps no
// references to consumed items.
//
// Close stops intake; items pushed before it are still drained. Close it
// once, after the producers have returned.
type Queue[T any] interface {
	Push(v *T)
	Drain(fn func([]T)) bool
	Close()
}

// QueueKinds lists the names NewQueue accepts: this project's ring, a
// buffered channel, a mutex-protected double buffer.
var QueueKinds = []string{"ring", "chan", "mutex"}

// NewQueue returns the queue named kind (one of QueueKinds) holding
// capacity items and draining up to batch at a time. It returns an error
// for an unknown kind or invalid sizes (capacity below 2, batch below 1,
// capacity beyond ring.MaxCapacity).
func NewQueue[T any](kind string, capacity, batch int) (Queue[T], error) {
	if capacity < ring.MinCapacity || capacity > ring.MaxCapacity || batch < 1 {
		return nil, fmt.Errorf("harness: queue capacity %d, batch %d: need capacity in [%d, %d] and batch >= 1",
			capacity, batch, ring.MinCapacity, ring.MaxCapacity)
	}
	switch kind {
	case "ring":
		return NewRingQueue[T](capacity, batch), nil
	case "chan":
		return NewChanQueue[T](capacity, batch), nil
	case "mutex":
		return NewMutexQueue[T](capacity, batch), nil
	}
	return nil, fmt.Errorf("harness: unknown queue kind %q (want one of %v)", kind, QueueKinds)
}

// checkQueueArgs panics on sizes the constructors cannot honour.
func checkQueueArgs(capacity, batch int) {
	if capacity < ring.MinCapacity || capacity > ring.MaxCapacity || batch < 1 {
		panic(fmt.Sprintf("harness: queue capacity %d, batch %d out of range", capacity, batch))
	}
}

// RingQueue is the Queue over ring.MPSC: Push is ring.MPSC.Push (lock-free,
// spinning, yielding then parking on a full ring); Drain pops with PopBatch
// and, when nothing is ready, sleeps with Arm until batch items are pending
// or the ring is closed, as the flusher does (producers wake it once per
// batch, not per item).
type RingQueue[T any] struct {
	q     *ring.MPSC[T]
	batch int
	buf   []T
}

// NewRingQueue returns a RingQueue of capacity items (rounded up to a power
// of two) draining up to batch at a time. It panics if capacity is outside
// [ring.MinCapacity, ring.MaxCapacity] or batch < 1.
func NewRingQueue[T any](capacity, batch int) *RingQueue[T] {
	checkQueueArgs(capacity, batch)
	q, err := ring.New[T](capacity)
	if err != nil {
		panic(err) // unreachable: checked above
	}
	return &RingQueue[T]{q: q, batch: batch, buf: make([]T, 0, batch)}
}

// Push appends *v, waiting while the ring is full.
func (r *RingQueue[T]) Push(v *T) {
	if err := r.q.Push(*v); err != nil {
		panic("harness: Push on a closed queue")
	}
}

// Drain hands the next batch to fn; see Queue.
func (r *RingQueue[T]) Drain(fn func([]T)) bool {
	for {
		r.buf = r.q.PopBatch(r.buf[:0], r.batch)
		if len(r.buf) > 0 {
			fn(r.buf)
			clear(r.buf) // PopBatch zeroed the slots; drop our copies too
			return true
		}
		if r.q.Drained() {
			return false
		}
		// Sleep until a batch is pending, or Close. Arm reports true if
		// that is already so (or an item is claimed but not yet published):
		// try again.
		if !r.q.Arm(r.batch) {
			<-r.q.Ready()
		}
	}
}

// Close stops intake.
func (r *RingQueue[T]) Close() { r.q.Close() }

// ChanQueue is the Queue over a buffered channel: Push is a blocking send;
// Drain blocks on a receive for the first item, then takes what is ready
// without blocking, up to the batch size.
type ChanQueue[T any] struct {
	ch    chan T
	batch int
	buf   []T
}

// NewChanQueue returns a ChanQueue of capacity items draining up to batch
// at a time. It panics if capacity < 2 or batch < 1.
func NewChanQueue[T any](capacity, batch int) *ChanQueue[T] {
	checkQueueArgs(capacity, batch)
	return &ChanQueue[T]{ch: make(chan T, capacity), batch: batch, buf: make([]T, 0, batch)}
}

// Push sends *v, waiting while the channel is full.
func (c *ChanQueue[T]) Push(v *T) { c.ch <- *v }

// Drain hands the next batch to fn; see Queue.
func (c *ChanQueue[T]) Drain(fn func([]T)) bool {
	v, ok := <-c.ch
	if !ok {
		return false
	}
	c.buf = append(c.buf[:0], v)
	open := true
fill:
	for len(c.buf) < c.batch {
		select {
		case v, ok := <-c.ch:
			if !ok {
				open = false
				break fill
			}
			c.buf = append(c.buf, v)
		default:
			break fill
		}
	}
	fn(c.buf)
	clear(c.buf)
	return open
}

// Close closes the channel.
func (c *ChanQueue[T]) Close() { close(c.ch) }

// MutexQueue is the Queue over a mutex-protected slice that the consumer
// swaps with a spare (double buffering): Push appends under the mutex,
// waiting on a sync.Cond while capacity items are buffered; Drain waits on
// another Cond while the buffer is empty, swaps the buffers under the mutex
// and hands the taken one to fn in batches outside it, then clears it.
type MutexQueue[T any] struct {
	capacity int
	batch    int

	mu       sync.Mutex
	notEmpty sync.Cond // consumer waits: buf empty and not closed
	notFull  sync.Cond // producers wait: buf at capacity
	buf      []T       // guarded by mu: what producers append to
	closed   bool      // guarded by mu

	spare []T // consumer only: the buffer being drained
}

// NewMutexQueue returns a MutexQueue bounded at capacity items draining up
// to batch at a time. It panics if capacity < 2 or batch < 1.
func NewMutexQueue[T any](capacity, batch int) *MutexQueue[T] {
	checkQueueArgs(capacity, batch)
	m := &MutexQueue[T]{
		capacity: capacity,
		batch:    batch,
		buf:      make([]T, 0, capacity),
		spare:    make([]T, 0, capacity),
	}
	m.notEmpty.L = &m.mu
	m.notFull.L = &m.mu
	return m
}

// Push appends *v, waiting while capacity items are buffered.
func (m *MutexQueue[T]) Push(v *T) {
	m.mu.Lock()
	for len(m.buf) >= m.capacity && !m.closed {
		m.notFull.Wait()
	}
	if m.closed {
		m.mu.Unlock()
		panic("harness: Push on a closed queue")
	}
	m.buf = append(m.buf, *v)
	if len(m.buf) == 1 {
		m.notEmpty.Signal()
	}
	m.mu.Unlock()
}

// Drain hands the buffered items to fn, batch by batch; see Queue. It
// reports true after handing over a buffer even if the queue is closed
// meanwhile: the next call reports false once nothing is left.
func (m *MutexQueue[T]) Drain(fn func([]T)) bool {
	m.mu.Lock()
	for len(m.buf) == 0 && !m.closed {
		m.notEmpty.Wait()
	}
	if len(m.buf) == 0 {
		m.mu.Unlock()
		return false
	}
	wasFull := len(m.buf) >= m.capacity
	m.buf, m.spare = m.spare[:0], m.buf
	if wasFull {
		m.notFull.Broadcast()
	}
	m.mu.Unlock()
	for rest := m.spare; len(rest) > 0; {
		n := min(len(rest), m.batch)
		fn(rest[:n])
		rest = rest[n:]
	}
	// Release what the items referenced, as the ring and the channel do:
	// this buffer goes back to the producers only at the next swap.
	clear(m.spare)
	return true
}

// Close stops intake and wakes the consumer (and producers waiting for
// space, which then panic: Close only after the producers are done).
func (m *MutexQueue[T]) Close() {
	m.mu.Lock()
	m.closed = true
	m.notEmpty.Broadcast()
	m.notFull.Broadcast()
	m.mu.Unlock()
}
