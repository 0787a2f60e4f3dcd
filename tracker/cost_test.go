package tracker_test

import (
	"math"
	"testing"

	"github.com/usagering/usagering/tracker"
)

func TestCalculateCost(t *testing.T) {
	p := tracker.Pricing{
		{Model: "gpt-4o-mini", Price: tracker.Price{Input: 0.00015, Output: 0.0006}},
		{Model: "gpt-4o", Price: tracker.Price{Input: 0.0025, Output: 0.01}},
		{Model: "gpt-4", Price: tracker.Price{Input: 0.03, Output: 0.06}},
		{Model: "claude-3-opus", Price: tracker.Price{Input: 0.015, Output: 0.075}},
	}
	cases := []struct {
		name    string
		model   string
		in, out int64
		want    float64
	}{
		{"exact key", "gpt-4", 1000, 1000, 0.03 + 0.06},
		{"key is a substring of the model", "gpt-4-0613", 1000, 2000, 0.03 + 0.12},
		{"first match wins (specific first)", "gpt-4o-mini-2024-07-18", 1000, 1000, 0.00015 + 0.0006},
		{"first match wins over a later one", "gpt-4o-2024-08-06", 2000, 0, 0.005},
		{"model is a substring of a key (reverse rule)", "claude-3", 1000, 1000, 0.015 + 0.075},
		{"reverse rule takes the first such key", "gpt", 1000, 0, 0.00015},
		{"a key inside the model beats a key containing it", "gpt-4", 1000, 0, 0.03},
		{"unknown model falls back", "llama-3-70b", 1000, 1000, 0.01 + 0.03},
		{"empty model falls back", "", 1000, 1000, 0.01 + 0.03},
		{"case-sensitive as the original", "GPT-4", 1000, 1000, 0.01 + 0.03},
		{"zero tokens", "gpt-4", 0, 0, 0},
		{"per 1000 tokens", "gpt-4", 100, 50, 0.006},
	}
	for _, tc := range cases {
		got := tracker.CalculateCost(p, tc.model, tc.in, tc.out)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: CalculateCost(%q, %d, %d) = %v, want %v", tc.name, tc.model, tc.in, tc.out, got, tc.want)
		}
	}
}

func TestCalculateCostEmptyTableFallsBack(t *testing.T) {
	got := tracker.CalculateCost(nil, "gpt-4", 1000, 1000)
	want := tracker.FallbackPrice.Input + tracker.FallbackPrice.Output
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestDefaultPricingOrder(t *testing.T) {
	p := tracker.DefaultPricing()
	// Every key must be reachable: no earlier key may be a substring of it,
	// or the first match would shadow it.
	for i, e := range p {
		got, ok := p.Lookup(e.Model)
		if !ok || got != e.Price {
			t.Errorf("entry %d %q is shadowed: Lookup gives %v, %v", i, e.Model, got, ok)
		}
	}
	for _, m := range []string{"claude-3-5-sonnet-20241022", "gpt-4o-mini", "gemini-1.5-pro-002"} {
		if _, ok := p.Lookup(m); !ok {
			t.Errorf("DefaultPricing has no price for %q", m)
		}
	}
	// A fresh copy each call.
	p[0].Price.Input = 99
	if tracker.DefaultPricing()[0].Price.Input == 99 {
		t.Fatal("DefaultPricing returns a shared table")
	}
}
