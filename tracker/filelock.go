package tracker

import (
	"fmt"

	"github.com/gofrs/flock"
)

// fileLock is the cross-process advisory lock on <path>.lock that both
// trackers hold around reading and writing the usage file. flock(2) locks
// belong to the open file description, so two trackers in one process
// exclude each other as two processes do.
type fileLock struct{ f *flock.Flock }

func newFileLock(path string) fileLock { return fileLock{flock.New(path + ".lock")} }

// do runs fn holding the lock.
func (l fileLock) do(fn func() error) error {
	if err := l.f.Lock(); err != nil {
		return fmt.Errorf("tracker: lock %s: %w", l.f.Path(), err)
	}
	err := fn()
	if uerr := l.f.Unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("tracker: unlock %s: %w", l.f.Path(), uerr)
	}
	return err
}
