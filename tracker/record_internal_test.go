package tracker

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The fast path of Validate accepts exactly the records without metadata
// that the field-by-field checks accept.
func TestValidateFastPathAgreesWithSlowPath(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		floats := rapid.SampledFrom([]float64{0, 1e-9, 0.001, 50, MaxCostUSD, MaxCostUSD * 1.0000001, math.MaxFloat64,
			math.Copysign(0, -1), -1e-300, math.NaN(), math.Inf(1), math.Inf(-1)})
		ints := rapid.SampledFrom([]int64{0, 1, 500, math.MaxInt64 - 1, math.MaxInt64, -1, math.MinInt64})
		lens := rapid.SampledFrom([]int{0, 1, 255, 256, 257, 1000})
		times := rapid.SampledFrom([]time.Time{{}, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
			time.Date(1, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC),
			time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC),
			time.Date(9999, 12, 30, 0, 0, 1, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)})
		str := func(label string) string { return string(make([]byte, lens.Draw(t, label))) }
		r := Record{
			Timestamp: times.Draw(t, "ts"), Model: str("model"), Provider: str("provider"), Operation: str("op"),
			InputTokens: ints.Draw(t, "in"), OutputTokens: ints.Draw(t, "out"),
			CostUSD: floats.Draw(t, "cost"), LatencyMS: floats.Draw(t, "latency"),
		}
		fast, slow := r.Validate(), r.validateSlow()
		if (fast == nil) != (slow == nil) {
			t.Fatalf("Validate() = %v but validateSlow() = %v for %+v", fast, slow, r)
		}
	})
}
