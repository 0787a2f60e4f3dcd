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
	st := r.Stall
	var stallP999 float64
	stallDisplay := ""
	if st != nil {
		stallP999 = st.Async.During.P999MS * 1e6
		stallDisplay = fmt.Sprintf("%s (%s calls starting during a %s stall, %d producers; sync %s)",
			fmtNs(stallP999), count(st.Async.During.Count), fmtMSAsNs(st.StallMS), st.Producers, fmtIfAny(st.Sync.During, st.Sync.During.P999MS))
	}
	add(criterion{Name: "stall_p999", Target: "async Record p99.9 during an fsync stall < 100 µs", Measured: stallP999, Unit: "ns",
		Display: stallDisplay}, st != nil, st != nil && st.Async.During.Count > 0 && stallP999 < float64(p999Max))
	// Isolation: the stall adds nothing to the tail the same producers have
	// without it, within the noise of two windows (twice the control's
	// p99.9, plus 100 µs).
	var ctlP999 float64
	isolated, isoDisplay := false, ""
	if st != nil && st.Async.Control != nil {
		ctlP999 = st.Async.Control.Calls.P999MS * 1e6
		isolated = st.Async.During.Count > 0 && st.Async.Control.Calls.Count > 0 && stallP999 <= 2*ctlP999+float64(p999Max)
		isoDisplay = fmt.Sprintf("p99.9 %s during the stall, %s without it", fmtNs(stallP999), fmtNs(ctlP999))
	}
	add(criterion{Name: "stall_isolation", Target: "the fsync stall adds nothing to async p99.9 (during <= control × 2 + 100 µs)",
		Measured: stallP999 - ctlP999, Unit: "ns", Display: isoDisplay}, st != nil, isolated)
	sk := r.Soak
	var soak soakResult
	if sk != nil {
		soak = *sk
	}
	add(criterion{Name: "soak_heap_flat", Target: "soak: heap in use flat (last <= first × 1.5 + 4 MiB)", Measured: float64(soak.Last.HeapBytes), Unit: "bytes",
		Display: fmt.Sprintf("%s -> %s", mib(soak.First.HeapBytes), mib(soak.Last.HeapBytes))}, sk != nil, soak.HeapFlat)
	add(criterion{Name: "soak_goroutines_flat", Target: "soak: goroutines flat (last <= first)", Measured: float64(soak.Last.Goroutines), Unit: "goroutines",
		Display: fmt.Sprintf("%d -> %d", soak.First.Goroutines, soak.Last.Goroutines)}, sk != nil, soak.GoroutinesFlat)
	add(criterion{Name: "soak_p99_flat", Target: "soak: Record p99 flat (last <= first × 2 + 50 µs)", Measured: float64(soak.Last.P99Ns), Unit: "ns",
		Display: fmt.Sprintf("%s -> %s", fmtNs(float64(soak.First.P99Ns)), fmtNs(float64(soak.Last.P99Ns)))}, sk != nil, soak.P99Flat)
	add(criterion{Name: "soak_zero_loss", Target: "soak: zero loss (honesty check OK)", Measured: float64(soak.TotalCalls - soak.PersistedCalls), Unit: "calls",
		Display: fmt.Sprintf("%s recorded, %s persisted", count(soak.TotalCalls), count(soak.PersistedCalls))}, sk != nil, soak.ZeroLoss)
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

type criterion struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Display  string  `json:"display"` // the measured value, for people
	Result   string  `json:"result"`  // PASS, FAIL or SKIP (scenario not run)
	Original bool    `json:"original"`
}
