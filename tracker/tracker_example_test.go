package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
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
	fmt.Printf("today: %d calls, %d tokens, $%.3f\n", today.Calls, today.Tokens, today.Cost.Float64())
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

// New loads the file if it exists (recovering from a corrupt one) and
// starts the flusher; options tune the ring and the persist cadence.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "usagering-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "usage.json")

	t, err := tracker.New(path,
		tracker.WithCapacity(1<<16),                    // room for bursts while a persist runs
		tracker.WithFlushInterval(50*time.Millisecond), // what a crash may lose, at most
		tracker.WithOverflow(tracker.Drop),             // never wait: count a full ring as lost
	)
	if err != nil {
		panic(err)
	}
	t.Record(tracker.Record{Model: "claude-3-5-sonnet-20241022", InputTokens: 10, OutputTokens: 20})
	if err := t.Close(); err != nil { // persists everything recorded
		panic(err)
	}
	res, err := usagefile.Load(path, time.Now())
	if err != nil {
		panic(err)
	}
	fmt.Println("anthropic calls on disk:", res.Doc.ProviderBreakdown["anthropic"].Calls)

	_, err = tracker.New(path, tracker.WithCapacity(1))
	fmt.Println(errors.Is(err, tracker.ErrInvalidOption))
	// Output:
	// anthropic calls on disk: 1
	// true
}

// Record validates, stamps and enqueues: it never waits for the disk. A bad
// record is refused with an error naming the field.
func ExampleTracker_Record() {
	dir, _ := os.MkdirTemp("", "usagering-example")
	defer os.RemoveAll(dir)
	t, err := tracker.New(filepath.Join(dir, "usage.json"))
	if err != nil {
		panic(err)
	}
	err = t.Record(tracker.Record{Model: "gpt-4", InputTokens: 120, OutputTokens: 30, CostUSD: 0.0054})
	fmt.Println("accepted:", err == nil)

	err = t.Record(tracker.Record{Model: "gpt-4", InputTokens: -1})
	fmt.Println("refused:", errors.Is(err, tracker.ErrInvalidRecord))

	if err := t.Close(); err != nil {
		panic(err)
	}
	err = t.Record(tracker.Record{Model: "gpt-4"})
	fmt.Println("after Close:", errors.Is(err, tracker.ErrClosed))
	// Output:
	// accepted: true
	// refused: true
	// after Close: true
}

// Flush returns once everything recorded before it is durable: another
// reader of the file (here LoadDocument) sees it.
func ExampleTracker_Flush() {
	dir, _ := os.MkdirTemp("", "usagering-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "usage.json")
	t, err := tracker.New(path, tracker.WithFlushInterval(time.Hour)) // only Flush persists here
	if err != nil {
		panic(err)
	}
	defer t.Close()
	for range 1000 {
		t.Record(tracker.Record{Model: "gemini-1.5-pro", InputTokens: 10, OutputTokens: 5, CostUSD: 0.0001})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := t.Flush(ctx); err != nil {
		panic(err)
	}
	res, err := usagefile.Load(path, time.Now())
	if err != nil {
		panic(err)
	}
	g := res.Doc.ProviderBreakdown["google"]
	fmt.Printf("on disk: %d calls, %d tokens, $%.4f\n", g.Calls, g.Tokens, g.Cost.Float64())
	// Output:
	// on disk: 1000 calls, 15000 tokens, $0.1000
}
