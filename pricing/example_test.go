package pricing_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/usagering/usagering/pricing"
)

// A call to Claude with a cached prompt, priced from the embedded table:
// 200 uncached + 1,000 cache-read + 400 cache-write prompt tokens and 100
// output tokens.
func ExampleTable_Quote() {
	q, err := pricing.Default().Quote("claude-sonnet-4-5-20250929", pricing.Usage{
		Input:      1_600, // every prompt token, cached or not
		CacheRead:  1_000,
		CacheWrite: 400,
		Output:     100,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(q.Cost, q.Provider, q.Key)
	// Output: 0.0039 anthropic claude-sonnet-4-5-20250929
}

// Unknown models are an error, never free.
func ExampleTable_Quote_unknown() {
	_, err := pricing.Default().Quote("my-finetune", pricing.Usage{Input: 1_000})
	fmt.Println(errors.Is(err, pricing.ErrUnknownModel))
	// Output: true
}

// Lookup finds a model without its provider prefix or its date suffix,
// never by substring.
func ExampleTable_Lookup() {
	tb := pricing.Default()
	for _, model := range []string{"openai/gpt-4o-mini", "gpt-4o-2099-01-01", "gpt-4o-mini-2099-01-01", "o3", "gpt-4o-minix"} {
		e, ok := tb.Lookup(model)
		fmt.Printf("%s: %q %v %s\n", model, e.Key, ok, e.Provider)
	}
	// Output:
	// openai/gpt-4o-mini: "gpt-4o-mini" true openai
	// gpt-4o-2099-01-01: "gpt-4o" true openai
	// gpt-4o-mini-2099-01-01: "gpt-4o-mini" true openai
	// o3: "o3" true openai
	// gpt-4o-minix: "" false
}

// A prompt above 200k tokens moves every rate of the call to the tier.
func ExampleEntry_RatesAt() {
	e, _ := pricing.Default().Lookup("claude-sonnet-4-5-20250929")
	for _, input := range []int64{200_000, 200_001} {
		r := e.RatesAt(input)
		fmt.Println(input, r.Input.PerToken, r.Output.PerToken, r.CacheRead.PerToken, r.CacheWrite.PerToken)
	}
	// Output:
	// 200000 0.000003 0.000015 0.0000003 0.00000375
	// 200001 0.000006 0.0000225 0.0000006 0.0000075
}

// Prices of your own, in LiteLLM's format, before the embedded table.
func ExampleLoad() {
	mine, err := pricing.Load(strings.NewReader(`{
	  "my-finetune": {"litellm_provider": "openai", "mode": "chat",
	    "input_cost_per_token": 3e-06, "output_cost_per_token": 1.2e-05}
	}`))
	if err != nil {
		panic(err)
	}
	p := pricing.Chain(mine, pricing.Default())
	for _, model := range []string{"my-finetune", "gpt-4o"} {
		q, _ := p.Quote(model, pricing.Usage{Input: 1_000, Output: 1_000})
		fmt.Println(model, q.Cost)
	}
	// Output:
	// my-finetune 0.015
	// gpt-4o 0.0125
}

// A malformed price names its entry.
func ExampleLoad_error() {
	_, err := pricing.Load(strings.NewReader(`{"m": {"mode": "chat", "input_cost_per_token": "3e-06", "output_cost_per_token": 1e-05}}`))
	var ee *pricing.EntryError
	fmt.Println(errors.Is(err, pricing.ErrBadPrice), errors.As(err, &ee) && ee.Key == "m")
	fmt.Println(err)
	// Output:
	// true true
	// pricing: entry "m", field input_cost_per_token: pricing: malformed price: not a number: "3e-06"
}

// The original tool's figures: substring matching, USD per 1,000 tokens,
// and a fallback price for unknown models.
func ExampleOriginal() {
	o := pricing.Original()
	for _, model := range []string{"gpt-4o-mini-2024-07-18", "llama-3-70b"} {
		q, _ := o.Quote(model, pricing.Usage{Input: 1_000, Output: 1_000})
		fmt.Printf("%s %s %q %v\n", model, q.Cost, q.Key, q.Fallback)
	}
	// Output:
	// gpt-4o-mini-2024-07-18 0.00075 "gpt-4o-mini" false
	// llama-3-70b 0.04 "" true
}

func ExampleNormalizeProvider() {
	for _, p := range []string{"gemini", "vertex_ai-language-models", "openai", "bedrock"} {
		fmt.Println(p, "→", pricing.NormalizeProvider(p))
	}
	// Output:
	// gemini → google
	// vertex_ai-language-models → google
	// openai → openai
	// bedrock → bedrock
}
