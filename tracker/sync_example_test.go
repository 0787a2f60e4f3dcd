package tracker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
)

func ExampleDetectProvider() {
	for _, m := range []string{"claude-3-5-sonnet-20241022", "GPT-4o", "models/Gemini-1.5-Pro", "llama-3-70b"} {
		fmt.Println(m, "→", tracker.DetectProvider(m))
	}
	// Output:
	// claude-3-5-sonnet-20241022 → anthropic
	// GPT-4o → openai
	// models/Gemini-1.5-Pro → google
	// llama-3-70b → unknown
}

func ExampleNewSync() {
	dir, err := os.MkdirTemp("", "usagering-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "usage.json")

	tr, err := tracker.NewSync(path, tracker.WithLocation(time.UTC))
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	ts := time.Date(2026, 11, 26, 14, 3, 7, 0, time.UTC)
	for _, cost := range []float64{0.001, 0.0125} {
		err := tr.Record(tracker.Record{Timestamp: ts, Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CostUSD: cost, LatencyMS: 200})
		if err != nil {
			panic(err)
		}
	}

	// Every Record is on disk when it returns.
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	doc, err := usagefile.ParseDocument(data)
	if err != nil {
		panic(err)
	}
	day := doc.DailyTotals["2026-11-26"]
	fmt.Println(len(doc.Sessions), "sessions;", day.Tokens, "tokens;", day.Cost, "USD;", day.Calls, "calls")
	// Output:
	// 2 sessions; 300 tokens; 0.0135 USD; 2 calls
}
