package capture_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

// One content event of each streamed format, as the APIs send them.
var benchChunks = []struct{ name, path, ct, chunk string }{
	{"chat", "/v1/chat/completions", "text/event-stream",
		`data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_06737a9306","choices":[{"index":0,"delta":{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"},
	{"responses", "/v1/responses", "text/event-stream",
		"event: response.output_text.delta\n" + `data: {"type":"response.output_text.delta","sequence_number":12,"item_id":"msg_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":" token","logprobs":[]}` + "\n\n"},
	{"messages", "/v1/messages", "text/event-stream",
		"event: content_block_delta\n" + `data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" token"}}` + "\n\n"},
	{"gemini-sse", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "text/event-stream",
		`data: {"candidates": [{"content": {"parts": [{"text": " token"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 12,"totalTokenCount": 21},"modelVersion": "gemini-2.5-flash","responseId": "gJ3VaOb0N9mBz7IPnpjUgQ4"}` + "\r\n\r\n"},
	{"gemini-array", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "application/json",
		`{"candidates": [{"content": {"parts": [{"text": " token"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 12,"totalTokenCount": 21},"modelVersion": "gemini-2.5-flash","responseId": "gJ3VaOb0N9mBz7IPnpjUgQ4"}` + "\r\n,"},
}

// loopBody returns chunk forever, one per Read; with split, each chunk in
// two reads (an event split across reads).
type loopBody struct {
	chunk []byte
	split bool
	half  bool
}

func (l *loopBody) Read(p []byte) (int, error) {
	c := l.chunk
	if l.split {
		if l.half {
			c = c[len(c)/2:]
		} else {
			c = c[:len(c)/2]
		}
		l.half = !l.half
	}
	return copy(p, c), nil
}

func (l *loopBody) Close() error { return nil }

type nopRecorder struct{}

func (nopRecorder) Record(tracker.Record) error { return nil }

// BenchmarkChunk is the cost of one streamed chunk read by the client: the
// bare body, and the same body through capture (Transport) in steady state
// (the stream's first content event is behind it). ns/op is per chunk.
//
//	go test -run '^$' -bench 'Chunk' -benchmem -count 10 ./capture/ | tee /tmp/chunk.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /body /tmp/chunk.txt
func BenchmarkChunk(b *testing.B) {
	for _, f := range benchChunks {
		for _, split := range []bool{false, true} {
			name := f.name
			if split {
				name += "-split"
			}
			for _, wrap := range []bool{false, true} {
				body := "bare"
				if wrap {
					body = "capture"
				}
				b.Run("format="+name+"/body="+body, func(b *testing.B) {
					src := &loopBody{chunk: []byte(f.chunk), split: split}
					var rt http.RoundTripper = roundTripFunc(func(*http.Request) (*http.Response, error) {
						return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {f.ct}}, Body: src}, nil
					})
					if wrap {
						rt = capture.Transport(nopRecorder{}, rt)
					}
					req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://api.example"+f.path, strings.NewReader("{}"))
					if err != nil {
						b.Fatal(err)
					}
					resp, err := rt.RoundTrip(req)
					if err != nil {
						b.Fatal(err)
					}
					defer resp.Body.Close()
					buf := make([]byte, 4096)
					reads := 1
					if split {
						reads = 2
					}
					for range 4 * reads { // past the first content event
						if _, err := resp.Body.Read(buf); err != nil {
							b.Fatal(err)
						}
					}
					b.SetBytes(int64(len(f.chunk)))
					b.ReportAllocs()
					for b.Loop() {
						for range reads {
							if _, err := resp.Body.Read(buf); err != nil {
								b.Fatal(err)
							}
						}
					}
				})
			}
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// BenchmarkCall is one whole streamed chat call through capture: 100
// content chunks, the usage chunk, [DONE], the record. Its allocations are
// the per-call cost (the body wrapper, the usage decode, the record).
func BenchmarkCall(b *testing.B) {
	var sb strings.Builder
	for range 100 {
		sb.WriteString(benchChunks[0].chunk)
	}
	sb.WriteString(`data: {"id":"chatcmpl-x","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini-2024-07-18","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":100,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}` + "\n\n")
	sb.WriteString("data: [DONE]\n\n")
	stream := sb.String()
	var cnt capture.Counters
	rt := capture.Transport(nopRecorder{}, roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
			Body: io.NopCloser(&chunked{s: stream, n: len(benchChunks[0].chunk)})}, nil
	}), capture.WithCounters(&cnt))
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "https://api.openai.com/v1/chat/completions", strings.NewReader("{}"))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
	if s := cnt.Stats(); s.Captured == 0 || s.UncapturedTotal() != 0 {
		b.Fatalf("stats %+v: calls not recorded", s)
	}
}

// chunked reads s n bytes at a time.
type chunked struct {
	s string
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.s) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.s)
	c.s = c.s[k:]
	return k, nil
}
