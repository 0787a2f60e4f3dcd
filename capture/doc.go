// Package capture records every LLM call made through an HTTP client, from
// the wire formats of the APIs, without touching the stream the caller
// reads.
//
// One line plugs it into the official SDKs (whose option.Middleware is the
// type Middleware returns) or into any http.Client:
//
//	t, _ := tracker.New("usage.json")
//	client := openai.NewClient(option.WithMiddleware(capture.Middleware(t)))    // openai-go v3
//	claude := anthropic.NewClient(option.WithMiddleware(capture.Middleware(t))) // anthropic-sdk-go v2
//	hc := &http.Client{Transport: capture.Transport(t, http.DefaultTransport)}  // genai, raw HTTP
//
// The package depends on no SDK: it reads the bytes.
//
// # What it reads
//
// By the request's path (POST only) and the response's Content-Type:
//
//   - OpenAI Chat Completions, .../chat/completions (and every server
//     compatible with it): the "usage" of the response, or of the stream's
//     last chunk (empty "choices"), sent only when the request set
//     stream_options.include_usage (see WithIncludeUsage). Operation
//     OpChat.
//   - OpenAI Responses, .../responses: the response's "usage", or that of
//     the stream's response.completed (or .incomplete, .failed) event.
//     Operation OpResponses.
//   - Anthropic Messages, .../messages: the message's "usage", or in a
//     stream message_start's usage under the last message_delta's, whose
//     counts are cumulative (the last one is taken, never a sum).
//     Operation OpMessages.
//   - Gemini, .../models/{model}:generateContent and
//     :streamGenerateContent, as server-sent events (alt=sse) or as a
//     streamed JSON array: the last "usageMetadata". Operation
//     OpGenerateContent.
//
// Counts are normalised to tracker.Record's definitions: InputTokens is
// every prompt token, with cache reads and writes (Anthropic reports its
// input_tokens without them: they are added; Gemini's
// toolUsePromptTokenCount is added too), OutputTokens every generated token
// with reasoning (Gemini's thoughtsTokenCount, outside its
// candidatesTokenCount, is added). CacheReadTokens, CacheWriteTokens and
// ReasoningTokens are set from the details each API gives. The model is the
// one the response names, else the request's. Provider is "openai",
// "anthropic" or "google" for those APIs' hosts (WithProvider for others;
// empty lets the tracker guess from the model). CostUSD is left 0: the
// tracker prices the record. LatencyMS runs from the request to the end of
// the body (EOF, or the last usage event if the body is closed first),
// TimeToFirstTokenMS to the first event carrying output (0 for a call not
// streamed). WithTags puts a context's tags in Metadata.
//
// # When a call is recorded
//
// Once per successful call (2xx), when its body reaches EOF, or when it is
// closed or fails after the final usage arrived. A failed attempt (a
// transport error, HTTP ≥ 400) passes through untouched and is counted in
// Stats.Failed, so an SDK retry (a 500, then a 200) records one call. A
// successful call whose usage never arrives (a stream cut or canceled, a
// chat stream without include_usage) is counted by Reason, never
// invented; so is a body the client asked to be compressed itself
// (Content-Encoding: capture does not decompress; with Go's transport
// asking for gzip on its own, bodies arrive decoded and are read). Read the
// counts with WithCounters, and the reasons with WithErrorHandler.
//
// # The stream does not notice
//
// The body the caller reads is the server's, byte for byte: each Read
// returns what the wrapped body returned, at once, and capture scans those
// bytes afterwards, never reading ahead. Event boundaries are found by a
// byte scan (events split across reads are gathered, "\r\n" line ends
// handled); a few byte probes rule out the events that carry no usage, and
// only the usage events are kept and decoded as JSON, at the end. Read
// takes no lock and does not allocate once the stream runs.
package capture
