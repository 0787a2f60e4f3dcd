package pricing

import (
	"fmt"
	"strings"

	"github.com/usagering/usagering/usd"
)

// PerThousand is a price in USD per 1,000 tokens, as the original tool
// states prices.
type PerThousand struct {
	Input, Output usd.Amount
}

// SubstringEntry is one entry of a Substring table.
type SubstringEntry struct {
	Key      string // matched as a substring (see Substring)
	Provider string // Quote.Provider of the models it prices
	Price    PerThousand
}

// Substring is the original tool's price table and lookup, for users who
// must reproduce the original's figures: an ordered list of keys matched
// as substrings, each with input and output prices per 1,000 tokens, and
// optionally a fallback price for the models no key matches.
//
// The entry of a model is the first whose key is a substring of the model
// name; failing that, the first whose key contains the model name;
// failing that, the fallback (Quote.Fallback is then true, Key and
// Provider empty), or ErrUnknownModel without one. Keys compare
// case-sensitively; an empty model name and empty keys match nothing.
// (The original tested both directions on each entry in turn, so that
// with {"gpt-4o-mini", …, "gpt-4"} the model "gpt-4" took the price of
// "gpt-4o-mini"; looking for keys inside the name first gives every name
// that contains a key the original's price, except in such shadowing
// cases.)
//
// The cost of a call is Input × input + Output × output, per token, as in
// the original: cache and reasoning tokens, which Input and Output
// include, are billed at those rates. It is exact, where the original
// computed it in floating point; the two differ by the float's rounding.
//
// A Substring is immutable and safe for concurrent use; Quote does not
// allocate.
type Substring struct {
	entries  []substringEntry
	fallback *substringEntry // nil: unknown models are ErrUnknownModel
}

// substringEntry is an entry with its prices per token.
type substringEntry struct {
	SubstringEntry
	input, output usd.Amount // USD per token
}

// NewSubstring returns a Substring table of entries (copied) with the
// fallback price for unknown models, or none if fallback is nil. A price
// must be ≥ 0 and a whole number of 10^-21 USD per 1,000 tokens, so that
// its price per token is exact; else the error wraps ErrBadPrice.
func NewSubstring(entries []SubstringEntry, fallback *PerThousand) (*Substring, error) {
	s := &Substring{}
	for _, e := range entries {
		se, err := perToken(e)
		if err != nil {
			return nil, err
		}
		s.entries = append(s.entries, se)
	}
	if fallback != nil {
		se, err := perToken(SubstringEntry{Price: *fallback})
		if err != nil {
			return nil, err
		}
		s.fallback = &se
	}
	return s, nil
}

// perToken divides an entry's prices by 1,000, exactly.
func perToken(e SubstringEntry) (substringEntry, error) {
	se := substringEntry{SubstringEntry: e}
	for _, p := range []struct {
		perK usd.Amount
		dst  *usd.Amount
	}{{e.Price.Input, &se.input}, {e.Price.Output, &se.output}} {
		if p.perK.Sign() < 0 {
			return substringEntry{}, fmt.Errorf("%w: %q: negative price %s", ErrBadPrice, e.Key, p.perK)
		}
		a, err := usd.Parse(p.perK.String() + "e-3")
		back, _ := a.Mul(1000)
		if err != nil || back != p.perK {
			return substringEntry{}, fmt.Errorf("%w: %q: %s per 1,000 tokens is not a whole number of 10^-24 USD per token", ErrBadPrice, e.Key, p.perK)
		}
		*p.dst = a
	}
	return se, nil
}

// Entries returns a copy of the table's entries, in order.
func (s *Substring) Entries() []SubstringEntry {
	out := make([]SubstringEntry, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.SubstringEntry
	}
	return out
}

// Quote prices a call to model with usage u. See Pricer and Substring.
func (s *Substring) Quote(model string, u Usage) (Quote, error) {
	if err := u.Validate(); err != nil {
		return Quote{}, err
	}
	e := s.lookup(model)
	if e == nil {
		return Quote{}, ErrUnknownModel
	}
	var c sum
	c.add(u.Input, e.input)
	c.add(u.Output, e.output)
	if c.overflow {
		return Quote{}, fmt.Errorf("%w: %+v priced as %q", ErrOverflow, u, e.Key)
	}
	return Quote{Cost: c.total, Provider: e.Provider, Key: e.Key, Fallback: e == s.fallback}, nil
}

// lookup returns the entry of model, the fallback, or nil.
func (s *Substring) lookup(model string) *substringEntry {
	if model != "" {
		for i := range s.entries {
			if k := s.entries[i].Key; k != "" && strings.Contains(model, k) {
				return &s.entries[i]
			}
		}
		for i := range s.entries {
			if k := s.entries[i].Key; k != "" && strings.Contains(k, model) {
				return &s.entries[i]
			}
		}
	}
	return s.fallback
}

// Original returns the original tool's table, as tracker.DefaultPricing
// held it (illustrative list prices of the Claude, GPT and Gemini
// families, not kept up to date), with its fallback of 0.01 / 0.03 USD per
// 1,000 tokens for unknown models. Providers: "anthropic", "openai",
// "google", as tracker.DetectProvider names them.
func Original() *Substring {
	e := func(key, provider, in, out string) SubstringEntry {
		return SubstringEntry{Key: key, Provider: provider, Price: PerThousand{mustParse(in), mustParse(out)}}
	}
	const a, o, g = "anthropic", "openai", ProviderGoogle
	s, err := NewSubstring([]SubstringEntry{
		// Anthropic: most specific names first.
		e("claude-3-5-haiku", a, "0.0008", "0.004"),
		e("claude-3-5-sonnet", a, "0.003", "0.015"),
		e("claude-3-7-sonnet", a, "0.003", "0.015"),
		e("claude-3-opus", a, "0.015", "0.075"),
		e("claude-3-sonnet", a, "0.003", "0.015"),
		e("claude-3-haiku", a, "0.00025", "0.00125"),
		e("claude-opus-4", a, "0.015", "0.075"),
		e("claude-sonnet-4", a, "0.003", "0.015"),
		e("claude-haiku-4", a, "0.001", "0.005"),
		// OpenAI.
		e("gpt-4o-mini", o, "0.00015", "0.0006"),
		e("gpt-4o", o, "0.0025", "0.01"),
		e("gpt-4-turbo", o, "0.01", "0.03"),
		e("gpt-4", o, "0.03", "0.06"),
		e("gpt-3.5-turbo", o, "0.0005", "0.0015"),
		// Google.
		e("gemini-1.5-flash", g, "0.000075", "0.0003"),
		e("gemini-1.5-pro", g, "0.00125", "0.005"),
		e("gemini-2.0-flash", g, "0.0001", "0.0004"),
		e("gemini-pro", g, "0.0005", "0.0015"),
	}, &PerThousand{mustParse("0.01"), mustParse("0.03")})
	if err != nil {
		panic(err) // the literals above are exact
	}
	return s
}

func mustParse(s string) usd.Amount {
	a, err := usd.Parse(s)
	if err != nil {
		panic(err)
	}
	return a
}
