package pricing_test

import (
	"encoding/json"
	"math/big"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usd"
)

func TestDefault(t *testing.T) {
	tb := pricing.Default()
	if tb != pricing.Default() {
		t.Fatal("Default returns a new table each call")
	}
	if tb.Len() < 2_000 {
		t.Errorf("the embedded table has %d entries", tb.Len())
	}
	if pricing.DefaultTableDate != "2026-07-24" {
		t.Errorf("DefaultTableDate = %q", pricing.DefaultTableDate)
	}
	// The embedded text loads with Load to the same entries.
	again, err := pricing.Load(strings.NewReader(pricing.EmbeddedJSON))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(entries(again), entries(tb)) {
		t.Error("Load(embedded text) differs from Default()")
	}
}

func entries(tb *pricing.Table) []pricing.Entry {
	var es []pricing.Entry
	for e := range tb.All() {
		es = append(es, e)
	}
	return es
}

// TestDefaultMatchesSource checks the embedded table against LiteLLM's
// whole file, read independently here with encoding/json: Default() holds
// every chat and responses entry with both token prices, at exactly the
// rates the file writes, and equals Load(file).
func TestDefaultMatchesSource(t *testing.T) {
	path := sourcePath()
	if path == "" {
		t.Skip("LiteLLM's model_prices_and_context_window.json is not beside the repository")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var src map[string]any
	if err := dec.Decode(&src); err != nil {
		t.Fatal(err)
	}
	tb := pricing.Default()
	checked := 0
	for key, v := range src {
		m, ok := v.(map[string]any)
		if !ok || key == "sample_spec" || (m["mode"] != "chat" && m["mode"] != "responses") {
			continue
		}
		_, hasIn := m["input_cost_per_token"].(json.Number)
		_, hasOut := m["output_cost_per_token"].(json.Number)
		if !hasIn || !hasOut {
			continue
		}
		e, ok := tb.Lookup(key)
		if !ok || e.Key != key {
			t.Errorf("%q: not in Default() (found %q)", key, e.Key)
			continue
		}
		checked++
		for _, r := range []struct {
			field string
			rate  pricing.Rate
		}{
			{"input_cost_per_token", e.Rates.Input},
			{"output_cost_per_token", e.Rates.Output},
			{"cache_read_input_token_cost", e.Rates.CacheRead},
			{"cache_creation_input_token_cost", e.Rates.CacheWrite},
			{"output_cost_per_reasoning_token", e.Rates.Reasoning},
		} {
			n, has := m[r.field].(json.Number)
			if has != r.rate.Set {
				t.Errorf("%q %s: set %v, file has it %v", key, r.field, r.rate.Set, has)
				continue
			}
			if has && !sameDecimal(string(n), r.rate.PerToken.String()) {
				t.Errorf("%q %s = %s, file writes %s", key, r.field, r.rate.PerToken, n)
			}
		}
		if p, _ := m["litellm_provider"].(string); e.LiteLLMProvider != p || e.Provider != pricing.NormalizeProvider(p) {
			t.Errorf("%q provider %q/%q, file %q", key, e.Provider, e.LiteLLMProvider, p)
		}
	}
	if checked < 2_000 {
		t.Errorf("checked only %d entries", checked)
	}

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	loaded, err := pricing.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(entries(loaded), entries(tb)) {
		t.Error("Load(LiteLLM's file) differs from Default(): run go generate ./pricing")
	}
}

// sameDecimal reports whether two decimal texts are the same number.
func sameDecimal(a, b string) bool {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	return ok1 && ok2 && x.Cmp(y) == 0
}

func TestNoAllocations(t *testing.T) {
	tb := pricing.Default()
	o := pricing.Original()
	c := pricing.Chain(tb, o)
	u := pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100}
	for name, f := range map[string]func(){
		"Quote exact":             func() { _, _ = tb.Quote("claude-sonnet-4-5-20250929", u) },
		"Quote prefixed":          func() { _, _ = tb.Quote("openrouter/openai/gpt-4o-mini-2099-01-01", u) },
		"Quote tier":              func() { _, _ = tb.Quote("gemini-2.5-pro", pricing.Usage{Input: 300_000}) },
		"Quote unknown":           func() { _, _ = tb.Quote("llama-unknown-2099-01-01", u) },
		"Lookup dated":            func() { _, _ = tb.Lookup("gpt-4o-2099-01-01") },
		"Original Quote":          func() { _, _ = o.Quote("claude-sonnet-4-5-20250929", u) },
		"Original Quote fallback": func() { _, _ = o.Quote("llama", u) },
		"Chain Quote":             func() { _, _ = c.Quote("llama", u) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", name, n)
		}
	}
}

// TestConcurrentUse prices from many goroutines at once, Default's first
// use among them; -race checks that nothing is written.
func TestConcurrentUse(t *testing.T) {
	var wg sync.WaitGroup
	const workers = 8
	tables := make([]*pricing.Table, workers)
	totals := make([]usd.Amount, workers)
	models := []string{"gpt-4o", "o3", "claude-sonnet-4-5-20250929", "gemini-2.5-pro"}
	for w := range workers {
		wg.Go(func() {
			tb := pricing.Default()
			tables[w] = tb
			for i := range 1_000 {
				q, err := tb.Quote(models[i%len(models)], pricing.Usage{Input: int64(i) * 300, Output: int64(i)})
				if err != nil {
					t.Error(err)
					return
				}
				totals[w] = totals[w].Add(q.Cost)
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if tables[w] != tables[0] || totals[w] != totals[0] {
			t.Fatalf("worker %d: table %p total %s; worker 0: %p %s", w, tables[w], totals[w], tables[0], totals[0])
		}
	}
}
