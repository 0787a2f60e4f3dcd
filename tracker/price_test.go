package tracker

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func amountOf(t *testing.T, s string) usd.Amount {
	t.Helper()
	a, err := usd.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRecordsArePricedFromTheTable: a record without a cost is priced
// from the embedded table, exactly, with its cache and reasoning tokens;
// every token kind and the cost reach the file, in the session and in each
// breakdown, and the provider comes from the table.
func TestRecordsArePricedFromTheTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	// claude-sonnet-4-5-20250929: $3 input, $0.30 cache read, $3.75 cache
	// write, $15 output per million tokens. 200 uncached + 1,000 cache-read
	// + 400 cache-write prompt tokens, 100 output:
	//   200×3e-6 + 1000×3e-7 + 400×3.75e-6 + 100×1.5e-5
	//   = 0.0006 + 0.0003 + 0.0015 + 0.0015 = 0.0039
	// o3 (OpenAI, no provider given): $2 input, $0.50 cache read, $8 output;
	// 1,000 prompt tokens of which 600 cached, 500 output of which 300
	// reasoning (billed as output):
	//   400×2e-6 + 600×5e-7 + 500×8e-6 = 0.0008 + 0.0003 + 0.004 = 0.0051
	recs := []Record{
		{Model: "claude-sonnet-4-5-20250929", Provider: "anthropic", InputTokens: 1600, OutputTokens: 100,
			CacheReadTokens: 1000, CacheWriteTokens: 400, TimeToFirstTokenMS: 210, Timestamp: day0},
		{Model: "o3", InputTokens: 1000, OutputTokens: 500, CacheReadTokens: 600, ReasoningTokens: 300, Timestamp: day0},
	}
	recordAll(t, tr, recs)
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	doc := readDoc(t, path)
	sonnet := Totals{Tokens: 1700, Cost: amountOf(t, "0.0039"), Calls: 1, InputTokens: 1600, OutputTokens: 100, CacheReadTokens: 1000, CacheWriteTokens: 400}
	o3 := Totals{Tokens: 1500, Cost: amountOf(t, "0.0051"), Calls: 1, InputTokens: 1000, OutputTokens: 500, CacheReadTokens: 600, ReasoningTokens: 300}
	if got := doc.ModelBreakdown["claude-sonnet-4-5-20250929"]; got != sonnet {
		t.Errorf("claude-sonnet-4-5 = %+v, want %+v", got, sonnet)
	}
	if got := doc.ModelBreakdown["o3"]; got != o3 {
		t.Errorf("o3 = %+v, want %+v", got, o3)
	}
	if got := doc.ProviderBreakdown["openai"]; got != o3 {
		t.Errorf("provider of o3: breakdown %v, want openai %+v", doc.ProviderBreakdown, o3)
	}
	day := sonnet
	day.Add(o3)
	if got := doc.DailyTotals[day0.Format(usagefile.DayLayout)]; got != day || got.Cost.String() != "0.009" {
		t.Errorf("daily = %+v, want %+v", got, day)
	}
	s := doc.Sessions[0]
	if s.CostUSD.String() != "0.0039" || s.CacheReadTokens != 1000 || s.CacheWriteTokens != 400 || s.TTFTMS != 210 {
		t.Errorf("session = %+v", s)
	}
	if s := doc.Sessions[1]; s.Provider != "openai" || s.ReasoningTokens != 300 || s.CostUSD.String() != "0.0051" {
		t.Errorf("session = %+v", s)
	}
	if st := tr.Stats(); st.UnpricedRecords != 0 {
		t.Errorf("stats: %+v", st)
	}
}

// TestUnknownModelsAreCounted: a record the table cannot price is never
// silently free: it is counted, with its model, and costs 0; a record
// marked Free or carrying a cost is not counted.
func TestUnknownModelsAreCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	recordAll(t, tr, []Record{
		{Model: "my-local-llama", InputTokens: 10},
		{Model: "my-local-llama", InputTokens: 10},
		{Model: "another-one", InputTokens: 1},
		{Model: "ollama/qwen", InputTokens: 5, Free: true},
		{Model: "custom", InputTokens: 5, CostUSD: 0.25},
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	st := tr.Stats()
	if st.UnpricedRecords != 3 || !slices.Equal(st.UnpricedModels, []string{"another-one", "my-local-llama"}) {
		t.Fatalf("unpriced: %d %v, want 3 of another-one, my-local-llama", st.UnpricedRecords, st.UnpricedModels)
	}
	doc := readDoc(t, path)
	if c := doc.ModelBreakdown["my-local-llama"]; c.Calls != 2 || !c.Cost.IsZero() {
		t.Fatalf("unknown model: %+v", c)
	}
	if c := doc.ModelBreakdown["custom"]; c.Cost.String() != "0.25" {
		t.Fatalf("a record's own cost: %+v", c)
	}
	if err := (&Record{Model: "m", CostUSD: 1, Free: true}).Validate(); err == nil || !strings.Contains(err.Error(), "Free") {
		t.Fatalf("Validate(Free with a cost) = %v", err)
	}
}

// TestMillionCallsExactThroughTheTracker: a million calls of a model
// priced 2.0345052083e-09 per token, priced by the tracker, add up to the
// exact decimal figure in memory and in the file.
func TestMillionCallsExactThroughTheTracker(t *testing.T) {
	table, err := pricing.Load(strings.NewReader(`{"exact-model": {"litellm_provider": "openai", "mode": "chat",
		"input_cost_per_token": 2.0345052083e-09, "output_cost_per_token": 2.0345052083e-09}}`))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithPrices(table), WithNoSync())
	const n = 1_000_000
	r := Record{Model: "exact-model", InputTokens: 3, OutputTokens: 4, Timestamp: day0}
	for range n {
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	// 7 tokens × 2.0345052083e-09 × 1e6 calls = 0.0142415364581 USD.
	const want = "0.0142415364581"
	if got := tr.Today().Cost.String(); got != want {
		t.Fatalf("Today().Cost = %s, want %s", got, want)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readDoc(t, path).ModelBreakdown["exact-model"].Cost.String(); got != want {
		t.Fatalf("file cost = %s, want %s", got, want)
	}
}

// TestSetPrices: the table is swapped while the tracker runs; records
// folded after the swap are priced from the new table.
func TestSetPrices(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithPrices(pricing.Original()))
	defer tr.Close()
	// The original table: gpt-4o-mini at 0.00015 / 0.0006 per 1,000.
	recordAll(t, tr, []Record{{Model: "gpt-4o-mini", InputTokens: 1000, OutputTokens: 1000, Timestamp: day0}})
	if got := tr.Today().Cost.String(); got != "0.00075" {
		t.Fatalf("priced by the original table: %s, want 0.00075", got)
	}
	mine, err := pricing.Load(strings.NewReader(`{"gpt-4o-mini": {"litellm_provider": "openai", "mode": "chat",
		"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.SetPrices(mine); err != nil {
		t.Fatal(err)
	}
	recordAll(t, tr, []Record{{Model: "gpt-4o-mini", InputTokens: 1000, OutputTokens: 1000, Timestamp: day0}})
	// 0.00075 + 1000×1e-6 + 1000×2e-6 = 0.00375
	if got := tr.Today().Cost.String(); got != "0.00375" {
		t.Fatalf("after SetPrices: %s, want 0.00375", got)
	}
	if q, err := tr.Quote("gpt-4o-mini", pricing.Usage{Input: 1}); err != nil || q.Cost.String() != "0.000001" {
		t.Fatalf("Quote = %v, %v", q, err)
	}
	if err := tr.SetPrices(nil); err == nil {
		t.Fatal("SetPrices(nil) accepted")
	}
}

// TestSetPricesWhileRecording swaps tables while eight goroutines record:
// every record is priced by one table or the other, and none is lost.
func TestSetPricesWhileRecording(t *testing.T) {
	one, _ := pricing.Load(strings.NewReader(`{"m": {"litellm_provider": "x", "mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 0}}`))
	two, _ := pricing.Load(strings.NewReader(`{"m": {"litellm_provider": "x", "mode": "chat", "input_cost_per_token": 2, "output_cost_per_token": 0}}`))
	tr := newTracker(t, filepath.Join(t.TempDir(), "usage.json"), WithPrices(one), WithNoSync())
	defer tr.Close()
	const producers, each = 8, 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			_ = tr.SetPrices([]pricing.Pricer{one, two}[i%2])
		}
	}()
	errs := make(chan error, producers)
	for range producers {
		go func() {
			for range each {
				if err := tr.Record(Record{Model: "m", InputTokens: 1, Timestamp: day0}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range producers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	done <- struct{}{}
	got := tr.Today()
	// Each record cost $1 or $2: the total is between n and 2n dollars.
	n := int64(producers * each)
	if got.Calls != n || got.Cost.Cmp(usd.FromNanos(n*1e9)) < 0 || got.Cost.Cmp(usd.FromNanos(2*n*1e9)) > 0 {
		t.Fatalf("Today = %+v, want %d calls costing between %d and %d", got, n, n, 2*n)
	}
}

// TestOldFileContinued: a file the original tool wrote (no token kinds,
// float costs) is continued: its figures are kept exactly, new records add
// their kinds, the next write carries every new key, and the original's
// reader still accepts it.
func TestOldFileContinued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	example, err := os.ReadFile(filepath.Join("..", "usagefile", "testdata", "usage.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, example, 0o644); err != nil {
		t.Fatal(err)
	}
	before := readDoc(t, path)
	for name, open := range map[string]func() (Recorder, error){
		"async": func() (Recorder, error) { return New(path, testOpts()...) },
		"sync":  func() (Recorder, error) { return NewSync(path, WithLocation(day0.Location()), WithClock(fixedClock)) },
	} {
		rec, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Record(Record{Model: "gpt-4", InputTokens: 100, OutputTokens: 50, CacheReadTokens: 40, CostUSD: 0.001, Timestamp: day0}); err != nil {
			t.Fatal(err)
		}
		if err := rec.Close(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	after := readDoc(t, path)
	gpt := before.ModelBreakdown["gpt-4"]
	gpt.Add(Totals{Tokens: 300, Cost: amountOf(t, "0.002"), Calls: 2, InputTokens: 200, OutputTokens: 100, CacheReadTokens: 80})
	if got := after.ModelBreakdown["gpt-4"]; got != gpt {
		t.Fatalf("gpt-4 = %+v, want %+v", got, gpt)
	}
	if got, want := after.ModelBreakdown["claude-3-5-sonnet-20241022"], before.ModelBreakdown["claude-3-5-sonnet-20241022"]; got != want {
		t.Fatalf("the original's figures changed: %+v, want %+v", got, want)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"cache_read_tokens"`, `"cache_write_tokens"`, `"reasoning_tokens"`, `"ttft_ms"`, `"input_tokens"`, `"output_tokens"`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("the file lacks %s", key)
		}
	}
	originalReaderAccepts(t, data)
}

// originalReaderAccepts checks data as the original tool's reader does:
// it parses the JSON (numbers as floats), requires the five keys, sessions
// a list and the three breakdowns objects, and reads each session's and
// bucket's fields by name, ignoring keys it does not know.
func originalReaderAccepts(t *testing.T, data []byte) {
	t.Helper()
	var doc map[string]any
	if err := stdjson.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the original cannot parse the file: %v", err)
	}
	if _, ok := doc["sessions"].([]any); !ok {
		t.Fatal(`"sessions" is not a list`)
	}
	for _, k := range []string{"daily_totals", "model_breakdown", "provider_breakdown"} {
		m, ok := doc[k].(map[string]any)
		if !ok {
			t.Fatalf("%q is not an object", k)
		}
		for name, b := range m {
			bucket, ok := b.(map[string]any)
			if !ok {
				t.Fatalf("%s[%q] is not an object", k, name)
			}
			for _, f := range []string{"tokens", "cost", "calls"} {
				if _, ok := bucket[f].(float64); !ok {
					t.Fatalf("%s[%q].%s is not a number", k, name, f)
				}
			}
		}
	}
	if _, ok := doc["last_updated"].(string); !ok {
		t.Fatal(`"last_updated" is not a string`)
	}
	for i, s := range doc["sessions"].([]any) {
		sess := s.(map[string]any)
		for _, f := range []string{"input_tokens", "output_tokens", "total_tokens", "cost_usd", "latency_ms"} {
			if _, ok := sess[f].(float64); !ok {
				t.Fatalf("sessions[%d].%s is not a number", i, f)
			}
		}
	}
}

// TestCounts: what this tracker recorded since New, by model and provider,
// whatever the file held before.
func TestCounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	writeDocForTest(t, path) // one call of model "old", from an earlier run
	tr := newTracker(t, path)
	defer tr.Close()
	recordAll(t, tr, []Record{
		{Model: "gpt-4o", InputTokens: 10, OutputTokens: 1, CostUSD: 0.5, Timestamp: day0},
		{Model: "gpt-4o", Provider: "azure", InputTokens: 20, CostUSD: 0.25, Timestamp: day0},
		{Model: "gpt-4o", InputTokens: 30, OutputTokens: 2, CostUSD: 0.5, Timestamp: day0},
	})
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []Count{
		{Model: "gpt-4o", Provider: "azure", Totals: Totals{Tokens: 20, Cost: amountOf(t, "0.25"), Calls: 1, InputTokens: 20}},
		{Model: "gpt-4o", Provider: "openai", Totals: Totals{Tokens: 43, Cost: amountOf(t, "1"), Calls: 2, InputTokens: 40, OutputTokens: 3}},
	}
	if got := tr.Counts(); !slices.Equal(got, want) {
		t.Fatalf("Counts() = %+v, want %+v", got, want)
	}
	st := tr.Stats()
	if st.RingCapacity != DefaultCapacity || st.PersistSeconds.Count == 0 {
		t.Fatalf("stats: ring %d, persists %+v", st.RingCapacity, st.PersistSeconds)
	}
}
