package pricing_test

import (
	"strings"
	"testing"

	"github.com/usagering/usagering/pricing"
)

var sinkQuote pricing.Quote

// BenchmarkPrice is the tracker's pricing step: lookup and cost of one
// call with cache reads and writes, from the embedded table.
func BenchmarkPrice(b *testing.B) {
	tb := pricing.Default()
	u := pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100}
	b.ReportAllocs()
	for b.Loop() {
		q, err := tb.Quote("claude-sonnet-4-5-20250929", u)
		if err != nil {
			b.Fatal(err)
		}
		sinkQuote = q
	}
}

// BenchmarkPriceOriginal is the same call priced by the original tool's
// substring table.
func BenchmarkPriceOriginal(b *testing.B) {
	o := pricing.Original()
	u := pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100}
	b.ReportAllocs()
	for b.Loop() {
		q, err := o.Quote("claude-sonnet-4-5-20250929", u)
		if err != nil {
			b.Fatal(err)
		}
		sinkQuote = q
	}
}

var sinkEntry pricing.Entry

// BenchmarkLookup finds entries by each of Table's lookup rules.
func BenchmarkLookup(b *testing.B) {
	tb := pricing.Default()
	for _, bc := range []struct{ name, model, key string }{
		{"exact", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"},
		{"prefixed", "openai/gpt-4o-mini", "gpt-4o-mini"},
		{"prefix-added", "grok-3", "xai/grok-3"},
		{"dated", "gpt-4o-2099-01-01", "gpt-4o"},
		{"unknown", "llama-unknown-2099-01-01", ""},
	} {
		e, ok := tb.Lookup(bc.model)
		if e.Key != bc.key || ok != (bc.key != "") {
			b.Fatalf("Lookup(%q) = %q, %v; want %q", bc.model, e.Key, ok, bc.key)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkEntry, _ = tb.Lookup(bc.model)
			}
		})
	}
}

// BenchmarkDefaultFirstUse is what Default's first call costs: parsing the
// embedded table and building its index.
func BenchmarkDefaultFirstUse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(pricing.EmbeddedJSON)))
	for b.Loop() {
		if _, err := pricing.Load(strings.NewReader(pricing.EmbeddedJSON)); err != nil {
			b.Fatal(err)
		}
	}
}
