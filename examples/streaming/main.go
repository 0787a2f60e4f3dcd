// Command streaming shows the tracker embedded in a streaming client: one
// Record per chunk on the hot path, Close on the way out, SIGINT/SIGTERM
// handled so the last records are persisted.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/usagering/usagering/tracker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	path := filepath.Join(os.TempDir(), "usagering-example-usage.json")
	t, err := tracker.New(path)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := t.Close(); err != nil { // persists everything recorded
			log.Print(err)
		}
	}()

	for chunk := 0; chunk < 100 && ctx.Err() == nil; chunk++ {
		start := time.Now()
		// ... receive a chunk from the model and forward it to the user ...
		if err := t.Record(tracker.Record{
			Model:        "claude-3-5-sonnet-20241022",
			InputTokens:  500,
			OutputTokens: int64(chunk + 1),
			CostUSD:      t.CalculateCost("claude-3-5-sonnet-20241022", 500, 1),
			LatencyMS:    float64(time.Since(start).Microseconds()) / 1000,
		}); err != nil {
			log.Print(err)
		}
	}
	// Queries answer from memory; Flush first so they include the records
	// still queued (and makes them durable).
	if err := t.Flush(ctx); err != nil {
		log.Print(err)
	}
	today := t.Today()
	fmt.Printf("%s: %d calls today, %d tokens\n", path, today.Calls, today.Tokens)
}
