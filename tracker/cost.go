package tracker

import "strings"

// Price is what a model costs, in USD per 1,000 tokens.
type Price struct {
	Input  float64 // USD per 1,000 input tokens
	Output float64 // USD per 1,000 output tokens
}

// ModelPrice is one entry of a Pricing table.
type ModelPrice struct {
	Model string // matched as a substring, see CalculateCost
	Price Price
}

// Pricing is an ordered price table: the first matching entry wins, as in
// the original tool. Put specific keys ("gpt-4o-mini") before the keys they
// contain ("gpt-4o", "gpt-4").
type Pricing []ModelPrice

// FallbackPrice is used for models that match no entry of the table: the
// original's 0.01 / 0.03 USD per 1,000 tokens.
var FallbackPrice = Price{Input: 0.01, Output: 0.03}

// DefaultPricing returns a fresh copy of an illustrative price table for the
// Claude, GPT and Gemini families. The figures are list prices of the kind
// these families have had; they are not kept up to date and are not a quote:
// pass your own table for real accounting.
func DefaultPricing() Pricing {
	return Pricing{
		// Anthropic: most specific names first.
		{Model: "claude-3-5-haiku", Price: Price{Input: 0.0008, Output: 0.004}},
		{Model: "claude-3-5-sonnet", Price: Price{Input: 0.003, Output: 0.015}},
		{Model: "claude-3-7-sonnet", Price: Price{Input: 0.003, Output: 0.015}},
		{Model: "claude-3-opus", Price: Price{Input: 0.015, Output: 0.075}},
		{Model: "claude-3-sonnet", Price: Price{Input: 0.003, Output: 0.015}},
		{Model: "claude-3-haiku", Price: Price{Input: 0.00025, Output: 0.00125}},
		{Model: "claude-opus-4", Price: Price{Input: 0.015, Output: 0.075}},
		{Model: "claude-sonnet-4", Price: Price{Input: 0.003, Output: 0.015}},
		{Model: "claude-haiku-4", Price: Price{Input: 0.001, Output: 0.005}},
		// OpenAI.
		{Model: "gpt-4o-mini", Price: Price{Input: 0.00015, Output: 0.0006}},
		{Model: "gpt-4o", Price: Price{Input: 0.0025, Output: 0.01}},
		{Model: "gpt-4-turbo", Price: Price{Input: 0.01, Output: 0.03}},
		{Model: "gpt-4", Price: Price{Input: 0.03, Output: 0.06}},
		{Model: "gpt-3.5-turbo", Price: Price{Input: 0.0005, Output: 0.0015}},
		// Google.
		{Model: "gemini-1.5-flash", Price: Price{Input: 0.000075, Output: 0.0003}},
		{Model: "gemini-1.5-pro", Price: Price{Input: 0.00125, Output: 0.005}},
		{Model: "gemini-2.0-flash", Price: Price{Input: 0.0001, Output: 0.0004}},
		{Model: "gemini-pro", Price: Price{Input: 0.0005, Output: 0.0015}},
	}
}

// Lookup returns the price of model and whether an entry matched: the first
// entry whose key is a substring of model; failing that, the first entry of
// which model is a substring; failing that, FallbackPrice. Keys compare
// case-sensitively, as in the original.
//
// The original tested both directions on each entry in turn, so that with
// the table {"gpt-4o-mini", …, "gpt-4"} the model "gpt-4" took the price of
// "gpt-4o-mini" (a substring of that key) before reaching its own. Looking
// for keys inside the model first gives every model name that contains a key
// the same price as the original gives it, except in such shadowing cases.
// An empty model and empty keys match nothing (in the original "" matches
// every key).
func (p Pricing) Lookup(model string) (Price, bool) {
	if model == "" {
		return FallbackPrice, false
	}
	for i := range p {
		if key := p[i].Model; key != "" && strings.Contains(model, key) {
			return p[i].Price, true
		}
	}
	for i := range p {
		if key := p[i].Model; key != "" && strings.Contains(key, model) {
			return p[i].Price, true
		}
	}
	return FallbackPrice, false
}

// CalculateCost returns the cost in USD of a call to model, as the original
// calculate_cost: input/1000 × price.Input + output/1000 × price.Output, with
// the price found by p.Lookup (FallbackPrice for unknown models). It is a
// helper: trackers record the CostUSD they are given and never call it.
func CalculateCost(p Pricing, model string, inputTokens, outputTokens int64) float64 {
	price, _ := p.Lookup(model)
	return float64(inputTokens)/1000*price.Input + float64(outputTokens)/1000*price.Output
}
