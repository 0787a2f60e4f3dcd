package capture_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"go.uber.org/goleak"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// collector is a Recorder that keeps every record, in order.
type collector struct {
	mu   sync.Mutex
	recs []tracker.Record
	err  error // returned by Record when set (the record is not kept)
}

func (c *collector) Record(r tracker.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.recs = append(c.recs, r)
	return nil
}

func (c *collector) Records() []tracker.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]tracker.Record(nil), c.recs...)
}

// middleware is the type both SDKs' option.Middleware alias.
type middleware = func(*http.Request, func(*http.Request) (*http.Response, error)) (*http.Response, error)

func openaiClient(ts *httptest.Server, mw middleware, retries int) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(ts.URL+"/v1/"),
		option.WithAPIKey("sk-test"),
		option.WithHTTPClient(ts.Client()),
		option.WithMaxRetries(retries),
		option.WithMiddleware(mw),
	)
}

func anthropicClient(ts *httptest.Server, mw middleware, retries int) anthropic.Client {
	return anthropic.NewClient(
		aoption.WithBaseURL(ts.URL),
		aoption.WithAPIKey("sk-ant-test"),
		aoption.WithHTTPClient(ts.Client()),
		aoption.WithMaxRetries(retries),
		aoption.WithMiddleware(mw),
	)
}

// The calls of the tests, one per wire format: each sends one request and
// reads the answer to its end as an application would, and returns the
// text it received.
type call func(ctx context.Context, ts *httptest.Server, mw middleware) (string, error)

func chatStream(includeUsage bool) call {
	return func(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
		params := openai.ChatCompletionNewParams{
			Model:    "gpt-4o-mini",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		}
		if includeUsage {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		client := openaiClient(ts, mw, 2)
		stream := client.Chat.Completions.NewStreaming(ctx, params)
		defer stream.Close()
		var text strings.Builder
		for stream.Next() {
			if c := stream.Current(); len(c.Choices) > 0 {
				text.WriteString(c.Choices[0].Delta.Content)
			}
		}
		return text.String(), stream.Err()
	}
}

func chatCall(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
	client := openaiClient(ts, mw, 2)
	c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	if err != nil {
		return "", err
	}
	return c.Choices[0].Message.Content, nil
}

func responsesParams() responses.ResponseNewParams {
	return responses.ResponseNewParams{
		Model: "gpt-5-mini",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hi")},
	}
}

func responsesStream(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
	client := openaiClient(ts, mw, 2)
	stream := client.Responses.NewStreaming(ctx, responsesParams())
	defer stream.Close()
	var text strings.Builder
	for stream.Next() {
		if e := stream.Current(); e.Type == "response.output_text.delta" {
			text.WriteString(e.Delta)
		}
	}
	return text.String(), stream.Err()
}

func responsesCall(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
	client := openaiClient(ts, mw, 2)
	r, err := client.Responses.New(ctx, responsesParams())
	if err != nil {
		return "", err
	}
	return r.OutputText(), nil
}

func messagesParams() anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     "claude-sonnet-4-5",
		MaxTokens: 1024,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
	}
}

func messagesStream(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
	client := anthropicClient(ts, mw, 2)
	stream := client.Messages.NewStreaming(ctx, messagesParams())
	defer stream.Close()
	var text strings.Builder
	for stream.Next() {
		if e := stream.Current(); e.Type == "content_block_delta" {
			text.WriteString(e.Delta.Text)
		}
	}
	return text.String(), stream.Err()
}

func messagesCall(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
	client := anthropicClient(ts, mw, 2)
	m, err := client.Messages.New(ctx, messagesParams())
	if err != nil {
		return "", err
	}
	return m.Content[0].Text, nil
}

// geminiCall posts to a Gemini method through an http.Client whose
// transport is mw over the test server's, and returns the raw body.
func geminiCall(method string) call {
	return func(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
		hc := &http.Client{Transport: roundTripper{mw, ts.Client().Transport}}
		return postRaw(ctx, hc, ts.URL+"/v1beta/models/gemini-2.5-flash:"+method, `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`)
	}
}

// roundTripper applies a middleware over a transport, as the SDKs do;
// the tests of Transport use capture.Transport itself.
type roundTripper struct {
	mw   middleware
	base http.RoundTripper
}

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	return rt.mw(req, rt.base.RoundTrip)
}

func postRaw(ctx context.Context, hc *http.Client, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		return string(data), fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(data), err
}

// Token counts as each API reports them.
var (
	openaiCounts    = counts{Prompt: 1200, Cached: 1000, Completion: 300, Reasoning: 200}
	anthropicCounts = counts{Prompt: 200, Cached: 1000, CacheWrite: 400, Completion: 100, Reasoning: 40}
	geminiCounts    = counts{Prompt: 900, Cached: 600, Completion: 50, Reasoning: 120, ToolUse: 30}
)

// The records they must give: InputTokens every prompt token, OutputTokens
// every generated one. The local server's host names no provider.
var (
	openaiRecord = tracker.Record{InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 1000, ReasoningTokens: 200}
	// Anthropic: input_tokens 200 + cache reads 1000 + cache writes 400.
	anthropicRecord = tracker.Record{Model: "claude-sonnet-4-5-20250929", InputTokens: 1600, OutputTokens: 100,
		CacheReadTokens: 1000, CacheWriteTokens: 400, ReasoningTokens: 40, Operation: capture.OpMessages}
	// Gemini: prompt 900 + tool-use prompt 30; candidates 50 + thoughts 120.
	geminiRecord = tracker.Record{Model: "gemini-2.5-flash", InputTokens: 930, OutputTokens: 170,
		CacheReadTokens: 600, ReasoningTokens: 120, Operation: capture.OpGenerateContent}
)

func with(r tracker.Record, model, op string) tracker.Record {
	r.Model, r.Operation = model, op
	return r
}

var words = []string{"Tokens", " arrive", " one", " by", " one", "."}

type formatCase struct {
	name     string
	script   script
	call     call
	want     tracker.Record // without the timings
	streamed bool
}

func formatCases() []formatCase {
	chatServer := script{Model: "gpt-4o-mini-2024-07-18", Words: words, Counts: openaiCounts}
	respServer := script{Model: "gpt-5-mini-2025-08-07", Words: words, Counts: openaiCounts}
	claudeServer := script{Model: "claude-sonnet-4-5-20250929", Words: words, Counts: anthropicCounts}
	geminiServer := script{Model: "gemini-2.5-flash", Words: words, Counts: geminiCounts}
	geminiCRLF := geminiServer
	geminiCRLF.CRLF = true
	return []formatCase{
		{"chat/stream", chatServer, chatStream(true), with(openaiRecord, "gpt-4o-mini-2024-07-18", capture.OpChat), true},
		{"chat/json", chatServer, chatCall, with(openaiRecord, "gpt-4o-mini-2024-07-18", capture.OpChat), false},
		{"responses/stream", respServer, responsesStream, with(openaiRecord, "gpt-5-mini-2025-08-07", capture.OpResponses), true},
		{"responses/json", respServer, responsesCall, with(openaiRecord, "gpt-5-mini-2025-08-07", capture.OpResponses), false},
		{"messages/stream", claudeServer, messagesStream, anthropicRecord, true},
		{"messages/json", claudeServer, messagesCall, anthropicRecord, false},
		{"gemini/sse", geminiCRLF, geminiCall("streamGenerateContent?alt=sse"), geminiRecord, true},
		{"gemini/array", geminiServer, geminiCall("streamGenerateContent"), geminiRecord, true},
		{"gemini/json", geminiServer, geminiCall("generateContent"), geminiRecord, false},
	}
}

// Every format, streamed and not, through the real SDKs: exactly one
// record with the normalised counts, the model the response names, the
// tags, and timings that include the server's pauses.
func TestFormats(t *testing.T) {
	const firstDelay, usageDelay = 30 * time.Millisecond, 20 * time.Millisecond
	for _, tc := range formatCases() {
		t.Run(tc.name, func(t *testing.T) {
			tc.script.FirstDelay, tc.script.UsageDelay = firstDelay, usageDelay
			ts := httptest.NewServer(&apiServer{script: tc.script})
			defer ts.Close()
			rec := &collector{}
			var cnt capture.Counters
			mw := capture.Middleware(rec, capture.WithCounters(&cnt))
			tags := map[string]string{"team": "search", "feature": tc.name}
			ctx := capture.WithTags(t.Context(), tags)

			before := time.Now()
			text, err := tc.call(ctx, ts, mw)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			after := time.Now()
			for _, w := range words {
				if !strings.Contains(text, strings.TrimSpace(w)) {
					t.Fatalf("the client received %q, which lacks %q", text, w)
				}
			}
			recs := rec.Records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1: %+v", len(recs), recs)
			}
			got := recs[0]
			want := tc.want
			want.Metadata = tags
			checkTimings(t, got, tc.streamed, firstDelay, usageDelay)
			// Stamped with the call's end, not left to the tracker's clock.
			if got.Timestamp.Before(before) || got.Timestamp.After(after) {
				t.Errorf("Timestamp %v outside the call [%v, %v]", got.Timestamp, before, after)
			}
			got.LatencyMS, got.TimeToFirstTokenMS, got.Timestamp = 0, 0, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("record\n got %+v\nwant %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("the record is invalid: %v", err)
			}
			if s := cnt.Stats(); s != (capture.Stats{Captured: 1}) {
				t.Errorf("stats %+v, want one captured", s)
			}
		})
	}
}

// checkTimings checks what the server's pauses guarantee whatever the
// load: the first content comes after firstDelay, the end after both
// pauses, and not before the first content.
func checkTimings(t *testing.T, r tracker.Record, streamed bool, firstDelay, usageDelay time.Duration) {
	t.Helper()
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	if r.LatencyMS < ms(firstDelay+usageDelay) {
		t.Errorf("latency %vms, below the server's pauses (%v)", r.LatencyMS, firstDelay+usageDelay)
	}
	switch {
	case !streamed && r.TimeToFirstTokenMS != 0:
		t.Errorf("time to first token %vms for a call not streamed, want 0 (unknown)", r.TimeToFirstTokenMS)
	case streamed && r.TimeToFirstTokenMS < ms(firstDelay):
		t.Errorf("time to first token %vms, below the pause before the first token (%v)", r.TimeToFirstTokenMS, firstDelay)
	case streamed && r.TimeToFirstTokenMS > r.LatencyMS:
		// Not usageDelay before it: a client slow to read may get the
		// first token and the end in one read.
		t.Errorf("time to first token %vms, after the end (%vms)", r.TimeToFirstTokenMS, r.LatencyMS)
	}
}

// The body the client reads through capture is byte for byte what the
// server sent, for every format, in both framings, with either line end.
func TestBodyUntouched(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		srv := &apiServer{script: script{Model: "some-model", Words: words, Counts: openaiCounts, CRLF: crlf}}
		ts := httptest.NewServer(srv)
		defer ts.Close()
		for _, path := range []string{"/v1/chat/completions", "/v1/responses", "/v1/messages",
			"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
			"/v1beta/models/gemini-2.5-flash:streamGenerateContent",
			"/v1beta/models/gemini-2.5-flash:generateContent"} {
			for _, stream := range []bool{true, false} {
				body := fmt.Sprintf(`{"model":"m","stream":%v,"stream_options":{"include_usage":true}}`, stream)
				bare, err := postRaw(t.Context(), ts.Client(), ts.URL+path, body)
				if err != nil {
					t.Fatal(err)
				}
				rec := &collector{}
				hc := &http.Client{Transport: capture.Transport(rec, ts.Client().Transport)}
				through, err := postRaw(t.Context(), hc, ts.URL+path, body)
				if err != nil {
					t.Fatal(err)
				}
				if through != bare {
					t.Fatalf("%s stream=%v crlf=%v: through capture\n%q\nbare\n%q", path, stream, crlf, through, bare)
				}
				if len(rec.Records()) != 1 {
					t.Errorf("%s stream=%v crlf=%v: %d records, want 1", path, stream, crlf, len(rec.Records()))
				}
			}
		}
	}
}

// Anthropic's message_delta counts are cumulative: the last is the total,
// never the sum of the deltas nor message_start's placeholder.
func TestAnthropicCumulativeDeltas(t *testing.T) {
	for _, deltas := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(deltas), func(t *testing.T) {
			srv := &apiServer{script: script{Model: "claude-sonnet-4-5-20250929", Words: words, Counts: anthropicCounts, Deltas: deltas}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			rec := &collector{}
			if _, err := messagesStream(t.Context(), ts, capture.Middleware(rec)); err != nil {
				t.Fatal(err)
			}
			recs := rec.Records()
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r.OutputTokens != 100 || r.ReasoningTokens != 40 || r.InputTokens != 1600 {
				t.Errorf("output %d, reasoning %d, input %d; want the last delta's 100, 40 and 200+1000+400",
					r.OutputTokens, r.ReasoningTokens, r.InputTokens)
			}
		})
	}
}

// A stream that reports the usage without a model (some compatible
// servers) is recorded under the model of the request.
func TestModelFromRequest(t *testing.T) {
	srv := &apiServer{script: script{Words: words, Counts: openaiCounts}} // names no model
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, c := range []call{chatStream(true), chatCall, responsesStream, messagesStream} {
		rec := &collector{}
		if _, err := c(t.Context(), ts, capture.Middleware(rec)); err != nil {
			t.Fatal(err)
		}
		recs := rec.Records()
		if len(recs) != 1 {
			t.Fatalf("%d records, want 1", len(recs))
		}
		if m := recs[0].Model; m != "gpt-4o-mini" && m != "gpt-5-mini" && m != "claude-sonnet-4-5" {
			t.Errorf("%s: model %q, want the request's", recs[0].Operation, m)
		}
	}
	// Gemini's request names its model in the path.
	rec := &collector{}
	if _, err := geminiCall("streamGenerateContent?alt=sse")(t.Context(), ts, capture.Middleware(rec)); err != nil {
		t.Fatal(err)
	}
	if recs := rec.Records(); len(recs) != 1 || recs[0].Model != "gemini-2.5-flash" {
		t.Errorf("gemini records %+v, want one of the path's model", recs)
	}
}

// HTTP errors are counted as failed, never recorded, and their bodies
// reach the SDK unchanged (it reports the server's message).
func TestHTTPErrors(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := &apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts, Status: status}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			rec := &collector{}
			var cnt capture.Counters
			mw := capture.Middleware(rec, capture.WithCounters(&cnt))
			_, err := chatStream(true)(t.Context(), ts, mw)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != status || apiErr.Message != "the test server refuses" {
				t.Fatalf("chat: %v, want the server's API error", err)
			}
			_, err = messagesStream(t.Context(), ts, mw)
			var claudeErr *anthropic.Error
			if !errors.As(err, &claudeErr) || claudeErr.StatusCode != status || !strings.Contains(claudeErr.Error(), "the test server refuses") {
				t.Fatalf("messages: %v, want the server's API error", err)
			}
			if n := len(rec.Records()); n != 0 {
				t.Errorf("%d records of failed calls", n)
			}
			// 429 is retried by the SDKs: every attempt fails.
			attempts := srv.requests.Load()
			if s := cnt.Stats(); s != (capture.Stats{Failed: attempts}) {
				t.Errorf("stats %+v, want %d failed", s, attempts)
			}
		})
	}
}

// A 500 then a 200: the SDK retries, and capture records the one call
// that succeeded.
func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name string
		call call
	}{{"chat", chatStream(true)}, {"responses", responsesStream}, {"messages", messagesStream}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &apiServer{script: script{Model: "m-1", Words: words, Counts: openaiCounts, FailFirst: 1}}
			ts := httptest.NewServer(srv)
			defer ts.Close()
			rec := &collector{}
			var cnt capture.Counters
			if _, err := tc.call(t.Context(), ts, capture.Middleware(rec, capture.WithCounters(&cnt))); err != nil {
				t.Fatal(err)
			}
			if n := srv.requests.Load(); n != 2 {
				t.Fatalf("the server got %d requests, want 2 (a retry)", n)
			}
			if recs := rec.Records(); len(recs) != 1 || recs[0].Model != "m-1" {
				t.Errorf("records %+v, want exactly one", recs)
			}
			if s := cnt.Stats(); s != (capture.Stats{Captured: 1, Failed: 1}) {
				t.Errorf("stats %+v, want 1 captured, 1 failed", s)
			}
		})
	}
}

// uncapturedCase is a call that succeeds at the HTTP level but must not be
// recorded.
func checkUncaptured(t *testing.T, srv *apiServer, c call, ctx context.Context, reason capture.Reason) error {
	t.Helper()
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := &collector{}
	var cnt capture.Counters
	var handled []error
	var mu sync.Mutex
	mw := capture.Middleware(rec, capture.WithCounters(&cnt), capture.WithErrorHandler(func(err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
	}))
	_, err := c(ctx, ts, mw)
	if n := len(rec.Records()); n != 0 {
		t.Errorf("%d records, want none", n)
	}
	var want capture.Stats
	want.Uncaptured[reason] = 1
	if s := cnt.Stats(); s != want {
		t.Errorf("stats %+v, want one uncaptured for %s", s, reason)
	}
	mu.Lock()
	defer mu.Unlock()
	var ue *capture.UncapturedError
	if len(handled) != 1 || !errors.Is(handled[0], reason.Err()) || !errors.As(handled[0], &ue) || ue.Reason != reason {
		t.Errorf("errors handled %v, want one for %s", handled, reason)
	}
	return err
}

// A stream cut before its usage is counted, not recorded; so is one that
// ends cleanly without usage.
func TestCutBeforeUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		call call
	}{
		{"chat", chatStream(true)}, {"responses", responsesStream}, {"messages", messagesStream},
		{"gemini/sse", geminiCall("streamGenerateContent?alt=sse")}, {"gemini/array", geminiCall("streamGenerateContent")},
		{"chat/json", chatCall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts, Cut: true}}
			if err := checkUncaptured(t, srv, tc.call, t.Context(), capture.ReasonCut); err == nil {
				t.Error("the client saw no error on a cut stream")
			}
		})
	}
	t.Run("chat without include_usage", func(t *testing.T) {
		srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts}}
		if err := checkUncaptured(t, srv, chatStream(false), t.Context(), capture.ReasonNoUsage); err != nil {
			t.Fatal(err)
		}
	})
}

// A client that cancels its context mid-stream, or stops reading and
// closes the stream: counted as canceled.
func TestClientCancels(t *testing.T) {
	for _, tc := range []struct {
		name string
		call call
	}{{"chat", chatStream(true)}, {"responses", responsesStream}, {"messages", messagesStream}} {
		t.Run(tc.name+"/context", func(t *testing.T) {
			srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts, Hang: true}}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			// The server hangs after the first token: cancel once it arrived.
			c := func(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
				return tc.call(ctx, ts, func(req *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
					resp, err := mw(req, next)
					if err == nil {
						resp.Body = &cancelOnRead{ReadCloser: resp.Body, cancel: cancel}
					}
					return resp, err
				})
			}
			if err := checkUncaptured(t, srv, c, ctx, capture.ReasonCanceled); !errors.Is(err, context.Canceled) {
				t.Errorf("call: %v, want context.Canceled", err)
			}
		})
	}
	t.Run("close", func(t *testing.T) {
		srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts, Hang: true}}
		c := func(ctx context.Context, ts *httptest.Server, mw middleware) (string, error) {
			client := openaiClient(ts, mw, 0)
			stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
				Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			})
			for stream.Next() {
				if c := stream.Current(); len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
					break // enough
				}
			}
			return "", stream.Close()
		}
		if err := checkUncaptured(t, srv, c, t.Context(), capture.ReasonCanceled); err != nil {
			t.Fatal(err)
		}
	})
}

// cancelOnRead cancels once a content token has gone through it.
type cancelOnRead struct {
	io.ReadCloser
	cancel context.CancelFunc
	seen   bytes.Buffer
}

func (c *cancelOnRead) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.seen.Write(p[:n])
	if bytes.Contains(c.seen.Bytes(), []byte(words[0])) {
		c.cancel()
	}
	return n, err
}

// 1,000 streams at once through one middleware: every one recorded once,
// with its own counts.
func TestConcurrentStreams(t *testing.T) {
	const n = 1000
	srv := &apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := &collector{}
	var cnt capture.Counters
	client := openaiClient(ts, capture.Middleware(rec, capture.WithCounters(&cnt)), 0)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			stream := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
				Model:         "gpt-4o-mini",
				Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
				StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
			}, option.WithHeader(headerPrompt, fmt.Sprint(openaiCounts.Cached+int64(i))))
			for stream.Next() {
			}
			if err := stream.Err(); err != nil {
				errs <- err
			}
			stream.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make([]int, n)
	for _, r := range rec.Records() {
		i := r.InputTokens - openaiCounts.Cached
		if i < 0 || i >= n || r.OutputTokens != openaiCounts.Completion {
			t.Fatalf("record %+v: not one of the calls", r)
		}
		seen[i]++
	}
	for i, k := range seen {
		if k != 1 {
			t.Errorf("call %d recorded %d times", i, k)
		}
	}
	if s := cnt.Stats(); s != (capture.Stats{Captured: n}) {
		t.Errorf("stats %+v, want %d captured", s, n)
	}
}
