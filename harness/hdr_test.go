package harness

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// equivRange is an oracle, independent of hdrhistogram-go, for the range of
// values the package's geometry (1 ns unit, 2048 sub-buckets) cannot tell
// apart from v >= 0: exact below 2048, then sub-buckets 2^(bitlen(v)-11) wide.
func equivRange(v int64) (lo, hi int64) {
	if v < 2048 {
		return v, v
	}
	shift := bits.Len64(uint64(v)) - 11
	lo = v >> shift << shift
	return lo, lo + 1<<shift - 1
}

// exactAtPercentile returns the sorted sample of HdrHistogram's rank for p:
// round(p/100*n) (half up), at least 1 and at most n.
func exactAtPercentile(sorted []int64, p float64) int64 {
	n := len(sorted)
	rank := (p/100)*float64(n) + 0.5
	switch {
	case !(rank >= 1):
		return sorted[0]
	case rank >= float64(n):
		return sorted[n-1]
	}
	return sorted[int64(rank)-1]
}

type dist struct {
	name string
	gen  func(r *rand.Rand) int64
}

func clampNs(x float64) int64 {
	return int64(min(max(x, 20), 5e9))
}

var dists = []dist{
	{"uniform-20ns-5s", func(r *rand.Rand) int64 { return 20 + r.Int64N(5e9-20+1) }},
	{"loguniform-20ns-5s", func(r *rand.Rand) int64 {
		return clampNs(math.Exp(math.Log(20) + r.Float64()*(math.Log(5e9)-math.Log(20))))
	}},
	{"lognormal-1us", func(r *rand.Rand) int64 {
		return clampNs(math.Exp(math.Log(1000) + 2*r.NormFloat64()))
	}},
	{"bimodal-25ns-rare-10ms", func(r *rand.Rand) int64 {
		if r.IntN(1000) == 0 {
			return clampNs(10e6 * (1 + 0.2*r.NormFloat64()))
		}
		return clampNs(20 + 10*r.ExpFloat64())
	}},
	{"constant-25ns", func(*rand.Rand) int64 { return 25 }},
}

var testPercentiles = []float64{0, 0.001, 1, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

func samples(d dist, seed uint64, n int) []int64 {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	v := make([]int64, n)
	for i := range v {
		v[i] = d.gen(r)
	}
	return v
}

func TestEquivRangeOracleMatchesLibrary(t *testing.T) {
	h := NewHistogram()
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		v := r.Int64N(HighestValue + 1)
		if r.IntN(2) == 0 {
			v = r.Int64N(10000)
		}
		lo, hi := equivRange(v)
		if !h.ValuesAreEquivalent(v, lo) || !h.ValuesAreEquivalent(v, hi) {
			t.Fatalf("v=%d: oracle range [%d,%d] not equivalent per library", v, lo, hi)
		}
		if lo > 0 && h.ValuesAreEquivalent(v, lo-1) {
			t.Fatalf("v=%d: library says %d (below oracle range) is equivalent", v, lo-1)
		}
		if h.ValuesAreEquivalent(v, hi+1) {
			t.Fatalf("v=%d: library says %d (above oracle range) is equivalent", v, hi+1)
		}
		if v > 0 && float64(hi-lo) > 1e-3*float64(v) {
			t.Fatalf("v=%d: range width %d exceeds 1e-3 of the value", v, hi-lo)
		}
	}
}

func TestPercentilesMatchExact(t *testing.T) {
	const n = 200_000
	for i, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			raw := samples(d, uint64(i), n)
			h := NewHistogram()
			var sum, sumSq float64
			for _, v := range raw {
				h.Record(v)
				sum += float64(v)
				sumSq += float64(v) * float64(v)
			}
			sorted := slices.Clone(raw)
			slices.Sort(sorted)
			if h.Count() != n {
				t.Fatalf("Count = %d, want %d", h.Count(), n)
			}
			for _, p := range testPercentiles {
				exact := exactAtPercentile(sorted, p)
				got := h.ValueAtPercentile(p)
				lo, hi := equivRange(exact)
				want := hi
				if p == 0 {
					want = lo
				}
				if got != want {
					t.Errorf("p%v: got %d, want %d (exact %d, equivalent range [%d,%d])", p, got, want, exact, lo, hi)
				}
				if !h.ValuesAreEquivalent(got, exact) {
					t.Errorf("p%v: got %d not equivalent to exact %d", p, got, exact)
				}
				if math.Abs(float64(got-exact)) > 1e-3*float64(exact) {
					t.Errorf("p%v: got %d, exact %d: relative error above 1e-3", p, got, exact)
				}
			}

			s := h.Summary()
			for _, c := range []struct {
				name string
				got  int64
				p    float64
			}{{"P50", s.P50, 50}, {"P90", s.P90, 90}, {"P95", s.P95, 95}, {"P99", s.P99, 99}, {"P999", s.P999, 99.9}, {"P9999", s.P9999, 99.99}} {
				_, hi := equivRange(exactAtPercentile(sorted, c.p))
				if c.got != hi {
					t.Errorf("Summary.%s = %d, want %d", c.name, c.got, hi)
				}
			}
			if lo, _ := equivRange(sorted[0]); s.Min != lo {
				t.Errorf("Summary.Min = %d, want %d (exact %d)", s.Min, lo, sorted[0])
			}
			if _, hi := equivRange(sorted[n-1]); s.Max != hi {
				t.Errorf("Summary.Max = %d, want %d (exact %d)", s.Max, hi, sorted[n-1])
			}
			if s.Count != n || s.Overflows != 0 || s.Underflows != 0 {
				t.Errorf("Summary count/overflows/underflows = %d/%d/%d, want %d/0/0", s.Count, s.Overflows, s.Underflows, n)
			}
			// Bucket midpoints are within 1/2048 of each value, which bounds
			// the mean's error by mean/2048 and the standard deviation's by
			// rms/2048.
			mean := sum / n
			sd := math.Sqrt(max(0, sumSq/n-mean*mean))
			rms := math.Sqrt(sumSq / n)
			if math.Abs(s.Mean-mean) > 1e-3*mean {
				t.Errorf("Mean = %v, exact %v", s.Mean, mean)
			}
			if math.Abs(s.StdDev-sd) > 1e-3*rms {
				t.Errorf("StdDev = %v, exact %v (rms %v)", s.StdDev, sd, rms)
			}
		})
	}
}

func TestSetMergedEqualsSingleHistogram(t *testing.T) {
	const workers, perWorker = 8, 50_000
	gen := func(seed uint64, record func(int64)) {
		r := rand.New(rand.NewPCG(seed, 7))
		d := dists[int(seed)%len(dists)]
		for i := range perWorker {
			switch i % 10_000 {
			case 1:
				record(HighestValue + 1 + r.Int64N(1e9)) // overflow
			case 2:
				record(-1 - r.Int64N(100)) // underflow
			default:
				record(d.gen(r))
			}
		}
	}
	set := NewSet(workers)
	if set.Len() != workers {
		t.Fatalf("Len = %d, want %d", set.Len(), workers)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h := set.Get(w)
			gen(uint64(w), h.Record)
		})
	}
	wg.Wait()

	ref := NewHistogram()
	for w := range workers {
		gen(uint64(w), ref.Record)
	}
	before := set.Get(0).Summary()
	m := set.Merged()
	if !m.h.Equals(&ref.h) {
		t.Fatal("merged histogram's counts differ from the single histogram's")
	}
	if ms, rs := m.Summary(), ref.Summary(); ms != rs {
		t.Fatalf("merged summary\n%v\nwant\n%v", ms, rs)
	}
	if m.Count() != workers*perWorker {
		t.Fatalf("merged Count = %d, want %d", m.Count(), workers*perWorker)
	}
	if m.Overflows() != workers*5 || m.Underflows() != workers*5 {
		t.Fatalf("merged overflows/underflows = %d/%d, want %d/%d", m.Overflows(), m.Underflows(), workers*5, workers*5)
	}
	if after := set.Get(0).Summary(); after != before {
		t.Fatal("Merged modified a member histogram")
	}

	set.Reset()
	for i := range set.Len() {
		if c := set.Get(i).Count(); c != 0 {
			t.Fatalf("after Reset, histogram %d has count %d", i, c)
		}
	}
	if c := set.Merged().Count(); c != 0 {
		t.Fatalf("Merged after Reset has count %d", c)
	}
}

func TestMergeIntoItselfDoubles(t *testing.T) {
	h := NewHistogram()
	for v := range int64(5000) {
		h.Record(v * 997)
	}
	h.Record(-3)
	h.Record(HighestValue * 2)
	want := NewHistogram()
	want.Merge(h)
	want.Merge(h)
	h.Merge(h)
	if !h.h.Equals(&want.h) || h.Summary() != want.Summary() {
		t.Fatalf("h.Merge(h) = %v, want %v", h.Summary(), want.Summary())
	}
	if h.Count() != 2*5002 || h.Overflows() != 2 || h.Underflows() != 2 {
		t.Fatalf("count/overflows/underflows = %d/%d/%d", h.Count(), h.Overflows(), h.Underflows())
	}
}

// recorded lists the buckets holding values, as (lowest value, count).
func recorded(h *Histogram) [][2]int64 {
	var out [][2]int64
	for _, b := range h.h.Distribution() {
		if b.Count != 0 {
			out = append(out, [2]int64{b.From, b.Count})
		}
	}
	return out
}

func TestRecordCorrected(t *testing.T) {
	h := NewHistogram()
	h.RecordCorrected(100*int64(time.Millisecond), 10*int64(time.Millisecond))
	if h.Count() != 10 {
		t.Fatalf("Count = %d, want 10", h.Count())
	}
	got := recorded(h)
	if len(got) != 10 {
		t.Fatalf("values recorded in %d buckets, want 10: %v", len(got), got)
	}
	for i, b := range got {
		want := int64(i+1) * 10 * int64(time.Millisecond) // 10 ms, 20 ms, ... 100 ms
		if lo, _ := equivRange(want); b[0] != lo || b[1] != 1 {
			t.Errorf("bucket %d: lowest value %d count %d, want %d (for %d) count 1", i, b[0], b[1], lo, want)
		}
	}
	s := h.Summary()
	if _, hi := equivRange(100e6); s.Max != hi {
		t.Errorf("Max = %d, want %d", s.Max, hi)
	}
	if lo, _ := equivRange(10e6); s.Min != lo {
		t.Errorf("Min = %d, want %d", s.Min, lo)
	}
	if math.Abs(s.Mean-55e6) > 55e3 {
		t.Errorf("Mean = %v, want 55 ms", s.Mean)
	}

	for _, c := range []struct {
		name          string
		ns, interval  int64
		count, over   int64
		wantMaxApprox int64
	}{
		{"value equal to interval", 10e6, 10e6, 1, 0, 10e6},
		{"value below interval", 3e6, 10e6, 1, 0, 3e6},
		{"no interval", 100e6, 0, 1, 0, 100e6},
		{"negative interval", 100e6, -5, 1, 0, 100e6},
		{"not a multiple", 105e6, 10e6, 10, 0, 105e6}, // 105, 95, ..., 15
		{"overflow clamped first", 2 * HighestValue, int64(time.Second), 60, 1, HighestValue},
	} {
		h := NewHistogram()
		h.RecordCorrected(c.ns, c.interval)
		if h.Count() != c.count || h.Overflows() != c.over {
			t.Errorf("%s: count/overflows = %d/%d, want %d/%d", c.name, h.Count(), h.Overflows(), c.count, c.over)
		}
		if _, hi := equivRange(c.wantMaxApprox); h.Summary().Max != hi {
			t.Errorf("%s: Max = %d, want %d", c.name, h.Summary().Max, hi)
		}
	}
	h = NewHistogram()
	h.RecordCorrected(105e6, 10e6)
	if lo, _ := equivRange(15e6); h.Summary().Min != lo {
		t.Errorf("not a multiple: Min = %d, want %d (15 ms)", h.Summary().Min, lo)
	}
}

func TestOutOfRangeClampedAndCounted(t *testing.T) {
	h := NewHistogram()
	h.Record(HighestValue) // the top of the range is not an overflow
	if h.Overflows() != 0 || h.Count() != 1 {
		t.Fatalf("HighestValue: overflows/count = %d/%d, want 0/1", h.Overflows(), h.Count())
	}
	h.Record(HighestValue + 1)
	h.Record(math.MaxInt64)
	h.RecordDuration(time.Hour)
	if h.Overflows() != 3 || h.Count() != 4 {
		t.Fatalf("overflows/count = %d/%d, want 3/4", h.Overflows(), h.Count())
	}
	if !h.ValuesAreEquivalent(h.ValueAtPercentile(0), HighestValue) || !h.ValuesAreEquivalent(h.Summary().Max, HighestValue) {
		t.Fatalf("overflows not clamped to HighestValue: min %d max %d", h.ValueAtPercentile(0), h.Summary().Max)
	}
	h.Record(-1)
	h.Record(math.MinInt64)
	s := h.Summary()
	if s.Underflows != 2 || s.Overflows != 3 || s.Count != 6 || s.Min != 0 {
		t.Fatalf("after negatives: %v", s)
	}
	if !strings.Contains(s.String(), "overflows=3 underflows=2") {
		t.Fatalf("String() = %q lacks the out-of-range counts", s.String())
	}
	h.Record(0)
	if h.Underflows() != 2 || h.Count() != 7 {
		t.Fatalf("0 must be in range: underflows/count = %d/%d", h.Underflows(), h.Count())
	}

	h.Reset()
	if s := h.Summary(); s != (Summary{}) {
		t.Fatalf("after Reset: %v, want zero Summary", s)
	}
}

func TestRecordDuration(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for _, d := range []time.Duration{0, 1, 25, 1500 * time.Nanosecond, 3 * time.Millisecond, 7 * time.Second} {
		a.RecordDuration(d)
		b.Record(int64(d))
	}
	if !a.h.Equals(&b.h) || a.Count() != 6 {
		t.Fatal("RecordDuration differs from Record of the nanoseconds")
	}
}

func TestEmptySummary(t *testing.T) {
	if s := NewHistogram().Summary(); s != (Summary{}) {
		t.Fatalf("empty Summary = %+v", s)
	}
	if s := NewSet(0).Merged().Summary(); s != (Summary{}) {
		t.Fatalf("empty Set's Merged Summary = %+v", s)
	}
}

func TestNewSetNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewSet(-1) did not panic")
		}
	}()
	NewSet(-1)
}

func TestSummaryMillis(t *testing.T) {
	s := Summary{Mean: 1.5e6, StdDev: 2.5e5, Min: 1000, P50: 2e6, P90: 3e6, P95: 4e6, P99: 5e6, P999: 6e6, P9999: 7e6, Max: 8e6}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"MeanMS", s.MeanMS(), 1.5}, {"StdDevMS", s.StdDevMS(), 0.25}, {"MinMS", s.MinMS(), 0.001},
		{"P50MS", s.P50MS(), 2}, {"P90MS", s.P90MS(), 3}, {"P95MS", s.P95MS(), 4}, {"P99MS", s.P99MS(), 5},
		{"P999MS", s.P999MS(), 6}, {"P9999MS", s.P9999MS(), 7}, {"MaxMS", s.MaxMS(), 8},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// The .hgrm footer reports the geometry; geometry() must match the
// library's, which PercentilesPrint prints.
func TestGeometryMatchesLibrary(t *testing.T) {
	h := NewHistogram()
	h.Record(1)
	var buf bytes.Buffer
	if _, err := h.h.PercentilesPrint(&buf, 5, 1); err != nil {
		t.Fatal(err)
	}
	var lb, ls int64
	found := false
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "#[Buckets") {
			if _, err := fmt.Sscanf(line, "#[Buckets = %d, SubBuckets = %d]", &lb, &ls); err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("no buckets line in\n%s", buf.String())
	}
	b, s := geometry()
	if b != lb || s != ls {
		t.Fatalf("geometry() = %d, %d; library %d, %d", b, s, lb, ls)
	}
	if n := int64(len(h.h.Export().Counts)); n != (b+1)*(s/2) {
		t.Fatalf("library has %d counters, geometry implies %d", n, (b+1)*(s/2))
	}
	if b != 26 || s != 2048 {
		t.Fatalf("geometry() = %d, %d; want 26, 2048 for 1 ns..60 s at 3 digits", b, s)
	}
}
