package harness

import (
	"fmt"
	"math"
)

// Pacer issues operations at a fixed rate from a start time, independently of
// how long each one takes (an open-loop load). Next waits until the intended
// start of the next operation and returns that intended time; measure each
// operation's latency from it, not from when it actually began:
//
//	p := harness.NewPacer(100_000, harness.Now())
//	for range n {
//		intended := p.Next()
//		op()
//		h.Record(harness.Now() - intended)
//	}
//
// When an operation stalls, the following ones start late and their latency
// includes the time they waited for their slot, which is what a stream of
// arrivals at that rate would see: this corrects coordinated omission, so do
// not also use RecordCorrected on these values. A Pacer never skips a slot.
//
// To spread a rate over g goroutines give each its own Pacer at rate/g
// (optionally with starts staggered by Interval()/g). A Pacer is not safe for
// concurrent use. Waiting near the deadline yields and spins (see WaitUntil),
// so a paced goroutine keeps a CPU busy at high rates.
type Pacer struct {
	start  int64
	period float64 // ns between intended starts
	n      int64   // slots issued
}

// NewPacer returns a Pacer issuing opsPerSec operations per second, the first
// at start (a Now() reading). It panics unless opsPerSec is positive and
// finite.
func NewPacer(opsPerSec float64, start int64) *Pacer {
	if !(opsPerSec > 0) || math.IsInf(opsPerSec, 0) {
		panic(fmt.Sprintf("harness: NewPacer: rate must be positive and finite, got %v", opsPerSec))
	}
	return &Pacer{start: start, period: 1e9 / opsPerSec}
}

// Intended returns the intended start of operation i (0-based):
// start + i*1e9/opsPerSec, truncated to whole ns (no drift accumulates).
func (p *Pacer) Intended(i int64) int64 {
	return p.start + int64(float64(i)*p.period)
}

// Next waits until the intended start of the next operation (returning at
// once if it has passed) and returns it.
func (p *Pacer) Next() int64 {
	t := p.Intended(p.n)
	p.n++
	WaitUntil(t)
	return t
}

// Count returns how many times Next has been called.
func (p *Pacer) Count() int64 { return p.n }

// Interval returns the interval between intended starts, rounded to whole ns
// (at least 1): the expected interval for RecordCorrected.
func (p *Pacer) Interval() int64 { return max(1, int64(math.Round(p.period))) }
