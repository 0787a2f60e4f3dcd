package capture

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usagering/usagering/tracker"
)

// chunkReader returns data in the chunks that cuts make, one per Read,
// then io.EOF.
type chunkReader struct {
	data   []byte
	cuts   []int
	pos    int
	closed bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.pos == len(r.data) {
		return 0, io.EOF
	}
	end := len(r.data)
	for len(r.cuts) > 0 && r.cuts[0] <= r.pos {
		r.cuts = r.cuts[1:]
	}
	if len(r.cuts) > 0 {
		end = r.cuts[0]
	}
	n := copy(p, r.data[r.pos:end])
	r.pos += n
	return n, nil
}

func (r *chunkReader) Close() error { r.closed = true; return nil }

type discard struct{ n int }

func (d *discard) Record(r tracker.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	d.n++
	return nil
}

// FuzzScanners checks, for arbitrary bytes cut at arbitrary places:
//   - the SSE scanner finds the events a line-by-line reference finds in
//     the whole input;
//   - the array scanner finds the objects a byte-by-byte reference finds
//     in the whole input;
//   - a body read through capture, as every format and framing, comes out
//     byte for byte, records at most one call, and nothing panics.
func FuzzScanners(f *testing.F) {
	f.Add([]byte(sampleSSE), uint64(1))
	f.Add([]byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2},\"model\":\"m\"}\r\n\r\n"), uint64(7))
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n"+
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n"), uint64(3))
	f.Add([]byte(`[{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1},"modelVersion":"g"}`+"\r\n,"+`{"s":"\"}{"}]`), uint64(4))
	f.Add([]byte(`{"model":"m","usage":{"input_tokens":5,"output_tokens":1}}`), uint64(5))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		r := rand.New(rand.NewPCG(seed, seed>>32))
		cuts := randomCuts(r, len(data))

		s := sseScanner{gather: gather{max: 1 << 20}}
		var e events
		feedSplit(data, cuts, func(p []byte) { s.feed(p, &e) })
		if want := refSSE(data, 1<<20); !slices.Equal(e.got, want) {
			t.Fatalf("SSE events\n%q\nwant\n%q", e.got, want)
		}

		var split events
		a := arrayScanner{gather: gather{max: 1 << 20}}
		feedSplit(data, cuts, func(p []byte) { a.feed(p, &split) })
		if want := refArray(data); !slices.Equal(split.got, want) {
			t.Fatalf("array objects\n%q\nwant\n%q", split.got, want)
		}

		paths := []string{"/v1/chat/completions", "/v1/responses", "/v1/messages",
			"/v1beta/models/g:streamGenerateContent", "/v1beta/models/g:generateContent"}
		types := []string{"text/event-stream", "application/json"}
		path, ct := paths[r.IntN(len(paths))], types[r.IntN(len(types))]
		rec := &discard{}
		var cnt Counters
		c := newCapturer(rec, []Option{WithCounters(&cnt), WithMaxEventSize(1 + r.IntN(2*len(data)+1))})
		req := httptest.NewRequest(http.MethodPost, "http://api.example"+path, strings.NewReader(`{"model":"req"}`))
		ep := classify(req)
		src := &chunkReader{data: data, cuts: cuts}
		resp := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}}, Body: src}
		b := newBody(c, ep, req, resp, time.Now())
		var out bytes.Buffer
		buf := make([]byte, 1+r.IntN(4096))
		for {
			n, err := b.Read(buf)
			out.Write(buf[:n])
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Close(); err != nil || !src.closed {
			t.Fatalf("close: %v, wrapped body closed %v", err, src.closed)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("read %q through capture, want %q", out.Bytes(), data)
		}
		st := cnt.Stats()
		if st.Captured+st.UncapturedTotal() != 1 || int64(rec.n) != st.Captured {
			t.Fatalf("stats %+v with %d records: want the call counted once", st, rec.n)
		}
	})
}
