package harness

import (
	"runtime"
	"time"
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock, the one time.Since reads. The
// runtime keeps this linkname working on purpose (go.dev/issue/67401). It
// is one clock read, cheaper than time.Since(epoch) and than time.Now
// (which also reads the wall clock).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Now returns a monotonic clock reading in nanoseconds. Its origin is
// arbitrary: only differences between readings are meaningful.
func Now() int64 { return nanotime() }

// DefaultCalibrationSamples is the sample count CalibrateOverhead uses when
// given a non-positive one.
const DefaultCalibrationSamples = 1_000_000

// CalibrateOverhead measures the cost of an empty timed region: it records
// samples differences between two consecutive Now() calls and returns their
// summary (after a short warm-up). That is what the clock adds to every
// value timed as
//
//	t0 := harness.Now(); op(); h.Record(harness.Now() - t0)
//
// so print its P50 and Mean beside such figures. A samples <= 0 means
// DefaultCalibrationSamples.
func CalibrateOverhead(samples int) Summary {
	if samples <= 0 {
		samples = DefaultCalibrationSamples
	}
	h := NewHistogram()
	for range min(samples, 10_000) {
		t0 := Now()
		t1 := Now()
		h.Record(t1 - t0)
	}
	h.Reset()
	for range samples {
		t0 := Now()
		t1 := Now()
		h.Record(t1 - t0)
	}
	return h.Summary()
}

// LoopMean calls fn n times in a tight loop timed by two clock reads in all
// and returns the mean nanoseconds per call (0 if n <= 0). The clock cost is
// spread over n calls, so this is the figure to quote for the mean of a
// call of a few tens of ns; it includes the indirect call of fn (about 1-2
// ns; LoopMean(n, func() {}) measures it).
func LoopMean(n int, fn func()) float64 {
	if n <= 0 {
		return 0
	}
	t0 := Now()
	for range n {
		fn()
	}
	return float64(Now()-t0) / float64(n)
}

// Waiting thresholds of WaitUntil.
const (
	sleepAbove  = 2 * int64(time.Millisecond) // sleep while the deadline is farther than this,
	sleepMargin = 1 * int64(time.Millisecond) // waking this much before it;
	yieldAbove  = 5 * int64(time.Microsecond) // then yield (runtime.Gosched) while farther than this
)

// WaitUntil returns once Now() >= t (at once if t has passed). It sleeps
// while t is more than 2 ms away, then yields the processor
// (runtime.Gosched) until t is 5 µs away, then busy-spins.
func WaitUntil(t int64) {
	for {
		rem := t - Now()
		switch {
		case rem <= 0:
			return
		case rem > sleepAbove:
			time.Sleep(time.Duration(rem - sleepMargin))
		case rem > yieldAbove:
			runtime.Gosched()
		}
	}
}
