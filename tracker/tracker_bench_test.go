package tracker

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// benchRecord is a typical streaming-client record.
var benchRecord = Record{
	Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37,
	CostUSD: 0.001, LatencyMS: 50, Metadata: map[string]string{"request_id": "req-42"},
}

// bareRecord carries its own timestamp and no metadata: Record then reads
// no clock and walks no map, which isolates the ring hand-off.
var bareRecord = Record{
	Timestamp: time.Now(), Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37,
	CostUSD: 0.001, LatencyMS: 50,
}

// BenchmarkRecord measures Record on the async tracker (1 and 8
// goroutines; ns/op is wall time per record, Close included so every
// record is persisted) and on the synchronous baseline, with the default
// durability (fsync) for both. "typical" records carry one metadata entry
// and no timestamp (Record stamps them); "bare" ones carry a timestamp and
// no metadata. Compare async and sync from one run:
//
//	go test -run '^$' -bench Record -benchmem ./tracker/
func BenchmarkRecord(b *testing.B) {
	for _, bc := range []struct {
		name string
		g    int
		r    Record
	}{
		{"async/typical/goroutines=1", 1, benchRecord},
		{"async/typical/goroutines=8", 8, benchRecord},
		{"async/bare/goroutines=1", 1, bareRecord},
	} {
		g, rec := bc.g, bc.r
		b.Run(bc.name, func(b *testing.B) {
			tr, err := New(filepath.Join(b.TempDir(), "usage.json"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			runParallel(b, g, func() {
				if err := tr.Record(rec); err != nil {
					b.Fatal(err)
				}
			})
			if err := tr.Close(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if st := tr.Stats(); st.TotalRecords != int64(b.N) {
				b.Fatalf("persisted %d of %d records", st.TotalRecords, b.N)
			}
		})
	}
	b.Run("sync", func(b *testing.B) {
		tr, err := NewSync(filepath.Join(b.TempDir(), "usage.json"))
		if err != nil {
			b.Fatal(err)
		}
		// A file at its steady-state size: 1000 sessions.
		for range DefaultMaxSessions {
			if err := tr.Record(benchRecord); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tr.Record(benchRecord); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// runParallel runs fn b.N times in total over g goroutines.
func runParallel(b *testing.B, g int, fn func()) {
	var wg sync.WaitGroup
	per, extra := b.N/g, b.N%g
	for i := range g {
		n := per
		if i < extra {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				fn()
			}
		}()
	}
	wg.Wait()
}

// BenchmarkFold measures the flusher's phase 1 with the tracker's sink:
// ns per record folded (ring → memory), in batches of DefaultBatchSize, of
// records that carry their cost. Its inverse is the drain rate that must
// stay far above the record rate.
func BenchmarkFold(b *testing.B) { benchFold(b, benchRecord) }

// BenchmarkFoldPriced is BenchmarkFold with records the tracker prices
// from the embedded table (no CostUSD), with cache reads: the price lookup
// and exact cost on the consumer, per record.
func BenchmarkFoldPriced(b *testing.B) {
	r := benchRecord
	r.Model, r.CostUSD, r.CacheReadTokens = "claude-sonnet-4-5-20250929", 0, 300
	benchFold(b, r)
}

func benchFold(b *testing.B, rec Record) {
	cfg, err := buildConfig(nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := newFileSink(filepath.Join(b.TempDir(), "usage.json"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]Record, DefaultBatchSize)
	now := time.Now()
	for i := range batch {
		batch[i] = rec
		batch[i].Timestamp = now
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(batch) {
		n := min(len(batch), b.N-done)
		for i := range batch[:n] {
			batch[i].Provider = "" // as the ring delivers them
		}
		st.Fold(batch[:n])
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st.prices.unpriced.Load() != 0 {
		b.Fatalf("%d records unpriced", st.prices.unpriced.Load())
	}
}
