package main

import "github.com/usagering/usagering/harness"

// latencyStats are a histogram's figures in milliseconds, with the
// original's names (mean_ms, median_ms, min_ms, max_ms, p95_ms, p99_ms,
// stdev_ms) and ours (count, p90_ms, p999_ms, p9999_ms).
type latencyStats struct {
	Count    int64   `json:"count"`
	MeanMS   float64 `json:"mean_ms"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	P90MS    float64 `json:"p90_ms"`
	P95MS    float64 `json:"p95_ms"`
	P99MS    float64 `json:"p99_ms"`
	P999MS   float64 `json:"p999_ms"`
	P9999MS  float64 `json:"p9999_ms"`
	StdevMS  float64 `json:"stdev_ms"`
}

func statsOf(s harness.Summary) latencyStats {
	return latencyStats{
		Count: s.Count, MeanMS: s.MeanMS(), MedianMS: s.P50MS(), MinMS: s.MinMS(), MaxMS: s.MaxMS(),
		P90MS: s.P90MS(), P95MS: s.P95MS(), P99MS: s.P99MS(), P999MS: s.P999MS(), P9999MS: s.P9999MS(),
		StdevMS: s.StdDevMS(),
	}
}
