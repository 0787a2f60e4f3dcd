package harness

import (
	"fmt"
	"math"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Geometry shared by every Histogram of this package. Values are nanoseconds.
const (
	// LowestValue is the lowest discernible value (1 ns). Zero is also
	// recordable; it falls in the first 1-ns bucket.
	LowestValue int64 = 1
	// HighestValue is the highest trackable value (60 s). Larger values are
	// recorded as HighestValue and counted by Overflows.
	HighestValue int64 = 60 * int64(time.Second)
	// SignificantFigures is the value precision: values are resolved to
	// 1 ns up to 2047 ns and to within 1/1024 of the value above.
	SignificantFigures = 3
)

// cacheLine pads Histogram so that histograms of different goroutines (for
// example those of a Set) never share a cache line: the total count inside
// the wrapped histogram is written on every Record.
const cacheLine = 128

// Histogram is an HDR latency histogram of nanosecond values with 3
// significant figures over [0, HighestValue]. Create one with NewHistogram.
//
// A Histogram is not safe for concurrent use: give each recording goroutine
// its own (see Set) and merge them once recording has stopped.
type Histogram struct {
	_ [cacheLine]byte
	// h is held by value (copied from hdrhistogram.New before any use, the
	// original discarded) so the padding around it also covers its hot
	// fields.
	h          hdrhistogram.Histogram
	overflows  int64
	underflows int64
	_          [cacheLine]byte
}

// NewHistogram returns an empty Histogram (about 220 KB of counters).
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.h = *hdrhistogram.New(LowestValue, HighestValue, SignificantFigures)
	return h
}

// Record records one value in nanoseconds. A value above HighestValue is
// recorded as HighestValue and counted in Overflows; a negative value is
// recorded as 0 and counted in Underflows. Both still count in Count.
func (h *Histogram) Record(ns int64) {
	if uint64(ns) > uint64(HighestValue) {
		ns = h.clamp(ns)
	}
	// In range by construction: RecordValue cannot fail.
	_ = h.h.RecordValue(ns)
}

// RecordDuration records d as nanoseconds, like Record.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// RecordCorrected records ns and, when ns exceeds expectedIntervalNs, the
// values a stalled closed-loop caller failed to issue: ns-interval,
// ns-2*interval, ... down to interval (coordinated-omission correction as
// wrk2 does, via hdrhistogram's RecordCorrectedValue). Use it when timing a
// closed loop that is meant to issue one call every expectedIntervalNs; do
// not use it for latencies already measured from a Pacer's intended start
// times, which are corrected already. An expectedIntervalNs <= 0 disables
// the correction. Out-of-range values are clamped (and counted) first, as in
// Record. The cost is O(ns/expectedIntervalNs).
func (h *Histogram) RecordCorrected(ns, expectedIntervalNs int64) {
	if uint64(ns) > uint64(HighestValue) {
		ns = h.clamp(ns)
	}
	_ = h.h.RecordCorrectedValue(ns, expectedIntervalNs)
}

func (h *Histogram) clamp(ns int64) int64 {
	if ns < 0 {
		h.underflows++
		return 0
	}
	h.overflows++
	return HighestValue
}

// Merge adds every value recorded in other, and its overflow and underflow
// counts, to h. other is not modified. other must not be recorded into
// concurrently.
func (h *Histogram) Merge(other *Histogram) {
	if other == h {
		other = &Histogram{h: *h.h.Clone(), overflows: h.overflows, underflows: h.underflows}
	}
	// Same geometry on both sides: nothing can be dropped.
	_ = h.h.Merge(&other.h)
	h.overflows += other.overflows
	h.underflows += other.underflows
}

// Count returns the number of recorded values, clamped ones included.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Overflows returns how many recorded values exceeded HighestValue.
func (h *Histogram) Overflows() int64 { return h.overflows }

// Underflows returns how many recorded values were negative.
func (h *Histogram) Underflows() int64 { return h.underflows }

// Reset empties h, overflow and underflow counts included.
func (h *Histogram) Reset() {
	h.h.Reset()
	h.overflows = 0
	h.underflows = 0
}

// ValueAtPercentile returns the value at percentile p (0..100) in ns, as
// HdrHistogram defines it: the highest value equivalent to the recorded
// value of rank round(p/100*Count) (nearest rank, at least 1). At p == 0 it
// returns the lowest equivalent value of the minimum. It returns 0 for an
// empty histogram.
func (h *Histogram) ValueAtPercentile(p float64) int64 { return h.h.ValueAtPercentile(p) }

// ValuesAreEquivalent reports whether a and b fall in the same bucket, that
// is, whether the histogram can tell them apart.
func (h *Histogram) ValuesAreEquivalent(a, b int64) bool { return h.h.ValuesAreEquivalent(a, b) }

// Summary returns the summary statistics of h.
func (h *Histogram) Summary() Summary {
	s := Summary{
		Count:      h.h.TotalCount(),
		Overflows:  h.overflows,
		Underflows: h.underflows,
	}
	if s.Count == 0 {
		return s
	}
	s.Mean = h.h.Mean()
	s.StdDev = h.h.StdDev()
	s.Min = h.h.Min()
	s.Max = h.h.Max()
	p := h.h.ValueAtPercentilesSlice(summaryPercentiles[:])
	s.P50, s.P90, s.P95, s.P99, s.P999, s.P9999 = p[0], p[1], p[2], p[3], p[4], p[5]
	return s
}

var summaryPercentiles = [...]float64{50, 90, 95, 99, 99.9, 99.99}

// Summary holds the statistics of a Histogram. Latencies are nanoseconds:
// Mean and StdDev as float64 (computed from bucket midpoints), the others as
// int64 following HdrHistogram's conventions (Min is the lowest and the
// percentiles and Max the highest value equivalent to the recorded one, so
// within 0.1% above the exact value and exact below 2048 ns). The ...MS
// methods convert to milliseconds.
type Summary struct {
	Count      int64   `json:"count"`
	Mean       float64 `json:"mean_ns"`
	StdDev     float64 `json:"stddev_ns"`
	Min        int64   `json:"min_ns"`
	P50        int64   `json:"p50_ns"`
	P90        int64   `json:"p90_ns"`
	P95        int64   `json:"p95_ns"`
	P99        int64   `json:"p99_ns"`
	P999       int64   `json:"p999_ns"`
	P9999      int64   `json:"p9999_ns"`
	Max        int64   `json:"max_ns"`
	Overflows  int64   `json:"overflows"`
	Underflows int64   `json:"underflows"`
}

// NsToMS converts nanoseconds to milliseconds.
func NsToMS(ns float64) float64 { return ns / 1e6 }

// MeanMS returns Mean in milliseconds.
func (s Summary) MeanMS() float64 { return NsToMS(s.Mean) }

// StdDevMS returns StdDev in milliseconds.
func (s Summary) StdDevMS() float64 { return NsToMS(s.StdDev) }

// MinMS returns Min in milliseconds.
func (s Summary) MinMS() float64 { return NsToMS(float64(s.Min)) }

// P50MS returns P50 in milliseconds.
func (s Summary) P50MS() float64 { return NsToMS(float64(s.P50)) }

// P90MS returns P90 in milliseconds.
func (s Summary) P90MS() float64 { return NsToMS(float64(s.P90)) }

// P95MS returns P95 in milliseconds.
func (s Summary) P95MS() float64 { return NsToMS(float64(s.P95)) }

// P99MS returns P99 in milliseconds.
func (s Summary) P99MS() float64 { return NsToMS(float64(s.P99)) }

// P999MS returns P999 in milliseconds.
func (s Summary) P999MS() float64 { return NsToMS(float64(s.P999)) }

// P9999MS returns P9999 in milliseconds.
func (s Summary) P9999MS() float64 { return NsToMS(float64(s.P9999)) }

// MaxMS returns Max in milliseconds.
func (s Summary) MaxMS() float64 { return NsToMS(float64(s.Max)) }

// String formats s on one line, in nanoseconds.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d mean=%.1f sd=%.1f min=%d p50=%d p90=%d p95=%d p99=%d p99.9=%d p99.99=%d max=%d ns",
		s.Count, s.Mean, s.StdDev, s.Min, s.P50, s.P90, s.P95, s.P99, s.P999, s.P9999, s.Max)
	if s.Overflows != 0 || s.Underflows != 0 {
		fmt.Fprintf(&b, " overflows=%d underflows=%d", s.Overflows, s.Underflows)
	}
	return b.String()
}

// Set holds one Histogram per recording goroutine, so that recording needs
// no shared lock: goroutine i records only into Get(i). Once every recorder
// has stopped (and that is synchronized, for example by sync.WaitGroup.Wait),
// Merged combines them.
type Set struct {
	hs []*Histogram
}

// NewSet returns a Set of n empty histograms.
func NewSet(n int) *Set {
	if n < 0 {
		panic(fmt.Sprintf("harness: NewSet(%d): negative size", n))
	}
	s := &Set{hs: make([]*Histogram, n)}
	for i := range s.hs {
		s.hs[i] = NewHistogram()
	}
	return s
}

// Len returns the number of histograms in s.
func (s *Set) Len() int { return len(s.hs) }

// Get returns histogram i (0 <= i < Len()). Only one goroutine may record
// into it at a time.
func (s *Set) Get(i int) *Histogram { return s.hs[i] }

// Merged returns a new Histogram holding the values of every histogram of s.
// Call it only after all recording into s has stopped.
func (s *Set) Merged() *Histogram {
	m := NewHistogram()
	for _, h := range s.hs {
		m.Merge(h)
	}
	return m
}

// Reset empties every histogram of s.
func (s *Set) Reset() {
	for _, h := range s.hs {
		h.Reset()
	}
}

// geometry returns HdrHistogram's bucket and sub-bucket counts for the
// package's range and precision, computed as HdrHistogram does (the Go port
// does not export them); the .hgrm footer reports them.
func geometry() (bucketCount, subBucketCount int64) {
	unitMagnitude := int64(math.Floor(math.Log2(float64(LowestValue))))
	largestSingleUnit := 2 * int64(math.Pow10(SignificantFigures))
	subBucketCountMagnitude := int64(math.Ceil(math.Log2(float64(largestSingleUnit))))
	subBucketCount = int64(1) << subBucketCountMagnitude
	smallestUntrackable := subBucketCount << unitMagnitude
	bucketCount = 1
	for smallestUntrackable <= HighestValue {
		if smallestUntrackable > math.MaxInt64/2 {
			return bucketCount + 1, subBucketCount
		}
		smallestUntrackable <<= 1
		bucketCount++
	}
	return bucketCount, subBucketCount
}
