package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

// A minimal streaming client: the SDK against the local server, every
// call recorded by one middleware from the usage of its final chunk.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "usagering-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	t, err := tracker.New(filepath.Join(dir, "usage.json"))
	if err != nil {
		panic(err)
	}
	defer t.Close()

	ts := httptest.NewServer(&chatServer{}) // no pauses between tokens
	defer ts.Close()
	client := openai.NewClient(
		option.WithMiddleware(capture.Middleware(t)), // records every call
		option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-local-dummy"), option.WithHTTPClient(ts.Client()),
	)

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:               "gpt-4o-mini",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something short.")},
		MaxCompletionTokens: openai.Int(6),
		StreamOptions:       openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}, // the usage capture reads
	})
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			fmt.Print(c.Choices[0].Delta.Content) // the tokens, as they arrive
		}
	}
	if err := stream.Err(); err != nil {
		panic(err)
	}
	if err := stream.Close(); err != nil {
		panic(err)
	}
	fmt.Println()

	if err := t.Flush(ctx); err != nil { // on disk, and counted by Today
		panic(err)
	}
	today := t.Today()
	fmt.Printf("%d call, %d tokens\n", today.Calls, today.Tokens)
	// Output:
	// Streaming keeps the reader busy while
	// 1 call, 9 tokens
}
