// Package flusher is the consumer side of usagering: one goroutine that
// drains a ring.MPSC into in-memory state and persists that state to a file
// atomically and durably. It is the only goroutine that pops from the ring
// and the only one that does I/O, so Record on the producer side never
// waits for a disk.
//
// # The drain loop (batch.go)
//
// A Flusher folds often and persists rarely, on two goroutines. Folding
// (ring → memory, Sink.Fold) is driven by size, on the loop goroutine:
// producers wake a sleeping loop only when their push brings the pending
// count to BatchSize (ring.Arm), at most once per crossing and never while
// it is awake. Persisting (memory → file, Sink.Persist) is driven by time,
// on the persister goroutine: FlushInterval after the oldest unpersisted
// item was folded, or at once when Flush or Close asks. The loop starts a
// persist with Sink.Snapshot, which freezes exactly what it covers, and
// goes on folding while it runs, so neither a slow disk nor a failing one
// ever stalls the ring: a failed persist is retried with exponential
// backoff and jitter (the sink keeps its state bounded meanwhile), and
// nothing is dropped.
//
// # The durability contract
//
// Flush returning nil means every item pushed before Flush was called has
// been folded and covered by a successful Persist: with an AtomicFile
// underneath, it is on stable storage (file and directory fsynced). Without
// Flush, an item is persisted within FlushInterval of being folded while the
// disk works. A crash loses exactly what was not yet persisted: items in the
// ring and items folded since the last successful Persist, at most about
// FlushInterval of records under normal operation (longer while the disk is
// failing, since the data is then held in memory until it can be written).
// Close persists everything before it returns nil.
//
// The sink decides what a persist writes and where; the usage tracker
// writes its file through package atomicfile.
package flusher
