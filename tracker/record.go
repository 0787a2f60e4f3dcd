package tracker

import (
	"fmt"
	"math"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// Limits enforced by Record.Validate. They bound what one record can add to
// the in-memory state and to the file, and keep the exact cost arithmetic
// (int64 nano-dollars) far from overflow.
const (
	// MaxModelLen is the longest Model accepted, in bytes.
	MaxModelLen = 256
	// MaxProviderLen is the longest Provider accepted, in bytes.
	MaxProviderLen = 256
	// MaxOperationLen is the longest Operation accepted, in bytes.
	MaxOperationLen = 256
	// MaxMetadataKeys is the largest number of Metadata entries accepted.
	MaxMetadataKeys = 64
	// MaxCostUSD is the largest CostUSD accepted for one record. One call
	// costing a million dollars is a bug in the caller; the bound also keeps
	// sums of nano-dollars (int64) exact for over 9,000 such records.
	MaxCostUSD = 1e6
)

// Record is one model call to be recorded. It is the input of
// Recorder.Record; the tracker turns it into a Session of the usage file
// (see NewSession).
//
// Token counts follow OpenAI's reporting: InputTokens counts every prompt
// token, cached or not, so CacheReadTokens and CacheWriteTokens are parts of
// it; OutputTokens counts every generated token, so ReasoningTokens is a part
// of it. (Anthropic reports input_tokens without its cache counts: add them.)
//
// Cost: a record that carries a CostUSD keeps it. A record without one
// (CostUSD 0 and not Free) is priced by the tracker from its price table
// (WithPrices) when it is folded, off the caller's path, exactly; one whose
// model the table does not know costs 0 and is counted in
// Stats.UnpricedRecords, never silently free. An empty Provider is the
// table's provider of the model (so "o3" is "openai"), else
// DetectProvider's guess.
type Record struct {
	Timestamp          time.Time         // zero → now (stamped by the tracker)
	Model              string            // required
	Provider           string            // empty → DetectProvider(Model)
	InputTokens        int64             // ≥ 0: every prompt token, cache reads and writes included
	OutputTokens       int64             // ≥ 0: every generated token, reasoning included
	CacheReadTokens    int64             // ≥ 0: prompt tokens read from the provider's cache
	CacheWriteTokens   int64             // ≥ 0: prompt tokens written to the cache; reads + writes ≤ InputTokens
	ReasoningTokens    int64             // ≥ 0, ≤ OutputTokens: output tokens spent on reasoning
	CostUSD            float64           // finite, ≥ 0; 0: priced from the tracker's table (see Free)
	LatencyMS          float64           // finite, ≥ 0
	TimeToFirstTokenMS float64           // finite, ≥ 0; 0 = unknown
	Operation          string            // empty → "chat"
	Metadata           map[string]string // optional
	// Free says the call cost nothing (a local model, say): a zero CostUSD
	// is then the cost, not "price it from the table". With Free, CostUSD
	// must be 0.
	Free bool
}

// Bounds of a non-zero Timestamp, in Unix seconds: a day inside years
// 1..9999 whatever the time zone, so that its ISO 8601 form always has the
// "YYYY-MM-DD" layout. A zero Timestamp is told by IsZero, not by its Unix
// seconds: time.Time{} plus nanoseconds is not zero, is not stamped, and
// west of UTC falls in the year 0.
var (
	minRecordUnix = time.Date(1, time.January, 2, 0, 0, 0, 0, time.UTC).Unix()
	maxRecordUnix = time.Date(9999, time.December, 30, 0, 0, 0, 0, time.UTC).Unix()
)

// Validate reports whether r can be recorded. It returns nil or an error
// wrapping ErrInvalidRecord that names the field, for example
//
//	tracker: invalid record: InputTokens: negative (-5)
//
// Rejected: an empty Model; Model, Provider or Operation longer than
// MaxModelLen, MaxProviderLen, MaxOperationLen bytes; negative tokens, or
// InputTokens+OutputTokens overflowing int64; CacheReadTokens+CacheWriteTokens
// above InputTokens, or ReasoningTokens above OutputTokens; a CostUSD,
// LatencyMS or TimeToFirstTokenMS that is NaN, infinite or negative, or a
// CostUSD over MaxCostUSD; more than
// MaxMetadataKeys metadata entries; a non-zero Timestamp outside the years
// 1..9999.
//
// Strings are not checked for UTF-8, and metadata entries are not walked:
// ranging over a map costs about 40 ns here even for one entry, more than
// the rest of Record together. Invalid bytes in Model, Provider, Operation
// and metadata are replaced by U+FFFD when the session is written, as JSON
// holds valid Unicode only.
//
// Validate does not allocate when r is valid: it is one pass of
// comparisons.
func (r *Record) Validate() error {
	// Fast path: one pass of cheap comparisons. The float tests are written
	// so that NaN fails them; +Inf fails the upper bounds.
	if u := r.Timestamp.Unix(); r.Model != "" && len(r.Model) <= MaxModelLen &&
		len(r.Provider) <= MaxProviderLen && len(r.Operation) <= MaxOperationLen &&
		r.InputTokens >= 0 && r.OutputTokens >= 0 && r.InputTokens <= math.MaxInt64-r.OutputTokens &&
		r.CacheReadTokens >= 0 && r.CacheWriteTokens >= 0 && r.CacheWriteTokens <= r.InputTokens-r.CacheReadTokens &&
		r.ReasoningTokens >= 0 && r.ReasoningTokens <= r.OutputTokens &&
		r.CostUSD >= 0 && r.CostUSD <= MaxCostUSD && (!r.Free || r.CostUSD == 0) && r.LatencyMS >= 0 && r.LatencyMS <= math.MaxFloat64 &&
		r.TimeToFirstTokenMS >= 0 && r.TimeToFirstTokenMS <= math.MaxFloat64 &&
		(r.Timestamp.IsZero() || (u >= minRecordUnix && u <= maxRecordUnix)) &&
		len(r.Metadata) <= MaxMetadataKeys {
		return nil
	}
	return r.validateSlow()
}

// validateSlow checks every rule in turn and names the first broken one.
func (r *Record) validateSlow() error {
	switch {
	case r.Model == "":
		return invalidRecord("Model", "empty")
	case len(r.Model) > MaxModelLen:
		return invalidRecord("Model", "%d bytes, over the limit of %d", len(r.Model), MaxModelLen)
	case len(r.Provider) > MaxProviderLen:
		return invalidRecord("Provider", "%d bytes, over the limit of %d", len(r.Provider), MaxProviderLen)
	case len(r.Operation) > MaxOperationLen:
		return invalidRecord("Operation", "%d bytes, over the limit of %d", len(r.Operation), MaxOperationLen)
	case r.InputTokens < 0:
		return invalidRecord("InputTokens", "negative (%d)", r.InputTokens)
	case r.OutputTokens < 0:
		return invalidRecord("OutputTokens", "negative (%d)", r.OutputTokens)
	case r.InputTokens > math.MaxInt64-r.OutputTokens:
		return invalidRecord("OutputTokens", "InputTokens+OutputTokens overflows int64 (%d + %d)", r.InputTokens, r.OutputTokens)
	case r.CacheReadTokens < 0:
		return invalidRecord("CacheReadTokens", "negative (%d)", r.CacheReadTokens)
	case r.CacheWriteTokens < 0:
		return invalidRecord("CacheWriteTokens", "negative (%d)", r.CacheWriteTokens)
	case r.CacheReadTokens > r.InputTokens:
		return invalidRecord("CacheReadTokens", "%d, above InputTokens (%d), which includes it", r.CacheReadTokens, r.InputTokens)
	case r.CacheWriteTokens > r.InputTokens-r.CacheReadTokens:
		return invalidRecord("CacheWriteTokens", "CacheReadTokens+CacheWriteTokens (%d + %d) above InputTokens (%d), which includes both", r.CacheReadTokens, r.CacheWriteTokens, r.InputTokens)
	case r.ReasoningTokens < 0:
		return invalidRecord("ReasoningTokens", "negative (%d)", r.ReasoningTokens)
	case r.ReasoningTokens > r.OutputTokens:
		return invalidRecord("ReasoningTokens", "%d, above OutputTokens (%d), which includes it", r.ReasoningTokens, r.OutputTokens)
	}
	if err := checkAmount("CostUSD", r.CostUSD); err != nil {
		return err
	}
	if r.CostUSD > MaxCostUSD {
		return invalidRecord("CostUSD", "%g, over the limit of %g", r.CostUSD, float64(MaxCostUSD))
	}
	if r.Free && r.CostUSD != 0 {
		return invalidRecord("CostUSD", "%g with Free set; a free call costs 0", r.CostUSD)
	}
	if err := checkAmount("LatencyMS", r.LatencyMS); err != nil {
		return err
	}
	if err := checkAmount("TimeToFirstTokenMS", r.TimeToFirstTokenMS); err != nil {
		return err
	}
	if u := r.Timestamp.Unix(); !r.Timestamp.IsZero() && (u < minRecordUnix || u > maxRecordUnix) {
		return invalidRecord("Timestamp", "%s is outside the years 1..9999", r.Timestamp.UTC().Format(time.RFC3339))
	}
	if len(r.Metadata) > MaxMetadataKeys {
		return invalidRecord("Metadata", "%d keys, over the limit of %d", len(r.Metadata), MaxMetadataKeys)
	}
	return nil
}

// checkAmount rejects NaN, infinities and negative values.
func checkAmount(field string, v float64) error {
	switch {
	case math.IsNaN(v):
		return invalidRecord(field, "NaN")
	case math.IsInf(v, 0):
		return invalidRecord(field, "infinite (%g)", v)
	case v < 0:
		return invalidRecord(field, "negative (%g)", v)
	}
	return nil
}

// invalidRecord builds the error of Validate. Only the error path calls it,
// so its allocations do not count against the valid path.
func invalidRecord(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidRecord, field, fmt.Sprintf(format, args...))
}

// Provider names returned by DetectProvider.
const (
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"
	ProviderGoogle    = "google"
	ProviderUnknown   = "unknown"
)

// DetectProvider guesses the provider from a model name, as the original
// does: the name contains "claude" → "anthropic", else "gpt" → "openai", else
// "gemini" → "google", else "unknown", ignoring case.
//
// Case is folded for ASCII letters only, so DetectProvider never allocates.
// That equals Python's str.lower() on every name except exotic ones where a
// non-ASCII letter lowers to one of the ASCII letters searched for (U+0130
// 'İ' lowers to "i̇" in Python, giving "GEMINİ" → "google" there and
// "unknown" here).
func DetectProvider(model string) string {
	switch {
	case containsFoldASCII(model, "claude"):
		return ProviderAnthropic
	case containsFoldASCII(model, "gpt"):
		return ProviderOpenAI
	case containsFoldASCII(model, "gemini"):
		return ProviderGoogle
	}
	return ProviderUnknown
}

// containsFoldASCII reports whether s contains lowerSub, comparing ASCII
// letters without regard to case. lowerSub must be lower-case ASCII.
func containsFoldASCII(s, lowerSub string) bool {
	n := len(lowerSub)
	if n == 0 {
		return true
	}
	first := lowerSub[0]
	for i := 0; i+n <= len(s); i++ {
		if lowerASCII(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == lowerSub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// Totals is one bucket of the usage file's breakdowns: calls, tokens by
// kind and the exact cost (see usagefile.Totals). Today returns one.
type Totals = usagefile.Totals
