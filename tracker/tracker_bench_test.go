package tracker

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usagering/usagering/harness"
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

// BenchmarkRecordPaced breaks down what a Record costs when it is called
// at the rates streaming clients call it, not back to back: each -rate
// calls/s (1,000 and 20,000), round robin, one of a no-op (the pacer's
// floor), the tracker's stamp clock, Validate, a ring push (ring.Push into
// a ring a flusher-like consumer drains), and a whole Record of a typical
// record on a tracker. Each is timed from its intended start
// (harness.Pacer), so the figures are comparable within one run; they are
// reported as p50 and p99 ns per part. Run with a fixed count, b.N being
// calls per part:
//
//	go test -run '^$' -bench RecordPaced -benchtime 4000x ./tracker/
func BenchmarkRecordPaced(b *testing.B) {
	for _, rate := range []float64{1000, 20000} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) { benchPaced(b, rate) })
	}
}

func benchPaced(b *testing.B, rate float64) {
	tr, err := New(filepath.Join(b.TempDir(), "usage.json"))
	if err != nil {
		b.Fatal(err)
	}
	// A ring drained the flusher's way: asleep until a batch is pending.
	q := harness.NewRingQueue[Record](DefaultCapacity, DefaultBatchSize)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for q.Drain(func([]Record) {}) {
		}
	}()
	clock := newStampClock()
	var stamp time.Time
	parts := []struct {
		name string
		fn   func() error
	}{
		{"noop", func() error { return nil }},
		{"clock", func() error { stamp = clock.now(); return nil }},
		{"validate", func() error { return benchRecord.Validate() }},
		{"push", func() error { r := bareRecord; q.Push(&r); return nil }},
		{"record", func() error { return tr.Record(benchRecord) }},
	}
	hs := make([]*harness.Histogram, len(parts))
	for i := range hs {
		hs[i] = harness.NewHistogram()
	}
	b.ResetTimer()
	p := harness.NewPacer(rate, harness.Now())
	for i := range b.N * len(parts) {
		k := i % len(parts)
		s := p.Next()
		if err := parts[k].fn(); err != nil {
			b.Fatal(err)
		}
		hs[k].Record(harness.Now() - s)
	}
	b.StopTimer()
	_ = stamp
	q.Close()
	<-drained
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
	for k, part := range parts {
		s := hs[k].Summary()
		b.ReportMetric(float64(s.P50), part.name+"-p50-ns")
		b.ReportMetric(float64(s.P99), part.name+"-p99-ns")
	}
	b.ReportMetric(0, "ns/op") // wall time per call is the pacer's period
}
