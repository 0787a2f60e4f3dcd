package main

import (
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/harness"
)

// stallFS is the real file system with one disk stall on demand: once a
// stall is armed, the next Sync of a file it opened (a temp file or the
// directory) blocks for the stall's duration, then syncs for real, and
// says when it started blocking and when it returned. Every other Sync, and
// every other operation, is atomicfile.OSFS's.
type stallFS struct {
	atomicfile.FS
	armed atomic.Pointer[stall] // taken by the first Sync after arm
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

func newStallFS() *stallFS { return &stallFS{FS: atomicfile.OSFS} }

// arm makes the next Sync stall as st says.
func (s *stallFS) arm(st *stall) { s.armed.Store(st) }

// disarm takes st back if no Sync has taken it yet, and reports whether it
// did.
func (s *stallFS) disarm(st *stall) bool { return s.armed.CompareAndSwap(st, nil) }

func (s *stallFS) CreateTemp(dir, pattern string) (atomicfile.File, error) {
	f, err := s.FS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &stallFile{File: f, fs: s}, nil
}

func (s *stallFS) Open(name string) (atomicfile.File, error) {
	f, err := s.FS.Open(name)
	if err != nil {
		return nil, err
	}
	return &stallFile{File: f, fs: s}, nil
}

type stallFile struct {
	atomicfile.File
	fs *stallFS
}

// Sync stalls if a stall is armed (the stall is the wait, not a stand-in
// for synchronization), then syncs.
func (f *stallFile) Sync() error {
	st := f.fs.armed.Swap(nil)
	if st == nil {
		return f.File.Sync()
	}
	st.begin.Store(harness.Now())
	close(st.started)
	time.Sleep(st.d)
	err := f.File.Sync()
	st.end.Store(harness.Now())
	close(st.done)
	return err
}
