package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// chatPath is where the OpenAI API serves Chat Completions; the SDK's base
// URL is the server's URL + "/v1/".
const chatPath = "/v1/chat/completions"

// passage is what the server "generates": its words, cycled, are the
// completion tokens.
const passage = "Streaming keeps the reader busy while the model thinks: every token " +
	"is shown as soon as it arrives, and the usage ledger must never make one wait. " +
	"Recording a call costs the stream nothing when the write to disk happens elsewhere."

// chatServer is a local stand-in for the Chat Completions endpoint that
// only streams. It speaks the wire format of the OpenAI API: server-sent
// events, one chat.completion.chunk JSON object per "data:" line, the role
// first, then one chunk per completion token, paced Interval apart, then
// the finish reason, then (when the request's stream_options.include_usage
// is true) a chunk with empty choices and the usage, then "data: [DONE]".
//
// Its tokenizer is a toy: a prompt token is a whitespace-separated word of
// the messages, a completion token a word of passage. A request gets
// max_completion_tokens tokens (finish reason "length"), or passage once
// (finish reason "stop") without it.
type chatServer struct {
	// Interval is the pause before each completion token (0: none). The
	// schedule is absolute (the request's arrival + i*Interval), so a late
	// wake-up does not delay the tokens after it.
	Interval time.Duration

	seq atomic.Int64 // completion ids

	// What the server put in usage chunks, over all requests.
	responses        atomic.Int64
	promptTokens     atomic.Int64
	completionTokens atomic.Int64
}

// serverUsage is what a chatServer has reported in usage chunks.
type serverUsage struct {
	Responses, PromptTokens, CompletionTokens int64
}

// Usage returns the totals of the usage chunks sent so far.
func (s *chatServer) Usage() serverUsage {
	return serverUsage{
		Responses:        s.responses.Load(),
		PromptTokens:     s.promptTokens.Load(),
		CompletionTokens: s.completionTokens.Load(),
	}
}

// chatRequest is the part of a Chat Completions request the server reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"` // a string or an array of parts
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxCompletionTokens int64 `json:"max_completion_tokens"`
	MaxTokens           int64 `json:"max_tokens"` // the deprecated name
}

// chunk is a chat.completion.chunk object.
type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	// Absent unless the request asked for usage; then null on every chunk
	// but the last.
	Usage json.RawMessage `json:"usage,omitempty"`
}

type chunkChoice struct {
	Index        int        `json:"index"`
	Delta        chunkDelta `json:"delta"`
	Logprobs     *struct{}  `json:"logprobs"` // always null
	FinishReason *string    `json:"finish_reason"`
}

type chunkDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

var jsonNull = json.RawMessage("null")

func (s *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != chatPath {
		writeAPIError(w, http.StatusNotFound, "invalid_request_error", "unknown path "+r.URL.Path)
		return
	}
	if r.Method != http.MethodPost {
		writeAPIError(w, http.StatusMethodNotAllowed, "invalid_request_error", "use POST")
		return
	}
	if key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); !ok || key == "" {
		writeAPIError(w, http.StatusUnauthorized, "invalid_request_error", "missing API key")
		return
	}
	var req chatRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", "bad JSON body: "+err.Error())
		return
	}
	prompt, err := promptTokens(&req)
	switch {
	case err != nil:
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	case req.Model == "":
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", "model is required")
		return
	case !req.Stream:
		writeAPIError(w, http.StatusBadRequest, "invalid_request_error", "this server only streams: set stream to true")
		return
	}
	s.stream(r.Context(), w, &req, prompt)
}

// stream writes the response to req as server-sent events.
func (s *chatServer) stream(ctx context.Context, w http.ResponseWriter, req *chatRequest, prompt int64) {
	words := strings.Fields(passage)
	n, finish := int64(len(words)), "stop"
	if limit := max(req.MaxCompletionTokens, req.MaxTokens); limit > 0 {
		n, finish = limit, "length"
	}
	start := time.Now()
	c := chunk{
		ID:                fmt.Sprintf("chatcmpl-local%06d", s.seq.Add(1)),
		Object:            "chat.completion.chunk",
		Created:           start.Unix(),
		Model:             req.Model,
		SystemFingerprint: "fp_local",
		Choices:           []chunkChoice{{}},
	}
	if req.StreamOptions.IncludeUsage {
		c.Usage = jsonNull
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Request-Id", c.ID)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(c *chunk) bool {
		b, err := json.Marshal(c)
		if err != nil {
			panic(err) // plain structs: cannot fail
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false // the client has gone
		}
		return rc.Flush() == nil
	}

	empty := ""
	c.Choices[0].Delta = chunkDelta{Role: "assistant", Content: &empty}
	if !send(&c) {
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for i := range n {
		if !sleepUntil(ctx, timer, start.Add(time.Duration(i+1)*s.Interval)) {
			return
		}
		word := words[i%int64(len(words))]
		if i > 0 {
			word = " " + word
		}
		c.Choices[0].Delta = chunkDelta{Content: &word}
		if !send(&c) {
			return
		}
	}
	c.Choices[0] = chunkChoice{FinishReason: &finish}
	if !send(&c) {
		return
	}
	if req.StreamOptions.IncludeUsage {
		u, err := json.Marshal(usage{PromptTokens: prompt, CompletionTokens: n, TotalTokens: prompt + n})
		if err != nil {
			panic(err)
		}
		c.Choices, c.Usage = []chunkChoice{}, u
		if !send(&c) {
			return
		}
		s.responses.Add(1)
		s.promptTokens.Add(prompt)
		s.completionTokens.Add(n)
	}
	if _, err := fmt.Fprint(w, "data: [DONE]\n\n"); err == nil {
		_ = rc.Flush()
	}
}

// sleepUntil waits on timer until t and reports true, or false if ctx is
// done first.
func sleepUntil(ctx context.Context, timer *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// promptTokens counts the words of the request's messages, whose content
// is a string or an array of parts (of which the text parts count).
func promptTokens(req *chatRequest) (int64, error) {
	if len(req.Messages) == 0 {
		return 0, errors.New("messages is required")
	}
	var n int64
	for i, m := range req.Messages {
		var text string
		if err := json.Unmarshal(m.Content, &text); err == nil {
			n += int64(len(strings.Fields(text)))
			continue
		}
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(m.Content, &parts); err != nil {
			return 0, fmt.Errorf("messages[%d].content: not a string or an array of parts", i)
		}
		for _, p := range parts {
			if p.Type == "text" {
				n += int64(len(strings.Fields(p.Text)))
			}
		}
	}
	return n, nil
}

// writeAPIError writes an error in the API's format, which the SDK turns
// into an *openai.Error.
func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	var body struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	body.Error.Message, body.Error.Type = msg, typ
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(&body)
}
