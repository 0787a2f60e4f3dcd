package main

import (
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/internal/faultfs"
)

// stallFS is the real file system with one disk stall on demand: once a
// stall is armed, the next fsync (of a temp file or the directory) blocks
// for the stall's duration, then syncs for real, and says when it started
// and stopped blocking. Every other operation is the real file system's.
type stallFS struct {
	*faultfs.FS
	armed atomic.Pointer[stall] // taken by the first fsync after arm
}

// stall is one injected stall and what it reports: begin and end are
// harness.Now() readings, stored before started and done are closed (0
// until then), so producers can classify their calls by loading them and
// the coordinator can wait on the channels.
type stall struct {
	d             time.Duration
	begin, end    atomic.Int64
	started, done chan struct{}
}

func newStall(d time.Duration) *stall {
	return &stall{d: d, started: make(chan struct{}), done: make(chan struct{})}
}

func newStallFS() *stallFS {
	s := &stallFS{FS: faultfs.New(nil)}
	s.Set(faultfs.InjectorFunc(s.inject))
	return s
}

// arm makes the next fsync stall as st says.
func (s *stallFS) arm(st *stall) { s.armed.Store(st) }

// disarm takes st back if no fsync has taken it yet, and reports whether
// it did.
func (s *stallFS) disarm(st *stall) bool { return s.armed.CompareAndSwap(st, nil) }

// inject stalls the first fsync after arm (the stall is the wait, not a
// stand-in for synchronization); the fsync itself runs after it.
func (s *stallFS) inject(ev faultfs.Event) error {
	if ev.Op != faultfs.OpSync {
		return nil
	}
	st := s.armed.Swap(nil)
	if st == nil {
		return nil
	}
	st.begin.Store(harness.Now())
	close(st.started)
	time.Sleep(st.d)
	st.end.Store(harness.Now())
	close(st.done)
	time.Sleep(stallSlowDisk)
	return nil
}

// stallSlowDisk is how long the stalled fsync's real sync takes beyond the
// stall: 0 but in tests, which set it to stand for a disk so busy that a
// producer blocked behind the stall returns long after it ends.
var stallSlowDisk time.Duration
