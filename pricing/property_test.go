package pricing_test

import (
	"bytes"
	"errors"
	"math/big"
	"os"
	"testing"

	"pgregory.net/rapid"

	"github.com/usagering/usagering/pricing"
)

// TestCostMatchesRational prices random calls of random entries of the
// embedded table and checks every cost against the cost rule computed
// with big.Rat from the entry's public rates and tiers.
func TestCostMatchesRational(t *testing.T) {
	tb := pricing.Default()
	all := entries(tb)
	rapid.Check(t, func(t *rapid.T) {
		e := rapid.SampledFrom(all).Draw(t, "entry")
		input := rapid.OneOf(rapid.Int64Range(0, 1_000), rapid.Int64Range(0, 1_000_000), rapid.Int64Range(0, 1_000_000_000_000)).Draw(t, "input")
		cacheRead := rapid.Int64Range(0, input).Draw(t, "cacheRead")
		cacheWrite := rapid.Int64Range(0, input-cacheRead).Draw(t, "cacheWrite")
		output := rapid.Int64Range(0, 1_000_000_000).Draw(t, "output")
		reasoning := rapid.Int64Range(0, output).Draw(t, "reasoning")
		u := pricing.Usage{Input: input, Output: output, CacheRead: cacheRead, CacheWrite: cacheWrite, Reasoning: reasoning}

		q, err := tb.Quote(e.Key, u)
		if err != nil {
			t.Fatalf("Quote(%q, %+v): %v", e.Key, u, err)
		}
		want := rationalCost(e, u)
		got, _ := new(big.Rat).SetString(q.Cost.String())
		if got.Cmp(want) != 0 {
			t.Fatalf("Quote(%q, %+v) = %s, want %s", e.Key, u, q.Cost, want.FloatString(24))
		}
	})
}

// rationalCost is the cost rule, written out with big.Rat.
func rationalCost(e pricing.Entry, u pricing.Usage) *big.Rat {
	rat := func(r pricing.Rate) *big.Rat {
		x, _ := new(big.Rat).SetString(r.PerToken.String())
		return x
	}
	in, out := e.Rates.Input, e.Rates.Output
	cr, cw, rs := e.Rates.CacheRead, e.Rates.CacheWrite, e.Rates.Reasoning
	var tier *pricing.Tier
	for _, t := range e.Tiers() {
		if u.Input > t.Above {
			tier = &t // the tiers ascend: the last one below Input wins
		}
	}
	if tier != nil {
		for _, p := range []struct {
			dst *pricing.Rate
			r   pricing.Rate
		}{
			{&in, tier.Rates.Input}, {&out, tier.Rates.Output}, {&cr, tier.Rates.CacheRead},
			{&cw, tier.Rates.CacheWrite}, {&rs, tier.Rates.Reasoning},
		} {
			if p.r.Set {
				*p.dst = p.r
			}
		}
	}
	if !cr.Set {
		cr = in
	}
	if !cw.Set {
		cw = in
	}
	if !rs.Set {
		rs = out
	}
	term := func(n int64, r pricing.Rate) *big.Rat { return new(big.Rat).Mul(big.NewRat(n, 1), rat(r)) }
	sum := new(big.Rat)
	sum.Add(sum, term(u.Input-u.CacheRead-u.CacheWrite, in))
	sum.Add(sum, term(u.CacheRead, cr))
	sum.Add(sum, term(u.CacheWrite, cw))
	sum.Add(sum, term(u.Output-u.Reasoning, out))
	sum.Add(sum, term(u.Reasoning, rs))
	return sum
}

// FuzzLoad: Load never panics; it returns a table or an error wrapping one
// of its sentinels; every entry of a table it returns is found by its key
// and priced.
func FuzzLoad(f *testing.F) {
	fixture, err := os.ReadFile(fixturePath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(fixture)
	for _, s := range []string{
		`{}`, `[]`, `{"m": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}`,
		`{"m": {"mode": "chat", "tiered_pricing": [{"range": [0, 10], "input_cost_per_token": 1, "output_cost_per_token": 1}]}}`,
		`{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 1, "input_cost_per_token_above_1k_tokens": 2}}`,
		`{"m": {"mode": "chat", "input_cost_per_token": "1"}}`, `{"a": 1, "a": 2}`, `nul`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tb, err := pricing.Load(bytes.NewReader(data))
		if err != nil {
			if tb != nil {
				t.Fatal("a table and an error")
			}
			if !errors.Is(err, pricing.ErrFormat) && !errors.Is(err, pricing.ErrBadPrice) && !errors.Is(err, pricing.ErrNoModels) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if tb.Len() == 0 {
			t.Fatal("an empty table")
		}
		for e := range tb.All() {
			if got, ok := tb.Lookup(e.Key); !ok || got.Key != e.Key {
				t.Fatalf("Lookup(%q) = %q, %v", e.Key, got.Key, ok)
			}
			if !e.Rates.Input.Set || !e.Rates.Output.Set {
				t.Fatalf("%q: no input or output rate: %+v", e.Key, e.Rates)
			}
			q, err := tb.Quote(e.Key, pricing.Usage{Input: 300_000, CacheRead: 1_000, CacheWrite: 1_000, Output: 1_000, Reasoning: 10})
			if err != nil && !errors.Is(err, pricing.ErrOverflow) {
				t.Fatalf("Quote(%q): %v", e.Key, err)
			}
			if err == nil && q.Cost.Sign() < 0 {
				t.Fatalf("Quote(%q) = %s", e.Key, q.Cost)
			}
			if q, err := tb.Quote(e.Key, pricing.Usage{}); err != nil || !q.Cost.IsZero() {
				t.Fatalf("Quote(%q, no tokens) = %s, %v", e.Key, q.Cost, err)
			}
		}
	})
}
