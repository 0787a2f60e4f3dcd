package litellm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/usagering/usagering/usd"
)

// Decode reads a LiteLLM price table: a JSON object whose members are
// entries (objects) keyed by model name. It keeps the entries whose "mode"
// is one of Modes and that price tokens, that is, that have an input and an
// output price per token, directly or through "tiered_pricing"; it skips the
// rest (other modes, entries without a mode, entries priced per second, per
// character or not at all, SampleSpec, and members that are not objects,
// such as "last_updated").
//
// Of a kept entry it reads litellm_provider, mode, the five per-token rates
// (input, output, cache read, cache write, reasoning), the
// "<rate>_above_<N>[k]_tokens" tiers of the first four and
// "tiered_pricing"; it ignores every other field. A null price counts as
// absent, as in LiteLLM. A threshold tier without an input price is
// dropped, as LiteLLM ignores it; an entry with a "tiered_pricing" tier
// without one is skipped.
//
// Errors: ErrTooLarge beyond MaxSize bytes; ErrFormat (wrapped) when the
// input is not a JSON object, has a syntax error, a duplicate key or
// trailing data; an *EntryError wrapping ErrFormat or ErrBadPrice for a
// kept entry with a field of the wrong type or a price that is not a
// non-negative decimal within usd.Amount's range; ErrNoModels when no entry
// is kept. Prices are exact: read from the text with usd.Parse, never
// through float64 (digits beyond the 24th decimal place, which no LiteLLM
// price has, would be rounded half to even).
func Decode(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("pricing: reading the price table: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxSize)
	}
	return decode(data)
}

func decode(data []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, formatError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: the top level is not a JSON object", ErrFormat)
	}
	f := &File{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, formatError(err)
		}
		key, _ := tok.(string) // object keys are strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, formatError(err)
		}
		if seen[key] {
			return nil, fmt.Errorf("%w: duplicate key %q", ErrFormat, key)
		}
		seen[key] = true
		switch {
		case key == LastUpdated && raw[0] == '"':
			if err := json.Unmarshal(raw, &f.LastUpdated); err != nil {
				return nil, formatError(err)
			}
			continue
		case key == SampleSpec || raw[0] != '{':
			continue
		}
		e, keep, err := decodeEntry(key, raw)
		if err != nil {
			return nil, err
		}
		if keep {
			f.Entries = append(f.Entries, e)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, formatError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the top-level object", ErrFormat)
	}
	if len(f.Entries) == 0 {
		return nil, fmt.Errorf("%w (of modes %s, per token)", ErrNoModels, strings.Join(Modes, ", "))
	}
	slices.SortFunc(f.Entries, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
	return f, nil
}

func formatError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrFormat, err)
}

// decodeEntry reads one member whose value is an object; keep is false for
// entries Decode skips.
func decodeEntry(key string, raw json.RawMessage) (e Entry, keep bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return Entry{}, false, formatError(err)
	}
	e.Key = key
	if e.Mode, err = stringField(key, fields, FieldMode); err != nil {
		return Entry{}, false, err
	}
	if _, ok := slices.BinarySearch(Modes, e.Mode); !ok {
		return Entry{}, false, nil
	}
	if e.Provider, err = stringField(key, fields, FieldProvider); err != nil {
		return Entry{}, false, err
	}
	if e.Rates, err = readRates(key, "", fields); err != nil {
		return Entry{}, false, err
	}
	tiered, ok, err := readTiered(key, fields[FieldTiered])
	if err != nil || !ok {
		return Entry{}, false, err
	}
	e.Tiered = tiered
	if len(e.Tiered) == 0 {
		if e.Above, err = readThresholds(key, fields); err != nil {
			return Entry{}, false, err
		}
	}
	return e, priceable(&e), nil
}

// priceable reports whether an entry has an input and an output price per
// token, for a call of any prompt size: its own, or its lowest
// "tiered_pricing" tier's (which pricing takes as the entry's base rates).
func priceable(e *Entry) bool {
	if len(e.Tiered) > 0 {
		return e.Rates.Output.Set() || e.Tiered[0].Rates.Output.Set()
	}
	return e.Rates.Input.Set() && e.Rates.Output.Set()
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

// stringField returns a string field, "" if absent or null.
func stringField(key string, fields map[string]json.RawMessage, name string) (string, error) {
	raw := fields[name]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", entryError(key, name, ErrFormat, "not a string: %s", excerpt(raw))
	}
	return s, nil
}

// readRates reads the five rates of an entry or of a tiered_pricing tier
// (where is "" or "tiered_pricing[i].", for errors).
func readRates(key, where string, fields map[string]json.RawMessage) (Rates, error) {
	var r Rates
	for _, p := range []struct {
		name string
		dst  *Price
	}{
		{FieldInput, &r.Input},
		{FieldOutput, &r.Output},
		{FieldCacheRead, &r.CacheRead},
		{FieldCacheWrite, &r.CacheWrite},
		{FieldReasoning, &r.Reasoning},
	} {
		var err error
		if *p.dst, err = readPrice(key, where+p.name, fields[p.name]); err != nil {
			return Rates{}, err
		}
	}
	return r, nil
}

// readPrice reads one price: absent or null → the zero Price.
func readPrice(key, field string, raw json.RawMessage) (Price, error) {
	if isNull(raw) {
		return Price{}, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return Price{}, entryError(key, field, ErrBadPrice, "not a number: %s", excerpt(raw))
	}
	text := string(raw)
	a, err := usd.Parse(text)
	if err != nil {
		return Price{}, entryError(key, field, ErrBadPrice, "%v", err)
	}
	if a.Sign() < 0 {
		return Price{}, entryError(key, field, ErrBadPrice, "negative: %s", text)
	}
	return Price{Text: text, Amount: a}, nil
}

// readThresholds collects the "<rate>_above_<N>[k]_tokens" tiers that have
// an input price, ascending.
func readThresholds(key string, fields map[string]json.RawMessage) ([]Threshold, error) {
	var tiers []Threshold
	for name, raw := range fields {
		for i, rate := range thresholdFields {
			tname, ok := thresholdName(name, rate)
			if !ok {
				continue
			}
			tokens, err := thresholdTokens(tname)
			if err != nil {
				return nil, entryError(key, name, ErrFormat, "%v", err)
			}
			p, err := readPrice(key, name, raw)
			if err != nil {
				return nil, err
			}
			j := slices.IndexFunc(tiers, func(t Threshold) bool { return t.Tokens == tokens })
			if j < 0 {
				tiers = append(tiers, Threshold{Name: tname, Tokens: tokens})
				j = len(tiers) - 1
			} else if tiers[j].Name != tname {
				return nil, entryError(key, name, ErrFormat, "threshold %s is also written %s", tname, tiers[j].Name)
			}
			*thresholdRate(&tiers[j].Rates, i) = p
		}
	}
	tiers = slices.DeleteFunc(tiers, func(t Threshold) bool { return !t.Rates.Input.Set() })
	slices.SortFunc(tiers, func(a, b Threshold) int { return cmpInt(a.Tokens, b.Tokens) })
	return tiers, nil
}

// thresholdRate returns the rate of r that thresholdFields[i] names.
func thresholdRate(r *Rates, i int) *Price {
	return [...]*Price{&r.Input, &r.Output, &r.CacheRead, &r.CacheWrite}[i]
}

// thresholdName returns N[k] of a field named rate+"_above_"+N[k]+"_tokens".
func thresholdName(field, rate string) (string, bool) {
	rest, ok := strings.CutPrefix(field, rate+"_above_")
	if !ok {
		return "", false
	}
	n, ok := strings.CutSuffix(rest, "_tokens")
	if !ok {
		return "", false
	}
	digits := strings.TrimSuffix(n, "k")
	if digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return "", false // not a token threshold ("1hr_above_200k", ...)
	}
	return n, true
}

// thresholdTokens turns "128k" into 128000 and "500" into 500.
func thresholdTokens(name string) (int64, error) {
	digits, k := strings.CutSuffix(name, "k")
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("threshold %s: %w", name, err)
	}
	if k {
		if n > math.MaxInt64/1000 {
			return 0, fmt.Errorf("threshold %s: out of range", name)
		}
		n *= 1000
	}
	return n, nil
}

// readTiered reads "tiered_pricing": ok is false when a tier has no input
// price (the entry is then skipped).
func readTiered(key string, raw json.RawMessage) (tiers []Range, ok bool, err error) {
	if isNull(raw) {
		return nil, true, nil
	}
	var list []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &list) != nil {
		return nil, false, entryError(key, FieldTiered, ErrFormat, "not a list: %s", excerpt(raw))
	}
	for i, traw := range list {
		where := fmt.Sprintf("%s[%d].", FieldTiered, i)
		var fields map[string]json.RawMessage
		if len(traw) == 0 || traw[0] != '{' || json.Unmarshal(traw, &fields) != nil {
			return nil, false, entryError(key, where[:len(where)-1], ErrFormat, "not an object: %s", excerpt(traw))
		}
		t := Range{}
		if t.StartText, t.EndText, t.Start, t.End, err = readRange(key, where+FieldRange, fields[FieldRange]); err != nil {
			return nil, false, err
		}
		if t.Rates, err = readRates(key, where, fields); err != nil {
			return nil, false, err
		}
		if !t.Rates.Input.Set() {
			return nil, false, nil
		}
		tiers = append(tiers, t)
	}
	slices.SortStableFunc(tiers, func(a, b Range) int { return cmpInt(a.Start, b.Start) })
	for i := 1; i < len(tiers); i++ {
		if tiers[i].Start == tiers[i-1].Start {
			return nil, false, entryError(key, FieldTiered, ErrFormat, "two tiers start at %d tokens", tiers[i].Start)
		}
	}
	return tiers, true, nil
}

// readRange reads a tier's [start, end]: two whole, non-negative token
// counts (LiteLLM writes them as 256000.0), start ≤ end.
func readRange(key, field string, raw json.RawMessage) (startText, endText string, start, end int64, err error) {
	var pair []json.RawMessage
	if isNull(raw) || raw[0] != '[' || json.Unmarshal(raw, &pair) != nil || len(pair) != 2 {
		return "", "", 0, 0, entryError(key, field, ErrFormat, "not a [start, end] pair: %s", excerpt(raw))
	}
	var n [2]int64
	for i, p := range pair {
		if n[i], err = tokenCount(p); err != nil {
			return "", "", 0, 0, entryError(key, field, ErrFormat, "%v", err)
		}
	}
	if n[0] > n[1] {
		return "", "", 0, 0, entryError(key, field, ErrFormat, "start %d after end %d", n[0], n[1])
	}
	return string(pair[0]), string(pair[1]), n[0], n[1], nil
}

// maxCount is the largest token count a range bound may be: 2^53, where
// float64 still holds every whole number.
const maxCount = 1 << 53

// tokenCount reads a whole, non-negative JSON number.
func tokenCount(raw json.RawMessage) (int64, error) {
	if len(raw) == 0 || raw[0] < '0' || raw[0] > '9' {
		return 0, fmt.Errorf("not a non-negative number: %s", excerpt(raw))
	}
	f, err := strconv.ParseFloat(string(raw), 64) // JSON number syntax: checked by the decoder
	if err != nil || f != math.Trunc(f) || f > maxCount {
		return 0, fmt.Errorf("not a whole token count up to 2^53: %s", excerpt(raw))
	}
	return int64(f), nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// excerpt returns raw JSON for an error message, cut to 40 bytes.
func excerpt(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}
