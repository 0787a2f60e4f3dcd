package tracker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/usagering/usagering/tracker"
)

func Example() {
	dir, _ := os.MkdirTemp("", "usagering-example")
	defer os.RemoveAll(dir)

	t, err := tracker.New(filepath.Join(dir, "usage.json"))
	if err != nil {
		panic(err)
	}
	defer t.Close()

	// In a streaming loop: one Record per chunk costs tens of nanoseconds.
	for chunk := range 3 {
		if err := t.Record(tracker.Record{
			Model:        "claude-3-5-sonnet-20241022",
			InputTokens:  500,
			OutputTokens: int64(10 * (chunk + 1)),
			CostUSD:      0.001,
			LatencyMS:    50,
		}); err != nil {
			panic(err)
		}
	}
	// Flush makes everything recorded so far durable.
	if err := t.Flush(context.Background()); err != nil {
		panic(err)
	}
	today := t.Today()
	fmt.Printf("today: %d calls, %d tokens, $%.3f\n", today.Calls, today.Tokens, today.Cost())
	fmt.Println("persisted:", t.Stats().TotalRecords)
	// Output:
	// today: 3 calls, 1560 tokens, $0.003
	// persisted: 3
}

func ExampleTracker_Summary() {
	dir, _ := os.MkdirTemp("", "usagering-example")
	defer os.RemoveAll(dir)

	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	t, err := tracker.New(filepath.Join(dir, "usage.json"),
		tracker.WithLocation(time.UTC), tracker.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	defer t.Close()
	t.Record(tracker.Record{Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CostUSD: 0.006})
	t.Record(tracker.Record{Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CostUSD: 0.006, Timestamp: now.AddDate(0, 0, -1)})
	t.Flush(context.Background())

	s, err := t.Summary(30)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d calls, $%.3f, projected monthly $%.3f, openai calls %d\n",
		s.TotalCalls, s.TotalCostUSD, s.ProjectedMonthlyCost, s.ProviderBreakdown["openai"].Calls)
	// Output:
	// 2 calls, $0.012, projected monthly $0.012, openai calls 2
}
