package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/tracker"
)

// mode is how a response body frames its JSON.
type mode uint8

const (
	modeSSE   mode = iota // text/event-stream: events end with a blank line
	modeArray             // a JSON array sent element by element (Gemini's stream without alt=sse)
	modeDoc               // one JSON document, gathered whole and read at its end
)

// endCause is how the reading of a body ended.
type endCause uint8

const (
	endEOF      endCause = iota // the body's end, cleanly
	endClosed                   // Close before the end
	endCanceled                 // a read failed because the request's context ended
	endCut                      // a read failed otherwise
)

// body wraps a response body. Read hands back exactly what the wrapped
// body returned, then scans those bytes (never reading ahead); the call is
// recorded, or counted as uncaptured, once: at the end of the body, at a
// read error, or at Close, whichever comes first.
//
// Read takes no lock: the scanning state belongs to the goroutine that
// reads (io.Reader's contract: one Read at a time). Close may run on
// another goroutine, at any time: it reads only snap, an immutable copy of
// the scanning state that Read publishes after each event that may end
// the call (rare: about one per call). done makes the end happen once.
type body struct {
	rc    io.ReadCloser
	c     *capturer
	ep    endpoint
	req   *http.Request     // for the model when the response names none
	tags  map[string]string // read-only
	start time.Time
	mode  mode

	done atomic.Bool                // the call was recorded or counted
	snap atomic.Pointer[usageState] // the last published copy of live; nil before any

	// Owned by the reading goroutine.
	live usageState
	sse  sseScanner
	arr  arrayScanner
	doc  gather

	// Owned by whoever won done.
	scratch, scratchFirst []byte
}

// usageState is what a body has seen of the call's usage.
type usageState struct {
	// The usage events kept, raw. first: Anthropic's message_start; last:
	// the latest usage event (the only one of the other formats' streams,
	// or Gemini's every chunk).
	first, last []byte
	nUsage      int       // usage events seen
	usageAt     time.Time // when the last published event was scanned
	ttft        time.Duration
	ttftSet     bool
	overflowed  bool // an event was longer than the limit
	ended       bool // the format's end marker was seen
}

func newBody(c *capturer, ep endpoint, req *http.Request, resp *http.Response, start time.Time) *body {
	b := &body{rc: resp.Body, c: c, ep: ep, req: req, tags: tagsFrom(req.Context()), start: start}
	ct := resp.Header.Get("Content-Type")
	switch {
	case len(ct) >= len("text/event-stream") && strings.EqualFold(ct[:len("text/event-stream")], "text/event-stream"):
		b.mode = modeSSE
	case ep.format == fmtGemini && ep.stream:
		b.mode = modeArray
	default:
		b.mode = modeDoc
	}
	b.sse.max, b.arr.max, b.doc.max = c.maxEvent, c.maxEvent, c.maxEvent
	return b
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.done.Load() {
		return n, err
	}
	if n > 0 {
		b.scan(p[:n])
	}
	if err != nil && b.done.CompareAndSwap(false, true) {
		b.end(b.causeOf(err), err, &b.live)
	}
	return n, err
}

func (b *body) Close() error {
	if b.done.CompareAndSwap(false, true) {
		st := b.snap.Load()
		if st == nil {
			st = &usageState{}
		}
		b.end(endClosed, nil, st)
	}
	return b.rc.Close()
}

func (b *body) causeOf(err error) endCause {
	switch {
	case err == io.EOF:
		return endEOF
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || b.req.Context().Err() != nil:
		return endCanceled
	}
	return endCut
}

// scan reads one chunk, as returned by the wrapped body.
func (b *body) scan(p []byte) {
	switch b.mode {
	case modeSSE:
		b.sse.feed(p, b)
	case modeArray:
		b.arr.feed(p, b)
	case modeDoc:
		b.doc.keep(p)
	}
}

// event implements eventSink: it notes the first content event's time and
// the end marker, and keeps the usage events.
func (b *body) event(ev []byte) {
	st := &b.live
	if !st.ttftSet && isContent(b.ep.format, ev) {
		st.ttft, st.ttftSet = time.Since(b.start), true
	}
	mayUsage, end := look(b.ep.format, ev)
	if end {
		st.ended = true
	}
	key := keyUsage
	if b.ep.format == fmtGemini {
		key = keyUsageMetadata
	}
	if !mayUsage || !hasObject(ev, key) {
		if end {
			b.publish()
		}
		return
	}
	if len(ev) > b.c.maxEvent { // an event within one (huge) read
		b.overflow()
		return
	}
	if b.ep.format == fmtMessages && st.nUsage == 0 {
		st.first = append(st.first[:0], ev...)
	} else {
		st.last = append(st.last[:0], ev...)
	}
	st.nUsage++
	// Publish for Close what may end the call: every usage event but
	// Gemini's, which come with every chunk; of those, the one that
	// finishes a candidate.
	if b.ep.format != fmtGemini {
		b.publish()
	} else if findValue(ev, keyFinishReason, isString) >= 0 {
		st.ended = true
		b.publish()
	}
}

// publish stores a copy of the live state for Close, stamped with the
// time: the end of a call that Close ends (one that ends at EOF ends
// then).
func (b *body) publish() {
	st := &b.live
	st.usageAt = time.Now()
	b.snap.Store(&usageState{
		first: bytes.Clone(st.first), last: bytes.Clone(st.last), nUsage: st.nUsage,
		usageAt: st.usageAt, ttft: st.ttft, ttftSet: st.ttftSet, ended: st.ended,
	})
}

func (b *body) overflow() { b.live.overflowed = true }

// end records the call or counts it as uncaptured, from st. err is the
// read error that ended it, if any. Only the winner of done calls it.
func (b *body) end(cause endCause, err error, st *usageState) {
	endAt := st.usageAt
	if cause == endEOF {
		endAt = time.Now()
	}
	u, complete, derr := b.decode(cause, st)
	switch {
	case derr != nil:
		b.c.uncaptured(ReasonMalformed, b.ep, derr)
		return
	case !complete:
		r := [...]Reason{endEOF: ReasonNoUsage, endClosed: ReasonCanceled, endCanceled: ReasonCanceled, endCut: ReasonCut}[cause]
		if st.ended {
			r = ReasonNoUsage // the stream said it was over
		}
		if st.overflowed || (cause == endEOF && b.doc.over) {
			r, err = ReasonTooLarge, fmt.Errorf("an event over %d bytes", b.c.maxEvent)
		}
		b.c.uncaptured(r, b.ep, err)
		return
	}
	if u.model == "" {
		u.model = b.ep.model // Gemini's path
	}
	if u.model == "" {
		u.model = b.requestModel()
	}
	if u.model == "" {
		b.c.uncaptured(ReasonMalformed, b.ep, errors.New("no model in the response nor the request"))
		return
	}
	if err := u.check(); err != nil {
		b.c.uncaptured(ReasonMalformed, b.ep, err)
		return
	}
	r := tracker.Record{
		// The call's end, which we read anyway: the tracker then reads no
		// clock of its own.
		Timestamp:        endAt,
		Model:            u.model,
		Provider:         b.ep.provider,
		InputTokens:      u.in,
		OutputTokens:     u.out,
		CacheReadTokens:  u.cacheRead,
		CacheWriteTokens: u.cacheWrite,
		ReasoningTokens:  u.reasoning,
		LatencyMS:        ms(endAt.Sub(b.start)),
		Operation:        operations[b.ep.format],
		Metadata:         b.tags,
	}
	if st.ttftSet {
		r.TimeToFirstTokenMS = ms(st.ttft)
	}
	if err := b.c.rec.Record(r); err != nil {
		b.c.uncaptured(ReasonRejected, b.ep, err)
		return
	}
	b.c.counters.captured.Add(1)
	if o := b.c.otel; o != nil {
		o.recorded(r.Operation, r.Provider, b.requestModel(), r.Model, r.InputTokens, r.OutputTokens, endAt.Sub(b.start))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// decode reads the final usage from what was kept. complete is false if
// the call's final usage did not arrive.
func (b *body) decode(cause endCause, st *usageState) (u usage, complete bool, err error) {
	if b.mode == modeDoc {
		// b.doc is the reader's: read only at EOF, by the reader.
		if cause != endEOF || b.doc.over {
			return u, false, nil
		}
		data := b.doc.carry
		switch b.ep.format {
		case fmtChat:
			return decodeChat(data)
		case fmtResponses:
			return decodeResponses(data, false)
		case fmtMessages:
			return decodeMessage(data)
		case fmtGemini:
			u, ok, _, err := decodeGemini(data)
			return u, ok, err
		}
		return u, false, nil
	}
	if st.nUsage == 0 {
		return u, false, nil
	}
	switch b.ep.format {
	case fmtChat:
		return decodeChat(b.payload(st.last, &b.scratch))
	case fmtResponses:
		return decodeResponses(b.payload(st.last, &b.scratch), true)
	case fmtMessages:
		var delta []byte
		if st.nUsage > 1 {
			delta = b.payload(st.last, &b.scratch)
		}
		return decodeMessageStream(b.payload(st.first, &b.scratchFirst), delta)
	case fmtGemini:
		u, ok, finished, err := decodeGemini(b.payload(st.last, &b.scratch))
		return u, ok && (finished || cause == endEOF), err
	}
	return u, false, nil
}

// payload returns the JSON of a kept event: the data of an SSE event, or
// the element itself.
func (b *body) payload(ev []byte, scratch *[]byte) []byte {
	if b.mode == modeSSE {
		return sseData(ev, scratch)
	}
	return ev
}

// requestModel reads the model of the request's JSON body, if the request
// can give its body again.
func (b *body) requestModel() string { return modelOfRequest(b.req, b.c.maxEvent) }

// modelOfRequest reads the model a request names in its JSON body, through
// GetBody (the body itself was sent); "" if it cannot.
func modelOfRequest(req *http.Request, max int) string {
	if req.GetBody == nil {
		return ""
	}
	rc, err := req.GetBody()
	if err != nil {
		return ""
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, int64(max)))
	if err != nil {
		return ""
	}
	return requestModel(data)
}
