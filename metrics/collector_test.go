package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/flusher"
	"github.com/usagering/usagering/metrics"
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// newTracker opens a tracker on a fresh file that persists only when asked.
func newTracker(t testing.TB, opts ...tracker.Option) *tracker.Tracker {
	t.Helper()
	opts = append([]tracker.Option{tracker.WithNoSync(), tracker.WithFlushInterval(time.Hour)}, opts...)
	tr, err := tracker.New(filepath.Join(t.TempDir(), "usage.json"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// scrape serves c on a registry of its own and returns /metrics as the
// Prometheus text parser reads it.
func scrape(t testing.TB, c prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	req.Header.Set("Accept", "text/plain") // the text format, not protobuf
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// value returns the value of the sample of family name whose labels are
// exactly labels, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// series counts the samples of family name.
func series(fams map[string]*dto.MetricFamily, name string) int {
	if f := fams[name]; f != nil {
		return len(f.GetMetric())
	}
	return 0
}

type key struct{ model, provider string }

// want adds records up as the tracker must: exactly, by model and provider.
func want(t testing.TB, recs []tracker.Record) map[key]tracker.Totals {
	t.Helper()
	m := map[key]tracker.Totals{}
	for _, r := range recs {
		cost, err := usd.FromFloat(r.CostUSD)
		if err != nil {
			t.Fatal(err)
		}
		if r.CostUSD == 0 && !r.Free {
			q, err := pricing.Default().Quote(r.Model, pricing.Usage{Input: r.InputTokens, Output: r.OutputTokens,
				CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens, Reasoning: r.ReasoningTokens})
			if err == nil {
				cost = q.Cost
			}
		}
		k := key{r.Model, r.Provider}
		tot := m[k]
		tot.Add(tracker.Totals{Calls: 1, Tokens: r.InputTokens + r.OutputTokens, Cost: cost,
			InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CacheReadTokens: r.CacheReadTokens,
			CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens})
		m[k] = tot
	}
	return m
}

// checkSeries checks every usage series of fams against w, both ways.
func checkSeries(t *testing.T, fams map[string]*dto.MetricFamily, w map[key]tracker.Totals) {
	t.Helper()
	for k, tot := range w {
		l := map[string]string{"model": k.model, "provider": k.provider}
		check := func(name string, typ string, want float64) {
			t.Helper()
			ll := l
			if typ != "" {
				ll = map[string]string{"model": k.model, "provider": k.provider, "type": typ}
			}
			got, ok := value(fams, name, ll)
			if !ok || got != want {
				t.Errorf("%s%v = %v (present %v), want %v", name, ll, got, ok, want)
			}
		}
		check("usagering_calls_total", "", float64(tot.Calls))
		check("usagering_cost_usd_total", "", tot.Cost.Float64())
		check("usagering_tokens_total", "input", float64(tot.InputTokens))
		check("usagering_tokens_total", "output", float64(tot.OutputTokens))
		check("usagering_tokens_total", "cache_read", float64(tot.CacheReadTokens))
		check("usagering_tokens_total", "cache_write", float64(tot.CacheWriteTokens))
		check("usagering_tokens_total", "reasoning", float64(tot.ReasoningTokens))
	}
	if n := series(fams, "usagering_calls_total"); n != len(w) {
		t.Errorf("usagering_calls_total has %d series, want %d", n, len(w))
	}
	if n := series(fams, "usagering_tokens_total"); n != 5*len(w) {
		t.Errorf("usagering_tokens_total has %d series, want %d", n, 5*len(w))
	}
}

func TestCollectorReportsWhatWasRecorded(t *testing.T) {
	tr := newTracker(t)
	recs := []tracker.Record{
		{Model: "gpt-4o", Provider: "openai", InputTokens: 1200, OutputTokens: 300, CacheReadTokens: 1000, CostUSD: 0.00123},
		{Model: "gpt-4o", Provider: "openai", InputTokens: 10, OutputTokens: 5, CostUSD: 0.1},
		{Model: "gpt-4o", Provider: "openai", InputTokens: 10, OutputTokens: 5, CostUSD: 0.2}, // 0.1+0.2 exactly 0.3
		{Model: "gpt-4o", Provider: "azure", InputTokens: 7, OutputTokens: 3, CostUSD: 2.0345052083e-09},
		{Model: "claude-sonnet-4-5", Provider: "anthropic", InputTokens: 5000, OutputTokens: 800,
			CacheReadTokens: 3000, CacheWriteTokens: 1500, CostUSD: 0.0456},
		{Model: "o3", Provider: "openai", InputTokens: 100, OutputTokens: 900, ReasoningTokens: 700}, // priced from the table
		{Model: "llama-local", Provider: "ollama", InputTokens: 50, OutputTokens: 50, Free: true},
		{Model: "my-unknown-model", Provider: "acme", InputTokens: 1, OutputTokens: 1}, // unpriced: $0, counted
		{Model: "modèle-ü", Provider: "mistral", InputTokens: 3, OutputTokens: 4, CostUSD: 1e-6},
	}
	for _, r := range recs {
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := metrics.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	w := want(t, recs)
	if got := w[key{"gpt-4o", "openai"}].Cost.String(); got != "0.30123" {
		t.Fatalf("test's own sum: %s", got)
	}
	checkSeries(t, fams, w)

	st := tr.Stats()
	for _, g := range []struct {
		name string
		want float64
	}{
		{"usagering_pending_records", 0},
		{"usagering_persists_total", float64(st.TotalFlushes)},
		{"usagering_persist_errors_total", 0},
		{"usagering_lost_records_total", 0},
		{"usagering_unpriced_records_total", 1},
		{"usagering_ring_capacity", float64(tracker.DefaultCapacity)},
		{"usagering_ring_queued_records", 0},
		{"usagering_models_folded", 0},
	} {
		if got, ok := value(fams, g.name, nil); !ok || got != g.want {
			t.Errorf("%s = %v (present %v), want %v", g.name, got, ok, g.want)
		}
	}
	if st.TotalFlushes < 1 {
		t.Errorf("TotalFlushes %d after Flush", st.TotalFlushes)
	}
	checkHistogram(t, fams, st.PersistSeconds)
}

// checkHistogram compares the parsed persist histogram with h exactly.
func checkHistogram(t *testing.T, fams map[string]*dto.MetricFamily, want flusher.Histogram) {
	t.Helper()
	f := fams["usagering_persist_duration_seconds"]
	if f == nil || f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
		t.Fatalf("usagering_persist_duration_seconds: %v", f)
	}
	got := f.GetMetric()[0].GetHistogram()
	if got.GetSampleCount() != want.Count || got.GetSampleSum() != want.Sum {
		t.Errorf("histogram count %d sum %v, want %d %v", got.GetSampleCount(), got.GetSampleSum(), want.Count, want.Sum)
	}
	// The text format ends with the +Inf bucket, which counts everything.
	bounds := append(slices.Clone(want.Bounds), math.Inf(1))
	counts := append(slices.Clone(want.Counts), want.Count)
	if len(got.GetBucket()) != len(bounds) {
		t.Fatalf("%d buckets, want %d", len(got.GetBucket()), len(bounds))
	}
	for i, b := range got.GetBucket() {
		if b.GetUpperBound() != bounds[i] || b.GetCumulativeCount() != counts[i] {
			t.Errorf("bucket %d: le=%v count %d, want le=%v count %d", i, b.GetUpperBound(), b.GetCumulativeCount(), bounds[i], counts[i])
		}
	}
}

func TestCollectorCapFoldsTheRestIntoOther(t *testing.T) {
	tr := newTracker(t)
	record := func(model string, cost float64, n int) {
		t.Helper()
		for range n {
			if err := tr.Record(tracker.Record{Model: model, Provider: "p", InputTokens: 10, OutputTokens: 1, CostUSD: cost}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record("a", 0.5, 1)
	record("b", 0.4, 1)
	record("c", 0.05, 2)
	record("d", 0.1, 2)
	tr.Today() // folds everything recorded (read-your-writes)
	c, err := metrics.New(tr, metrics.WithMaxModels(2))
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	// a and b are the most expensive: admitted. c and d fold: 0.1 + 0.2,
	// exactly 0.3 (in float64, 0.30000000000000004).
	checkSeries(t, fams, map[key]tracker.Totals{
		{"a", "p"}:     {Calls: 1, Tokens: 11, InputTokens: 10, OutputTokens: 1, Cost: usd.FromNanos(500_000_000)},
		{"b", "p"}:     {Calls: 1, Tokens: 11, InputTokens: 10, OutputTokens: 1, Cost: usd.FromNanos(400_000_000)},
		{"other", "p"}: {Calls: 4, Tokens: 44, InputTokens: 40, OutputTokens: 4, Cost: usd.FromNanos(300_000_000)},
	})
	if got, _ := value(fams, "usagering_models_folded", nil); got != 2 {
		t.Errorf("models_folded %v, want 2", got)
	}

	// e costs the most now, but a and b keep their series: counters only grow.
	record("e", 10, 1)
	record("other", 1, 1) // a model named like the fold: folded too
	tr.Today()
	fams = scrape(t, c)
	checkSeries(t, fams, map[key]tracker.Totals{
		{"a", "p"}:     {Calls: 1, Tokens: 11, InputTokens: 10, OutputTokens: 1, Cost: usd.FromNanos(500_000_000)},
		{"b", "p"}:     {Calls: 1, Tokens: 11, InputTokens: 10, OutputTokens: 1, Cost: usd.FromNanos(400_000_000)},
		{"other", "p"}: {Calls: 6, Tokens: 66, InputTokens: 60, OutputTokens: 6, Cost: usd.FromNanos(11_300_000_000)},
	})
	if got, _ := value(fams, "usagering_models_folded", nil); got != 4 {
		t.Errorf("models_folded %v, want 4 (c, d, e, other)", got)
	}
}

func TestCollectorConstLabelsAndOptions(t *testing.T) {
	tr := newTracker(t)
	if err := tr.Record(tracker.Record{Model: "m", Provider: "p", InputTokens: 1, OutputTokens: 1, CostUSD: 0.25}); err != nil {
		t.Fatal(err)
	}
	tr.Today()
	c, err := metrics.New(tr, metrics.WithConstLabels(prometheus.Labels{"file": "a.json"}))
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	if got, ok := value(fams, "usagering_cost_usd_total", map[string]string{"model": "m", "provider": "p", "file": "a.json"}); !ok || got != 0.25 {
		t.Errorf("cost with const label: %v %v", got, ok)
	}
	for _, o := range []metrics.Option{metrics.WithMaxModels(-1), metrics.WithConstLabels(prometheus.Labels{"model": "x"})} {
		if _, err := metrics.New(tr, o); !errors.Is(err, metrics.ErrInvalidOption) {
			t.Errorf("New with a bad option: %v, want ErrInvalidOption", err)
		}
	}
	if _, err := metrics.New(nil); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Errorf("New(nil): %v", err)
	}
}

// failingFS fails every temp-file creation while fail is set: persists fail.
type failingFS struct {
	atomicfile.FS
	fail atomic.Bool
}

func (f *failingFS) CreateTemp(dir, pattern string) (atomicfile.File, error) {
	if f.fail.Load() {
		return nil, errors.New("injected: disk full")
	}
	return f.FS.CreateTemp(dir, pattern)
}

func TestCollectorReportsPersistErrorsAndLostRecords(t *testing.T) {
	fsys := &failingFS{FS: atomicfile.OSFS}
	tr := newTracker(t, tracker.WithFS(fsys), tracker.WithCapacity(4), tracker.WithBatchSize(4),
		tracker.WithOverflow(tracker.Drop), tracker.WithRetry(time.Hour, time.Hour))
	fsys.fail.Store(true)
	if err := tr.Record(tracker.Record{Model: "m", InputTokens: 1, CostUSD: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded on a failing disk")
	}
	// Fill the ring until Drop refuses a record: one lost record at least.
	for tr.Record(tracker.Record{Model: "m", InputTokens: 1, CostUSD: 1}) == nil {
	}
	c, err := metrics.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, c)
	st := tr.Stats()
	if st.ErrorCount < 1 || st.LostRecords < 1 {
		t.Fatalf("stats: errors %d lost %d", st.ErrorCount, st.LostRecords)
	}
	for name, w := range map[string]float64{
		"usagering_persist_errors_total": float64(st.ErrorCount),
		"usagering_lost_records_total":   float64(st.LostRecords),
		"usagering_ring_capacity":        4,
	} {
		if got, _ := value(fams, name, nil); got != w {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if got, _ := value(fams, "usagering_pending_records", nil); got < 1 {
		t.Errorf("pending %v on a failing disk, want ≥ 1", got)
	}
	if got, ok := value(fams, "usagering_ring_queued_records", nil); !ok || got < 0 || got > 4 {
		t.Errorf("ring_queued_records %v (present %v), want 0..4", got, ok)
	}
	fsys.fail.Store(false)
}

// TestCollectorWhileRecording scrapes while 8 goroutines record: every
// scrape parses, no counter ever goes down, and once everything is folded
// the scrape counts every record exactly once.
func TestCollectorWhileRecording(t *testing.T) {
	tr := newTracker(t, tracker.WithCapacity(1024), tracker.WithBatchSize(64))
	c, err := metrics.New(tr, metrics.WithMaxModels(3))
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, perG = 8, 2000
	models := []string{"m0", "m1", "m2", "m3", "m4", "m5"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				m := models[(g+i)%len(models)]
				if err := tr.Record(tracker.Record{Model: m, Provider: "p", InputTokens: 3, OutputTokens: 2, CostUSD: 0.001}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	last := map[string]float64{}
	sum := func(fams map[string]*dto.MetricFamily) float64 {
		var s float64
		for _, m := range fams["usagering_calls_total"].GetMetric() {
			s += m.GetCounter().GetValue()
		}
		return s
	}
	scrapes := 0
	for running := true; running; scrapes++ {
		select {
		case <-done:
			running = false
		default:
		}
		fams := scrape(t, c)
		for _, m := range fams["usagering_calls_total"].GetMetric() {
			id := fmt.Sprint(m.GetLabel())
			v := m.GetCounter().GetValue()
			if v < last[id] {
				t.Fatalf("scrape %d: calls %s went down from %v to %v", scrapes, id, last[id], v)
			}
			last[id] = v
		}
		if s := sum(fams); s > goroutines*perG {
			t.Fatalf("scrape %d: %v calls, more than recorded", scrapes, s)
		}
	}
	tr.Today()
	fams := scrape(t, c)
	if s := sum(fams); s != goroutines*perG {
		t.Fatalf("after all: %v calls, want %d", s, goroutines*perG)
	}
	if n := series(fams, "usagering_calls_total"); n != 4 {
		t.Errorf("%d series, want 3 models + other", n)
	}
	wantCost, _ := usd.FromFloat(0.001)
	wantCost, _ = wantCost.Mul(goroutines * perG)
	var gotCost float64
	for _, m := range fams["usagering_cost_usd_total"].GetMetric() {
		gotCost += m.GetCounter().GetValue()
	}
	if math.Abs(gotCost-wantCost.Float64()) > 1e-9 {
		t.Errorf("cost %v, want %v", gotCost, wantCost.Float64())
	}
	t.Logf("%d scrapes while recording", scrapes)
}

// TestCollectorAgreesWithTheFile: after a Flush, what the collector counts
// is what the file's model breakdown holds.
func TestCollectorAgreesWithTheFile(t *testing.T) {
	tr := newTracker(t)
	for i := range 50 {
		if err := tr.Record(tracker.Record{Model: fmt.Sprintf("m%d", i%4), Provider: "p", InputTokens: int64(i), OutputTokens: 1, CostUSD: 0.0001 * float64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	doc, err := usagefile.Read(tr.Path())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := metrics.New(tr)
	fams := scrape(t, c)
	for m, tot := range doc.ModelBreakdown {
		l := map[string]string{"model": m, "provider": "p"}
		if got, _ := value(fams, "usagering_cost_usd_total", l); got != tot.Cost.Float64() {
			t.Errorf("%s: cost %v, file %v", m, got, tot.Cost.Float64())
		}
		if got, _ := value(fams, "usagering_calls_total", l); got != float64(tot.Calls) {
			t.Errorf("%s: calls %v, file %d", m, got, tot.Calls)
		}
	}
}
