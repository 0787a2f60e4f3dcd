package capture

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// Reason says why a successful call (HTTP 2xx on an endpoint capture
// reads) was not recorded.
type Reason uint8

const (
	// ReasonNoUsage: the stream ended cleanly without the final usage (at
	// EOF, or at its own end marker: Chat Completions' [DONE], Anthropic's
	// message_stop, a terminal Responses event), as a Chat Completions
	// stream does without stream_options.include_usage.
	ReasonNoUsage Reason = iota
	// ReasonCut: reading the body failed (connection reset, unexpected EOF)
	// before the final usage arrived.
	ReasonCut
	// ReasonCanceled: the request's context ended, or the body was closed
	// before its end (and its end marker), before the final usage arrived.
	ReasonCanceled
	// ReasonEncoded: the body is compressed (a Content-Encoding the client
	// asked for itself); capture does not decode it and passes it through.
	ReasonEncoded
	// ReasonTooLarge: an event (or a whole non-streamed body) that capture
	// had to gather was longer than WithMaxEventSize, and no usage was
	// found elsewhere.
	ReasonTooLarge
	// ReasonMalformed: the usage arrived but could not be read: invalid
	// JSON, counts that contradict each other (cache reads above the
	// prompt), or no model in the response nor the request.
	ReasonMalformed
	// ReasonRejected: the Recorder returned an error (a closed tracker, a
	// full ring under the Drop policy).
	ReasonRejected

	// NumReasons is the number of reasons: Stats.Uncaptured's length.
	NumReasons = int(ReasonRejected) + 1
)

var reasonNames = [NumReasons]string{"no_usage", "cut", "canceled", "encoded", "too_large", "malformed", "rejected"}

// String returns the reason's snake_case name, as in "no_usage".
func (r Reason) String() string {
	if int(r) < NumReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Errors passed to the handler of WithErrorHandler wrap the sentinel of
// their reason, for errors.Is.
var (
	ErrNoUsage   = errors.New("capture: no usage")
	ErrCut       = errors.New("capture: body cut before the usage")
	ErrCanceled  = errors.New("capture: canceled before the usage")
	ErrEncoded   = errors.New("capture: compressed body")
	ErrTooLarge  = errors.New("capture: event too large")
	ErrMalformed = errors.New("capture: malformed usage")
	ErrRejected  = errors.New("capture: record rejected")
)

var reasonErrs = [NumReasons]error{ErrNoUsage, ErrCut, ErrCanceled, ErrEncoded, ErrTooLarge, ErrMalformed, ErrRejected}

// Err returns the sentinel error of r (nil for an unknown reason).
func (r Reason) Err() error {
	if int(r) < NumReasons {
		return reasonErrs[r]
	}
	return nil
}

// Counters counts what capture saw, per HTTP attempt (an SDK retry is a
// new attempt). Pass one to WithCounters to read it; one Counters may be
// shared by several middlewares and transports. The zero value is ready.
// Counting is a few atomic adds per call and never allocates.
type Counters struct {
	captured   atomic.Int64
	failed     atomic.Int64
	ignored    atomic.Int64
	uncaptured [NumReasons]atomic.Int64
}

// Stats is a snapshot of Counters.
type Stats struct {
	// Captured counts calls recorded: one Record each.
	Captured int64
	// Failed counts attempts that got no response (a transport error) or an
	// HTTP status ≥ 400; their bodies are passed through untouched.
	Failed int64
	// Ignored counts attempts on endpoints capture does not read (model
	// lists, embeddings, files, ...) and 1xx/3xx statuses.
	Ignored int64
	// Uncaptured counts successful calls that were not recorded, by
	// Reason.
	Uncaptured [NumReasons]int64
}

// UncapturedTotal is the sum of s.Uncaptured.
func (s Stats) UncapturedTotal() int64 {
	var n int64
	for _, v := range s.Uncaptured {
		n += v
	}
	return n
}

// Stats returns the counts so far. Each count is read atomically; counts
// of calls ending meanwhile may or may not be included.
func (c *Counters) Stats() Stats {
	s := Stats{Captured: c.captured.Load(), Failed: c.failed.Load(), Ignored: c.ignored.Load()}
	for i := range s.Uncaptured {
		s.Uncaptured[i] = c.uncaptured[i].Load()
	}
	return s
}
