package capture

import (
	"net/http"
	"strings"
	"time"

	"github.com/usagering/usagering/tracker"
)

// Recorder receives the records. *tracker.Tracker and *tracker.SyncTracker
// satisfy it. Record is called once per recorded call, on the goroutine
// that read the body's end or closed it; it should not block for long.
type Recorder interface {
	Record(tracker.Record) error
}

// capturer is one middleware's configuration; it is shared, read-only, by
// every call through it.
type capturer struct {
	rec Recorder
	config
}

func newCapturer(rec Recorder, opts []Option) *capturer {
	c := &capturer{rec: rec, config: config{maxEvent: DefaultMaxEventSize}}
	for _, o := range opts {
		o(&c.config)
	}
	if c.counters == nil {
		c.counters = new(Counters)
	}
	return c
}

// Middleware returns a middleware that records every LLM call made through
// it with rec: one tracker.Record per successful call, when the response
// body reaches its end (or is closed after the final usage arrived). Its
// type is what openai-go v3's and anthropic-sdk-go v2's option.Middleware
// alias, so the same value plugs into either:
//
//	client := openai.NewClient(option.WithMiddleware(capture.Middleware(t)))
//	claude := anthropic.NewClient(option.WithMiddleware(capture.Middleware(t)))
//
// It reads the wire formats of OpenAI Chat Completions (and the servers
// compatible with it), OpenAI Responses, Anthropic Messages and Gemini
// generateContent, streamed or not; other requests pass through, counted
// in Stats.Ignored. The body the caller reads is the one the server sent,
// byte for byte, each read handed back as it arrives. The middleware is
// safe for concurrent use, and the bodies it wraps may be closed while
// another goroutine reads them, as far as the wrapped bodies allow it.
func Middleware(rec Recorder, opts ...Option) func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return newCapturer(rec, opts).do
}

// Transport returns an http.RoundTripper that records, as Middleware does,
// the calls made through base (http.DefaultTransport if nil): for any
// http.Client, such as the one of Google's genai SDK or raw HTTP.
//
//	hc := &http.Client{Transport: capture.Transport(t, http.DefaultTransport)}
func Transport(rec Recorder, base http.RoundTripper, opts ...Option) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{c: newCapturer(rec, opts), base: base}
}

type transport struct {
	c    *capturer
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.c.do(req, t.base.RoundTrip)
}

// do runs one attempt of a call: next sends req.
func (c *capturer) do(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	ep := classify(req)
	if ep.format == fmtNone {
		resp, err := next(req)
		if err != nil || resp.StatusCode >= 400 {
			c.counters.failed.Add(1)
		} else {
			c.counters.ignored.Add(1)
		}
		return resp, err
	}
	start := time.Now()
	if c.includeUsage && ep.format == fmtChat {
		req = withIncludeUsage(req)
	}
	resp, err := next(req)
	switch {
	case err != nil || resp.StatusCode >= 400:
		c.counters.failed.Add(1)
		if c.otel != nil {
			status := 0
			if err == nil {
				status = resp.StatusCode
			}
			provider := ep.provider
			if c.provider != "" {
				provider = c.provider
			}
			model := ep.model
			if model == "" {
				model = modelOfRequest(req, c.maxEvent)
			}
			c.otel.failed(operations[ep.format], provider, model, status, time.Since(start))
		}
		return resp, err
	case resp.StatusCode < 200 || resp.StatusCode >= 300 || resp.Body == nil || resp.Body == http.NoBody:
		c.counters.ignored.Add(1)
		return resp, err
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// The client asked for compression itself, so the transport did
		// not decode the body: its bytes are not JSON. Decoding a copy
		// would need a decompressor fed as bytes arrive; not done.
		c.uncaptured(ReasonEncoded, ep, nil)
		return resp, nil
	}
	if c.provider != "" {
		ep.provider = c.provider
	}
	resp.Body = newBody(c, ep, req, resp, start)
	return resp, nil
}

// uncaptured counts a successful call not recorded and reports it to the
// error handler, with cause if any.
func (c *capturer) uncaptured(r Reason, ep endpoint, cause error) {
	c.counters.uncaptured[r].Add(1)
	if c.onError != nil {
		c.onError(newUncapturedError(r, ep, cause))
	}
}
