package capture

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Each Read hands back what the wrapped body returned at once: capture
// never waits for the rest of an event. The writer sends the second half
// of the event only after the reader got the first; a body that read ahead
// would wait forever (the watchdog then fails the test).
func TestReadNotAhead(t *testing.T) {
	pr, pw := io.Pipe()
	watchdog := time.AfterFunc(10*time.Second, func() { pw.CloseWithError(io.ErrNoProgress) })
	defer watchdog.Stop()
	rec := &discard{}
	var cnt Counters
	c := newCapturer(rec, []Option{WithCounters(&cnt)})
	req := httptest.NewRequest(http.MethodPost, "http://api.openai.com/v1/chat/completions", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr}
	b := newBody(c, classify(req), req, resp, time.Now())

	halves := []string{`data: {"model":"gpt-4o","choices":[],"usage":{"prompt_`, "tokens\":2,\"completion_tokens\":3}}\n\n"}
	buf := make([]byte, 4096)
	for _, h := range halves {
		go func() { _, _ = io.WriteString(pw, h) }()
		n, err := b.Read(buf)
		if err != nil || string(buf[:n]) != h {
			t.Fatalf("read %q, %v; want %q at once", buf[:n], err, h)
		}
	}
	pw.Close()
	if n, err := b.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want EOF", n, err)
	}
	if rec.n != 1 || cnt.Stats().Captured != 1 {
		t.Errorf("%d records, stats %+v; want the call recorded at EOF", rec.n, cnt.Stats())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if cnt.Stats().Captured != 1 || rec.n != 1 {
		t.Error("Close after EOF counted the call again")
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		method, url string
		format      format
		model       string
		stream      bool
		provider    string
	}{
		{"POST", "https://api.openai.com/v1/chat/completions", fmtChat, "", false, "openai"},
		{"POST", "https://api.openai.com/v1/responses", fmtResponses, "", false, "openai"},
		{"GET", "https://api.openai.com/v1/responses", fmtNone, "", false, ""},
		{"POST", "https://api.openai.com/v1/threads/t/messages", fmtNone, "", false, ""},
		{"POST", "https://api.openai.com/v1/embeddings", fmtNone, "", false, ""},
		{"POST", "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=1", fmtChat, "", false, ""},
		{"POST", "https://api.anthropic.com/v1/messages?beta=true", fmtMessages, "", false, "anthropic"},
		{"POST", "https://api.anthropic.com/v1/messages/count_tokens", fmtNone, "", false, ""},
		{"POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", fmtGemini, "gemini-2.5-pro", true, "google"},
		{"POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent", fmtGemini, "gemini-2.5-pro", false, "google"},
		{"POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:countTokens", fmtNone, "", false, ""},
		{"POST", "http://localhost:11434/v1/chat/completions", fmtChat, "", false, ""},
	} {
		req := httptest.NewRequest(tc.method, tc.url, nil)
		ep := classify(req)
		want := endpoint{format: tc.format, model: tc.model, stream: tc.stream, provider: tc.provider}
		if tc.format == fmtNone {
			want = endpoint{}
		}
		if ep != want {
			t.Errorf("%s %s: %+v, want %+v", tc.method, tc.url, ep, want)
		}
	}
}

// A body closed after the stream's own end marker but before EOF: without
// usage it is counted as no usage (the stream said it was over), not as
// canceled; closed before the marker, as canceled.
func TestCloseAfterEndMarker(t *testing.T) {
	for _, tc := range []struct {
		name, path, stream string
		want               Reason
	}{
		{"chat [DONE]", "/v1/chat/completions", "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n", ReasonNoUsage},
		{"chat cut short", "/v1/chat/completions", "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", ReasonCanceled},
		{"message_stop", "/v1/messages", "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", ReasonNoUsage},
		{"message_start only", "/v1/messages", "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n", ReasonCanceled},
		{"response.completed without usage", "/v1/responses", "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"m\",\"usage\":null}}\n\n", ReasonNoUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cnt Counters
			c := newCapturer(&discard{}, []Option{WithCounters(&cnt)})
			req := httptest.NewRequest(http.MethodPost, "http://api.example"+tc.path, nil)
			resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}},
				Body: &chunkReader{data: []byte(tc.stream)}}
			b := newBody(c, classify(req), req, resp, time.Now())
			buf := make([]byte, len(tc.stream)) // one read: all of it, and no EOF yet
			if n, err := b.Read(buf); n != len(tc.stream) || err != nil {
				t.Fatalf("read %d, %v", n, err)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			var want Stats
			want.Uncaptured[tc.want] = 1
			if s := cnt.Stats(); s != want {
				t.Errorf("stats %+v, want one %s", s, tc.want)
			}
		})
	}
}
