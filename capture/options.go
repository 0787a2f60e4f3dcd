package capture

import "fmt"

// DefaultMaxEventSize is the default of WithMaxEventSize: 32 MiB.
const DefaultMaxEventSize = 32 << 20

// config is what the options set.
type config struct {
	counters     *Counters
	includeUsage bool
	maxEvent     int
	onError      func(error)
	provider     string
	otel         *otelMetrics // nil: no OpenTelemetry metrics
}

// Option configures Middleware and Transport.
type Option func(*config)

// WithCounters counts every attempt in c (see Counters). Without it the
// counts are kept where nobody reads them.
func WithCounters(c *Counters) Option {
	return func(cfg *config) { cfg.counters = c }
}

// WithIncludeUsage makes capture add "stream_options": {"include_usage":
// true} to every streamed Chat Completions request that does not ask for
// usage already, so that the stream ends with a usage chunk capture can
// record. Off by default because it changes what the caller receives: the
// extra last chunk has an empty "choices" array, and a client that reads
// choices[0] of every chunk (many hand-written ones do) breaks on it. The
// official SDKs handle it. Without the option, such streams are counted as
// ReasonNoUsage.
//
// The request body is read (through GetBody when the request has one),
// decoded and re-encoded, and the request is cloned: the caller's is not
// changed. A body that is not a JSON object with "stream": true is sent as
// it is.
func WithIncludeUsage() Option {
	return func(cfg *config) { cfg.includeUsage = true }
}

// WithMaxEventSize bounds what capture gathers for one call: an event split
// across reads (the Responses API's response.completed event repeats the
// whole output), a non-streamed body, or a kept usage event. A call that
// needs more is counted as ReasonTooLarge; its body still passes through
// untouched. The default is DefaultMaxEventSize; WithMaxEventSize panics
// if n is not positive.
func WithMaxEventSize(n int) Option {
	return func(cfg *config) {
		if n <= 0 {
			panic(fmt.Sprintf("capture: WithMaxEventSize(%d): need a positive size", n))
		}
		cfg.maxEvent = n
	}
}

// WithErrorHandler calls f for every successful call that could not be
// recorded, with an error wrapping the sentinel of its Reason (ErrNoUsage,
// ErrCut, ...) and, where there is one, the cause. f runs on the goroutine
// that read the body's end or closed it, before that Read or Close
// returns: it must not block for long, nor touch the body.
func WithErrorHandler(f func(error)) Option {
	return func(cfg *config) { cfg.onError = f }
}

// WithProvider sets the Provider of every record, for an API host capture
// does not know (an OpenAI-compatible server, a proxy). By default the
// provider is "openai", "anthropic" or "google" for their API hosts, and
// empty for any other, which lets the tracker guess it from the model.
func WithProvider(name string) Option {
	return func(cfg *config) { cfg.provider = name }
}
