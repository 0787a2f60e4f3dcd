package harness

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a queue
// consumer or a pacer that was never stopped).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
