package capture_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

// WithIncludeUsage asks a chat stream for its usage when the caller did
// not, and leaves every other field of the request as it was.
func TestWithIncludeUsage(t *testing.T) {
	srv := &apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := &collector{}
	var cnt capture.Counters
	mw := capture.Middleware(rec, capture.WithCounters(&cnt), capture.WithIncludeUsage())
	if _, err := chatStream(false)(t.Context(), ts, mw); err != nil {
		t.Fatal(err)
	}
	if recs := rec.Records(); len(recs) != 1 || recs[0].InputTokens != openaiCounts.Prompt {
		t.Fatalf("records %+v, want the one call", recs)
	}
	var sent map[string]any
	if err := json.Unmarshal(srv.Bodies()[0], &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model":          "gpt-4o-mini",
		"stream":         true,
		"messages":       []any{map[string]any{"role": "user", "content": "hi"}},
		"stream_options": map[string]any{"include_usage": true},
	}
	if !jsonEqual(sent, want) {
		t.Errorf("the server received %v, want %v", sent, want)
	}

	// Through Transport, for requests with and without GetBody; bodies
	// that need no change are sent byte for byte.
	for _, tc := range []struct{ body, want string }{
		{`{"model":"m","stream":true}`, `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{`{"model":"m","stream":true,"stream_options":{"include_obfuscation":false}}`,
			`{"model":"m","stream":true,"stream_options":{"include_obfuscation":false,"include_usage":true}}`},
		{`{"model":"m","stream":true,"stream_options":{"include_usage":false},"user":"<a&b>"}`,
			`{"model":"m","stream":true,"stream_options":{"include_usage":true},"user":"<a&b>"}`},
		{`{"model":"m", "stream":true, "stream_options":{"include_usage":true}}`, ""}, // already asks
		{`{"model":"m","stream":false}`, ""},
		{`{"model":"m"}`, ""},
		{`not json`, ""},
	} {
		for _, getBody := range []bool{true, false} {
			srv := &apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}}
			var got []byte
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(got))
				srv.ServeHTTP(w, r)
			}))
			var body io.Reader = strings.NewReader(tc.body)
			if !getBody {
				body = io.MultiReader(body) // http.NewRequest sets no GetBody for it
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/chat/completions", body)
			if err != nil {
				t.Fatal(err)
			}
			if (req.GetBody != nil) != getBody {
				t.Fatalf("GetBody set: %v", req.GetBody != nil)
			}
			hc := &http.Client{Transport: capture.Transport(&collector{}, ts.Client().Transport, capture.WithIncludeUsage())}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ts.Close()
			want := tc.want
			if want == "" {
				want = tc.body
			}
			if want != tc.body {
				var g, w any
				if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil || !jsonEqual(g, w) {
					t.Errorf("body %s (GetBody %v): sent %s, want %s", tc.body, getBody, got, want)
				}
			} else if string(got) != want {
				t.Errorf("body %s (GetBody %v): sent %s, want it unchanged", tc.body, getBody, got)
			}
			if strings.Contains(tc.body, "<") && !bytes.Contains(got, []byte("<a&b>")) {
				t.Errorf("sent %s: HTML characters escaped", got)
			}
		}
	}
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// A body the client itself asked to be compressed passes through
// untouched and is counted as encoded; a body the transport decompressed
// (Go's default when the client asks for nothing) is recorded.
func TestContentEncoding(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	srv := &apiServer{script: script{Gzip: gz.Bytes()}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	for _, askGzip := range []bool{true, false} {
		rec := &collector{}
		var cnt capture.Counters
		hc := &http.Client{Transport: capture.Transport(rec, ts.Client().Transport, capture.WithCounters(&cnt))}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatal(err)
		}
		if askGzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		var want capture.Stats
		if askGzip {
			if !bytes.Equal(got, gz.Bytes()) {
				t.Errorf("the client read %q, want the compressed bytes", got)
			}
			want.Uncaptured[capture.ReasonEncoded] = 1
		} else {
			if !resp.Uncompressed {
				t.Fatal("the transport did not decompress")
			}
			want.Captured = 1
			if recs := rec.Records(); len(recs) != 1 || recs[0].InputTokens != 3 || recs[0].OutputTokens != 4 {
				t.Errorf("records %+v, want the decompressed call's", recs)
			}
		}
		if s := cnt.Stats(); s != want {
			t.Errorf("Accept-Encoding set by the client %v: stats %+v, want %+v", askGzip, s, want)
		}
	}
}

// The reasons a successful call is not recorded, each counted once.
func TestUncapturedReasons(t *testing.T) {
	t.Run("rejected", func(t *testing.T) {
		srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts}}
		ts := httptest.NewServer(srv)
		defer ts.Close()
		rec := &collector{err: tracker.ErrClosed}
		var cnt capture.Counters
		var got error
		mw := capture.Middleware(rec, capture.WithCounters(&cnt), capture.WithErrorHandler(func(err error) { got = err }))
		if _, err := chatStream(true)(t.Context(), ts, mw); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(got, capture.ErrRejected) || !errors.Is(got, tracker.ErrClosed) {
			t.Errorf("handled %v, want ErrRejected wrapping tracker.ErrClosed", got)
		}
		if s := cnt.Stats(); s.Uncaptured[capture.ReasonRejected] != 1 || s.UncapturedTotal() != 1 || s.Captured != 0 {
			t.Errorf("stats %+v, want one rejected", s)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		// More cached tokens than prompt tokens: no honest record exists.
		bad := counts{Prompt: 10, Cached: 11, Completion: 5}
		for _, c := range []call{chatStream(true), chatCall} {
			srv := &apiServer{script: script{Model: "m", Words: words, Counts: bad}}
			if err := checkUncaptured(t, srv, c, t.Context(), capture.ReasonMalformed); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("too large", func(t *testing.T) {
		// The Responses stream's response.completed event repeats the
		// whole output; a non-streamed body is gathered whole.
		for _, c := range []call{responsesStream, responsesCall} {
			srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts}}
			ts := httptest.NewServer(srv)
			rec := &collector{}
			var cnt capture.Counters
			if _, err := c(t.Context(), ts, capture.Middleware(rec, capture.WithCounters(&cnt), capture.WithMaxEventSize(300))); err != nil {
				t.Fatal(err)
			}
			ts.Close()
			var want capture.Stats
			want.Uncaptured[capture.ReasonTooLarge] = 1
			if s := cnt.Stats(); s != want || len(rec.Records()) != 0 {
				t.Errorf("stats %+v, records %d; want one too large", s, len(rec.Records()))
			}
		}
	})
}

// Tags nest: a context's tags add to its parent's, the map is copied, and
// every call made under the context carries them.
func TestWithTags(t *testing.T) {
	srv := &apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	rec := &collector{}
	mw := capture.Middleware(rec)
	team := map[string]string{"team": "search", "env": "prod"}
	teamCtx := capture.WithTags(t.Context(), team)
	ctx := capture.WithTags(teamCtx, map[string]string{"feature": "autocomplete", "env": "staging"})
	team["team"] = "changed afterwards"
	for _, c := range []context.Context{ctx, ctx, teamCtx, t.Context()} {
		if _, err := chatStream(true)(c, ts, mw); err != nil {
			t.Fatal(err)
		}
	}
	want := []map[string]string{
		{"team": "search", "feature": "autocomplete", "env": "staging"},
		{"team": "search", "feature": "autocomplete", "env": "staging"},
		{"team": "search", "env": "prod"},
		nil,
	}
	recs := rec.Records()
	if len(recs) != len(want) {
		t.Fatalf("%d records", len(recs))
	}
	for i, r := range recs {
		if !jsonEqual(r.Metadata, want[i]) {
			t.Errorf("record %d: metadata %v, want %v", i, r.Metadata, want[i])
		}
	}
}

// Requests capture does not read pass through, counted as ignored; a
// transport error is counted as failed.
func TestIgnoredAndFailed(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[],"usage":{"prompt_tokens":1,"total_tokens":1}}`)
	}))
	rec := &collector{}
	var cnt capture.Counters
	hc := &http.Client{Transport: capture.Transport(rec, ts.Client().Transport, capture.WithCounters(&cnt))}
	for _, u := range []string{"/v1/models", "/v1/embeddings", "/v1/threads/t1/messages"} {
		resp, err := hc.Get(ts.URL + u)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if _, err := postRaw(t.Context(), hc, ts.URL+u, `{"model":"m"}`); err != nil {
			t.Fatal(err)
		}
	}
	ts.Close()
	if _, err := postRaw(t.Context(), hc, ts.URL+"/v1/chat/completions", `{"model":"m"}`); err == nil {
		t.Fatal("a closed server answered")
	}
	if s := cnt.Stats(); s != (capture.Stats{Ignored: 6, Failed: 1}) || len(rec.Records()) != 0 {
		t.Errorf("stats %+v, records %d; want 6 ignored, 1 failed, none recorded", s, len(rec.Records()))
	}
}

// Close racing with Read: the call is counted exactly once (the race
// detector checks the rest).
func TestCloseDuringRead(t *testing.T) {
	srv := &apiServer{script: script{Model: "m", Words: words, Counts: openaiCounts, Hang: true}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var cnt capture.Counters
	hc := &http.Client{Transport: capture.Transport(&collector{}, ts.Client().Transport, capture.WithCounters(&cnt))}
	const n = 20
	for range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		first := make(chan struct{})
		wg.Go(func() {
			buf := make([]byte, 64)
			for i := 0; ; i++ {
				if _, err := resp.Body.Read(buf); err != nil {
					if i == 0 {
						close(first)
					}
					return
				}
				if i == 0 {
					close(first)
				}
			}
		})
		<-first
		resp.Body.Close()
		wg.Wait()
	}
	if s := cnt.Stats(); s.Uncaptured[capture.ReasonCanceled] != n || s.UncapturedTotal() != n || s.Captured != 0 {
		t.Errorf("stats %+v, want %d canceled", s, n)
	}
}

// Close on one goroutine while another is reading and scanning a fast
// stream whose every event carries usage (Gemini's): the race detector
// checks that Close touches nothing the reader writes, and the call is
// counted once.
func TestCloseRacesRead(t *testing.T) {
	many := make([]string, 500)
	for i := range many {
		many[i] = " w"
	}
	srv := &apiServer{script: script{Model: "gemini-2.5-flash", Words: many, Counts: geminiCounts}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	var cnt capture.Counters
	rec := &collector{}
	hc := &http.Client{Transport: capture.Transport(rec, ts.Client().Transport, capture.WithCounters(&cnt))}
	const n = 30
	for range n {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			ts.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		first := make(chan struct{})
		wg.Go(func() {
			buf := make([]byte, 512)
			_, _ = resp.Body.Read(buf)
			close(first)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					return
				}
			}
		})
		<-first
		resp.Body.Close()
		wg.Wait()
	}
	if s := cnt.Stats(); s.Captured+s.UncapturedTotal() != n || int64(len(rec.Records())) != s.Captured {
		t.Errorf("stats %+v with %d records, want %d calls counted once", s, len(rec.Records()), n)
	}
}
