package capture_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// counts are the token counts a test server reports, each in its API's own
// terms (see the handlers): capture must normalise them.
type counts struct {
	Prompt     int64 // OpenAI, Gemini: every prompt token; Anthropic: the uncached ones
	Cached     int64 // prompt tokens read from the cache
	CacheWrite int64 // Anthropic: prompt tokens written to the cache
	Completion int64 // OpenAI, Anthropic: every output token; Gemini: candidates only
	Reasoning  int64 // OpenAI, Anthropic: inside Completion; Gemini: thoughts, outside it
	ToolUse    int64 // Gemini: toolUsePromptTokenCount, outside Prompt
}

// headerPrompt overrides counts.Prompt for one request.
const headerPrompt = "X-Test-Prompt-Tokens"

// apiServer speaks the wire formats of OpenAI Chat Completions and
// Responses, Anthropic Messages and Gemini generateContent /
// streamGenerateContent, streamed and not, as the APIs do, following its
// script.
type apiServer struct {
	script
	requests atomic.Int64
	mu       sync.Mutex
	bodies   [][]byte // the request bodies, in order
}

// script is what an apiServer answers.
type script struct {
	Model      string   // the model responses name; "" names none (the request's is not echoed)
	Words      []string // the content tokens
	Counts     counts
	FailFirst  int64         // answer the first FailFirst requests with 500 and Retry-After-Ms: 1
	Status     int           // answer every request with this error status (0: none)
	Cut        bool          // abort the connection before the usage
	Hang       bool          // after the first content token, wait until the client leaves
	FirstDelay time.Duration // pause before the first content token
	UsageDelay time.Duration // pause before the usage
	Deltas     int           // Anthropic: message_delta events, cumulative (0: one)
	CRLF       bool          // end SSE lines with "\r\n" (Gemini's servers do)
	Gzip       []byte        // when set: answer with these bytes, Content-Encoding: gzip
}

// Bodies returns the request bodies received so far.
func (s *apiServer) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

type apiRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	var body json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		httpError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
	var req apiRequest
	if err := json.Unmarshal(body, &req); err != nil {
		httpError(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	switch {
	case s.Status != 0:
		w.Header().Set("Retry-After-Ms", "1") // the SDKs retry 429s
		httpError(w, s.Status, "the test server refuses")
		return
	case n <= s.FailFirst:
		w.Header().Set("Retry-After-Ms", "1")
		httpError(w, http.StatusInternalServerError, "transient failure")
		return
	case s.Gzip != nil:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(s.Gzip)
		return
	}
	c := s.Counts
	if v := r.Header.Get(headerPrompt); v != "" {
		p, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "bad "+headerPrompt)
			return
		}
		c.Prompt = p
	}
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/chat/completions"):
		s.chat(w, r, &req, c)
	case strings.HasSuffix(path, "/responses"):
		s.responses(w, r, &req, c)
	case strings.HasSuffix(path, "/messages"):
		s.messages(w, r, &req, c)
	case strings.Contains(path, ":generateContent"), strings.Contains(path, ":streamGenerateContent"):
		s.gemini(w, r, c)
	default:
		httpError(w, http.StatusNotFound, "no such endpoint")
	}
}

// httpError writes an error in the OpenAI/Anthropic shape ({"error":
// {"type", "message"}}), which both SDKs turn into their API error.
func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":  "error",
		"error": map[string]string{"type": "api_error", "message": msg},
	})
}

// sse writes server-sent events, flushing each.
type sse struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	crlf bool
}

func (s *apiServer) startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w), crlf: s.CRLF}
}

// send writes one event (with an "event:" line unless name is "") whose
// data is v, JSON-encoded, or the string v as it is.
func (e *sse) send(name string, v any) {
	nl := "\n"
	if e.crlf {
		nl = "\r\n"
	}
	data, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		data = string(b)
	}
	var b strings.Builder
	if name != "" {
		b.WriteString("event: " + name + nl)
	}
	b.WriteString("data: " + data + nl + nl)
	if _, err := e.w.Write([]byte(b.String())); err != nil {
		panic(http.ErrAbortHandler) // the client has gone
	}
	if err := e.rc.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// pause sleeps d, or aborts if the client leaves first.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	case <-t.C:
	}
}

// text waits the pauses of a call not streamed and returns its text.
func (s *apiServer) text(ctx context.Context) string {
	pause(ctx, s.FirstDelay+s.UsageDelay)
	return strings.Join(s.Words, "")
}

// reply writes the JSON answer of a call not streamed: with Cut, only its
// first half, and then aborts.
func (s *apiServer) reply(w http.ResponseWriter, v any) {
	if !s.Cut {
		writeJSON(w, v)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b[:len(b)/2])
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

// words streams the content tokens through send, with the pauses and the
// Hang of s, and reports the whole text. With Cut it aborts the
// connection after the tokens.
func (s *apiServer) words(ctx context.Context, send func(i int, word string)) string {
	pause(ctx, s.FirstDelay)
	for i, word := range s.Words {
		send(i, word)
		if s.Hang {
			<-ctx.Done()
			panic(http.ErrAbortHandler)
		}
	}
	pause(ctx, s.UsageDelay)
	if s.Cut {
		panic(http.ErrAbortHandler)
	}
	return strings.Join(s.Words, "")
}

// Chat Completions.
func (s *apiServer) chat(w http.ResponseWriter, r *http.Request, req *apiRequest, c counts) {
	usage := map[string]any{
		"prompt_tokens":     c.Prompt,
		"completion_tokens": c.Completion,
		"total_tokens":      c.Prompt + c.Completion,
		"prompt_tokens_details": map[string]int64{
			"cached_tokens": c.Cached, "audio_tokens": 0,
		},
		"completion_tokens_details": map[string]int64{
			"reasoning_tokens": c.Reasoning, "audio_tokens": 0,
			"accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
		},
	}
	chunk := func(choices []any, u any) map[string]any {
		m := map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1700000000,
			"system_fingerprint": "fp_test", "choices": choices,
		}
		if s.Model != "" {
			m["model"] = s.Model
		}
		if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
			m["usage"] = u // null but on the last chunk
		}
		return m
	}
	choice := func(delta map[string]any, finish any) []any {
		return []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	if !req.Stream {
		text := s.text(r.Context())
		m := map[string]any{
			"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000,
			"choices": []any{map[string]any{
				"index": 0, "message": map[string]any{"role": "assistant", "content": text, "refusal": nil},
				"logprobs": nil, "finish_reason": "stop",
			}},
			"usage": usage, "system_fingerprint": "fp_test",
		}
		if s.Model != "" {
			m["model"] = s.Model
		}
		s.reply(w, m)
		return
	}
	e := s.startSSE(w)
	e.send("", chunk(choice(map[string]any{"role": "assistant", "content": ""}, nil), nil))
	s.words(r.Context(), func(_ int, word string) {
		e.send("", chunk(choice(map[string]any{"content": word}, nil), nil))
	})
	e.send("", chunk(choice(map[string]any{}, "stop"), nil))
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		e.send("", chunk([]any{}, usage))
	}
	e.send("", "[DONE]")
}

// Responses.
func (s *apiServer) responses(w http.ResponseWriter, r *http.Request, req *apiRequest, c counts) {
	response := func(status string, text string, usage bool) map[string]any {
		m := map[string]any{
			"id": "resp_test", "object": "response", "created_at": 1700000000, "status": status,
			"output": []any{}, "usage": nil, "parallel_tool_calls": true, "tool_choice": "auto", "tools": []any{},
		}
		if s.Model != "" {
			m["model"] = s.Model
		}
		if text != "" {
			m["output"] = []any{map[string]any{
				"id": "msg_test", "type": "message", "status": "completed", "role": "assistant",
				"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}},
			}}
		}
		if usage {
			m["usage"] = map[string]any{
				"input_tokens":          c.Prompt,
				"input_tokens_details":  map[string]int64{"cached_tokens": c.Cached},
				"output_tokens":         c.Completion,
				"output_tokens_details": map[string]int64{"reasoning_tokens": c.Reasoning},
				"total_tokens":          c.Prompt + c.Completion,
			}
		}
		return m
	}
	if !req.Stream {
		s.reply(w, response("completed", s.text(r.Context()), true))
		return
	}
	e := s.startSSE(w)
	seq := 0
	send := func(typ string, fields map[string]any) {
		fields["type"], fields["sequence_number"] = typ, seq
		seq++
		e.send(typ, fields)
	}
	send("response.created", map[string]any{"response": response("in_progress", "", false)})
	send("response.in_progress", map[string]any{"response": response("in_progress", "", false)})
	send("response.output_item.added", map[string]any{"output_index": 0, "item": map[string]any{
		"id": "msg_test", "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}})
	send("response.content_part.added", map[string]any{"item_id": "msg_test", "output_index": 0, "content_index": 0,
		"part": map[string]any{"type": "output_text", "text": "", "annotations": []any{}}})
	text := s.words(r.Context(), func(_ int, word string) {
		send("response.output_text.delta", map[string]any{"item_id": "msg_test", "output_index": 0, "content_index": 0,
			"delta": word, "logprobs": []any{}})
	})
	send("response.output_text.done", map[string]any{"item_id": "msg_test", "output_index": 0, "content_index": 0,
		"text": text, "logprobs": []any{}})
	send("response.completed", map[string]any{"response": response("completed", text, true)})
}

// Anthropic Messages.
func (s *apiServer) messages(w http.ResponseWriter, r *http.Request, req *apiRequest, c counts) {
	startUsage := map[string]any{
		"input_tokens": c.Prompt, "cache_creation_input_tokens": c.CacheWrite,
		"cache_read_input_tokens": c.Cached, "output_tokens": 1,
		"service_tier": "standard",
	}
	message := func(content []any, usage map[string]any, stop any) map[string]any {
		m := map[string]any{
			"id": "msg_test", "type": "message", "role": "assistant", "content": content,
			"stop_reason": stop, "stop_sequence": nil, "usage": usage,
		}
		if s.Model != "" {
			m["model"] = s.Model
		}
		return m
	}
	if !req.Stream {
		text := s.text(r.Context())
		final := map[string]any{
			"input_tokens": c.Prompt, "cache_creation_input_tokens": c.CacheWrite,
			"cache_read_input_tokens": c.Cached, "output_tokens": c.Completion,
			"output_tokens_details": map[string]int64{"thinking_tokens": c.Reasoning},
			"service_tier":          "standard",
		}
		s.reply(w, message([]any{map[string]any{"type": "text", "text": text}}, final, "end_turn"))
		return
	}
	e := s.startSSE(w)
	send := func(typ string, fields map[string]any) {
		fields["type"] = typ
		e.send(typ, fields)
	}
	send("message_start", map[string]any{"message": message([]any{}, startUsage, nil)})
	send("content_block_start", map[string]any{"index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	send("ping", map[string]any{})
	s.words(r.Context(), func(_ int, word string) {
		send("content_block_delta", map[string]any{"index": 0, "delta": map[string]any{"type": "text_delta", "text": word}})
	})
	send("content_block_stop", map[string]any{"index": 0})
	deltas := max(s.Deltas, 1)
	for i := 1; i <= deltas; i++ {
		// Cumulative counts: the last delta holds the totals.
		out, thinking := c.Completion*int64(i)/int64(deltas), c.Reasoning*int64(i)/int64(deltas)
		send("message_delta", map[string]any{
			"delta": map[string]any{"stop_reason": "end_turn", "stop_sequence": nil},
			"usage": map[string]any{
				"input_tokens": c.Prompt, "cache_creation_input_tokens": c.CacheWrite,
				"cache_read_input_tokens": c.Cached, "output_tokens": out,
				"output_tokens_details": map[string]int64{"thinking_tokens": thinking},
			},
		})
	}
	send("message_stop", map[string]any{})
}

// Gemini generateContent and streamGenerateContent: a JSON array streamed
// element by element, or server-sent events with alt=sse.
func (s *apiServer) gemini(w http.ResponseWriter, r *http.Request, c counts) {
	response := func(text string, candidates int64, finish bool) map[string]any {
		cand := map[string]any{"content": map[string]any{"parts": []any{map[string]any{"text": text}}, "role": "model"}, "index": 0}
		usage := map[string]any{"promptTokenCount": c.Prompt, "candidatesTokenCount": candidates,
			"totalTokenCount": c.Prompt + candidates}
		if finish {
			cand["finishReason"] = "STOP"
			usage["thoughtsTokenCount"] = c.Reasoning
			usage["cachedContentTokenCount"] = c.Cached
			usage["toolUsePromptTokenCount"] = c.ToolUse
			usage["totalTokenCount"] = c.Prompt + candidates + c.Reasoning + c.ToolUse
		}
		m := map[string]any{"candidates": []any{cand}, "usageMetadata": usage, "responseId": "gemini-test"}
		if s.Model != "" {
			m["modelVersion"] = s.Model
		}
		return m
	}
	if strings.Contains(r.URL.Path, ":generateContent") {
		s.reply(w, response(s.text(r.Context()), c.Completion, true))
		return
	}
	n := int64(len(s.Words))
	if r.URL.Query().Get("alt") == "sse" {
		e := s.startSSE(w)
		s.words(r.Context(), func(i int, word string) {
			// Every chunk carries the counts so far; the last the totals.
			last := int64(i+1) == n
			cand := c.Completion * int64(i+1) / n
			if last && !s.Cut && s.UsageDelay == 0 {
				e.send("", response(word, c.Completion, true))
				return
			}
			e.send("", response(word, cand, false))
		})
		if s.UsageDelay > 0 {
			e.send("", response("", c.Completion, true))
		}
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	write := func(s string) {
		if _, err := w.Write([]byte(s)); err != nil {
			panic(http.ErrAbortHandler)
		}
		if err := rc.Flush(); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
	sep := "["
	s.words(r.Context(), func(i int, word string) {
		last := int64(i+1) == n
		b, err := json.MarshalIndent(response(word, c.Completion*int64(i+1)/n, last && !s.Cut), "", "  ")
		if err != nil {
			panic(err)
		}
		write(sep + string(b))
		sep = "\r\n,"
	})
	write("]")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		panic(fmt.Sprintf("encode: %v", err))
	}
}
