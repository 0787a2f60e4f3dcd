package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/usagering/usagering/tracker"
)

// A minimal streaming client: the SDK against the local server, the usage
// of the final chunk recorded with the tracker.
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
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("sk-local-dummy"),
		option.WithHTTPClient(ts.Client()))

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:               "gpt-4o-mini",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say something short.")},
		MaxCompletionTokens: openai.Int(6),
		StreamOptions:       openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	defer stream.Close()
	for stream.Next() {
		c := stream.Current()
		if len(c.Choices) > 0 {
			fmt.Print(c.Choices[0].Delta.Content) // the tokens, as they arrive
		}
		if c.JSON.Usage.Valid() { // the last chunk: empty choices, the usage
			u := c.Usage
			err := t.Record(tracker.Record{
				Model:        c.Model,
				InputTokens:  u.PromptTokens,
				OutputTokens: u.CompletionTokens,
			})
			if err != nil {
				panic(err)
			}
		}
	}
	if err := stream.Err(); err != nil {
		panic(err)
	}
	fmt.Println()

	if err := t.Flush(ctx); err != nil { // on disk, and counted by Today
		panic(err)
	}
	today := t.Today()
	fmt.Printf("%d call, %d tokens, $%s\n", today.Calls, today.Tokens, today.Cost)
	// Output:
	// Streaming keeps the reader busy while
	// 1 call, 9 tokens, $0.00000405
}
