package pricing

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/usagering/usagering/pricing/internal/litellm"
)

// Errors of Load.
var (
	// ErrFormat: the input is not a LiteLLM price table: not a JSON object
	// of entries, a syntax error, a duplicate key, trailing data, or (in
	// an *EntryError) a field of the wrong JSON type.
	ErrFormat = litellm.ErrFormat
	// ErrBadPrice (in an *EntryError): a price is not a non-negative
	// decimal number within usd.Amount's range.
	ErrBadPrice = litellm.ErrBadPrice
	// ErrTooLarge: the input is longer than MaxLoadSize bytes.
	ErrTooLarge = litellm.ErrTooLarge
	// ErrNoModels: the input prices no model (no entry of mode chat,
	// completion or responses with an input and an output price per
	// token).
	ErrNoModels = litellm.ErrNoModels
)

// MaxLoadSize is the longest input Load reads, in bytes.
const MaxLoadSize = litellm.MaxSize

// EntryError is the error of Load for one malformed entry: its key, the
// field, and why. Err wraps ErrFormat or ErrBadPrice.
type EntryError struct {
	Key   string // the entry's key (its model name)
	Field string // "input_cost_per_token", "tiered_pricing[1].range", ...
	Err   error
}

func (e *EntryError) Error() string {
	return "pricing: entry " + strconv.Quote(e.Key) + ", field " + e.Field + ": " + e.Err.Error()
}

func (e *EntryError) Unwrap() error { return e.Err }

// Load reads a price table in LiteLLM's format
// (model_prices_and_context_window.json: a JSON object of entries keyed by
// model name), such as a newer copy of the file than the one Default
// embeds, or a small file of your own models.
//
// It keeps the entries of mode chat, completion and responses that price
// tokens: an input_cost_per_token and an output_cost_per_token, or a
// tiered_pricing list. Of those it reads litellm_provider, mode, the
// per-token rates (input_cost_per_token, output_cost_per_token,
// cache_read_input_token_cost, cache_creation_input_token_cost,
// output_cost_per_reasoning_token), their "_above_<N>k_tokens" tiers and
// tiered_pricing; it ignores every other field and skips every other
// entry, "sample_spec", and top-level members that are not objects
// (last_updated). A null price is absent, as in LiteLLM.
//
// Prices are read from the JSON text as decimals (usd.Parse), never
// through float64, so every rate is exact.
//
// Errors: ErrTooLarge; ErrFormat (wrapped) for a file that is not such a
// table; an *EntryError, wrapping ErrFormat or ErrBadPrice, that names the
// entry and field of a malformed kept entry; ErrNoModels when nothing is
// kept; a read error of r (wrapped).
func Load(r io.Reader) (*Table, error) {
	f, err := litellm.Decode(r)
	if err != nil {
		var ee *litellm.EntryError
		if errors.As(err, &ee) {
			return nil, &EntryError{Key: ee.Key, Field: ee.Field, Err: ee.Err}
		}
		return nil, err
	}
	return newTable(f), nil
}

// Default returns the embedded table: the chat, completion and responses
// entries of LiteLLM's price table (project BerriAI/litellm, MIT licence)
// of DefaultTableDate, generated into litellm_gen.go by "go generate". The
// first call parses it with Load's parser; every call returns the same
// table. (It would panic if the embedded table did not load, which the
// package's tests rule out.)
func Default() *Table { return defaultTable() }

// DefaultTableDate is the date of the LiteLLM table that Default embeds.
const DefaultTableDate = litellmTableDate

var defaultTable = sync.OnceValue(func() *Table {
	t, err := Load(strings.NewReader(litellmTableJSON))
	if err != nil {
		panic("pricing: the embedded price table does not load: " + err.Error())
	}
	return t
})
