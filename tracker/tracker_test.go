package tracker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/usagering/usagering/internal/faultfs"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
	"go.uber.org/atomic"
)

// day0 is the fixed day records are stamped with, so no test depends on the
// wall clock crossing midnight.
var day0 = time.Date(2026, 11, 26, 14, 3, 7, 512334000, time.UTC)

func fixedClock() time.Time { return day0 }

// testOpts are the options every test tracker gets: UTC, a fixed clock,
// short intervals so tests do not wait for defaults.
func testOpts(extra ...Option) []Option {
	return append([]Option{
		WithLocation(time.UTC), WithClock(fixedClock),
		WithFlushInterval(5 * time.Millisecond), WithRetry(time.Millisecond, 20*time.Millisecond),
	}, extra...)
}

func newTracker(t *testing.T, path string, opts ...Option) *Tracker {
	t.Helper()
	tr, err := New(path, testOpts(opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr
}

func readDoc(t *testing.T, path string) *usagefile.Document {
	t.Helper()
	doc, err := usagefile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// totalsOf is what one record adds to each breakdown.
func totalsOf(r Record) Totals {
	return Totals{
		Tokens: r.InputTokens + r.OutputTokens, Cost: usdOf(r.CostUSD), Calls: 1,
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens,
	}
}

// usdOf is the exact amount a float cost stands for (its shortest decimal).
func usdOf(f float64) usd.Amount {
	a, err := usd.FromFloat(f)
	if err != nil {
		panic(err)
	}
	return a
}

// expect accumulates what records should add up to.
type expect struct {
	daily, models, providers map[string]Totals
}

func newExpect() *expect {
	return &expect{daily: map[string]Totals{}, models: map[string]Totals{}, providers: map[string]Totals{}}
}

func (e *expect) add(r Record) {
	t := totalsOf(r)
	day := r.Timestamp.In(time.UTC).Format(usagefile.DayLayout)
	if r.Timestamp.IsZero() {
		day = day0.Format(usagefile.DayLayout)
	}
	p := r.Provider
	if p == "" {
		p = DetectProvider(r.Model)
	}
	for _, kv := range []struct {
		m map[string]Totals
		k string
	}{{e.daily, day}, {e.models, r.Model}, {e.providers, p}} {
		cur := kv.m[kv.k]
		cur.Add(t)
		kv.m[kv.k] = cur
	}
}

func (e *expect) check(t *testing.T, doc *usagefile.Document) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want map[string]Totals
	}{{"daily_totals", doc.DailyTotals, e.daily}, {"model_breakdown", doc.ModelBreakdown, e.models}, {"provider_breakdown", doc.ProviderBreakdown, e.providers}} {
		if len(c.got) != len(c.want) {
			t.Errorf("%s has %d keys, want %d: %v", c.name, len(c.got), len(c.want), c.got)
		}
		for k, w := range c.want {
			if g := c.got[k]; g != w {
				t.Errorf("%s[%q] = %+v, want %+v", c.name, k, g, w)
			}
		}
	}
}

var models = []string{"claude-3-5-sonnet-20241022", "gpt-4", "gemini-1.5-pro", "llama-3-70b"}

// mkRecord is record i of goroutine g: distinct, with exact nano-dollar
// costs, spread over three days.
func mkRecord(g, i int) Record {
	return Record{
		Timestamp:    day0.Add(time.Duration(i%3-1) * 24 * time.Hour),
		Model:        models[(g+i)%len(models)],
		InputTokens:  int64(100 + i%7),
		OutputTokens: int64(g),
		CostUSD:      float64(1000+i%13) / 1e6,
		LatencyMS:    float64(i % 100),
		Metadata:     map[string]string{"g": fmt.Sprint(g), "i": fmt.Sprint(i)},
	}
}

// TestExactTotals: 8 goroutines × 100k records, concurrent random Flush
// calls, then Close: the file's totals are the exact sums and sessions hold
// the last 1000 records.
func TestExactTotals(t *testing.T) {
	const goroutines = 8
	perG := 100_000
	if testing.Short() {
		perG = 10_000
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithCapacity(1024), WithNoSync())
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range perG {
				if err := tr.Record(mkRecord(g, i)); err != nil {
					t.Errorf("Record: %v", err)
					return
				}
				if rng.IntN(20_000) == 0 {
					if err := tr.Flush(context.Background()); err != nil {
						t.Errorf("Flush: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	want := newExpect()
	for g := range goroutines {
		for i := range perG {
			want.add(mkRecord(g, i))
		}
	}
	doc := readDoc(t, path)
	want.check(t, doc)
	if len(doc.Sessions) != DefaultMaxSessions {
		t.Fatalf("sessions: %d, want %d", len(doc.Sessions), DefaultMaxSessions)
	}
	// The last sessions are the last records: each goroutine's sessions
	// appear in its own order, and the last session of each goroutine that
	// appears is its last record.
	lastIdx := map[string]int{}
	for _, s := range doc.Sessions {
		var m map[string]string
		if err := json.Unmarshal(s.Metadata, &m); err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscan(m["i"], &i)
		if prev, ok := lastIdx[m["g"]]; ok && i <= prev {
			t.Fatalf("goroutine %s: session %d after %d", m["g"], i, prev)
		}
		lastIdx[m["g"]] = i
	}
	for g, i := range lastIdx {
		if i != perG-1 {
			t.Errorf("goroutine %s: last session is record %d, want %d", g, i, perG-1)
		}
	}
	st := tr.Stats()
	if st.TotalRecords != int64(goroutines*perG) || st.Pending != 0 || st.LostRecords != 0 {
		t.Fatalf("stats after Close: %+v", st)
	}
}

// TestExactCost: 1,000,000 records of $0.001 sum to exactly 1000 in the
// file (float summation would drift).
func TestExactCost(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithNoSync())
	for range n {
		if err := tr.Record(Record{Model: "gpt-4", CostUSD: 0.001}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	doc := readDoc(t, path)
	want := float64(n) / 1000
	if got := doc.ModelBreakdown["gpt-4"].Cost.Float64(); got != want {
		t.Fatalf("cost = %v, want exactly %v", got, want)
	}
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), fmt.Sprintf(`"cost": %v`, want)) {
		t.Fatalf("file does not spell the cost as %v", want)
	}
}

// TestCloseRacesRecord: every Record that returned nil is persisted; every
// later one returns ErrClosed.
func TestCloseRacesRecord(t *testing.T) {
	for round := range 10 {
		path := filepath.Join(t.TempDir(), "usage.json")
		tr := newTracker(t, path, WithCapacity(64), WithNoSync())
		const goroutines = 6
		accepted := make([]int, goroutines)
		var started sync.WaitGroup
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			started.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					err := tr.Record(Record{Model: fmt.Sprintf("m-%d", g), InputTokens: 1, Timestamp: day0})
					if i == 0 {
						started.Done()
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Record: %v", err)
						return
					}
					accepted[g]++
				}
			}()
		}
		started.Wait()
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		doc := readDoc(t, path)
		for g, n := range accepted {
			if got := doc.ModelBreakdown[fmt.Sprintf("m-%d", g)].Calls; got != int64(n) {
				t.Fatalf("round %d: goroutine %d: %d records accepted, %d persisted", round, g, n, got)
			}
		}
		if err := tr.Record(Record{Model: "x"}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Record after Close = %v, want ErrClosed", err)
		}
		if err := tr.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
	}
}

func TestRecordRejectsBadInput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	defer tr.Close()
	for _, r := range []Record{
		{},
		{Model: "gpt-4", InputTokens: -1},
		{Model: "gpt-4", CostUSD: -0.5},
		{Model: strings.Repeat("x", MaxModelLen+1)},
	} {
		if err := tr.Record(r); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("Record(%+v) = %v, want ErrInvalidRecord", r, err)
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.TotalRecords != 0 || st.Pending != 0 {
		t.Fatalf("an invalid record was queued: %+v", st)
	}
}

func TestInvalidOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	for _, o := range []Option{
		WithCapacity(1), WithCapacity(1 << 31), WithBatchSize(0), WithFlushInterval(0),
		WithMaxSessions(0), WithOverflow(Overflow(9)), WithLocation(nil), WithClock(nil),
		WithRetry(0, time.Second), WithCloseRetries(-1),
		WithPrices(nil),
	} {
		if _, err := New(path, o); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("New with a bad option: %v, want ErrInvalidOption", err)
		}
	}
	if _, err := New(path, WithCapacity(64), WithBatchSize(128)); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("batch above capacity: %v, want ErrInvalidOption", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed New wrote %s", path)
	}
}

func TestRecordAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithNoSync())
	defer tr.Close()
	md := map[string]string{"request_id": "req-42"}
	r := Record{Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37, CostUSD: 0.001, LatencyMS: 50, Metadata: md}
	if n := testing.AllocsPerRun(10_000, func() {
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Record: %v allocs per call, want 0", n)
	}
}

func TestDropPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithCapacity(4), WithBatchSize(1), WithOverflow(Drop))
	// A reader of the state keeps the flusher's loop from folding (Fold
	// takes the state's write lock), so nothing drains the ring. The persist
	// no longer stops the loop: it runs on its own goroutine.
	tr.sink.mu.RLock()
	if err := tr.Record(Record{Model: "gpt-4"}); err != nil {
		t.Fatal(err)
	}
	for tr.ring.Consumed() < 1 {
		runtime.Gosched() // the loop takes the record, then waits on the lock
	}
	full := 0
	for i := range 10 {
		err := tr.Record(Record{Model: "gpt-4"})
		if errors.Is(err, ErrFull) {
			full++
		} else if err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
	if full != 10-tr.ring.Cap() {
		t.Fatalf("%d records refused, want %d", full, 10-tr.ring.Cap())
	}
	tr.sink.mu.RUnlock()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.Dropped != int64(full) || st.LostRecords != int64(full) {
		t.Fatalf("Dropped = %d, LostRecords = %d, want %d", st.Dropped, st.LostRecords, full)
	}
	if got := readDoc(t, path).ModelBreakdown["gpt-4"].Calls; got != int64(11-full) {
		t.Fatalf("persisted %d calls, want %d", got, 11-full)
	}
}

func TestQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	defer tr.Close()
	recs := []Record{
		{Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CostUSD: 0.006},
		{Model: "claude-3-5-sonnet-20241022", InputTokens: 500, OutputTokens: 37, CostUSD: 0.001},
		{Model: "gpt-4", InputTokens: 10, OutputTokens: 5, CostUSD: 0.0005, Timestamp: day0.AddDate(0, 0, -3)},
		{Model: "gpt-4", InputTokens: 1, OutputTokens: 1, CostUSD: 1, Timestamp: day0.AddDate(0, 0, -40)},
	}
	for _, r := range recs {
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One more after the persist: queries see folded-but-unpersisted data.
	if err := tr.Record(Record{Model: "gemini-pro", InputTokens: 1, CostUSD: 0.002}); err != nil {
		t.Fatal(err)
	}
	// Wait for the fold, not the persist: the flusher folds the first
	// record of an idle period at once.
	waitFolded(tr, 5)
	if got, want := tr.Today(), (Totals{Tokens: 150 + 537 + 1, Cost: usd.FromNanos(6_000_000 + 1_000_000 + 2_000_000), Calls: 3, InputTokens: 100 + 500 + 1, OutputTokens: 50 + 37}); got != want {
		t.Fatalf("Today() = %+v, want %+v", got, want)
	}
	sum, err := tr.Summary(30)
	if err != nil {
		t.Fatal(err)
	}
	if sum.PeriodDays != 30 || sum.TotalCalls != 4 || sum.TotalTokens != 150+537+15+1 || sum.TotalCostUSD != 0.0095 {
		t.Fatalf("Summary(30) = %+v", sum)
	}
	if want := (Totals{Tokens: 150 + 537 + 15 + 1, Cost: usd.FromNanos(9_500_000), Calls: 4, InputTokens: 100 + 500 + 10 + 1, OutputTokens: 50 + 37 + 5}); sum.Period != want {
		t.Fatalf("Summary(30).Period = %+v, want %+v", sum.Period, want)
	}
	if want := sum.TotalCostUSD / 30 * 30; sum.ProjectedMonthlyCost != want || sum.AvgDailyCost != sum.TotalCostUSD/30 {
		t.Fatalf("averages: %+v", sum)
	}
	if sum.ModelBreakdown["gpt-4"].Calls != 3 || sum.ProviderBreakdown["google"].Calls != 1 {
		t.Fatalf("breakdowns: %+v %+v", sum.ModelBreakdown, sum.ProviderBreakdown)
	}
	if _, err := tr.Summary(0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("Summary(0) = %v, want ErrInvalidArgument", err)
	}
}

// faultFS injects disk faults into the tracker's writes, switched on and
// off while it runs: err fails CreateTemp (a read-only directory, say);
// writeErr fails a temp file's Write after half of it was written (a disk
// filling up midway); syncErr fails a temp file's fsync, dirSyncErr the
// directory's.
type faultFS struct {
	*faultfs.FS
	err, writeErr, syncErr, dirSyncErr atomic.Error
}

func newFaultFS() *faultFS {
	f := &faultFS{FS: faultfs.New(nil)}
	f.Set(faultfs.InjectorFunc(func(ev faultfs.Event) error {
		switch ev.Op {
		case faultfs.OpCreateTemp:
			return f.err.Load()
		case faultfs.OpWrite:
			if err := f.writeErr.Load(); err != nil {
				return &faultfs.ShortWrite{N: ev.Len / 2, Err: err}
			}
		case faultfs.OpSync:
			if strings.Contains(filepath.Base(ev.Path), ".tmp-") {
				return f.syncErr.Load()
			}
			return f.dirSyncErr.Load()
		}
		return nil
	}))
	return f
}

func (f *faultFS) clearAll() {
	f.err.Store(nil)
	f.writeErr.Store(nil)
	f.syncErr.Store(nil)
	f.dirSyncErr.Store(nil)
}

// TestDiskFaults: while the disk fails, Record keeps working and totals stay
// exact in memory; persists fail and retry; once the fault clears, the file
// gets everything.
func TestDiskFaults(t *testing.T) {
	faults := []struct {
		name  string
		cause error
		set   func(t *testing.T, path string, f *faultFS)
		clear func(t *testing.T, path string, f *faultFS)
	}{
		{
			name: "read-only directory", cause: fs.ErrPermission,
			set:   func(t *testing.T, _ string, f *faultFS) { f.err.Store(syscall.EACCES) },
			clear: func(t *testing.T, _ string, f *faultFS) { f.clearAll() },
		},
		{
			name: "disk full midway through the write", cause: syscall.ENOSPC,
			set:   func(t *testing.T, _ string, f *faultFS) { f.writeErr.Store(syscall.ENOSPC) },
			clear: func(t *testing.T, _ string, f *faultFS) { f.clearAll() },
		},
		{
			name: "fsync error", cause: syscall.EIO,
			set:   func(t *testing.T, _ string, f *faultFS) { f.syncErr.Store(syscall.EIO) },
			clear: func(t *testing.T, _ string, f *faultFS) { f.clearAll() },
		},
		{
			name: "parent directory missing", cause: fs.ErrNotExist,
			set: func(t *testing.T, path string, _ *faultFS) {
				if err := os.RemoveAll(filepath.Dir(path)); err != nil {
					t.Fatal(err)
				}
			},
			clear: func(t *testing.T, path string, _ *faultFS) {
				if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "path is a directory", cause: nil,
			set: func(t *testing.T, path string, _ *faultFS) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
			},
			clear: func(t *testing.T, path string, _ *faultFS) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "usage.json")
			if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			ffs := newFaultFS()
			tr := newTracker(t, path, WithFS(ffs))
			want := newExpect()
			record := func(n int) {
				for i := range n {
					r := mkRecord(1, i)
					if err := tr.Record(r); err != nil {
						t.Fatal(err)
					}
					want.add(r)
				}
			}
			record(10)
			if err := tr.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			fc.set(t, path, ffs)
			record(500)
			err := tr.Flush(context.Background())
			if err == nil {
				t.Fatal("Flush succeeded during the fault")
			}
			if fc.cause != nil && !errors.Is(err, fc.cause) {
				t.Fatalf("Flush error %v does not wrap %v", err, fc.cause)
			}
			record(500)
			st := tr.Stats()
			if st.ErrorCount == 0 || st.LastError == "" || st.Pending != 1000 || st.LostRecords != 0 {
				t.Fatalf("stats during the fault: %+v", st)
			}
			// Queries answer from memory, exactly, during the fault.
			waitFolded(tr, 1010)
			if got, w := tr.Today(), want.daily[day0.Format(usagefile.DayLayout)]; got != w {
				t.Fatalf("Today() during the fault = %+v, want %+v", got, w)
			}
			fc.clear(t, path, ffs)
			if err := tr.Flush(context.Background()); err != nil {
				t.Fatalf("Flush after the fault cleared: %v", err)
			}
			want.check(t, readDoc(t, path))
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// waitFolded yields until the flusher has folded n records.
func waitFolded(tr *Tracker, n uint64) {
	for tr.flusher.Stats().Folded < n {
		runtime.Gosched()
	}
}

// TestRecovery: a corrupt file on New is recovered from its backup or
// archived, and counted; a foreign file is refused and left alone.
func TestRecovery(t *testing.T) {
	t.Run("backup", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "usage.json")
		tr := newTracker(t, path)
		tr.Record(Record{Model: "gpt-4", InputTokens: 1})
		tr.Flush(context.Background())
		tr.Record(Record{Model: "gpt-4", InputTokens: 2})
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		// The backup holds the first persist; truncate the primary.
		if err := os.WriteFile(path, []byte(`{"sessions": [`), 0o644); err != nil {
			t.Fatal(err)
		}
		tr = newTracker(t, path)
		tr.Record(Record{Model: "gpt-4", InputTokens: 10})
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readDoc(t, path).ModelBreakdown["gpt-4"]; got.Calls != 2 || got.Tokens != 11 {
			t.Fatalf("after recovery from the backup: %+v, want 2 calls, 11 tokens", got)
		}
		if st := tr.Stats(); st.CorruptionRecoveries != 1 {
			t.Fatalf("corruption_recoveries = %d, want 1", st.CorruptionRecoveries)
		}
	})
	t.Run("archive", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "usage.json")
		garbage := []byte("{not json")
		os.WriteFile(path, garbage, 0o644)
		os.WriteFile(filepath.Join(dir, "usage.backup.json"), []byte(""), 0o644)
		tr := newTracker(t, path)
		tr.Record(Record{Model: "gpt-4", InputTokens: 3})
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		archived, err := os.ReadFile(usagefile.CorruptedPath(path, day0.Unix()))
		if err != nil || string(archived) != string(garbage) {
			t.Fatalf("archived corrupt file: %q, %v", archived, err)
		}
		if got := readDoc(t, path).ModelBreakdown["gpt-4"].Tokens; got != 3 {
			t.Fatalf("fresh file holds %d tokens, want 3", got)
		}
		if st := tr.Stats(); st.CorruptionRecoveries != 1 {
			t.Fatalf("corruption_recoveries = %d, want 1", st.CorruptionRecoveries)
		}
	})
	t.Run("foreign", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "usage.json")
		foreign := []byte(`{"name": "not usage"}`)
		os.WriteFile(path, foreign, 0o644)
		if _, err := New(path, testOpts()...); !errors.Is(err, ErrForeignFile) {
			t.Fatalf("New on a foreign file = %v, want ErrForeignFile", err)
		}
		if got, _ := os.ReadFile(path); string(got) != string(foreign) {
			t.Fatalf("foreign file changed to %q", got)
		}
	})
}

// TestTwoTrackersOneFile: two trackers in one process share a file
// through the lock and re-read: neither loses the other's records.
func TestTwoTrackersOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	a := newTracker(t, path, WithNoSync())
	b := newTracker(t, path, WithNoSync())
	var wg sync.WaitGroup
	for i, tr := range []*Tracker{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 2000 {
				if err := tr.Record(Record{Model: fmt.Sprintf("m-%d", i), InputTokens: 1, Timestamp: day0}); err != nil {
					t.Error(err)
					return
				}
				if j%100 == 0 {
					tr.Flush(context.Background())
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(a.Close(), b.Close()); err != nil {
		t.Fatal(err)
	}
	doc := readDoc(t, path)
	for i := range 2 {
		if got := doc.ModelBreakdown[fmt.Sprintf("m-%d", i)].Calls; got != 2000 {
			t.Fatalf("tracker %d: %d calls in the file, want 2000", i, got)
		}
	}
}
