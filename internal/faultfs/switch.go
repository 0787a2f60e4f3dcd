package faultfs

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/internal/vfs"
)

// Switch is an Injector of faults turned on and off while the FS is in
// use: an error per operation, for every path, or for the paths a filter
// accepts. It is safe for concurrent use.
type Switch struct {
	faults [numOps]atomic.Pointer[fault]
}

type fault struct {
	err   error
	match func(path string) bool // nil: every path
}

// Set makes op fail with err (nil: succeed) on every path.
func (s *Switch) Set(op Op, err error) { s.SetFor(op, nil, err) }

// SetFor makes op fail with err on the paths match accepts (nil: every
// path), replacing what was set for op before; a nil err clears it.
func (s *Switch) SetFor(op Op, match func(path string) bool, err error) {
	if err == nil {
		s.faults[op].Store(nil)
		return
	}
	s.faults[op].Store(&fault{err: err, match: match})
}

// Clear turns every fault off.
func (s *Switch) Clear() {
	for i := range s.faults {
		s.faults[i].Store(nil)
	}
}

// Inject implements Injector. A write that fails does so half way, as a
// disk filling up would (a ShortWrite of half its length).
func (s *Switch) Inject(ev Event) error {
	f := s.faults[ev.Op].Load()
	if f == nil || f.match != nil && !f.match(ev.Path) {
		return nil
	}
	if ev.Op == OpWrite {
		return &ShortWrite{N: ev.Len / 2, Err: f.err}
	}
	return f.err
}

// NewSwitch returns an FS over base (nil: the real one) with a Switch as
// its injector.
func NewSwitch(base vfs.FS) (*FS, *Switch) {
	fsys := New(base)
	sw := &Switch{}
	fsys.Set(sw)
	return fsys, sw
}

// Stall is an Injector that holds the first operation of its kind (an
// fsync, say) it sees once armed: the operation waits at least D, and
// until Release, then runs. Other operations pass. It is one-shot.
type Stall struct {
	op                     Op
	d                      time.Duration
	armed, stalling        atomic.Bool
	started, release, done chan struct{}
	startOnce, releaseOnce sync.Once
}

// NewStall returns an armed Stall of op for d.
func NewStall(op Op, d time.Duration) *Stall {
	s := &Stall{op: op, d: d, started: make(chan struct{}), release: make(chan struct{}), done: make(chan struct{})}
	s.armed.Store(true)
	return s
}

// Inject implements Injector.
func (s *Stall) Inject(ev Event) error {
	if ev.Op != s.op || !s.armed.CompareAndSwap(true, false) {
		return nil
	}
	s.stalling.Store(true)
	s.startOnce.Do(func() { close(s.started) })
	time.Sleep(s.d) // the stall itself, not a synchronization
	<-s.release
	s.stalling.Store(false)
	close(s.done)
	return nil
}

// Started is closed when the stalled operation starts waiting.
func (s *Stall) Started() <-chan struct{} { return s.started }

// Done is closed when the stalled operation was let go.
func (s *Stall) Done() <-chan struct{} { return s.done }

// Stalling reports whether the operation is waiting now.
func (s *Stall) Stalling() bool { return s.stalling.Load() }

// Release lets the stalled operation go once D has passed (now, if it has
// not started). It is idempotent.
func (s *Stall) Release() { s.releaseOnce.Do(func() { close(s.release) }) }
