// Package ring provides MPSC, a bounded lock-free multi-producer
// single-consumer FIFO queue: the hand-off between goroutines that record
// usage and the one goroutine that persists it.
//
// # Algorithm
//
// MPSC is Dmitry Vyukov's bounded MPMC queue specialised to one consumer,
// with the consumer's side gated as in LMAX's Disruptor. The ring is a
// power-of-two array of slots; each slot carries a sequence number next to
// its value. Positions count up forever (uint64) and map to slot pos&mask.
// A producer loads tail, checks that the slot is free for it (the consumer's
// head has passed the slot's previous lap: tail-head < cap), and only then
// tries to claim it with one CAS tail → tail+1; it writes the value and
// publishes it by storing the slot's sequence pos+1. A full ring is
// detected from two loads, so TryPush on a full ring fails with no
// contended write, and a producer never waits on another producer's
// ticket. The single consumer needs no CAS: it owns head, and frees the
// slots it took with one store of head per batch rather than one store per
// slot, so a batch costs the consumer one shared write, not one per item.
//
// # Invariants
//
//   - head ≤ tail (without the closed bit) ≤ head + cap, at every instant.
//   - For position p with slot s = slots[p&mask]: s.seq == p+1 means the
//     value for p is published. Before that, s.seq holds p-cap+1 (the
//     previous lap's) or 0 (the first lap). No other values occur.
//   - The slot of p is free for its producer once head > p-cap. Only the
//     producer that won the CAS for p writes s.val, and only after loading
//     such a head and before its store s.seq = p+1. Only the consumer reads
//     and zeroes s.val, between its load s.seq == p+1 and its store of a
//     head past p.
//   - Items are consumed in claim order. Two items pushed by one goroutine
//     are claimed, and therefore consumed, in the order they were pushed.
//   - After Close no claim succeeds: the closed bit lives in tail itself,
//     so a CAS that raced with Close fails. Every item claimed before Close
//     is published by its producer and consumed; Drained reports that.
//
// # Memory ordering
//
// Go's sync/atomic operations (which go.uber.org/atomic wraps) are
// sequentially consistent, and the Go memory model makes an atomic store
// synchronise with the atomic load that observes it. A slot's value is
// published by the producer's store s.seq = p+1, which follows its plain
// write of s.val; the consumer's load that returns p+1 therefore happens
// after that write, and the consumer reads s.val only after that load.
// Symmetrically, the consumer's store of head follows its reads and
// zeroing of the values below it, and a producer writes a slot's value
// only after a load of head that returned past the slot's previous lap
// (and its CAS). Every shared access is either atomic or ordered by one of
// these pairs, which is also what the race detector checks.
//
// # Waiting
//
// TryPush never waits. Push, on a full ring, spins briefly, then yields
// with runtime.Gosched, then parks; after freeing k slots the consumer hands
// out up to k wake-up tokens, served to parked producers in the order they
// parked, and Close wakes them all with ErrClosed. The consumer side never
// blocks: PopBatch returns what is ready, and Arm/Ready let the caller (the
// flusher) sleep until a batch is pending.
//
// # Layout
//
// tail (written by every producer) and head (written by the consumer) sit
// on separate 128-byte blocks so the two sides do not false-share. Slot
// values are stored inline, so pushing never allocates; consumed slots are
// zeroed so strings and maps held by old items can be collected.
package ring
