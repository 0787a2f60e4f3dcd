// Package litellm reads and writes the part of LiteLLM's model price table
// (model_prices_and_context_window.json, project BerriAI/litellm) that
// package pricing prices calls from: for the entries of the modes in Modes
// that price tokens, the provider, the mode, the per-token rates and their
// tiers. It knows the file's format and nothing of the cost rule, which is
// package pricing's; the generator and pricing.Load both read files with
// Decode, so the embedded table and a loaded one hold the same entries.
//
// Prices are kept as the text the file writes them in and as the exact
// usd.Amount of that text: nothing goes through float64.
package litellm

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/usagering/usagering/usd"
)

// Errors of Decode. pricing re-exports them.
var (
	// ErrFormat: the input is not a LiteLLM price table (not a JSON
	// object of entries, a duplicate key, a field of the wrong JSON type).
	ErrFormat = errors.New("pricing: not a LiteLLM price table")
	// ErrBadPrice: a price the table needs is not a non-negative decimal
	// number within usd.Amount's range.
	ErrBadPrice = errors.New("pricing: malformed price")
	// ErrTooLarge: the input is longer than MaxSize bytes.
	ErrTooLarge = errors.New("pricing: price table too large")
	// ErrNoModels: the input prices no model of the modes in Modes.
	ErrNoModels = errors.New("pricing: price table prices no model")
)

// MaxSize is the longest input Decode reads, in bytes: 64 MiB, some forty
// times LiteLLM's whole table.
const MaxSize = 64 << 20

// Modes are the values of an entry's "mode" whose entries are kept: the
// calls that are billed per prompt and completion token. Sorted.
var Modes = []string{"chat", "completion", "responses"}

// SampleSpec is the key of the table's template entry, which Decode skips.
const SampleSpec = "sample_spec"

// LastUpdated is the key of the table's top-level timestamp string (the
// only member that is not an entry), which Decode returns as
// File.LastUpdated.
const LastUpdated = "last_updated"

// Field names of the per-token rates, as LiteLLM writes them.
const (
	FieldInput      = "input_cost_per_token"
	FieldOutput     = "output_cost_per_token"
	FieldCacheRead  = "cache_read_input_token_cost"
	FieldCacheWrite = "cache_creation_input_token_cost"
	FieldReasoning  = "output_cost_per_reasoning_token"
	FieldProvider   = "litellm_provider"
	FieldMode       = "mode"
	FieldTiered     = "tiered_pricing"
	FieldRange      = "range"
)

// thresholdFields are the rates that have "<field>_above_<N>_tokens"
// variants, in the order Encode writes them. Reasoning has none.
var thresholdFields = [...]string{FieldInput, FieldOutput, FieldCacheRead, FieldCacheWrite}

// Price is one price of an entry: the number as the file writes it and its
// exact value. Text is empty when the file has no such price (the field is
// absent or null).
type Price struct {
	Text   string
	Amount usd.Amount
}

// Set reports whether the file has this price.
func (p Price) Set() bool { return p.Text != "" }

// Rates are an entry's per-token prices in USD.
type Rates struct {
	Input      Price // input_cost_per_token
	Output     Price // output_cost_per_token
	CacheRead  Price // cache_read_input_token_cost
	CacheWrite Price // cache_creation_input_token_cost (five-minute cache writes)
	Reasoning  Price // output_cost_per_reasoning_token
}

// Threshold is one "_above_<Name>_tokens" tier: the rates that LiteLLM
// bills every token of a call at when its prompt has more than Tokens
// tokens. Input is always set (LiteLLM keys a tier on its input price);
// Reasoning never is.
type Threshold struct {
	Name   string // as in the field names: "128k", "200k"
	Tokens int64  // Name as a count: 128000, 200000
	Rates  Rates
}

// Range is one tier of a "tiered_pricing" list: LiteLLM bills every token
// of a call whose prompt has more than Start tokens (and at most End) at
// its rates. Input is always set.
type Range struct {
	StartText, EndText string // the bounds as the file writes them
	Start, End         int64
	Rates              Rates
}

// Entry is one kept entry of the table.
type Entry struct {
	Key      string // the model name, as the table's key
	Provider string // litellm_provider, "" if absent
	Mode     string // one of Modes
	Rates    Rates
	// Above holds the "_above_N_tokens" tiers, ascending by Tokens. Decode
	// leaves it empty when Tiered is not: LiteLLM then ignores them.
	Above []Threshold
	// Tiered holds the "tiered_pricing" tiers, ascending by Start.
	Tiered []Range
}

// File is a decoded table.
type File struct {
	Entries     []Entry // ascending by Key
	LastUpdated string  // the top-level "last_updated" string, "" if absent
}

// EntryError is the error of one entry: which entry, which field, why.
// Err wraps ErrFormat or ErrBadPrice.
type EntryError struct {
	Key, Field string
	Err        error
}

func (e *EntryError) Error() string {
	return "pricing: entry " + strconv.Quote(e.Key) + ", field " + e.Field + ": " + e.Err.Error()
}

func (e *EntryError) Unwrap() error { return e.Err }

func entryError(key, field string, sentinel error, format string, args ...any) error {
	return &EntryError{Key: key, Field: field, Err: fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))}
}
