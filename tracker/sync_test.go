package tracker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func readDocForTest(t testing.TB, path string) *usagefile.Document {
	t.Helper()
	d, err := usagefile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func writeFileForTest(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func compactForTest(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}

func TestSyncRecordPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithLocation(time.UTC), tracker.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NewSync wrote the file before any record: %v", err)
	}
	ts := time.Date(2026, 11, 26, 14, 3, 7, 512334000, time.UTC)
	recs := []tracker.Record{
		{Timestamp: ts, Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37, CostUSD: 0.001, LatencyMS: 50},
		{Timestamp: ts.Add(time.Second), Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CostUSD: 0.006, LatencyMS: 200,
			Metadata: map[string]string{"request_id": "req-42"}},
		{Model: "gpt-4", InputTokens: 1, OutputTokens: 2, CostUSD: 0.0005},
	}
	for i, r := range recs {
		before := time.Now()
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
		// Persisted before Record returns: re-read the file each time.
		d := readDocForTest(t, path)
		if len(d.Sessions) != i+1 {
			t.Fatalf("after %d records the file has %d sessions", i+1, len(d.Sessions))
		}
		lu, err := time.ParseInLocation(usagefile.TimestampLayout, d.LastUpdated, time.UTC)
		if err != nil || lu.Before(before.Truncate(time.Microsecond)) {
			t.Errorf("last_updated %q (%v), want ≥ %v", d.LastUpdated, err, before)
		}
	}
	d := readDocForTest(t, path)
	if s := d.Sessions[1]; s.Timestamp != "2026-11-26T14:03:08.512334" || s.Provider != "openai" || compactForTest(t, s.Metadata) != `{"request_id":"req-42"}` {
		t.Errorf("sessions[1] = %+v (%s)", s, s.Metadata)
	}
	if got := d.ModelBreakdown["gpt-4"]; got != (tracker.Totals{Tokens: 153, Cost: usd.FromNanos(6_500_000), Calls: 2, InputTokens: 100 + 1, OutputTokens: 50 + 2}) {
		t.Errorf("gpt-4 totals = %+v", got)
	}
	if got := d.ProviderBreakdown["anthropic"]; got != (tracker.Totals{Tokens: 537, Cost: usd.FromNanos(1_000_000), Calls: 1, InputTokens: 500, OutputTokens: 37}) {
		t.Errorf("anthropic totals = %+v", got)
	}
	if got := d.DailyTotals["2026-11-26"]; got.Calls < 2 {
		t.Errorf("daily totals = %v", d.DailyTotals)
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Errorf("Flush = %v", err)
	}
}

// The original had no lock: concurrent calls read half-written files. Here
// every call of 8 goroutines lands, with exact totals.
func TestSyncConcurrentRecordsAllPersisted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := tr.Record(tracker.Record{Model: "gpt-4", InputTokens: 10, OutputTokens: 1, CostUSD: 0.001}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	d := readDocForTest(t, path)
	want := tracker.Totals{Tokens: 11 * goroutines * each, Cost: usd.FromNanos(1_000_000 * goroutines * each), Calls: goroutines * each,
		InputTokens: 10 * goroutines * each, OutputTokens: goroutines * each}
	if got := d.ModelBreakdown["gpt-4"]; got != want || got.Cost.String() != "0.2" {
		t.Errorf("totals = %+v, want %+v", got, want)
	}
	if len(d.Sessions) != goroutines*each {
		t.Errorf("%d sessions, want %d", len(d.Sessions), goroutines*each)
	}
	if tr.Recoveries() != 0 {
		t.Errorf("%d corruption recoveries: a torn read", tr.Recoveries())
	}
}

func TestSyncClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Record(tracker.Record{Model: "gpt-4"}); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if err := tr.Record(tracker.Record{Model: "gpt-4"}); !errors.Is(err, tracker.ErrClosed) {
		t.Fatalf("Record after Close = %v, want ErrClosed", err)
	}
	if n := len(readDocForTest(t, path).Sessions); n != 1 {
		t.Fatalf("%d sessions after a refused record, want 1", n)
	}
}

func TestSyncRejectsInvalidRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Record(tracker.Record{Model: "gpt-4", InputTokens: -1}); !errors.Is(err, tracker.ErrInvalidRecord) {
		t.Fatalf("Record = %v, want ErrInvalidRecord", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an invalid record wrote the file: %v", err)
	}
}

func TestSyncMaxSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithNoSync(), tracker.WithMaxSessions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := int64(0); i < 5; i++ {
		if err := tr.Record(tracker.Record{Model: "m", InputTokens: i}); err != nil {
			t.Fatal(err)
		}
	}
	d := readDocForTest(t, path)
	if len(d.Sessions) != 3 || d.Sessions[0].InputTokens != 2 || d.Sessions[2].InputTokens != 4 || d.ModelBreakdown["m"].Calls != 5 {
		t.Fatalf("sessions %+v, totals %+v", d.Sessions, d.ModelBreakdown)
	}
}

func TestSyncOptionsAndForeignFile(t *testing.T) {
	dir := t.TempDir()
	for name, opt := range map[string]tracker.Option{
		"max 0":    tracker.WithMaxSessions(0),
		"max -1":   tracker.WithMaxSessions(-1),
		"nil zone": tracker.WithLocation(nil),
	} {
		if _, err := tracker.NewSync(filepath.Join(dir, "a.json"), opt); !errors.Is(err, tracker.ErrInvalidOption) {
			t.Errorf("%s: NewSync = %v, want ErrInvalidOption", name, err)
		}
	}
	foreign := filepath.Join(dir, "package.json")
	writeFileForTest(t, foreign, []byte(`{"name": "x"}`))
	if _, err := tracker.NewSync(foreign); !errors.Is(err, tracker.ErrForeignFile) {
		t.Fatalf("NewSync(foreign) = %v, want ErrForeignFile", err)
	}
	if got, _ := os.ReadFile(foreign); string(got) != `{"name": "x"}` {
		t.Fatal("foreign file changed")
	}
	mine, err := pricing.NewSubstring([]pricing.SubstringEntry{{Key: "m", Provider: "acme",
		Price: pricing.PerThousand{Input: usd.FromNanos(1e9), Output: usd.FromNanos(2e9)}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tracker.NewSync(filepath.Join(dir, "b.json"), tracker.WithPrices(mine))
	if err != nil {
		t.Fatal(err)
	}
	if q, err := tr.Quote("m-1", pricing.Usage{Input: 1000, Output: 1000}); err != nil || q.Cost.String() != "3" {
		t.Errorf("Quote with the tracker's table = %v, %v; want 3", q.Cost, err)
	}
}

func TestSyncRecoversFromCorruptFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	tr, err := tracker.NewSync(path, tracker.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, cost := range []float64{1, 2} {
		if err := tr.Record(tracker.Record{Model: "gpt-4", CostUSD: cost}); err != nil {
			t.Fatal(err)
		}
	}
	writeFileForTest(t, path, []byte(`{"sessions": [`)) // torn by someone else
	if err := tr.Record(tracker.Record{Model: "gpt-4", CostUSD: 4}); err != nil {
		t.Fatal(err)
	}
	if tr.Recoveries() != 1 {
		t.Fatalf("Recoveries = %d, want 1", tr.Recoveries())
	}
	d := readDocForTest(t, path)
	// The backup holds the file as before the last write (the first record):
	// it is used, and the new record added to it. The second record was only
	// in the torn file, as in the original.
	if got := d.ModelBreakdown["gpt-4"]; got.Calls != 2 || got.Cost != usd.FromNanos(5e9) {
		t.Fatalf("totals after recovery = %+v", got)
	}
}

func benchmarkSyncRecord(b *testing.B, opts ...tracker.Option) {
	path := filepath.Join(b.TempDir(), "usage.json")
	// Steady state: the file already holds 1000 sessions, as after a while.
	fill, err := tracker.New(path, tracker.WithNoSync())
	if err != nil {
		b.Fatal(err)
	}
	models := []string{"claude-3-5-sonnet-20241022", "gpt-4o-mini", "gemini-1.5-pro", "llama-3-70b"}
	for i := range 1000 {
		r := tracker.Record{Model: models[i%len(models)], InputTokens: int64(100 + i), OutputTokens: int64(20 + i%50),
			CostUSD: float64(i%97) * 0.00037, LatencyMS: float64(i%500) + 0.25}
		if i%3 == 0 {
			r.Metadata = map[string]string{"request_id": fmt.Sprintf("req-%d", i), "user": "u1"}
		}
		if err := fill.Record(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := fill.Close(); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := tracker.NewSync(path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	r := tracker.Record{Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37, CostUSD: 0.001, LatencyMS: 50,
		Metadata: map[string]string{"request_id": "req-42"}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.Record(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSyncRecord(b *testing.B) {
	b.Run("nosync", func(b *testing.B) { benchmarkSyncRecord(b, tracker.WithNoSync()) })
	b.Run("fsync", func(b *testing.B) { benchmarkSyncRecord(b) })
}
