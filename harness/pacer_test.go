package harness

import (
	"math"
	"testing"
	"time"
)

func TestPacerIntendedStarts(t *testing.T) {
	start := Now() - int64(time.Millisecond) // in the past: no waiting
	p := NewPacer(1e6, start)
	if p.Interval() != 1000 {
		t.Fatalf("Interval = %d, want 1000", p.Interval())
	}
	for i := range int64(100) {
		got := p.Next()
		if want := start + i*1000; got != want {
			t.Fatalf("op %d: intended %d, want %d", i, got-start, want-start)
		}
		if now := Now(); now < got {
			t.Fatalf("op %d: Next returned %d ns before the intended start", i, got-now)
		}
	}
	if p.Count() != 100 {
		t.Fatalf("Count = %d, want 100", p.Count())
	}
}

func TestPacerNoDrift(t *testing.T) {
	p := NewPacer(3, 1000)
	if p.Interval() != 333_333_333 {
		t.Fatalf("Interval = %d", p.Interval())
	}
	for i, want := range map[int64]int64{0: 1000, 1: 1000 + 333_333_333, 3: 1000 + 1e9, 3_000_000: 1000 + 1e15} {
		if got := p.Intended(i); got != want {
			t.Errorf("Intended(%d) = %d, want %d", i, got, want)
		}
	}
	if got := NewPacer(1e12, 0).Interval(); got != 1 {
		t.Errorf("Interval at 1e12 ops/s = %d, want 1 (at least 1 ns)", got)
	}
	if got := NewPacer(1e12, 0).Intended(5000); got != 5 {
		t.Errorf("Intended(5000) at 1e12 ops/s = %d, want 5", got)
	}
}

func TestPacerWaits(t *testing.T) {
	start := Now() + int64(3*time.Millisecond) // far enough to sleep first
	p := NewPacer(2000, start)
	for i := range int64(3) {
		got := p.Next()
		if want := start + i*500_000; got != want {
			t.Fatalf("op %d: intended %d, want %d", i, got, want)
		}
		if now := Now(); now < got {
			t.Fatalf("op %d: Next returned %d ns early", i, got-now)
		}
	}
}

func TestNewPacerBadRatePanics(t *testing.T) {
	for _, r := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewPacer(%v) did not panic", r)
				}
			}()
			NewPacer(r, 0)
		}()
	}
}
