package harness

import (
	"math"
	"testing"
	"time"
)

func TestNowMonotonic(t *testing.T) {
	prev := Now()
	for range 10_000 {
		n := Now()
		if n < prev {
			t.Fatalf("Now went backwards: %d after %d", n, prev)
		}
		prev = n
	}
}

// Now reads the same clock as time.Since: an interval timed by both agrees
// within the time the readings themselves took.
func TestNowMatchesTimeSince(t *testing.T) {
	a0, b0 := Now(), time.Now()
	time.Sleep(time.Millisecond)
	since := time.Since(b0)
	a := Now() - a0
	if a < int64(since) {
		t.Fatalf("Now interval %d ns is shorter than the time.Since interval it encloses, %d ns", a, since)
	}
}

func TestCalibrateOverhead(t *testing.T) {
	s := CalibrateOverhead(20_000)
	if s.Count != 20_000 {
		t.Fatalf("Count = %d, want 20000", s.Count)
	}
	if !(s.Mean > 0) || s.P50 > s.Max || s.Min > s.P50 {
		t.Fatalf("implausible overhead summary %v", s)
	}
	t.Logf("empty timed region (Now, Now): %v", s)
	if d := CalibrateOverhead(0); d.Count != DefaultCalibrationSamples {
		t.Fatalf("CalibrateOverhead(0).Count = %d, want %d", d.Count, DefaultCalibrationSamples)
	}
}

var sink int64

func TestLoopMean(t *testing.T) {
	calls := 0
	m := LoopMean(1000, func() {
		calls++
		sink += int64(math.Sqrt(float64(calls)))
	})
	if calls != 1000 {
		t.Fatalf("fn called %d times, want 1000", calls)
	}
	if !(m > 0) {
		t.Fatalf("LoopMean = %v, want > 0", m)
	}
	for _, n := range []int{0, -5} {
		called := false
		if got := LoopMean(n, func() { called = true }); got != 0 || called {
			t.Fatalf("LoopMean(%d) = %v, called %v; want 0, false", n, got, called)
		}
	}
}

func TestWaitUntil(t *testing.T) {
	WaitUntil(Now() - int64(time.Second)) // past: returns at once
	for _, d := range []time.Duration{0, 2 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond} {
		target := Now() + int64(d)
		WaitUntil(target)
		if now := Now(); now < target {
			t.Fatalf("WaitUntil(+%v) returned %d ns early", d, target-now)
		}
	}
}

// TestClockCandidates logs the cost of an empty timed region for each clock
// considered for Now (run with -v); it asserts nothing about the figures.
func TestClockCandidates(t *testing.T) {
	const n = 1_000_000
	epoch := time.Now()
	region := func(name string, read func(h *Histogram)) {
		h := NewHistogram()
		for range n {
			read(h)
		}
		s := h.Summary()
		if s.Count != n {
			t.Fatalf("%s: count %d", name, s.Count)
		}
		t.Logf("%-34s p50=%3d ns mean=%6.2f ns p99=%4d ns", name, s.P50, s.Mean, s.P99)
	}
	for range 2 {
		region("runtime.nanotime (linkname, Now)", func(h *Histogram) {
			t0 := Now()
			t1 := Now()
			h.Record(t1 - t0)
		})
		region("time.Since(epoch)", func(h *Histogram) {
			t0 := time.Since(epoch)
			t1 := time.Since(epoch)
			h.Record(int64(t1 - t0))
		})
		region("time.Now() + Sub", func(h *Histogram) {
			t0 := time.Now()
			t1 := time.Now()
			h.Record(int64(t1.Sub(t0)))
		})
	}
}

func BenchmarkNow(b *testing.B) {
	for b.Loop() {
		sink += Now()
	}
}

func BenchmarkTimeSince(b *testing.B) {
	epoch := time.Now()
	for b.Loop() {
		sink += int64(time.Since(epoch))
	}
}

func BenchmarkTimeNow(b *testing.B) {
	for b.Loop() {
		sink += time.Now().UnixNano()
	}
}

func BenchmarkRecord(b *testing.B) {
	h := NewHistogram()
	v := int64(0)
	for b.Loop() {
		v = (v + 7919) & 0xfffff
		h.Record(v)
	}
}

func BenchmarkTimedEmptyRegion(b *testing.B) {
	h := NewHistogram()
	for b.Loop() {
		t0 := Now()
		h.Record(Now() - t0)
	}
}
