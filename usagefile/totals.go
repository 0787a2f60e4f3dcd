package usagefile

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	json "github.com/goccy/go-json"

	"github.com/usagering/usagering/usd"
)

// Totals is one bucket of daily_totals, model_breakdown or
// provider_breakdown, and one row of a shipped Batch: the calls, the tokens
// by kind and the exact cost they add up to.
//
// Tokens is the original tool's "tokens": input + output of every call
// counted. It is kept apart from InputTokens and OutputTokens because a
// file written by the original (or by usagering before the token kinds)
// has only "tokens"; its kinds read as 0. CacheReadTokens and
// CacheWriteTokens are parts of InputTokens, ReasoningTokens a part of
// OutputTokens, as in a Record.
type Totals struct {
	Tokens           int64      // input + output: the original's "tokens"
	Cost             usd.Amount // exact
	Calls            int64
	InputTokens      int64 // every prompt token, cache reads and writes included
	OutputTokens     int64 // every generated token, reasoning included
	CacheReadTokens  int64
	CacheWriteTokens int64
	ReasoningTokens  int64
}

// Add adds o to t, field by field. Costs add exactly.
func (t *Totals) Add(o Totals) {
	t.Tokens += o.Tokens
	t.Cost = t.Cost.Add(o.Cost)
	t.Calls += o.Calls
	t.InputTokens += o.InputTokens
	t.OutputTokens += o.OutputTokens
	t.CacheReadTokens += o.CacheReadTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.ReasoningTokens += o.ReasoningTokens
}

// IsZero reports whether t counts nothing.
func (t Totals) IsZero() bool { return t == Totals{} }

// CostUSD returns the cost as the nearest float64, for display.
func (t Totals) CostUSD() float64 { return t.Cost.Float64() }

// AppendJSON appends t as the file writes it: the original's three keys
// first, then the token kinds,
//
//	{"tokens":150,"cost":0.0054,"calls":1,"input_tokens":120,"output_tokens":30,
//	 "cache_read_tokens":0,"cache_write_tokens":0,"reasoning_tokens":0}
//
// with the cost as a decimal with every digit (usd.Amount.AppendDecimal):
// exact for usagering, the nearest float for a reader that parses floats.
func (t Totals) AppendJSON(b []byte) []byte {
	b = append(b, `{"tokens":`...)
	b = strconv.AppendInt(b, t.Tokens, 10)
	b = append(b, `,"cost":`...)
	b = t.Cost.AppendDecimal(b)
	b = append(b, `,"calls":`...)
	b = strconv.AppendInt(b, t.Calls, 10)
	b = append(b, `,"input_tokens":`...)
	b = strconv.AppendInt(b, t.InputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, t.OutputTokens, 10)
	b = append(b, `,"cache_read_tokens":`...)
	b = strconv.AppendInt(b, t.CacheReadTokens, 10)
	b = append(b, `,"cache_write_tokens":`...)
	b = strconv.AppendInt(b, t.CacheWriteTokens, 10)
	b = append(b, `,"reasoning_tokens":`...)
	b = strconv.AppendInt(b, t.ReasoningTokens, 10)
	return append(b, '}')
}

// MarshalJSON encodes t as AppendJSON does.
func (t Totals) MarshalJSON() ([]byte, error) { return t.AppendJSON(make([]byte, 0, 192)), nil }

// UnmarshalJSON decodes a bucket. "tokens", "cost" and "calls" are
// required, as the original requires them; the token kinds are optional
// (0 when absent: a file written before them). Counts must be integers
// (500.0 is read as 500); the cost is read exactly from its text. Other
// keys are ignored.
func (t *Totals) UnmarshalJSON(b []byte) error {
	var w totalsWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	v, err := w.totals()
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// totalsWire is a bucket as read: each field remembers whether it was there.
type totalsWire struct {
	Tokens           intNumber  `json:"tokens"`
	Cost             costNumber `json:"cost"`
	Calls            intNumber  `json:"calls"`
	InputTokens      intNumber  `json:"input_tokens"`
	OutputTokens     intNumber  `json:"output_tokens"`
	CacheReadTokens  intNumber  `json:"cache_read_tokens"`
	CacheWriteTokens intNumber  `json:"cache_write_tokens"`
	ReasoningTokens  intNumber  `json:"reasoning_tokens"`
}

func (w *totalsWire) totals() (Totals, error) {
	switch {
	case !w.Tokens.set:
		return Totals{}, errors.New(`missing "tokens"`)
	case !w.Cost.set:
		return Totals{}, errors.New(`missing "cost"`)
	case !w.Calls.set:
		return Totals{}, errors.New(`missing "calls"`)
	}
	return Totals{
		Tokens: w.Tokens.v, Cost: w.Cost.v, Calls: w.Calls.v,
		InputTokens: w.InputTokens.v, OutputTokens: w.OutputTokens.v,
		CacheReadTokens: w.CacheReadTokens.v, CacheWriteTokens: w.CacheWriteTokens.v,
		ReasoningTokens: w.ReasoningTokens.v,
	}, nil
}

// intNumber is a JSON number with an integral value ("12", "12.0", "1.2e1").
type intNumber struct {
	v   int64
	set bool
}

func (n *intNumber) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return fmt.Errorf("not an integer: %s", b)
		}
		v = int64(f)
	}
	n.v, n.set = v, true
	return nil
}

// costNumber is a JSON number read exactly as an amount of USD.
type costNumber struct {
	v   usd.Amount
	set bool
}

func (n *costNumber) UnmarshalJSON(b []byte) error {
	if err := n.v.UnmarshalText(b); err != nil { // null too: a bucket's cost is required
		return err
	}
	n.set = true
	return nil
}
