package tracker

import (
	"time"

	"go.uber.org/atomic"
)

// stampClock stamps records on the hot path. time.Now reads two clocks
// (wall and monotonic); this reads one: it adds the monotonic time elapsed
// since a base reading to that reading's wall time (time.Since on a time
// with a monotonic reading is a single clock read); docs/benchmarks.md has
// the two costs side by side.
//
// NTP slews both clocks alike, so the two only part when the wall clock is
// stepped; the flusher calls resync at every persist, which bounds that to
// one flush interval of records while the tracker is busy.
type stampClock struct {
	base atomic.Pointer[time.Time] // a time.Now() reading, with its monotonic part
}

func newStampClock() *stampClock {
	c := &stampClock{}
	c.resync()
	return c
}

func (c *stampClock) now() time.Time {
	b := c.base.Load()
	return b.Add(time.Since(*b))
}

func (c *stampClock) resync() {
	t := time.Now()
	c.base.Store(&t)
}
