package capture

import (
	"encoding/json"
	"fmt"
)

// usage is what one call consumed, normalised to tracker.Record's
// definitions: in counts every prompt token (cache reads and writes
// included), out every generated token (reasoning included).
type usage struct {
	model                                     string
	in, out, cacheRead, cacheWrite, reasoning int64
}

// check rejects counts that contradict each other or the definitions.
func (u *usage) check() error {
	switch {
	case u.in < 0 || u.out < 0 || u.cacheRead < 0 || u.cacheWrite < 0 || u.reasoning < 0:
		return fmt.Errorf("%w: negative count in %+v", ErrMalformed, *u)
	case u.cacheRead > u.in || u.cacheWrite > u.in-u.cacheRead:
		return fmt.Errorf("%w: cache reads %d + writes %d above the prompt's %d tokens", ErrMalformed, u.cacheRead, u.cacheWrite, u.in)
	case u.reasoning > u.out:
		return fmt.Errorf("%w: reasoning %d above the output's %d tokens", ErrMalformed, u.reasoning, u.out)
	}
	return nil
}

// OpenAI Chat Completions: the usage object of a response, or of a
// stream's last chunk (whose choices are empty). Cached tokens are inside
// prompt_tokens, reasoning tokens inside completion_tokens.
type chatPayload struct {
	Model string `json:"model"`
	Usage *struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
}

// decodeChat reads a chat completion or chunk; ok is false without usage.
func decodeChat(data []byte) (u usage, ok bool, err error) {
	var p chatPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return u, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if p.Usage == nil {
		return u, false, nil
	}
	return usage{
		model:     p.Model,
		in:        p.Usage.PromptTokens,
		out:       p.Usage.CompletionTokens,
		cacheRead: p.Usage.PromptTokensDetails.CachedTokens,
		reasoning: p.Usage.CompletionTokensDetails.ReasoningTokens,
	}, true, nil
}

// OpenAI Responses: a response object (the body of a non-streamed call,
// the "response" of a stream's terminal event). Cached tokens are inside
// input_tokens, reasoning tokens inside output_tokens.
type responseObject struct {
	Model string `json:"model"`
	Usage *struct {
		InputTokens        int64 `json:"input_tokens"`
		OutputTokens       int64 `json:"output_tokens"`
		InputTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokensDetails struct {
			ReasoningTokens int64 `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
	} `json:"usage"`
}

type responsesPayload struct {
	Type     string          `json:"type"`
	Response *responseObject `json:"response"`
	responseObject
}

// terminalResponseEvents are the stream events that end a response and
// carry its usage: response.incomplete (max_output_tokens reached) and
// response.failed are billed for what was generated, so they count.
func terminalResponseEvent(t string) bool {
	return t == "response.completed" || t == "response.incomplete" || t == "response.failed"
}

// decodeResponses reads a response object, or with streamed a stream
// event, which must be a terminal one; ok is false without usage.
func decodeResponses(data []byte, streamed bool) (u usage, ok bool, err error) {
	var p responsesPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return u, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r := &p.responseObject
	if streamed {
		if !terminalResponseEvent(p.Type) || p.Response == nil {
			return u, false, nil
		}
		r = p.Response
	}
	if r.Usage == nil {
		return u, false, nil
	}
	return usage{
		model:     r.Model,
		in:        r.Usage.InputTokens,
		out:       r.Usage.OutputTokens,
		cacheRead: r.Usage.InputTokensDetails.CachedTokens,
		reasoning: r.Usage.OutputTokensDetails.ReasoningTokens,
	}, true, nil
}

// Anthropic Messages: input_tokens excludes the cache reads and writes,
// which are added to make the prompt's total; thinking tokens are inside
// output_tokens. In a stream, message_start's message carries the usage
// so far and every message_delta the cumulative counts of the fields it
// names (output_tokens always; the input and cache counts in newer API
// versions): the last delta over message_start is the final usage.
type messagesUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	OutputTokensDetails      *struct {
		ThinkingTokens *int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// over sets in u each count d names (the cumulative counts of a delta).
func (u *messagesUsage) over(d *messagesUsage) {
	for _, f := range [...]struct{ dst, src **int64 }{
		{&u.InputTokens, &d.InputTokens},
		{&u.OutputTokens, &d.OutputTokens},
		{&u.CacheCreationInputTokens, &d.CacheCreationInputTokens},
		{&u.CacheReadInputTokens, &d.CacheReadInputTokens},
	} {
		if *f.src != nil {
			*f.dst = *f.src
		}
	}
	if d.OutputTokensDetails != nil && d.OutputTokensDetails.ThinkingTokens != nil {
		u.OutputTokensDetails = d.OutputTokensDetails
	}
}

func (u *messagesUsage) normalise(model string) usage {
	v := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	r := usage{
		model:      model,
		cacheRead:  v(u.CacheReadInputTokens),
		cacheWrite: v(u.CacheCreationInputTokens),
		out:        v(u.OutputTokens),
	}
	r.in = v(u.InputTokens) + r.cacheRead + r.cacheWrite
	if u.OutputTokensDetails != nil {
		r.reasoning = v(u.OutputTokensDetails.ThinkingTokens)
	}
	return r
}

type messagesPayload struct {
	Type    string         `json:"type"`
	Model   string         `json:"model"`
	Usage   *messagesUsage `json:"usage"`
	Message *struct {
		Model string         `json:"model"`
		Usage *messagesUsage `json:"usage"`
	} `json:"message"`
}

// decodeMessage reads a non-streamed message; ok is false without usage.
func decodeMessage(data []byte) (u usage, ok bool, err error) {
	var p messagesPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return u, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if p.Usage == nil {
		return u, false, nil
	}
	return p.Usage.normalise(p.Model), true, nil
}

// decodeMessageStream reads a stream's message_start event and its last
// message_delta (nil if none arrived); ok is false unless both are there
// with their usage.
func decodeMessageStream(start, delta []byte) (u usage, ok bool, err error) {
	var s, d messagesPayload
	if err := json.Unmarshal(start, &s); err != nil {
		return u, false, fmt.Errorf("%w: message_start: %w", ErrMalformed, err)
	}
	if s.Type != "message_start" || s.Message == nil || s.Message.Usage == nil || delta == nil {
		return u, false, nil
	}
	if err := json.Unmarshal(delta, &d); err != nil {
		return u, false, fmt.Errorf("%w: message_delta: %w", ErrMalformed, err)
	}
	if d.Type != "message_delta" || d.Usage == nil {
		return u, false, nil
	}
	total := *s.Message.Usage
	total.over(d.Usage)
	return total.normalise(s.Message.Model), true, nil
}

// Gemini: usageMetadata of a GenerateContentResponse (every chunk of a
// stream carries the counts so far; the last is final). Cached tokens are
// inside promptTokenCount; thoughtsTokenCount is outside
// candidatesTokenCount and toolUsePromptTokenCount outside
// promptTokenCount, so both are added (totalTokenCount is the sum of
// all four).
type geminiPayload struct {
	ModelVersion string `json:"modelVersion"`
	Candidates   []struct {
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	UsageMetadata *struct {
		PromptTokenCount        int64 `json:"promptTokenCount"`
		CandidatesTokenCount    int64 `json:"candidatesTokenCount"`
		CachedContentTokenCount int64 `json:"cachedContentTokenCount"`
		ThoughtsTokenCount      int64 `json:"thoughtsTokenCount"`
		ToolUsePromptTokenCount int64 `json:"toolUsePromptTokenCount"`
	} `json:"usageMetadata"`
}

// decodeGemini reads a response or stream chunk; ok is false without
// usageMetadata, finished is true if a candidate has a finish reason.
func decodeGemini(data []byte) (u usage, ok, finished bool, err error) {
	var p geminiPayload
	if err := json.Unmarshal(data, &p); err != nil {
		return u, false, false, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	for _, c := range p.Candidates {
		finished = finished || c.FinishReason != ""
	}
	m := p.UsageMetadata
	if m == nil {
		return u, false, finished, nil
	}
	return usage{
		model:     p.ModelVersion,
		in:        m.PromptTokenCount + m.ToolUsePromptTokenCount,
		out:       m.CandidatesTokenCount + m.ThoughtsTokenCount,
		cacheRead: m.CachedContentTokenCount,
		reasoning: m.ThoughtsTokenCount,
	}, true, finished, nil
}

// requestModel reads the "model" of a JSON request body.
func requestModel(body []byte) string {
	var p struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(body, &p) != nil {
		return ""
	}
	return p.Model
}
