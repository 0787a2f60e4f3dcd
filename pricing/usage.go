package pricing

import (
	"errors"
	"fmt"
)

// Usage is the token usage of one call, in OpenAI's convention (the one
// tracker.Record uses): Input counts every prompt token, cache reads and
// cache writes included; Output counts every completion token, reasoning
// included.
//
// Providers that report otherwise must be converted: Anthropic's
// input_tokens excludes cache_read_input_tokens and
// cache_creation_input_tokens (Input is their sum); Gemini's
// thoughtsTokenCount is outside candidatesTokenCount (Output is their sum).
type Usage struct {
	Input      int64 // every prompt token; ≥ CacheRead + CacheWrite
	Output     int64 // every completion token; ≥ Reasoning
	CacheRead  int64 // prompt tokens read from the provider's prompt cache
	CacheWrite int64 // prompt tokens written to it
	Reasoning  int64 // completion tokens spent on reasoning
}

// ErrInvalidUsage: a Usage with a negative count, cache tokens beyond
// Input, or reasoning tokens beyond Output.
var ErrInvalidUsage = errors.New("pricing: invalid usage")

// Validate reports whether u is a usage: every count ≥ 0,
// CacheRead + CacheWrite ≤ Input, Reasoning ≤ Output. The error wraps
// ErrInvalidUsage and names the field. It allocates only on error.
func (u Usage) Validate() error {
	switch {
	case u.Input < 0:
		return invalidUsage("Input", u.Input)
	case u.Output < 0:
		return invalidUsage("Output", u.Output)
	case u.CacheRead < 0:
		return invalidUsage("CacheRead", u.CacheRead)
	case u.CacheWrite < 0:
		return invalidUsage("CacheWrite", u.CacheWrite)
	case u.Reasoning < 0:
		return invalidUsage("Reasoning", u.Reasoning)
	case u.CacheWrite > u.Input || u.CacheRead > u.Input-u.CacheWrite: // no overflow: all ≥ 0
		return fmt.Errorf("%w: CacheRead %d + CacheWrite %d exceed Input %d", ErrInvalidUsage, u.CacheRead, u.CacheWrite, u.Input)
	case u.Reasoning > u.Output:
		return fmt.Errorf("%w: Reasoning %d exceeds Output %d", ErrInvalidUsage, u.Reasoning, u.Output)
	}
	return nil
}

func invalidUsage(field string, n int64) error {
	return fmt.Errorf("%w: %s is negative (%d)", ErrInvalidUsage, field, n)
}
