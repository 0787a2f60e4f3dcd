package ring

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"unsafe"

	"go.uber.org/atomic"
)

var (
	// ErrCapacity is returned by New for a capacity below MinCapacity or
	// above MaxCapacity.
	ErrCapacity = errors.New("ring: capacity out of range")
	// ErrClosed is returned by Push once Close has been called.
	ErrClosed = errors.New("ring: closed")
)

const (
	// MinCapacity is the smallest capacity New accepts.
	MinCapacity = 2
	// MaxCapacity is the largest capacity New accepts.
	MaxCapacity = 1 << 30

	// closedBit is set in tail by Close. Keeping it in the same word as the
	// claim counter makes "closed" and "claim position" change together: a
	// producer's claim CAS fails if Close happened after it loaded tail, so
	// no item can be claimed after Close and the consumer knows exactly how
	// many items to expect (tail without the bit).
	closedBit = uint64(1) << 63

	// cacheLinePad is the padding between the producer and consumer
	// counters. 128 bytes rather than 64: Intel's adjacent-line prefetcher
	// pulls cache lines in pairs, so two counters 64 bytes apart still
	// interfere (the same choice as C++'s hardware_destructive_interference_size
	// on x86 in libstdc++ and folly).
	cacheLinePad = 128

	// Push's waiting schedule when the ring is full (see Push).
	spinRounds  = 4   // rounds of busy-waiting, doubling from spinBase iterations
	spinBase    = 16  // iterations of the first busy-wait round
	yieldRounds = 8   // rounds of runtime.Gosched before parking
	spaceTokens = 256 // most wake-up tokens outstanding for parked producers
)

// slot is one cell of the ring. seq publishes val:
//
//	seq == pos+1      the value for position pos is published: the consumer may read it
//	anything else     not yet: the slot still holds position pos-cap's (seq == pos-cap+1), or
//	                  nothing (seq == 0, the first lap), or its producer is between claim and publish
//
// Whether a slot is free for the producer that claims position pos is not
// in the slot: it is head > pos-cap (the consumer has taken pos-cap), which
// the producer checks before its claim. val is a plain field: it is written
// only by the producer that won the claim of pos, after head passed pos-cap
// and before it stores seq = pos+1; and read and zeroed only by the
// consumer after it loads seq == pos+1 and before it stores a head past
// pos.
type slot[T any] struct {
	seq atomic.Uint64
	val T
}

// MPSC is a bounded multi-producer single-consumer FIFO queue of T.
//
// Any number of goroutines may call TryPush, Push, Len, Cap, Claimed,
// Consumed, Closed, Drained and Close concurrently. PopBatch, Arm and Disarm
// belong to the consumer: one goroutine at a time; they may run
// concurrently with all the others.
//
// Memory layout: the producers' claim counter (tail) and the consumer's
// read counter (head) each sit alone on their own 128-byte block, so
// producers CASing tail never invalidate the line the consumer reads head
// from, and vice versa. The remaining fields are written once by New (or
// rarely, on the slow path) and are read-mostly.
type MPSC[T any] struct {
	_ [cacheLinePad]byte

	// tail is the next position a producer will claim, with closedBit set
	// once the ring is closed. Written only by a successful CAS in push or
	// by Close. tail&^closedBit - head is the number of claimed items not
	// yet consumed, which never exceeds cap.
	tail atomic.Uint64
	_    [cacheLinePad - unsafe.Sizeof(atomic.Uint64{})]byte

	// head is the next position the consumer will read: every position
	// below it is consumed, and its slot free for the next lap. Written
	// only by the consumer, once per PopBatch, not per slot: producers load
	// it before claiming to know the slot is free (the Disruptor's gating),
	// and Len, Consumed, Drained and Arm read it from any goroutine.
	head atomic.Uint64
	_    [cacheLinePad - unsafe.Sizeof(atomic.Uint64{})]byte

	// Read-mostly fields below: set by New and never written again, except
	// waiters, which only producers on the full-ring slow path write.
	mask  uint64
	slots []slot[T]

	// waiters counts producers parked (or about to park) in Push waiting
	// for space. The consumer reads it after freeing slots and signals
	// space when it is non-zero.
	waiters atomic.Int32
	// space carries wake-up tokens to parked producers. The consumer sends
	// one per freed slot while producers wait (without blocking: at most
	// spaceTokens are outstanding), and a channel's receivers are served
	// in order, so the longest-parked producers go first. A woken producer
	// that pushes passes a token on while others still wait, so no wake-up
	// is lost when the buffer was full.
	space chan struct{}
	// done is closed by Close; it wakes every parked producer.
	done chan struct{}

	// wakeAt is the consumer's armed wake-up: 0 when disarmed, else the
	// position p such that the producer that claims p-1 (making p items
	// ever claimed) fires ready. Written by the consumer (Arm, Disarm) and by
	// the one producer whose CAS from p to 0 fires it; every push loads it.
	wakeAt atomic.Uint64
	// ready carries the consumer's wake-up: capacity 1, sent without
	// blocking by the producer that fires wakeAt and by Close.
	ready chan struct{}
}

// New returns an empty ring that holds capacity items, rounded up to a
// power of two. It returns ErrCapacity if capacity is below MinCapacity or
// above MaxCapacity.
func New[T any](capacity int) (*MPSC[T], error) {
	n, err := roundCapacity(capacity)
	if err != nil {
		return nil, err
	}
	q := &MPSC[T]{
		mask:  n - 1,
		slots: make([]slot[T], n),
		space: make(chan struct{}, spaceTokens),
		done:  make(chan struct{}),
		ready: make(chan struct{}, 1),
	}
	return q, nil
}

// roundCapacity validates capacity and rounds it up to a power of two.
func roundCapacity(capacity int) (uint64, error) {
	if capacity < MinCapacity || capacity > MaxCapacity {
		return 0, fmt.Errorf("%w: %d not in [%d, %d]", ErrCapacity, capacity, MinCapacity, MaxCapacity)
	}
	return uint64(1) << bits.Len64(uint64(capacity)-1), nil
}

// Cap returns the number of items the ring can hold.
func (q *MPSC[T]) Cap() int { return len(q.slots) }

// Len returns the number of items pushed or being pushed and not yet
// consumed. It is a snapshot: by the time it returns, producers and the
// consumer may have moved on.
func (q *MPSC[T]) Len() int {
	// head first: tail never decreases and head never passes tail, so
	// reading tail second can only overestimate, never underflow.
	h := q.head.Load()
	n := q.Claimed() - h
	if n > uint64(len(q.slots)) {
		// head moved on after we read it and producers refilled the ring.
		n = uint64(len(q.slots))
	}
	return int(n)
}

// Claimed returns how many items producers have claimed since New: pushed
// or being pushed. Every item whose Push or TryPush returned before a call to
// Claimed has a position below the value returned, which makes it a flush
// barrier: once Consumed reaches it, all those items have been popped.
func (q *MPSC[T]) Claimed() uint64 { return q.tail.Load() &^ closedBit }

// Consumed returns how many items the consumer has popped since New.
func (q *MPSC[T]) Consumed() uint64 { return q.head.Load() }

// Closed reports whether Close has been called.
func (q *MPSC[T]) Closed() bool { return q.tail.Load()&closedBit != 0 }

type pushResult uint8

const (
	pushed pushResult = iota
	full
	closed
)

// push is one wait-free-when-uncontended attempt: claim position tail if
// its slot is free, write the value, publish it.
func (q *MPSC[T]) push(v *T) pushResult {
	t := q.tail.Load()
	for {
		if t&closedBit != 0 {
			return closed
		}
		// The slot of t is free once the consumer has taken position
		// t-cap, that is once head > t-cap. head only grows, so a stale
		// head can only say full when it is not, never the reverse. t may
		// be stale too, and head already past it (others pushed, the
		// consumer took them): the difference is then negative, not
		// full, and the CAS below fails and reloads t. Only now CAS, so a
		// full ring costs loads, never a contended write.
		if int64(t-q.head.Load()) > int64(q.mask) {
			return full
		}
		if q.tail.CompareAndSwap(t, t+1) {
			s := &q.slots[t&q.mask]
			s.val = *v
			// Publishes val: the consumer reads val only after its load
			// of seq returns t+1, which is ordered after this store
			// (sync/atomic is sequentially consistent).
			s.seq.Store(t + 1)
			// One load of a read-mostly word per push; the wake-up
			// itself happens once per Arm.
			if w := q.wakeAt.Load(); w != 0 && t+1 >= w {
				q.fire(w)
			}
			return pushed
		}
		// Another producer claimed t, or Close set the bit.
		t = q.tail.Load()
	}
}

// TryPush appends v without waiting. It returns false if the ring is full
// or closed (Closed tells which).
func (q *MPSC[T]) TryPush(v T) bool {
	return q.push(&v) == pushed
}

// Push appends v, waiting for space while the ring is full. It returns
// ErrClosed, without pushing, if the ring is or becomes closed before v is
// in. It never takes a lock and never allocates.
//
// A waiting producer first spins (cheap when the consumer is running on
// another core and about to free a slot), then yields its processor with
// runtime.Gosched (so a consumer sharing the processor gets to run), then
// parks until the consumer frees space or Close is called. Parked producers
// consume no CPU, so a consumer that has gone away costs only what Close
// does: wake them with ErrClosed.
func (q *MPSC[T]) Push(v T) error {
	// Small enough to inline, so the caller's value is copied once, into
	// the slot, not first into Push's argument.
	return q.pushWait(&v)
}

// pushWait is Push: try, and while the ring is full spin, yield, park and
// retry.
func (q *MPSC[T]) pushWait(v *T) error {
	for round := 0; ; round++ {
		switch q.push(v) {
		case pushed:
			if round > spinRounds+yieldRounds {
				// We were parked. Others may be too: pass the wake-up on
				// while there is room, so one signal from the consumer
				// wakes a chain of producers rather than one.
				q.passSpace()
			}
			return nil
		case closed:
			return ErrClosed
		}
		switch {
		case round < spinRounds:
			for i := 0; i < spinBase<<round; i++ {
				// The loop body must not be optimised away; an atomic
				// load is cheap and keeps the loop observable.
				_ = q.head.Load()
			}
		case round < spinRounds+yieldRounds:
			runtime.Gosched()
		default:
			q.park()
		}
	}
}

// park blocks until the consumer may have freed space or the ring is
// closed. It returns at once if neither waiting condition holds any more.
func (q *MPSC[T]) park() {
	q.waiters.Inc()
	// Announce first, then re-check (Dekker): the consumer frees a slot and
	// then loads waiters, we increment waiters and then load the slot. With
	// sequentially consistent atomics at least one of us sees the other, so
	// either we see the space or the consumer sees a waiter and signals.
	if q.isFull() && !q.Closed() {
		select {
		case <-q.space:
		case <-q.done:
		}
	}
	q.waiters.Dec()
}

// isFull reports whether the slot at tail still holds the previous lap's
// item.
func (q *MPSC[T]) isFull() bool {
	h := q.head.Load() // first: tail, loaded after, is at least h
	return q.Claimed()-h > q.mask
}

// wake hands up to k wake-up tokens to parked producers, first come first
// served (a channel's receivers are queued in order).
func (q *MPSC[T]) wake(k int) {
	for range k {
		select {
		case q.space <- struct{}{}:
		default:
			return // enough tokens are waiting to be taken
		}
	}
}

// passSpace hands a wake-up token to a parked producer if there is one and
// the ring has room for it.
func (q *MPSC[T]) passSpace() {
	if q.waiters.Load() > 0 && !q.isFull() {
		q.wake(1)
	}
}

// PopBatch appends up to max ready items, oldest first, to dst and returns
// the extended slice. It stops early at the first position that is empty or
// claimed but not yet published, so items come out in claim order. It
// allocates only if dst lacks capacity. Consumed slots are zeroed so the
// ring does not keep what they referenced alive. It frees the slots it
// consumed with one store of head at the end, not one store per slot.
//
// PopBatch is the consumer side: only one goroutine may call it at a time.
func (q *MPSC[T]) PopBatch(dst []T, max int) []T {
	h := q.head.Load()
	var zero T
	n := 0
	for ; n < max; n++ {
		s := &q.slots[h&q.mask]
		// Observes the producer's publishing store of h+1; only after it
		// may val be read.
		if s.seq.Load() != h+1 {
			break
		}
		dst = append(dst, s.val)
		s.val = zero
		h++
	}
	if n > 0 {
		// Frees the slots for positions up to h-1+cap: ordered after the
		// reads and zeroing above, and producers write a slot only after
		// loading a head past its previous lap.
		q.head.Store(h)
		if w := int(q.waiters.Load()); w > 0 {
			q.wake(min(w, n))
		}
	}
	return dst
}

// Arm asks for a wake-up on Ready once at least n items are pending (n is
// clamped to [1, Cap()]). It reports true, without arming, if n items are
// already claimed, or the ring is closed: the consumer should pop rather
// than wait. If the oldest claimed item is not yet published (its producer
// is between claim and publish, perhaps preempted), Arm first yields with
// runtime.Gosched, so a consumer looping on Arm and PopBatch lets that
// producer run instead of spinning. Otherwise the
// first producer whose push brings the pending count to n sends on Ready,
// once; Close sends on Ready too. The consumer calls Disarm after waking for
// another reason. Only the consumer may call Arm and Disarm.
//
// This is how a consumer sleeps without polling and producers wake it
// without a channel operation per item: a push costs one extra atomic load
// while the consumer is awake, and the wake-up is one non-blocking send per
// Arm.
func (q *MPSC[T]) Arm(n int) (ready bool) {
	n = max(1, min(n, len(q.slots)))
	w := q.head.Load() + uint64(n)
	q.wakeAt.Store(w)
	// Announce, then re-check (Dekker, as in park): a producer claims and
	// then loads wakeAt; we store wakeAt and then load tail. One of us sees
	// the other.
	if q.Claimed() >= w || q.Closed() {
		q.Disarm()
		if h := q.head.Load(); q.Claimed() > h && q.slots[h&q.mask].seq.Load() != h+1 {
			runtime.Gosched()
		}
		return true
	}
	return false
}

// Disarm cancels a wake-up armed by Arm and discards one that fired but was
// not received, so the next wait starts clean.
func (q *MPSC[T]) Disarm() {
	q.wakeAt.Store(0)
	select {
	case <-q.ready:
	default:
	}
}

// Ready returns the channel Arm's wake-up and Close send on.
func (q *MPSC[T]) Ready() <-chan struct{} { return q.ready }

// fire sends the armed wake-up w, unless another producer or Disarm took
// it first.
func (q *MPSC[T]) fire(w uint64) {
	if q.wakeAt.CompareAndSwap(w, 0) {
		q.notify()
	}
}

func (q *MPSC[T]) notify() {
	select {
	case q.ready <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Close stops intake: from now on TryPush returns false and Push returns
// ErrClosed, including producers already waiting for space. Items pushed
// before Close stay in the ring for the consumer; Drained reports when it
// has them all. Close is idempotent and safe to call concurrently with
// everything else.
func (q *MPSC[T]) Close() {
	for {
		t := q.tail.Load()
		if t&closedBit != 0 {
			return
		}
		if q.tail.CompareAndSwap(t, t|closedBit) {
			close(q.done)
			q.notify()
			return
		}
	}
}

// Drained reports whether the ring is closed and the consumer has taken
// every item claimed before Close. Once true it stays true.
func (q *MPSC[T]) Drained() bool {
	t := q.tail.Load()
	return t&closedBit != 0 && q.head.Load() == t&^closedBit
}
