// Package harness measures latencies for usagering's benchmarks: HDR
// histograms of nanosecond values, a calibrated clock, an open-loop pacer and
// HdrHistogram's .hgrm text export.
//
// # Histograms
//
// A [Histogram] wraps github.com/HdrHistogram/hdrhistogram-go with a fixed
// geometry: nanoseconds, 3 significant figures, 0 to 60 s. Values below
// 2048 ns are kept exactly; larger ones to within 1/1024 of their value.
// Values above 60 s are recorded as 60 s and counted by
// [Histogram.Overflows] (negative ones as 0, counted by
// [Histogram.Underflows]) rather than dropped. [Histogram.Summary] gives the
// count, mean, standard deviation, min, p50 ... p99.99 and max in ns, with
// millisecond helpers such as [Summary.MeanMS] and [Summary.P99MS].
//
// # One histogram per goroutine
//
// A Histogram is not safe for concurrent use, and a shared lock would cost as
// much as the calls being measured and serialize them. Give each recording
// goroutine its own histogram: [NewSet](n), then goroutine i records into
// [Set.Get](i). When all of them have finished (and that is synchronized,
// for example by sync.WaitGroup.Wait), [Set.Merged] adds them into one
// histogram. Merging is exact: it gives the same histogram as recording every
// value into one.
//
// # Timer overhead
//
// Timing a 20 ns call with two clock reads measures the clock too: an
// empty timed region, two consecutive [Now] calls, costs about as much as
// the call, and the clock's readings advance in steps of several ns on
// some machines, so single-call figures come in steps (docs/benchmarks.md
// has this machine's figures).
// [CalibrateOverhead] measures that region into a histogram; print its P50
// and Mean beside every per-call figure. Read a figure against it: a
// per-call p50 of 50 ns beside a clock p50 of 20 ns means the call itself
// takes about 30 ns. Subtracting is only an estimate (the two costs overlap
// in the pipeline and vary independently), and a figure within a few ns of
// the calibration says only that the call is too cheap to time one at a
// time. For means, [LoopMean] times a tight loop of many calls with two clock
// reads in all, so the clock's cost vanishes from the per-call mean. Tails
// in microseconds and above dwarf the clock's cost and read directly; the
// clock has a tail of its own, though (the calibration's P99 and Max show
// it), so a per-call tail near it says little.
//
// # Coordinated omission
//
// A closed loop, where each call starts when the previous one returns,
// issues no calls while one stalls, so the calls that a steady stream would
// have made during the stall, and that would all have waited, are never
// measured: the tail comes out too good. There are two remedies; use one, not
// both:
//
//   - Open loop (preferred): a [Pacer] fixes each call's intended start time
//     from the rate. [Pacer.Next] waits for it and returns it; record
//     Now() - intended, which includes any time a call waited behind a stall.
//     These values are already corrected.
//   - Closed loop with correction, as wrk2 does: record each measured latency
//     with [Histogram.RecordCorrected](ns, expectedInterval). A value longer
//     than the expected interval between calls also records the values the
//     missing calls would have seen (ns-interval, ns-2*interval, ...).
//
// # Export
//
// [Histogram.WriteHgrm] writes HdrHistogram's percentile-distribution text
// format (.hgrm), with values scaled by a unit ratio (1000 for µs), which
// the HdrHistogram plotter (hdrhistogram.github.io/HdrHistogram/plotFiles.html)
// reads; [ParseHgrm] reads its rows back, for tests and plots.
package harness
