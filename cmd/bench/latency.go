package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// latencyScenario is registered in scenarios.
var latencyScenario = scenario{name: "latency", run: (*bench).latency, criteria: latencyCriteria}

// latency is the original's record-latency scenario: one goroutine calls
// Record in a loop (closed, or paced with -rate), each call timed into a
// histogram; sync min(calls, 1000) calls, async -calls calls. The async
// side then also times a tight loop of as many calls with two clock reads
// in all (harness.LoopMean), the mean without the clock's cost.
func (b *bench) latency() (result, error) {
	c := b.cfg
	b.section(fmt.Sprintf("1. Record latency: %s, each call timed (sync %d calls, async %d calls)", b.loopMode(), c.syncCalls, c.calls))
	res := &latencyResult{NumCalls: c.calls}
	var errs []error
	for _, sd := range []struct {
		name string
		n    int
		dst  *latencySide
	}{{"sync", c.syncCalls, &res.Sync}, {"async", c.calls, &res.Async}} {
		b.prog.logf("latency: %s, %d calls", sd.name, sd.n)
		ls, err := b.latencySide(sd.name, sd.n)
		*sd.dst = ls
		errs = append(errs, err)
	}
	s, a := res.Sync, res.Async
	res.Improvement = latencyImprovement{
		SpeedupMean: ratio(s.MeanMS, a.MeanMS), SpeedupMedian: ratio(s.MedianMS, a.MedianMS),
		SpeedupP95: ratio(s.P95MS, a.P95MS), SpeedupP99: ratio(s.P99MS, a.P99MS),
		SpeedupP999: ratio(s.P999MS, a.P999MS), SpeedupMax: ratio(s.MaxMS, a.MaxMS),
	}
	if c.rate > 0 {
		// The floor of paced figures on this machine: the same pacer and
		// clock around an empty call.
		b.prog.logf("latency: paced no-op floor, %d calls", c.calls)
		h := harness.NewHistogram()
		b.keep("latency_paced_noop", h)
		p := b.pacerFor(0, 1, harness.Now())
		for range c.calls {
			start := p.Next()
			h.Record(harness.Now() - start)
		}
		floor := statsOf(h.Summary())
		res.PacedFloor = &floor
	}
	b.printLatency(res)
	return res, errors.Join(errs...)
}

func (b *bench) latencySide(name string, n int) (latencySide, error) {
	s, err := b.open(name, name+"_latency.json")
	if err != nil {
		return latencySide{}, err
	}
	h := harness.NewHistogram()
	b.keep("latency_"+name, h)
	var t tally
	loopErr := callLoop(s.rec, b.wl, 0, n, h, b.pacerFor(0, 1, harness.Now()), &t)
	ls := latencySide{latencyStats: statsOf(h.Summary()), Mode: b.loopMode(), File: s.name + "_latency.json"}
	ls.StddevMS = ls.StdevMS
	if at := s.async; at != nil && loopErr == nil {
		var err error
		ls.LoopMeanNs, err = b.loopMean(at, n, n, &t)
		ls.LoopMeanCalls = int64(n)
		if err == nil {
			// Below capacity, with the ring drained first: the cost of a
			// call that finds room, without waiting for the flusher.
			ls.LoopMeanUnsaturatedNs, ls.LoopMeanUnsaturatedMinNs, err = b.unsaturatedLoopMean(at, 2*n, &t)
		}
		loopErr = err
	}
	exp := t.expected(b.wl)
	ls.TotalCalls = exp.total.Calls
	_, hc, closeErr := b.finish("latency", s, exp)
	ls.PersistedCalls = hc.Persisted.Calls
	ls.Flushes = ls.TotalCalls // sync: one file write per call (counted in io)
	if hc.Stats != nil {
		ls.Flushes = b.noteAsyncWrites("latency", ls.TotalCalls, hc.Stats)
	}
	return ls, errors.Join(loopErr, closeErr)
}

// loopMean times n back-to-back calls of at.Record as one (records from
// index off on) and returns the mean per call.
func (b *bench) loopMean(at *tracker.Tracker, off, n int, t *tally) (float64, error) {
	wl, i, failed := b.wl, off, 0
	mean := harness.LoopMean(n, func() {
		if at.Record(*wl.rec(i)) != nil {
			failed++
		}
		i++
	})
	if failed > 0 {
		return 0, fmt.Errorf("loop mean: %d of %d calls failed", failed, n)
	}
	for j := off; j < off+n; j++ {
		t.add(j)
	}
	return mean, nil
}

// Unsaturated loop means: rounds of half the ring's capacity, each after a
// Flush, so the producer never finds the ring full.
const (
	unsaturatedRounds = 15
	unsaturatedCalls  = tracker.DefaultCapacity / 2
)

// unsaturatedLoopMean returns the median and the minimum over
// unsaturatedRounds of the loop mean of unsaturatedCalls calls, each round
// starting on a flushed tracker.
func (b *bench) unsaturatedLoopMean(at *tracker.Tracker, off int, t *tally) (median, minimum float64, err error) {
	means := make([]float64, 0, unsaturatedRounds)
	for range unsaturatedRounds {
		if err := at.Flush(context.Background()); err != nil {
			return 0, 0, err
		}
		m, err := b.loopMean(at, off, unsaturatedCalls, t)
		if err != nil {
			return 0, 0, err
		}
		means = append(means, m)
		off += unsaturatedCalls
	}
	slices.Sort(means)
	return means[len(means)/2], means[0], nil
}

type latencyResult struct {
	// NumCalls is the original's num_calls: -calls, the async side's
	// calls (the sync side makes min(calls, 1000) by default: its count).
	NumCalls    int                `json:"num_calls"`
	Sync        latencySide        `json:"sync"`
	Async       latencySide        `json:"async"`
	Improvement latencyImprovement `json:"improvement"`
	// PacedFloor (with -rate only) is the same pacer around an empty call:
	// what pacing and the machine add to every paced figure.
	PacedFloor *latencyStats `json:"paced_floor,omitempty"`
}

type latencySide struct {
	latencyStats
	StddevMS       float64 `json:"stddev_ms"` // the original's name for stdev_ms
	TotalCalls     int64   `json:"total_calls"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"` // "closed-loop" or "open-loop N/s"
	LoopMeanNs     float64 `json:"loop_mean_ns,omitempty"`
	LoopMeanCalls  int64   `json:"loop_mean_calls,omitempty"`
	// LoopMeanUnsaturatedNs is the median loop mean of rounds of half the
	// ring's capacity, each after a Flush: the call when the ring has room.
	LoopMeanUnsaturatedNs    float64 `json:"loop_mean_unsaturated_ns,omitempty"`
	LoopMeanUnsaturatedMinNs float64 `json:"loop_mean_unsaturated_min_ns,omitempty"`
	Flushes                  int64   `json:"flushes"` // file writes: sync one per call; async Stats().TotalFlushes
	File                     string  `json:"file"`
}

type latencyImprovement struct {
	SpeedupMean   float64 `json:"speedup_mean"`
	SpeedupMedian float64 `json:"speedup_median"`
	SpeedupP95    float64 `json:"speedup_p95"`
	SpeedupP99    float64 `json:"speedup_p99"`
	SpeedupP999   float64 `json:"speedup_p999"`
	SpeedupMax    float64 `json:"speedup_max"`
}

func (b *bench) printLatency(r *latencyResult) {
	s, a := r.Sync, r.Async
	cols := []latencyStats{s.latencyStats, a.latencyStats}
	head := []string{"", "sync", "async", "sync/async"}
	if r.PacedFloor != nil {
		cols = append(cols, *r.PacedFloor)
		head = append(head, "paced no-op (floor)")
	}
	t := newTable(head...)
	calls := []string{"calls timed", count(s.Count), count(a.Count), ""}
	for _, c := range cols[2:] {
		calls = append(calls, count(c.Count))
	}
	t.add(calls...)
	for _, row := range []struct {
		name string
		get  func(latencyStats) float64
	}{
		{"mean", func(l latencyStats) float64 { return l.MeanMS }},
		{"median (p50)", func(l latencyStats) float64 { return l.MedianMS }},
		{"min", func(l latencyStats) float64 { return l.MinMS }},
		{"p90", func(l latencyStats) float64 { return l.P90MS }},
		{"p95", func(l latencyStats) float64 { return l.P95MS }},
		{"p99", func(l latencyStats) float64 { return l.P99MS }},
		{"p99.9", func(l latencyStats) float64 { return l.P999MS }},
		{"p99.99", func(l latencyStats) float64 { return l.P9999MS }},
		{"max", func(l latencyStats) float64 { return l.MaxMS }},
		{"stdev", func(l latencyStats) float64 { return l.StdevMS }},
	} {
		sv, av := row.get(cols[0]), row.get(cols[1])
		cells := []string{row.name, fmtMSAsNs(sv), fmtMSAsNs(av), fmtX(ratio(sv, av))}
		for _, c := range cols[2:] {
			cells = append(cells, fmtMSAsNs(row.get(c)))
		}
		t.add(cells...)
	}
	t.write(b.stdout)
	b.printTimer()
	if r.PacedFloor != nil {
		fmt.Fprintln(b.stdout, "  (paced: latency from each call's intended start; the floor column is the same pacer around an empty call)")
	}
	if a.LoopMeanCalls > 0 {
		fmt.Fprintf(b.stdout, "  async loop mean: %s per call over %s back-to-back calls timed as one (no clock cost; the ring fills, so this is the flusher's drain rate)\n",
			fmtNs(a.LoopMeanNs), count(a.LoopMeanCalls))
		fmt.Fprintf(b.stdout, "  async loop mean, ring never full: %s per call (median of %d rounds of %s calls, each after a Flush; fastest round %s)\n",
			fmtNs(a.LoopMeanUnsaturatedNs), unsaturatedRounds, count(unsaturatedCalls), fmtNs(a.LoopMeanUnsaturatedMinNs))
	}
	fmt.Fprintf(b.stdout, "  file writes: sync %s (one per call), async %s for %s records\n",
		count(s.Flushes), count(a.Flushes), count(a.TotalCalls))
}

// latencyCriteria: the original's "<1ms blocking time" and "5-20x
// performance improvement" (sync/async mean), then async p99 < 10 µs and
// p99.9 < 100 µs.
func latencyCriteria(r result) []criterion {
	lat, _ := r.(*latencyResult)
	var mean, speedup, p99, p999 float64
	if lat != nil {
		mean, speedup = lat.Async.MeanMS, lat.Improvement.SpeedupMean
		p99, p999 = lat.Async.P99MS*1e6, lat.Async.P999MS*1e6
	}
	const p99Max, p999Max = 10 * time.Microsecond, 100 * time.Microsecond
	return []criterion{
		judge(criterion{Name: "async_mean_latency", Target: "<1ms blocking time", Original: true,
			Measured: mean, Unit: "ms", Display: fmtMS(mean) + " ms"}, lat != nil, mean < 1),
		judge(criterion{Name: "improvement", Target: "5-20x performance improvement", Original: true,
			Measured: speedup, Unit: "x", Display: fmtX(speedup) + " (mean latency, sync/async)"}, lat != nil, speedup >= 5),
		judge(criterion{Name: "async_p99", Target: "async Record p99 < 10 µs", Measured: p99, Unit: "ns", Display: fmtNs(p99)},
			lat != nil, p99 < float64(p99Max)),
		judge(criterion{Name: "async_p999", Target: "async Record p99.9 < 100 µs", Measured: p999, Unit: "ns", Display: fmtNs(p999)},
			lat != nil, p999 < float64(p999Max)),
	}
}

func (r *latencyResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n1. Record Latency:\n   Sync:  %s ms (mean)\n   Async: %s ms (mean)\n   Improvement: %s faster\n",
		fmtMS(r.Sync.MeanMS), fmtMS(r.Async.MeanMS), fmtX(r.Improvement.SpeedupMean))
}
