package pricing_test

import (
	"errors"
	"testing"

	"github.com/usagering/usagering/pricing"
)

type quoteCase struct {
	name     string
	model    string
	u        pricing.Usage
	want     string // the exact cost, computed by hand in the comment
	key      string
	provider string
}

func checkQuotes(t *testing.T, p pricing.Pricer, cases []quoteCase) {
	t.Helper()
	for _, tc := range cases {
		q, err := p.Quote(tc.model, tc.u)
		if err != nil {
			t.Errorf("%s: Quote(%q, %+v): %v", tc.name, tc.model, tc.u, err)
			continue
		}
		if want := amount(t, tc.want); q.Cost != want || q.Key != tc.key || q.Provider != tc.provider || q.Fallback {
			t.Errorf("%s: Quote(%q, %+v) = {%s %q %q %v}, want {%s %q %q false}",
				tc.name, tc.model, tc.u, q.Cost, q.Key, q.Provider, q.Fallback, want, tc.key, tc.provider)
		}
	}
}

// TestDefaultQuotes prices calls from the embedded table (LiteLLM's of
// 2026-07-24), every figure computed by hand from the rates in the comment.
func TestDefaultQuotes(t *testing.T) {
	checkQuotes(t, pricing.Default(), []quoteCase{
		{
			// gpt-4o-2024-08-06: input 2.5e-06, cache read 1.25e-06, output 1e-05.
			// 6,000 × 2.5e-06 = 0.015; 4,000 × 1.25e-06 = 0.005; 500 × 1e-05 = 0.005.
			name: "OpenAI dated model with cached tokens", model: "gpt-4o-2024-08-06",
			u:    pricing.Usage{Input: 10_000, CacheRead: 4_000, Output: 500},
			want: "0.025", key: "gpt-4o-2024-08-06", provider: "openai",
		},
		{
			// shared/pricing/README.md's worked example. claude-sonnet-4-5-20250929:
			// input 3e-06, cache read 3e-07, cache write 3.75e-06, output 1.5e-05.
			// 200 × 3e-06 = 0.0006; 1,000 × 3e-07 = 0.0003; 400 × 3.75e-06 = 0.0015;
			// 100 × 1.5e-05 = 0.0015; sum 0.0039.
			name: "Anthropic with cache reads and writes", model: "claude-sonnet-4-5-20250929",
			u:    pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100},
			want: "0.0039", key: "claude-sonnet-4-5-20250929", provider: "anthropic",
		},
		{
			// Above 200k every rate moves: input 6e-06, cache read 6e-07, cache
			// write 7.5e-06, output 2.25e-05. 100,000 × 6e-06 = 0.6;
			// 100,000 × 6e-07 = 0.06; 50,000 × 7.5e-06 = 0.375; 2,000 × 2.25e-05 = 0.045.
			name: "Anthropic above its 200k tier", model: "claude-sonnet-4-5-20250929",
			u:    pricing.Usage{Input: 250_000, CacheRead: 100_000, CacheWrite: 50_000, Output: 2_000},
			want: "1.08", key: "claude-sonnet-4-5-20250929", provider: "anthropic",
		},
		{
			// Exactly 200,000 is not above 200k: 200,000 × 3e-06 = 0.6.
			name: "at the threshold, the base rates", model: "claude-sonnet-4-5-20250929",
			u:    pricing.Usage{Input: 200_000},
			want: "0.6", key: "claude-sonnet-4-5-20250929", provider: "anthropic",
		},
		{
			// One token more: 200,001 × 6e-06 = 1.200006.
			name: "one token above the threshold, the tier", model: "claude-sonnet-4-5-20250929",
			u:    pricing.Usage{Input: 200_001},
			want: "1.200006", key: "claude-sonnet-4-5-20250929", provider: "anthropic",
		},
		{
			// o3: input 2e-06, output 8e-06, no reasoning rate: reasoning is output.
			// 2,000 × 2e-06 = 0.004; 500 × 8e-06 = 0.004; 2,500 × 8e-06 = 0.02.
			name: "reasoning model, reasoning billed as output", model: "o3",
			u:    pricing.Usage{Input: 2_000, Output: 3_000, Reasoning: 2_500},
			want: "0.028", key: "o3", provider: "openai",
		},
		{
			// dashscope/qwen-turbo: input 5e-08, output 2e-07, reasoning 5e-07.
			// 1,000 × 5e-08 = 0.00005; 200 × 2e-07 = 0.00004; 800 × 5e-07 = 0.0004.
			name: "reasoning model with a reasoning rate", model: "dashscope/qwen-turbo",
			u:    pricing.Usage{Input: 1_000, Output: 1_000, Reasoning: 800},
			want: "0.00049", key: "dashscope/qwen-turbo", provider: "dashscope",
		},
		{
			// gemini/gemini-2.5-pro: input 1.25e-06, cache read 1.25e-07, output 1e-05.
			// 6,000 × 1.25e-06 = 0.0075; 4,000 × 1.25e-07 = 0.0005; 1,000 × 1e-05 = 0.01.
			name: "Gemini with cached tokens", model: "gemini/gemini-2.5-pro",
			u:    pricing.Usage{Input: 10_000, CacheRead: 4_000, Output: 1_000},
			want: "0.018", key: "gemini/gemini-2.5-pro", provider: "google",
		},
		{
			// gemini-2.5-pro (Vertex AI) above 200k: input 2.5e-06, output 1.5e-05.
			// 300,000 × 2.5e-06 = 0.75; 1,000 × 1.5e-05 = 0.015.
			name: "Gemini above its 200k tier", model: "gemini-2.5-pro",
			u:    pricing.Usage{Input: 300_000, Output: 1_000},
			want: "0.765", key: "gemini-2.5-pro", provider: "google",
		},
		{
			// gemini-2.5-pro has no cache-write rate: the input rate, 1.25e-06.
			// 1,000 × 1.25e-06 = 0.00125.
			name: "missing cache-write rate is the input rate", model: "gemini-2.5-pro",
			u:    pricing.Usage{Input: 1_000, CacheWrite: 1_000},
			want: "0.00125", key: "gemini-2.5-pro", provider: "google",
		},
		{
			// gpt-4o-mini: input 1.5e-07, output 6e-07.
			// 1,000 × 1.5e-07 = 0.00015; 1,000 × 6e-07 = 0.0006.
			name: "provider prefix taken off", model: "openai/gpt-4o-mini",
			u:    pricing.Usage{Input: 1_000, Output: 1_000},
			want: "0.00075", key: "gpt-4o-mini", provider: "openai",
		},
		{
			name: "provider prefix taken off a dated name", model: "anthropic/claude-sonnet-4-5-20250929",
			u:    pricing.Usage{Input: 1_600, CacheRead: 1_000, CacheWrite: 400, Output: 100},
			want: "0.0039", key: "claude-sonnet-4-5-20250929", provider: "anthropic",
		},
		{
			// xai/grok-3: input 3e-06, output 1.5e-05.
			// 1,000 × 3e-06 = 0.003; 100 × 1.5e-05 = 0.0015.
			name: "first-party provider prefix added", model: "grok-3",
			u:    pricing.Usage{Input: 1_000, Output: 100},
			want: "0.0045", key: "xai/grok-3", provider: "xai",
		},
		{
			// No "gpt-4o-2099-01-01": gpt-4o's rates, input 2.5e-06, output 1e-05.
			// 1,000 × 2.5e-06 = 0.0025; 1,000 × 1e-05 = 0.01.
			name: "date suffix taken off", model: "gpt-4o-2099-01-01",
			u:    pricing.Usage{Input: 1_000, Output: 1_000},
			want: "0.0125", key: "gpt-4o", provider: "openai",
		},
		{
			// gpt-4o-mini, not gpt-4o: 1,000 × 1.5e-07 + 1,000 × 6e-07.
			name: "dated mini is mini", model: "gpt-4o-mini-2099-12-31",
			u:    pricing.Usage{Input: 1_000, Output: 1_000},
			want: "0.00075", key: "gpt-4o-mini", provider: "openai",
		},
		{
			// o3: 1,000 × 2e-06 = 0.002.
			name: "compact date suffix taken off", model: "o3-20990101",
			u:    pricing.Usage{Input: 1_000},
			want: "0.002", key: "o3", provider: "openai",
		},
	})
}

func TestDefaultUnknownModels(t *testing.T) {
	tb := pricing.Default()
	for _, m := range []string{
		"",
		"llama-unknown-7b",
		"gpt-4o-minix",          // no substring matching
		"my-gpt-4o",             // no substring matching
		"GPT-4O",                // names compare exactly
		"nosuchprovider/gpt-4o", // only provider prefixes are taken off
	} {
		q, err := tb.Quote(m, pricing.Usage{Input: 1_000, Output: 1_000})
		if err != pricing.ErrUnknownModel || q != (pricing.Quote{}) {
			t.Errorf("Quote(%q) = %+v, %v; want ErrUnknownModel", m, q, err)
		}
		if e, ok := tb.Lookup(m); ok {
			t.Errorf("Lookup(%q) found %q", m, e.Key)
		}
	}
}

// TestFixtureRules checks the cost and lookup rules on the fixture table,
// whose made-up entries isolate each rule.
func TestFixtureRules(t *testing.T) {
	tb := loadFixture(t)
	checkQuotes(t, tb, []quoteCase{
		{
			// gpt-4o-2024-05-13 is a key: its own rates, input 5e-06, output 1.5e-05.
			// 1,000 × 5e-06 + 1,000 × 1.5e-05 = 0.02.
			name: "a dated key wins over the undated one", model: "gpt-4o-2024-05-13",
			u: pricing.Usage{Input: 1_000, Output: 1_000}, want: "0.02", key: "gpt-4o-2024-05-13", provider: "openai",
		},
		{
			// gpt-4o-2024-05-13 without a cache rate: cache reads at input, 5e-06.
			// 1,000 × 5e-06 = 0.005.
			name: "missing cache-read rate is the input rate", model: "gpt-4o-2024-05-13",
			u: pricing.Usage{Input: 1_000, CacheRead: 1_000}, want: "0.005", key: "gpt-4o-2024-05-13", provider: "openai",
		},
		{
			// null-cache: cache_read_input_token_cost null is absent: input 1e-06.
			// 1,000 × 1e-06 = 0.001.
			name: "a null price is absent", model: "null-cache",
			u: pricing.Usage{Input: 1_000, CacheRead: 1_000}, want: "0.001", key: "null-cache", provider: "openai",
		},
		{
			// mistral-x is under mistral/ and openai/: the first-party list puts
			// openai first. 1,000 × 9e-06 = 0.009.
			name: "prefix added in first-party order", model: "mistral-x",
			u: pricing.Usage{Input: 1_000}, want: "0.009", key: "openai/mistral-x", provider: "openai",
		},
		{
			// A first-party prefix stays: mistral/mistral-x, 1,000 × 1e-06.
			name: "a prefixed key matches as is", model: "mistral/mistral-x",
			u: pricing.Usage{Input: 1_000}, want: "0.001", key: "mistral/mistral-x", provider: "mistral",
		},
		{
			// vertex_ai names the provider vertex_ai-anthropic_models: a prefix;
			// vertex_ai/claude-v's input 3e-06 × 1,000.
			name: "Vertex AI is google", model: "vertex_ai/claude-v",
			u: pricing.Usage{Input: 1_000}, want: "0.003", key: "vertex_ai/claude-v", provider: "google",
		},
		{
			// A reseller's key matches as written: 1,000 × 5e-08.
			name: "reseller key matches exactly", model: "groq/llama-x",
			u: pricing.Usage{Input: 1_000}, want: "0.00005", key: "groq/llama-x", provider: "groq",
		},
		{
			// Prefixes are taken off one after the other: openai/openai/gpt-4o,
			// openai/gpt-4o, gpt-4o. 1,000 × 2.5e-06.
			name: "repeated prefixes", model: "openai/openai/gpt-4o",
			u: pricing.Usage{Input: 1_000}, want: "0.0025", key: "gpt-4o", provider: "openai",
		},
		{
			// bedrock/anthropic.claude-b-20240620-v1:0 as written: 1,000 × 3e-06.
			name: "bedrock version kept", model: "bedrock/anthropic.claude-b-20240620-v1:0",
			u: pricing.Usage{Input: 1_000}, want: "0.003", key: "bedrock/anthropic.claude-b-20240620-v1:0", provider: "bedrock",
		},
		{
			// A version "@20990101" and a date: gpt-4o-mini, 1,000 × 6e-07.
			name: "at-sign version", model: "gpt-4o-mini@20990101",
			u: pricing.Usage{Output: 1_000}, want: "0.0006", key: "gpt-4o-mini", provider: "openai",
		},
		{
			// Two suffixes: "-001" then "-2099-01-01": gpt-4o, 1,000 × 1e-05.
			name: "suffixes taken off one at a time", model: "gpt-4o-2099-01-01-001",
			u: pricing.Usage{Output: 1_000}, want: "0.01", key: "gpt-4o", provider: "openai",
		},
		{
			// gemini-2.5-flash: reasoning 2.5e-06 (here equal to output).
			// 100 × 3e-07 = 0.00003; 1,000 × 2.5e-06 = 0.0025.
			name: "Vertex AI language model", model: "gemini-2.5-flash",
			u: pricing.Usage{Input: 100, Output: 1_000, Reasoning: 1_000}, want: "0.00253", key: "gemini-2.5-flash", provider: "google",
		},
		{
			// reasoner: input 5e-08, output 2e-07, reasoning 5e-07.
			// 10 × 5e-08 = 0.0000005; 0 output; 10 × 5e-07 = 0.000005.
			name: "all output is reasoning", model: "reasoner",
			u: pricing.Usage{Input: 10, Output: 10, Reasoning: 10}, want: "0.0000055", key: "reasoner", provider: "dashscope",
		},
	})
}

func TestFixtureUnknown(t *testing.T) {
	tb := loadFixture(t)
	for _, m := range []string{
		"llama-x",              // only under a reseller (groq/)
		"claude-v",             // only under vertex_ai/, not a first-party prefix
		"text-embedding-x",     // mode embedding: not kept
		"1024-x-1024/dall-e-x", // priced per pixel
		"video-in",             // no input price per token
		"subscription/model",   // no price
		"no-mode",              // no mode
		"sample_spec",
		"gpt-4o-2024", // "-2024": a version, but "gpt-4o"… is found: see below
	} {
		if m == "gpt-4o-2024" {
			// 4 digits are a version suffix: found as gpt-4o.
			if e, ok := tb.Lookup(m); !ok || e.Key != "gpt-4o" {
				t.Errorf("Lookup(%q) = %q, %v; want gpt-4o", m, e.Key, ok)
			}
			continue
		}
		if _, err := tb.Quote(m, pricing.Usage{Input: 1}); err != pricing.ErrUnknownModel {
			t.Errorf("Quote(%q): %v, want ErrUnknownModel", m, err)
		}
	}
	// Suffixes of 3 to 8 digits are versions; of one or two digits, or more
	// than eight, they are not.
	for _, m := range []string{"gpt-4o-202", "gpt-4o-0613", "gpt-4o-20990101"} {
		if e, ok := tb.Lookup(m); !ok || e.Key != "gpt-4o" {
			t.Errorf("Lookup(%q) = %q, %v; want gpt-4o", m, e.Key, ok)
		}
	}
	for _, m := range []string{"gpt-4o-12", "gpt-4o-123456789", "gpt-4o-2099-1-01", "-2099-01-01"} {
		if e, ok := tb.Lookup(m); ok {
			t.Errorf("Lookup(%q) = %q, want none", m, e.Key)
		}
	}
}

func TestTiers(t *testing.T) {
	tb := loadFixture(t)
	checkQuotes(t, tb, []quoteCase{
		{
			// xAI bills its 128k tier from 128,000 on: 128,000 × 4e-07 = 0.0512.
			name: "xAI tier at the threshold", model: "xai/grok-fast",
			u: pricing.Usage{Input: 128_000}, want: "0.0512", key: "xai/grok-fast", provider: "xai",
		},
		{
			// 127,999 × 2e-07 = 0.0255998.
			name: "xAI below the threshold", model: "xai/grok-fast",
			u: pricing.Usage{Input: 127_999}, want: "0.0255998", key: "xai/grok-fast", provider: "xai",
		},
		{
			// The tier has no cache-read rate: the entry's, 5e-08.
			// 100,000 × 4e-07 = 0.04; 100,000 × 5e-08 = 0.005; 10 × 1e-06 = 0.00001.
			name: "a tier without a cache rate keeps the entry's", model: "xai/grok-fast",
			u: pricing.Usage{Input: 200_000, CacheRead: 100_000, Output: 10}, want: "0.04501", key: "xai/grok-fast", provider: "xai",
		},
		{
			// claude-sonnet-4-5 above 200k: cache write 7.5e-06 (its tier's).
			// 300,000 × 7.5e-06 = 2.25.
			name: "cache writes move to the tier", model: "claude-sonnet-4-5",
			u: pricing.Usage{Input: 300_000, CacheWrite: 300_000}, want: "2.25", key: "claude-sonnet-4-5", provider: "anthropic",
		},
		{
			// qwen-tiered, (0, 32000]: input 1e-06, cache read 1e-07, output 5e-06,
			// reasoning 8e-06. 900 × 1e-06 = 0.0009; 100 × 1e-07 = 0.00001;
			// 10 × 5e-06 = 0.00005; 10 × 8e-06 = 0.00008.
			name: "tiered_pricing, first range", model: "qwen-tiered",
			u: pricing.Usage{Input: 1_000, CacheRead: 100, Output: 20, Reasoning: 10}, want: "0.00104", key: "qwen-tiered", provider: "dashscope",
		},
		{
			// (32000, 128000]: input 1.8e-06; its cache read is its input rate,
			// its reasoning its output rate 9e-06. 32,001 × 1.8e-06 = 0.0576018;
			// 10 × 9e-06 = 0.00009.
			name: "tiered_pricing, second range", model: "qwen-tiered",
			u: pricing.Usage{Input: 32_001, CacheRead: 1_000, Output: 10, Reasoning: 10}, want: "0.0576918", key: "qwen-tiered", provider: "dashscope",
		},
		{
			// Beyond the last range: the last tier, input 3e-06, no output rate
			// of its own: the entry's (the first range's), 5e-06; reasoning
			// likewise the first range's 8e-06.
			// 300,000 × 3e-06 = 0.9; 10 × 5e-06 = 0.00005; 10 × 8e-06 = 0.00008.
			name: "tiered_pricing, above the last range", model: "qwen-tiered",
			u: pricing.Usage{Input: 300_000, Output: 20, Reasoning: 10}, want: "0.90013", key: "qwen-tiered", provider: "dashscope",
		},
		{
			// No prompt: the base rates, which the first range supplies.
			// 10 × 5e-06 = 0.00005.
			name: "tiered_pricing, no prompt", model: "qwen-tiered",
			u: pricing.Usage{Output: 10}, want: "0.00005", key: "qwen-tiered", provider: "dashscope",
		},
	})

	e, ok := tb.Lookup("qwen-tiered")
	if !ok {
		t.Fatal("qwen-tiered not found")
	}
	tiers := e.Tiers()
	var above []int64
	for _, tr := range tiers {
		above = append(above, tr.Above)
	}
	if len(above) != 3 || above[0] != 0 || above[1] != 32_000 || above[2] != 128_000 {
		t.Errorf("qwen-tiered tiers start above %v, want [0 32000 128000]", above)
	}
	tiers[0].Above = 99 // a copy
	if e.Tiers()[0].Above != 0 {
		t.Error("Tiers returns the entry's own slice")
	}
	r := e.RatesAt(40_000)
	if r.Input.PerToken != amount(t, "1.8e-06") || r.CacheRead.PerToken != amount(t, "1.8e-06") ||
		r.Output.PerToken != amount(t, "9e-06") || !r.CacheWrite.Set || !r.Reasoning.Set {
		t.Errorf("RatesAt(40000) = %+v", r)
	}

	x, _ := tb.Lookup("xai/grok-fast")
	if xt := x.Tiers(); len(xt) != 1 || xt[0].Above != 127_999 {
		t.Errorf("xai/grok-fast tiers %+v, want one above 127999", xt)
	}
	c, _ := tb.Lookup("claude-sonnet-4-5")
	if ct := c.Tiers(); len(ct) != 1 || ct[0].Above != 200_000 || ct[0].Rates.Reasoning.Set {
		t.Errorf("claude-sonnet-4-5 tiers %+v, want one above 200000 (1-hour and priority fields ignored)", ct)
	}
}

func TestEntryFields(t *testing.T) {
	tb := loadFixture(t)
	e, ok := tb.Lookup("anthropic/claude-sonnet-4-5")
	if !ok {
		t.Fatal("not found")
	}
	if e.Key != "claude-sonnet-4-5" || e.Provider != "anthropic" || e.LiteLLMProvider != "anthropic" || e.Mode != "chat" {
		t.Errorf("entry %+v", e)
	}
	if !e.Rates.CacheWrite.Set || e.Rates.CacheWrite.PerToken != amount(t, "3.75e-06") || e.Rates.Reasoning.Set {
		t.Errorf("rates %+v", e.Rates)
	}
	g, _ := tb.Lookup("gemini-2.5-flash")
	if g.Provider != "google" || g.LiteLLMProvider != "vertex_ai-language-models" {
		t.Errorf("gemini-2.5-flash provider %q (%q)", g.Provider, g.LiteLLMProvider)
	}
	// $0 rates are set: huge has none, null-cache's cache rate is unset.
	n, _ := tb.Lookup("null-cache")
	if n.Rates.CacheRead.Set {
		t.Error("a null price is set")
	}
	if tb.Len() != 18 {
		t.Errorf("fixture table has %d entries, want 18", tb.Len())
	}
}

func TestInvalidUsage(t *testing.T) {
	tb := loadFixture(t)
	for _, u := range []pricing.Usage{
		{Input: -1},
		{Output: -1},
		{Input: 10, CacheRead: -1},
		{Input: 10, CacheWrite: -1},
		{Output: 10, Reasoning: -1},
		{Input: 10, CacheRead: 6, CacheWrite: 5},
		{Input: 10, CacheWrite: 11},
		{Input: 1 << 62, CacheRead: 1 << 62, CacheWrite: 1 << 62}, // the sum overflows int64
		{Output: 10, Reasoning: 11},
	} {
		if err := u.Validate(); !errors.Is(err, pricing.ErrInvalidUsage) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalidUsage", u, err)
		}
		for _, p := range []pricing.Pricer{tb, pricing.Original()} {
			if q, err := p.Quote("gpt-4o", u); !errors.Is(err, pricing.ErrInvalidUsage) || q != (pricing.Quote{}) {
				t.Errorf("%T.Quote(%+v) = %+v, %v, want ErrInvalidUsage", p, u, q, err)
			}
		}
	}
	ok := pricing.Usage{Input: 10, CacheRead: 5, CacheWrite: 5, Output: 3, Reasoning: 3}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
}

func TestOverflow(t *testing.T) {
	tb := loadFixture(t)
	for _, u := range []pricing.Usage{
		// huge costs $1 a token: 2^62 tokens are beyond usd.Amount's ~1.7e14.
		{Input: 1 << 62},
		// Each term fits (1e14 USD), their sum (2e14) does not.
		{Input: 100_000_000_000_000, Output: 100_000_000_000_000},
	} {
		q, err := tb.Quote("huge", u)
		if !errors.Is(err, pricing.ErrOverflow) || q != (pricing.Quote{}) {
			t.Errorf("Quote(huge, %+v) = %+v, %v, want ErrOverflow", u, q, err)
		}
	}
	// The largest sum that fits is priced: 1.7e14 USD.
	q, err := tb.Quote("huge", pricing.Usage{Input: 100_000_000_000_000, Output: 70_000_000_000_000})
	if err != nil || q.Cost != amount(t, "170000000000000") {
		t.Errorf("Quote(huge, 1.7e14 tokens) = %+v, %v", q, err)
	}
}

// TestExactMillionCalls sums a million calls of a model priced
// 2.0345052083e-09 per token, which float64 cannot hold.
func TestExactMillionCalls(t *testing.T) {
	tb := loadFixture(t)
	var total, floatTotal = amount(t, "0"), 0.0
	for i := range 1_000_000 {
		u := pricing.Usage{Input: 1_000 + int64(i%10), Output: 500}
		q, err := tb.Quote("exact-model", u)
		if err != nil {
			t.Fatal(err)
		}
		total = total.Add(q.Cost)
		floatTotal += float64(u.Input+u.Output) * 2.0345052083e-09
	}
	// Tokens: input 1,000,000 × 1,000 + 100,000 × (0+1+…+9) = 1,004,500,000,
	// output 1,000,000 × 500 = 500,000,000; 1,504,500,000 tokens ×
	// 2.0345052083e-09 = 1.5045 × 2.0345052083 = 3.06091308588735 USD.
	if want := amount(t, "3.06091308588735"); total != want {
		t.Fatalf("a million calls cost %s, want %s", total, want)
	}
	t.Logf("exact %s; a float64 sum gives %.16g", total, floatTotal)
}
