package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/openai/openai-go/v3"
	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// Operations of the records the client writes.
const (
	opResponse = "chat"       // one per response, with the usage the API reported
	opChunk    = "chat.chunk" // one per streamed token (-per-chunk): progress, no tokens
)

// lane is one recorder and what was measured while streaming with it. A
// lane without a recorder streams the same way and records nothing: its
// gaps are what the machine gives without recording.
type lane struct {
	name string
	rec  tracker.Recorder // nil: no recording

	gaps  *harness.Histogram // ns between consecutive content chunks received
	calls *harness.Histogram // ns spent in each Record call

	// What the final chunks reported.
	responses, inputTokens, outputTokens int64
}

func newLane(name string, rec tracker.Recorder) *lane {
	return &lane{name: name, rec: rec, gaps: harness.NewHistogram(), calls: harness.NewHistogram()}
}

// record calls l.rec.Record, timing the call.
func (l *lane) record(r tracker.Record) error {
	t0 := harness.Now()
	err := l.rec.Record(r)
	l.calls.Record(harness.Now() - t0)
	if err != nil {
		return fmt.Errorf("record with the %s tracker: %w", l.name, err)
	}
	return nil
}

// streamer sends chat completion requests and streams the answers.
type streamer struct {
	client   openai.Client
	model    string
	prompt   string
	chunks   int64 // completion tokens to ask for
	perChunk bool  // record a progress record per content chunk
}

// streamOne streams one response, recording with l on the hot path: with
// perChunk a progress record per content chunk, and in all cases one record
// with the usage from the final chunk. It writes the streamed text to out
// as it arrives unless out is nil.
func (s *streamer) streamOne(ctx context.Context, l *lane, out io.Writer) (err error) {
	start := harness.Now()
	stream := s.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:               s.model,
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage(s.prompt)},
		MaxCompletionTokens: openai.Int(s.chunks),
		StreamOptions:       openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	defer func() {
		if cerr := stream.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close stream: %w", cerr)
		}
	}()

	var (
		last     = start // receipt of the previous content chunk (the request, before the first)
		content  bool    // a content chunk has been received
		final    openai.ChatCompletionChunk
		hasUsage bool
	)
	for stream.Next() {
		now := harness.Now()
		c := stream.Current()
		if len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			if content {
				l.gaps.Record(now - last)
			}
			if out != nil {
				if _, err := io.WriteString(out, c.Choices[0].Delta.Content); err != nil {
					return fmt.Errorf("print: %w", err)
				}
			}
			if s.perChunk && l.rec != nil {
				// No tokens: the response's record carries them all, as the
				// API reported them. LatencyMS is the gap to this chunk.
				err := l.record(tracker.Record{Model: c.Model, Operation: opChunk, LatencyMS: float64(now-last) / 1e6})
				if err != nil {
					return err
				}
			}
			last, content = now, true
		}
		if c.JSON.Usage.Valid() {
			final, hasUsage = c, true
		}
	}
	if err := stream.Err(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if !hasUsage {
		return errors.New("the stream ended without a usage chunk")
	}
	u := final.Usage
	if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		return fmt.Errorf("usage: total_tokens %d != prompt_tokens %d + completion_tokens %d",
			u.TotalTokens, u.PromptTokens, u.CompletionTokens)
	}
	l.responses++
	l.inputTokens += u.PromptTokens
	l.outputTokens += u.CompletionTokens
	if l.rec == nil {
		return nil
	}
	return l.record(tracker.Record{
		Model:        final.Model,
		InputTokens:  u.PromptTokens,
		OutputTokens: u.CompletionTokens,
		LatencyMS:    float64(harness.Now()-start) / 1e6,
		Operation:    opResponse,
		Metadata:     map[string]string{"completion_id": final.ID},
	})
}
