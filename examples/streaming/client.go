package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// Operations of the records the client writes.
const (
	opResponse = capture.OpChat // one per response, made by capture from the usage the API reported
	opChunk    = "chat.chunk"   // one per streamed token (-per-chunk): progress, no tokens
)

// lane is one recorder and what was measured while streaming with it. A
// lane without a recorder streams the same way, without capture, and
// records nothing: its gaps are what the machine gives.
type lane struct {
	name string
	rec  tracker.Recorder // nil: no recording, no capture

	mw    option.RequestOption // capture.Middleware over the lane's recorder; nil without one
	stats capture.Counters     // what capture counted

	gaps  *harness.Histogram // ns between consecutive content chunks received
	calls *harness.Histogram // ns spent in each Record call

	// What the final chunks reported, as the SDK read them.
	responses, inputTokens, outputTokens int64
}

func newLane(name string, rec tracker.Recorder) *lane {
	l := &lane{name: name, rec: rec, gaps: harness.NewHistogram(), calls: harness.NewHistogram()}
	if rec != nil {
		l.mw = option.WithMiddleware(capture.Middleware(laneRecorder{l}, capture.WithCounters(&l.stats)))
	}
	return l
}

// laneRecorder is the recorder capture writes to for a lane: it times each
// Record call. The records come without a cost; the trackers price them
// from their table.
type laneRecorder struct{ l *lane }

func (r laneRecorder) Record(rec tracker.Record) error { return r.l.record(rec) }

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

// streamOne streams one response through l's capture middleware, which
// records it from the final usage chunk; with perChunk the client also
// records a progress record per content chunk on the hot path. It writes
// the streamed text to out as it arrives unless out is nil.
func (s *streamer) streamOne(ctx context.Context, l *lane, out io.Writer) (err error) {
	var opts []option.RequestOption
	if l.mw != nil {
		opts = append(opts, l.mw)
		ctx = capture.WithTags(ctx, map[string]string{"lane": l.name})
	}
	start := harness.Now()
	stream := s.client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:               s.model,
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage(s.prompt)},
		MaxCompletionTokens: openai.Int(s.chunks),
		StreamOptions:       openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}, opts...)
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
				// No tokens: capture's record of the response carries them
				// all, as the API reported them. LatencyMS is the gap to
				// this chunk.
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
	// The SDK closed the body at [DONE]: capture has recorded the response.
	if st := l.stats.Stats(); l.mw != nil && (st.Captured != l.responses || st.UncapturedTotal() != 0) {
		return fmt.Errorf("capture recorded %d of %d responses with the %s tracker: %+v", st.Captured, l.responses, l.name, st)
	}
	return nil
}
