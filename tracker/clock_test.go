package tracker

import (
	"testing"
	"time"
)

// TestStampClock: stamps follow the wall clock (compared without the
// monotonic reading) and never go backwards, across resyncs.
func TestStampClock(t *testing.T) {
	c := newStampClock()
	prev := c.now()
	for i := range 10_000 {
		if i%1000 == 0 {
			c.resync()
		}
		before := time.Now().Round(0)
		got := c.now()
		after := time.Now().Round(0)
		wall := got.Round(0)
		if wall.Before(before.Add(-time.Millisecond)) || wall.After(after.Add(time.Millisecond)) {
			t.Fatalf("stamp %v outside [%v, %v]", wall, before, after)
		}
		if got.Before(prev) {
			t.Fatalf("stamp went backwards: %v after %v", got, prev)
		}
		prev = got
	}
}
