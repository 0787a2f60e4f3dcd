package capture

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
)

// withIncludeUsage returns req, or a clone of it whose JSON body asks for
// usage in the stream ("stream_options": {"include_usage": true}) when
// the body has "stream": true and does not ask for it already. Other
// stream_options are kept. When req has no GetBody its body is read, and
// the returned request carries it (changed or not): req's own body is
// then spent.
func withIncludeUsage(req *http.Request) *http.Request {
	if req.Body == nil || req.Body == http.NoBody {
		return req
	}
	var data []byte
	var err error
	if req.GetBody != nil {
		rc, gerr := req.GetBody()
		if gerr != nil {
			return req
		}
		data, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return req
		}
	} else {
		data, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			// The body is spent and partly lost: send what was read, so the
			// server answers (and likely rejects) the request as sent.
			return withBody(req, data)
		}
	}
	if out, ok := addIncludeUsage(data); ok {
		if req.GetBody != nil {
			req.Body.Close() // unread: the clone sends a body of its own
		}
		return withBody(req, out)
	}
	if req.GetBody == nil {
		return withBody(req, data)
	}
	return req
}

// addIncludeUsage returns body with stream_options.include_usage set to
// true, and true, if body is a JSON object with "stream": true whose
// stream_options do not set include_usage to true.
func addIncludeUsage(body []byte) ([]byte, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || top == nil {
		return nil, false
	}
	if s, ok := top["stream"]; !ok || !bytes.Equal(bytes.TrimSpace(s), []byte("true")) {
		return nil, false
	}
	opts := map[string]json.RawMessage{}
	if raw, ok := top["stream_options"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if json.Unmarshal(raw, &opts) != nil {
			return nil, false // not an object: leave the request to the server's judgement
		}
		if iu, ok := opts["include_usage"]; ok && bytes.Equal(bytes.TrimSpace(iu), []byte("true")) {
			return nil, false
		}
	}
	opts["include_usage"] = json.RawMessage("true")
	raw, err := marshal(opts)
	if err != nil {
		return nil, false
	}
	top["stream_options"] = raw
	out, err := marshal(top)
	if err != nil {
		return nil, false
	}
	return out, true
}

// marshal encodes m compactly, keys sorted, without escaping HTML
// characters that the request did not escape.
func marshal(m map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// withBody returns a clone of req sending data.
func withBody(req *http.Request, data []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	r.ContentLength = int64(len(data))
	return r
}
