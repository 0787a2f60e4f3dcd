package tracker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind: a flusher
// never closed, a persister still writing, a lock waiter. It covers the
// child processes that some tests re-exec as well.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
