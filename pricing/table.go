package pricing

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/usagering/usagering/pricing/internal/litellm"
	"github.com/usagering/usagering/usd"
)

// ErrUnknownModel: the pricer has no price for the model. An unknown model
// is never priced at $0. Quote returns this error itself, not wrapped, so
// that a miss does not allocate; the caller knows the model's name.
var ErrUnknownModel = errors.New("pricing: unknown model")

// ErrOverflow: a cost beyond usd.Amount's range (about 1.7e14 USD), which
// only absurd token counts reach. Costs are never saturated or wrapped.
var ErrOverflow = errors.New("pricing: cost out of range")

// Quote is the price of one call.
type Quote struct {
	Cost     usd.Amount // exact
	Provider string     // the matched entry's provider (see NormalizeProvider); "" when unknown
	Key      string     // the key of the entry that priced the call; "" for a fallback price
	Fallback bool       // priced at a fallback price for unknown models (Substring only)
}

// Pricer prices calls. Implementations are safe for concurrent use.
type Pricer interface {
	// Quote returns the cost of a call to model with usage u. Errors:
	// ErrInvalidUsage (wrapped) when u fails Usage.Validate,
	// ErrUnknownModel when the pricer has no price for model (it is never
	// priced at $0 silently), ErrOverflow (wrapped) when the cost is out
	// of usd.Amount's range.
	Quote(model string, u Usage) (Quote, error)
}

// Rate is one per-token price. Set distinguishes a price of $0 from none.
type Rate struct {
	PerToken usd.Amount // USD per token
	Set      bool
}

// Rates are the per-token prices of an entry or of one of its tiers.
type Rates struct {
	Input      Rate // uncached prompt tokens
	Output     Rate // completion tokens other than reasoning
	CacheRead  Rate // prompt tokens read from the cache; unset: the input rate
	CacheWrite Rate // prompt tokens written to the cache (five-minute writes); unset: the input rate
	Reasoning  Rate // reasoning tokens; unset: the output rate
}

// Tier is a set of rates for large prompts: a call whose Usage.Input is
// more than Above tokens is billed at the rates of the highest such tier,
// every rate the tier has replacing the entry's (LiteLLM's
// "_above_128k_tokens" fields give Above = 128000; xAI, whose tier starts
// at the threshold, 127999; a "tiered_pricing" range [32000, 128000] gives
// Above = 32000).
type Tier struct {
	Above int64
	Rates Rates
}

// Entry is one model of a Table.
type Entry struct {
	Key             string // the table's key: the model name, often with a provider prefix
	Provider        string // NormalizeProvider(LiteLLMProvider)
	LiteLLMProvider string // litellm_provider as the file writes it; "" if absent
	Mode            string // chat, completion or responses
	// Rates are the entry's base rates; Input and Output are always set.
	Rates Rates
	tiers []Tier // ascending by Above; read only
	// billed[0] holds the rates of a call below every tier, billed[i+1]
	// those of tiers[i], resolved at build time (see RatesAt); read only.
	billed []billed
}

// Tiers returns a copy of the entry's tiers, ascending by Above.
func (e Entry) Tiers() []Tier { return slices.Clone(e.tiers) }

// RatesAt returns the rates a call with a prompt of input tokens is billed
// at, every one set: the base rates, overlaid with those of the highest
// tier whose Above is below input, then a missing cache-read or
// cache-write rate set to the input rate and a missing reasoning rate to
// the output rate.
func (e Entry) RatesAt(input int64) Rates {
	b := e.billedAt(input)
	return Rates{
		Input:      Rate{b.input, true},
		Output:     Rate{b.output, true},
		CacheRead:  Rate{b.cacheRead, true},
		CacheWrite: Rate{b.cacheWrite, true},
		Reasoning:  Rate{b.reasoning, true},
	}
}

// Cost returns the exact cost of a call with usage u:
//
//	(Input − CacheRead − CacheWrite) × input + CacheRead × cache read
//	+ CacheWrite × cache write + (Output − Reasoning) × output
//	+ Reasoning × reasoning
//
// at the rates of RatesAt(u.Input). Errors: ErrInvalidUsage, ErrOverflow
// (wrapped).
func (e Entry) Cost(u Usage) (usd.Amount, error) {
	if err := u.Validate(); err != nil {
		return usd.Amount{}, err
	}
	return e.cost(u)
}

// billed holds the five rates one call is billed at.
type billed struct {
	input, output, cacheRead, cacheWrite, reasoning usd.Amount
}

// billedAt returns the rates a call with a prompt of input tokens is billed
// at.
func (e *Entry) billedAt(input int64) *billed {
	for i := len(e.tiers) - 1; i >= 0; i-- {
		if input > e.tiers[i].Above {
			return &e.billed[i+1]
		}
	}
	return &e.billed[0]
}

// resolve fills e.billed from e.Rates and e.tiers.
func (e *Entry) resolve() {
	e.billed = make([]billed, 0, 1+len(e.tiers))
	e.billed = append(e.billed, resolve(e.Rates))
	for _, t := range e.tiers {
		e.billed = append(e.billed, resolve(overlay(e.Rates, t.Rates)))
	}
}

// resolve returns the rates r bills at: a missing cache rate is the input
// rate, a missing reasoning rate the output rate.
func resolve(r Rates) billed {
	b := billed{input: r.Input.PerToken, output: r.Output.PerToken}
	b.cacheRead = or(r.CacheRead, b.input)
	b.cacheWrite = or(r.CacheWrite, b.input)
	b.reasoning = or(r.Reasoning, b.output)
	return b
}

func or(r Rate, otherwise usd.Amount) usd.Amount {
	if r.Set {
		return r.PerToken
	}
	return otherwise
}

// overlay returns base with every rate that top has replaced by top's.
func overlay(base, top Rates) Rates {
	pick := func(b, t Rate) Rate {
		if t.Set {
			return t
		}
		return b
	}
	return Rates{
		Input:      pick(base.Input, top.Input),
		Output:     pick(base.Output, top.Output),
		CacheRead:  pick(base.CacheRead, top.CacheRead),
		CacheWrite: pick(base.CacheWrite, top.CacheWrite),
		Reasoning:  pick(base.Reasoning, top.Reasoning),
	}
}

// cost computes the cost of a valid usage.
func (e *Entry) cost(u Usage) (usd.Amount, error) {
	b := e.billedAt(u.Input)
	var s sum
	s.add(u.Input-u.CacheRead-u.CacheWrite, b.input)
	s.add(u.CacheRead, b.cacheRead)
	s.add(u.CacheWrite, b.cacheWrite)
	s.add(u.Output-u.Reasoning, b.output)
	s.add(u.Reasoning, b.reasoning)
	if s.overflow {
		return usd.Amount{}, fmt.Errorf("%w: %+v priced as %q", ErrOverflow, u, e.Key)
	}
	return s.total, nil
}

// sum adds non-negative products exactly and notes an overflow.
type sum struct {
	total    usd.Amount
	overflow bool
}

// add adds n × rate, n ≥ 0 and rate ≥ 0.
func (s *sum) add(n int64, rate usd.Amount) {
	if n == 0 {
		return
	}
	p, ok := rate.Mul(n)
	t := s.total.Add(p)
	// Add saturates: with both terms ≥ 0, it overflowed iff t − p ≠ total.
	if !ok || t.Sub(p) != s.total {
		s.overflow = true
	}
	s.total = t
}

// Table is a price table of models, read from a LiteLLM-format file (Load)
// or embedded (Default). It is immutable and safe for concurrent use;
// Quote and Lookup do not allocate.
//
// Lookup of a model name, in order, the first that matches:
//
//  1. the name as it is, as a key of the table;
//  2. without its provider prefix: "openai/gpt-4o" as "gpt-4o" (a prefix
//     is the part before the first "/" when it names a provider: any
//     litellm_provider of the table, a key's first segment that names its
//     entry's provider, such as "vertex_ai", or one of the first-party
//     prefixes below), repeatedly: "openrouter/openai/gpt-4o" as
//     "openai/gpt-4o", then "gpt-4o";
//  3. with a first-party provider prefix: "grok-3" as "xai/grok-3" where
//     the table has no "grok-3" (the name without a "/", and only under the
//     model maker's own API: openai, anthropic, gemini, xai, mistral,
//     deepseek, moonshot, dashscope, zai, minimax, cohere, perplexity,
//     meta_llama, volcengine, amazon-nova, the first of these that has it;
//     never under a reseller, whose prices differ);
//  4. without a date or version suffix, then 1–3 again:
//     "gpt-4o-2024-08-06" as "gpt-4o" only when the table has no
//     "gpt-4o-2024-08-06". A suffix is "-YYYY-MM-DD", or "-" or "@"
//     followed by 3 to 8 digits ("-20250929", "-0613", "-002"); they are
//     taken off one at a time, the longest name that matches winning.
//
// Names compare exactly (case-sensitively). There is no substring
// matching: it would price gpt-4o-mini as gpt-4o (see Substring for the
// original tool's rules).
type Table struct {
	entries []Entry // ascending by Key
	// exact maps a key to its entry's index.
	exact map[string]int32
	// prefixed maps a name without "/" to the entry of the first-party
	// key "<prefix>/<name>" that rule 3 of Lookup picks.
	prefixed map[string]int32
	// prefixes holds the provider prefixes rule 2 takes off.
	prefixes map[string]struct{}
}

// firstParty are the prefixes of model makers' own APIs, in the order
// Lookup's rule 3 prefers them.
var firstParty = []string{
	"openai", "anthropic", "gemini", "xai", "mistral", "deepseek", "moonshot",
	"dashscope", "zai", "minimax", "cohere", "perplexity", "meta_llama",
	"volcengine", "amazon-nova",
}

// newTable builds a table from decoded entries (ascending by key, each
// priceable: see litellm.Decode).
func newTable(f *litellm.File) *Table {
	t := &Table{
		entries:  make([]Entry, 0, len(f.Entries)),
		exact:    make(map[string]int32, len(f.Entries)),
		prefixed: map[string]int32{},
		prefixes: map[string]struct{}{},
	}
	for _, p := range firstParty {
		t.prefixes[p] = struct{}{}
	}
	for _, le := range f.Entries {
		e := newEntry(&le)
		e.resolve()
		t.entries = append(t.entries, e)
	}
	rank := func(prefix string) int { return slices.Index(firstParty, prefix) }
	for i := range t.entries {
		e := &t.entries[i]
		t.exact[e.Key] = int32(i)
		if e.LiteLLMProvider != "" {
			t.prefixes[e.LiteLLMProvider] = struct{}{}
		}
		p, rest, ok := strings.Cut(e.Key, "/")
		if !ok {
			continue
		}
		if namesProvider(p, e.LiteLLMProvider) {
			t.prefixes[p] = struct{}{}
		}
		if r := rank(p); r >= 0 && rest != "" && !strings.Contains(rest, "/") {
			if j, ok := t.prefixed[rest]; !ok || r < rank(strings.SplitN(t.entries[j].Key, "/", 2)[0]) {
				t.prefixed[rest] = int32(i) // entries ascend by key: a tie keeps the first
			}
		}
	}
	return t
}

// namesProvider reports whether a key's first segment names the entry's
// provider: "vertex_ai" for "vertex_ai-anthropic_models", "amazon-nova"
// for "amazon_nova".
func namesProvider(segment, provider string) bool {
	return segment != "" && (segment == provider ||
		strings.HasPrefix(provider, segment+"-") || strings.HasPrefix(provider, segment+"_") ||
		strings.ReplaceAll(segment, "-", "_") == provider)
}

// newEntry turns a decoded entry into a table entry. Tiers from
// "tiered_pricing" take LiteLLM's rules for such tiers: a missing cache
// rate is the tier's input rate, a missing reasoning rate the tier's
// output rate (where it has one); the lowest tier supplies the base rates
// the entry lacks. Threshold tiers of provider xai start at the threshold.
func newEntry(le *litellm.Entry) Entry {
	e := Entry{
		Key:             le.Key,
		Provider:        NormalizeProvider(le.Provider),
		LiteLLMProvider: le.Provider,
		Mode:            le.Mode,
		Rates:           rates(&le.Rates),
	}
	for _, r := range le.Tiered {
		tr := rates(&r.Rates)
		if !tr.CacheRead.Set {
			tr.CacheRead = tr.Input
		}
		if !tr.CacheWrite.Set {
			tr.CacheWrite = tr.Input
		}
		if !tr.Reasoning.Set && tr.Output.Set {
			tr.Reasoning = tr.Output
		}
		e.tiers = append(e.tiers, Tier{Above: r.Start, Rates: tr})
	}
	if len(le.Tiered) > 0 {
		e.Rates = overlay(rates(&le.Tiered[0].Rates), e.Rates)
	}
	for _, th := range le.Above {
		above := th.Tokens
		if le.Provider == "xai" && above > 0 {
			above-- // LiteLLM bills xAI's tier from the threshold on
		}
		e.tiers = append(e.tiers, Tier{Above: above, Rates: rates(&th.Rates)})
	}
	return e
}

func rates(r *litellm.Rates) Rates {
	rate := func(p litellm.Price) Rate { return Rate{PerToken: p.Amount, Set: p.Set()} }
	return Rates{
		Input:      rate(r.Input),
		Output:     rate(r.Output),
		CacheRead:  rate(r.CacheRead),
		CacheWrite: rate(r.CacheWrite),
		Reasoning:  rate(r.Reasoning),
	}
}

// Len returns the number of entries.
func (t *Table) Len() int { return len(t.entries) }

// All yields the entries, ascending by key.
func (t *Table) All() iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		for _, e := range t.entries {
			if !yield(e) {
				return
			}
		}
	}
}

// Lookup returns the entry that prices model (see Table for the rules) and
// whether there is one. It does not allocate.
func (t *Table) Lookup(model string) (Entry, bool) {
	if i := t.find(model); i >= 0 {
		return t.entries[i], true
	}
	return Entry{}, false
}

// Quote prices a call to model with usage u. See Pricer.
func (t *Table) Quote(model string, u Usage) (Quote, error) {
	if err := u.Validate(); err != nil {
		return Quote{}, err
	}
	i := t.find(model)
	if i < 0 {
		return Quote{}, ErrUnknownModel
	}
	e := &t.entries[i]
	c, err := e.cost(u)
	if err != nil {
		return Quote{}, err
	}
	return Quote{Cost: c, Provider: e.Provider, Key: e.Key}, nil
}

// find returns the index of the entry that prices name, or -1.
func (t *Table) find(name string) int32 {
	for {
		if i := t.findVersion(name); i >= 0 {
			return i
		}
		var ok bool
		if name, ok = stripVersion(name); !ok {
			return -1
		}
	}
}

// findVersion applies Lookup's rules 1 to 3 to name.
func (t *Table) findVersion(name string) int32 {
	if i, ok := t.exact[name]; ok {
		return i
	}
	bare := name
	for {
		p, rest, ok := strings.Cut(bare, "/")
		if !ok {
			break
		}
		if _, ok := t.prefixes[p]; !ok {
			break
		}
		if i, ok := t.exact[rest]; ok {
			return i
		}
		bare = rest
	}
	if i, ok := t.prefixed[bare]; ok {
		return i
	}
	return -1
}

// stripVersion takes a date or version suffix off name: "-YYYY-MM-DD", or
// "-" or "@" and 3 to 8 digits.
func stripVersion(name string) (string, bool) {
	n := len(name)
	if n > 11 && name[n-11] == '-' && name[n-6] == '-' && name[n-3] == '-' &&
		allDigits(name[n-10:n-6]) && allDigits(name[n-5:n-3]) && allDigits(name[n-2:]) {
		return name[:n-11], true // -YYYY-MM-DD
	}
	d := n
	for d > 0 && '0' <= name[d-1] && name[d-1] <= '9' {
		d--
	}
	if digits := n - d; d > 1 && digits >= 3 && digits <= 8 && (name[d-1] == '-' || name[d-1] == '@') {
		return name[:d-1], true
	}
	return name, false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
