package capture_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

// The OpenAI SDK streaming from a local server that speaks the API's wire
// format, recorded into a usage file by one middleware.
func ExampleMiddleware() {
	ts := httptest.NewServer(&apiServer{script: script{Model: "gpt-4o-mini-2024-07-18", Words: words,
		Counts: counts{Prompt: 1200, Cached: 1000, Completion: 300, Reasoning: 200}}})
	defer ts.Close()
	dir, err := os.MkdirTemp("", "capture-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	t, err := tracker.New(filepath.Join(dir, "usage.json"))
	if err != nil {
		panic(err)
	}
	defer t.Close()
	var stats capture.Counters
	client := openai.NewClient(
		option.WithMiddleware(capture.Middleware(t, capture.WithCounters(&stats))), // the one line
		option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-local"), option.WithHTTPClient(ts.Client()),
	)

	ctx := capture.WithTags(context.Background(), map[string]string{"team": "search"})
	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:         "gpt-4o-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something.")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			fmt.Print(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Close(); err != nil {
		panic(err)
	}
	fmt.Println()

	if err := t.Flush(ctx); err != nil {
		panic(err)
	}
	today := t.Today()
	fmt.Printf("captured %d; the file has %d call, %d tokens\n", stats.Stats().Captured, today.Calls, today.Tokens)
	// Output:
	// Tokens arrive one by one.
	// captured 1; the file has 1 call, 1500 tokens
}

// printer prints the records it gets.
type printer struct{}

func (printer) Record(r tracker.Record) error {
	fmt.Printf("%s %s: %d in (%d cached), %d out (%d reasoning)\n", r.Operation, r.Model,
		r.InputTokens, r.CacheReadTokens, r.OutputTokens, r.ReasoningTokens)
	return nil
}

// Any http.Client: here Gemini's streamGenerateContent, whose thoughts
// tokens are counted outside its candidates tokens and added to the output.
func ExampleTransport() {
	ts := httptest.NewServer(&apiServer{script: script{Model: "gemini-2.5-flash", Words: words,
		Counts: counts{Prompt: 900, Cached: 600, Completion: 50, Reasoning: 120}}})
	defer ts.Close()

	hc := &http.Client{Transport: capture.Transport(printer{}, ts.Client().Transport)}
	resp, err := hc.Post(ts.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
		"application/json", strings.NewReader(`{"contents":[{"parts":[{"text":"hi"}]}]}`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil { // the record is made at EOF
		panic(err)
	}
	// Output:
	// generate_content gemini-2.5-flash: 900 in (600 cached), 170 out (120 reasoning)
}

// Calls that succeed but cannot be recorded are counted by reason: here a
// chat stream that did not ask for usage.
func ExampleCounters() {
	ts := httptest.NewServer(&apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}})
	defer ts.Close()
	var stats capture.Counters
	client := openai.NewClient(option.WithMiddleware(capture.Middleware(printer{}, capture.WithCounters(&stats))),
		option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-local"), option.WithHTTPClient(ts.Client()))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
	})
	for stream.Next() {
	}
	stream.Close()
	s := stats.Stats()
	fmt.Println("captured:", s.Captured)
	for r := range capture.Reason(capture.NumReasons) {
		if n := s.Uncaptured[r]; n > 0 {
			fmt.Printf("uncaptured, %s: %d\n", r, n)
		}
	}
	// Output:
	// captured: 0
	// uncaptured, no_usage: 1
}
