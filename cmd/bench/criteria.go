package main

import (
	"fmt"
	"time"
)

// The success criteria: the original's four, then our stricter ones.
// A criterion whose scenario did not run is SKIP, which -strict does not
// count as a failure.
func (b *bench) evaluateCriteria() {
	r := &b.res
	add := func(c criterion, ran, pass bool) {
		switch {
		case !ran:
			c.Result, c.Display = "SKIP", "not run"
		case pass:
			c.Result = "PASS"
		default:
			c.Result = "FAIL"
		}
		r.Criteria = append(r.Criteria, c)
	}
	lat := r.Latency
	var mean, speedup, p99, p999 float64
	if lat != nil {
		mean, speedup = lat.Async.MeanMS, lat.Improvement.SpeedupMean
		p99, p999 = lat.Async.P99MS*1e6, lat.Async.P999MS*1e6
	}
	add(criterion{Name: "async_mean_latency", Target: "<1ms blocking time", Original: true,
		Measured: mean, Unit: "ms", Display: fmtMS(mean) + " ms"}, lat != nil, mean < 1)
	add(criterion{Name: "improvement", Target: "5-20x performance improvement", Original: true,
		Measured: speedup, Unit: "x", Display: fmtX(speedup) + " (mean latency, sync/async)"}, lat != nil, speedup >= 5)
	var stutters float64
	if r.Streaming != nil {
		stutters = float64(r.Streaming.Async.StuttersOver10ms)
	}
	add(criterion{Name: "streaming_stutters", Target: "Streaming stutter elimination (async stutters >10ms = 0)", Original: true,
		Measured: stutters, Unit: "stutters", Display: fmt.Sprintf("%g async stutters > 10 ms", stutters)}, r.Streaming != nil, stutters == 0)
	var cps float64
	if r.Throughput != nil {
		cps = r.Throughput.Async.CallsPerSecond
	}
	add(criterion{Name: "async_throughput", Target: "2000+ calls/sec (async, persisted)", Original: true,
		Measured: cps, Unit: "calls/s", Display: rate(cps) + " calls/sec"}, r.Throughput != nil, cps > 2000)

	const p99Max, p999Max = 10 * time.Microsecond, 100 * time.Microsecond
	add(criterion{Name: "async_p99", Target: "async Record p99 < 10 µs", Measured: p99, Unit: "ns", Display: fmtNs(p99)},
		lat != nil, p99 < float64(p99Max))
	add(criterion{Name: "async_p999", Target: "async Record p99.9 < 100 µs", Measured: p999, Unit: "ns", Display: fmtNs(p999)},
		lat != nil, p999 < float64(p999Max))
	failed := b.honestyFailures()
	add(criterion{Name: "zero_loss", Target: "zero loss: every honesty check OK", Measured: float64(failed), Unit: "failed checks",
		Display: fmt.Sprintf("%d of %d checks OK", len(r.Honesty)-failed, len(r.Honesty))}, len(r.Honesty) > 0, failed == 0)
}

func (b *bench) criteriaFailed() bool {
	for _, c := range b.res.Criteria {
		if c.Result == "FAIL" {
			return true
		}
	}
	return false
}
