package pricing_test

import (
	"errors"
	"testing"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usd"
)

// TestOriginal reproduces the original tool's calculate_cost, exactly:
// input/1000 × input price + output/1000 × output price, USD per 1,000
// tokens, with the first key that is a substring of the model (or
// contains it), else 0.01 / 0.03.
func TestOriginal(t *testing.T) {
	o := pricing.Original()
	cases := []struct {
		name, model string
		u           pricing.Usage
		want        string // computed by hand in the comment
		key         string
		provider    string
		fallback    bool
	}{
		// gpt-4o-mini first: 1,000/1,000 × 0.00015 + 1,000/1,000 × 0.0006.
		{"specific key first", "gpt-4o-mini-2024-07-18", pricing.Usage{Input: 1_000, Output: 1_000}, "0.00075", "gpt-4o-mini", "openai", false},
		// gpt-4o: 2,000/1,000 × 0.0025 = 0.005.
		{"a key inside the model", "gpt-4o-2024-08-06", pricing.Usage{Input: 2_000}, "0.005", "gpt-4o", "openai", false},
		// gpt-4 (the key "gpt-4" is inside "gpt-4-0613"): 1 × 0.03 + 2 × 0.06.
		{"gpt-4 dated", "gpt-4-0613", pricing.Usage{Input: 1_000, Output: 2_000}, "0.15", "gpt-4", "openai", false},
		// "gpt-4" contains the key "gpt-4", which beats gpt-4o-mini containing "gpt-4": 0.03.
		{"a key inside the model beats a key containing it", "gpt-4", pricing.Usage{Input: 1_000}, "0.03", "gpt-4", "openai", false},
		// "claude-3" is inside claude-3-5-haiku, the first such key: 0.0008 + 0.004.
		{"the model inside a key", "claude-3", pricing.Usage{Input: 1_000, Output: 1_000}, "0.0048", "claude-3-5-haiku", "anthropic", false},
		// gemini-1.5-pro: 100/1,000 × 0.00125 + 50/1,000 × 0.005 = 0.000125 + 0.00025.
		{"Gemini", "gemini-1.5-pro-002", pricing.Usage{Input: 100, Output: 50}, "0.000375", "gemini-1.5-pro", "google", false},
		// Cache and reasoning tokens are inside Input and Output, at their
		// rates: claude-sonnet-4: 1,600/1,000 × 0.003 + 100/1,000 × 0.015.
		{"cache tokens at the input rate", "claude-sonnet-4-5-20250929", pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100}, "0.0063", "claude-sonnet-4", "anthropic", false},
		// Unknown: 0.01 + 0.03.
		{"unknown model falls back", "llama-3-70b", pricing.Usage{Input: 1_000, Output: 1_000}, "0.04", "", "", true},
		{"empty model falls back", "", pricing.Usage{Input: 1_000, Output: 1_000}, "0.04", "", "", true},
		{"case-sensitive", "GPT-4", pricing.Usage{Input: 1_000, Output: 1_000}, "0.04", "", "", true},
		{"zero tokens", "gpt-4", pricing.Usage{}, "0", "gpt-4", "openai", false},
		// 100/1,000 × 0.03 + 50/1,000 × 0.06 = 0.003 + 0.003.
		{"per 1,000 tokens", "gpt-4", pricing.Usage{Input: 100, Output: 50}, "0.006", "gpt-4", "openai", false},
		// 1/1,000 × 0.000075 = 7.5e-08, exact.
		{"one token", "gemini-1.5-flash", pricing.Usage{Input: 1}, "0.000000075", "gemini-1.5-flash", "google", false},
	}
	for _, tc := range cases {
		q, err := o.Quote(tc.model, tc.u)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := pricing.Quote{Cost: amount(t, tc.want), Key: tc.key, Provider: tc.provider, Fallback: tc.fallback}
		if q != want {
			t.Errorf("%s: Quote(%q, %+v) = %+v, want %+v", tc.name, tc.model, tc.u, q, want)
		}
	}
}

func TestOriginalEntries(t *testing.T) {
	es := pricing.Original().Entries()
	if len(es) != 18 {
		t.Fatalf("%d entries, want tracker.DefaultPricing's 18", len(es))
	}
	// Every key is reachable: no earlier key shadows it.
	o := pricing.Original()
	for _, e := range es {
		q, err := o.Quote(e.Key, pricing.Usage{Input: 1_000, Output: 1_000})
		if err != nil || q.Key != e.Key || q.Cost != e.Price.Input.Add(e.Price.Output) {
			t.Errorf("%q is shadowed: %+v, %v", e.Key, q, err)
		}
	}
	es[0].Key = "changed"
	if pricing.Original().Entries()[0].Key == "changed" {
		t.Error("Entries returns the table's own slice")
	}
}

func TestSubstringWithoutFallback(t *testing.T) {
	s, err := pricing.NewSubstring([]pricing.SubstringEntry{
		{Key: "my-model", Provider: "me", Price: pricing.PerThousand{Input: amount(t, "0.002"), Output: amount(t, "0.004")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Quote("other", pricing.Usage{Input: 1}); err != pricing.ErrUnknownModel {
		t.Errorf("unknown model: %v, want ErrUnknownModel", err)
	}
	if _, err := s.Quote("", pricing.Usage{Input: 1}); err != pricing.ErrUnknownModel {
		t.Errorf("empty model: %v, want ErrUnknownModel", err)
	}
	// 1,500/1,000 × 0.002 + 250/1,000 × 0.004 = 0.003 + 0.001.
	q, err := s.Quote("my-model-v2", pricing.Usage{Input: 1_500, Output: 250})
	if err != nil || q != (pricing.Quote{Cost: amount(t, "0.004"), Key: "my-model", Provider: "me"}) {
		t.Errorf("Quote = %+v, %v", q, err)
	}
}

func TestNewSubstringErrors(t *testing.T) {
	for _, p := range []pricing.PerThousand{
		{Input: amount(t, "-0.001")},
		{Output: amount(t, "-1")},
		// 1e-22 per 1,000 tokens is 1e-25 per token: not an Amount.
		{Input: amount(t, "0.0000000000000000000001")},
	} {
		if _, err := pricing.NewSubstring([]pricing.SubstringEntry{{Key: "k", Price: p}}, nil); !errors.Is(err, pricing.ErrBadPrice) {
			t.Errorf("NewSubstring(%+v): %v, want ErrBadPrice", p, err)
		}
		if _, err := pricing.NewSubstring(nil, &p); !errors.Is(err, pricing.ErrBadPrice) {
			t.Errorf("NewSubstring(fallback %+v): %v, want ErrBadPrice", p, err)
		}
	}
	// 1e-21 per 1,000 tokens is 1e-24 per token, exact.
	p := pricing.PerThousand{Input: amount(t, "0.000000000000000000001")}
	s, err := pricing.NewSubstring([]pricing.SubstringEntry{{Key: "k", Price: p}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := s.Quote("k", pricing.Usage{Input: 3}); q.Cost != usd.FromUnits(3) {
		t.Errorf("3 tokens at 1e-24 cost %s", q.Cost)
	}
}

func TestSubstringOverflow(t *testing.T) {
	s, err := pricing.NewSubstring([]pricing.SubstringEntry{{Key: "k", Price: pricing.PerThousand{Input: amount(t, "1000"), Output: amount(t, "1000")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Quote("k", pricing.Usage{Input: 100_000_000_000_000, Output: 100_000_000_000_000}); !errors.Is(err, pricing.ErrOverflow) {
		t.Errorf("Quote: %v, want ErrOverflow", err)
	}
}

func TestChain(t *testing.T) {
	mine, err := pricing.NewSubstring([]pricing.SubstringEntry{
		{Key: "gpt-4o", Provider: "mine", Price: pricing.PerThousand{Input: amount(t, "1"), Output: amount(t, "1")}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := pricing.Chain(mine, loadFixture(t))
	// mine has gpt-4o (as a substring of gpt-4o-mini too): 1 × 1 USD.
	q, err := c.Quote("gpt-4o-mini", pricing.Usage{Input: 1_000})
	if err != nil || q.Provider != "mine" || q.Cost != amount(t, "1") {
		t.Errorf("first pricer: %+v, %v", q, err)
	}
	// mine does not know o3: the fixture's 1,000 × 2e-06.
	q, err = c.Quote("o3", pricing.Usage{Input: 1_000})
	if err != nil || q.Key != "o3" || q.Cost != amount(t, "0.002") {
		t.Errorf("second pricer: %+v, %v", q, err)
	}
	if _, err := c.Quote("nobody", pricing.Usage{}); err != pricing.ErrUnknownModel {
		t.Errorf("unknown: %v", err)
	}
	// Another error ends the search.
	if _, err := c.Quote("o3", pricing.Usage{Input: -1}); !errors.Is(err, pricing.ErrInvalidUsage) {
		t.Errorf("invalid usage: %v", err)
	}
	if _, err := pricing.Chain().Quote("o3", pricing.Usage{}); err != pricing.ErrUnknownModel {
		t.Errorf("empty chain: %v", err)
	}
}

func TestNormalizeProvider(t *testing.T) {
	for in, want := range map[string]string{
		"gemini":                     "google",
		"vertex_ai":                  "google",
		"vertex_ai-language-models":  "google",
		"vertex_ai-anthropic_models": "google",
		"vertex_ai_beta":             "google",
		"openai":                     "openai",
		"anthropic":                  "anthropic",
		"bedrock":                    "bedrock",
		"azure":                      "azure",
		"vertex":                     "vertex",
		"gemini_x":                   "gemini_x",
		"":                           "",
	} {
		if got := pricing.NormalizeProvider(in); got != want {
			t.Errorf("NormalizeProvider(%q) = %q, want %q", in, got, want)
		}
	}
}
