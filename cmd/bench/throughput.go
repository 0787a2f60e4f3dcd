package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/usagering/usagering/harness"
)

// throughputScenario is registered in scenarios.
var throughputScenario = scenario{name: "throughput", run: (*bench).throughput, criteria: throughputCriteria}

// throughputDefinition says how the throughput scenario counts.
const throughputDefinition = "calls_per_second = persisted records / (window + Close); " +
	"sync persists each call before it returns (Close is instant), async persists at Close what the window left pending; " +
	"enqueue_calls_per_second = calls accepted / window"

// throughput is the original's maximum-throughput scenario: one goroutine
// calls Record back to back for -duration per side. Only persisted records
// count: the async tracker is closed after the window (Close persists what
// is pending, and is timed) and its file checked.
func (b *bench) throughput() (result, error) {
	d := b.cfg.duration
	b.section(fmt.Sprintf("3. Throughput: one goroutine, back-to-back calls for %s per side, persisted records only", d))
	res := &throughputResult{DurationSeconds: d.Seconds(), Definition: throughputDefinition}
	var errs []error
	for _, sd := range []struct {
		name string
		dst  *throughputSide
	}{{"sync", &res.Sync}, {"async", &res.Async}} {
		b.prog.logf("throughput: %s, %s", sd.name, d)
		ts, err := b.throughputSide(sd.name)
		*sd.dst = ts
		errs = append(errs, err)
	}
	res.Improvement = throughputImprovement{
		ThroughputIncrease:        ratio(res.Async.CallsPerSecond, res.Sync.CallsPerSecond),
		EnqueueThroughputIncrease: ratio(res.Async.EnqueueCallsPerSecond, res.Sync.EnqueueCallsPerSecond),
		AdditionalCalls:           res.Async.TotalCalls - res.Sync.TotalCalls,
	}
	b.printThroughput(res)
	return res, errors.Join(errs...)
}

// clockEvery is how many async calls run between two clock reads: the
// clock costs about as much as a call.
const clockEvery = 64

func (b *bench) throughputSide(name string) (throughputSide, error) {
	file := name + "_throughput.json"
	s, err := b.open(name, file)
	if err != nil {
		return throughputSide{}, err
	}
	var t tally
	var callErr error
	i := 0
	t0 := harness.Now()
	deadline := t0 + int64(b.cfg.duration)
	if at := s.async; at != nil {
	window:
		for {
			for range clockEvery {
				if err := at.Record(*b.wl.rec(i)); err != nil {
					callErr = fmt.Errorf("call %d: %w", i, err)
					break window
				}
				t.add(i)
				i++
			}
			if harness.Now() >= deadline {
				break
			}
		}
	} else {
		for harness.Now() < deadline {
			if err := s.rec.Record(*b.wl.rec(i)); err != nil {
				callErr = fmt.Errorf("call %d: %w", i, err)
				break
			}
			t.add(i)
			i++
		}
	}
	window := harness.Now() - t0
	exp := t.expected(b.wl)
	closeNs, hc, closeErr := b.finish("throughput", s, exp)
	ts := throughputSide{
		DurationS:             float64(window) / 1e9,
		TotalCalls:            exp.total.Calls,
		PersistedCalls:        hc.Persisted.Calls,
		EnqueueCallsPerSecond: float64(exp.total.Calls) / (float64(window) / 1e9),
		CloseMS:               harness.NsToMS(float64(closeNs)),
		Flushes:               exp.total.Calls,
		File:                  file,
	}
	ts.CallsPerSecond = float64(ts.PersistedCalls) / (float64(window+closeNs) / 1e9)
	if hc.Stats != nil {
		ts.Flushes = b.noteAsyncWrites("throughput", ts.TotalCalls, hc.Stats)
	}
	return ts, errors.Join(callErr, closeErr)
}

type throughputResult struct {
	DurationSeconds float64               `json:"duration_seconds"` // the original's: the window asked for, per side
	Sync            throughputSide        `json:"sync"`
	Async           throughputSide        `json:"async"`
	Improvement     throughputImprovement `json:"improvement"`
	// Definition says how calls_per_second is counted.
	Definition string `json:"definition"`
}

type throughputSide struct {
	DurationS      float64 `json:"duration_s"`  // the timed window
	TotalCalls     int64   `json:"total_calls"` // calls accepted in the window
	PersistedCalls int64   `json:"persisted_calls"`
	CallsPerSecond float64 `json:"calls_per_second"` // persisted / (window + close)
	// EnqueueCallsPerSecond is accepted / window: for the sync side the same
	// as calls_per_second (every call writes the file before returning).
	EnqueueCallsPerSecond float64 `json:"enqueue_calls_per_second"`
	CloseMS               float64 `json:"close_ms"`
	Flushes               int64   `json:"flushes"`
	File                  string  `json:"file"`
}

type throughputImprovement struct {
	ThroughputIncrease        float64 `json:"throughput_increase"`         // persisted rates
	EnqueueThroughputIncrease float64 `json:"enqueue_throughput_increase"` // accepted rates
	AdditionalCalls           int64   `json:"additional_calls"`            // the original's: async total_calls - sync total_calls
}

func (b *bench) printThroughput(r *throughputResult) {
	s, a := r.Sync, r.Async
	t := newTable("", "sync", "async", "async/sync")
	t.add("window", fmt.Sprintf("%.3f s", s.DurationS), fmt.Sprintf("%.3f s", a.DurationS), "")
	t.add("calls accepted", count(s.TotalCalls), count(a.TotalCalls), "")
	t.add("accepted calls/s (enqueue rate)", rate(s.EnqueueCallsPerSecond), rate(a.EnqueueCallsPerSecond), fmtX(r.Improvement.EnqueueThroughputIncrease))
	t.add("Close", fmtMSAsNs(s.CloseMS), fmtMSAsNs(a.CloseMS), "")
	t.add("persisted (file checked)", count(s.PersistedCalls), count(a.PersistedCalls), "")
	t.add("persisted calls/s (window + Close)", rate(s.CallsPerSecond), rate(a.CallsPerSecond), fmtX(r.Improvement.ThroughputIncrease))
	t.add("file writes", count(s.Flushes), count(a.Flushes), "")
	t.write(b.stdout)
	fmt.Fprintf(b.stdout, "  (%s)\n", r.Definition)
}

// throughputCriteria: the original's 2000+ calls/s, counting persisted
// records.
func throughputCriteria(r result) []criterion {
	th, _ := r.(*throughputResult)
	var cps float64
	if th != nil {
		cps = th.Async.CallsPerSecond
	}
	return []criterion{judge(criterion{Name: "async_throughput", Target: "2000+ calls/sec (async, persisted)", Original: true,
		Measured: cps, Unit: "calls/s", Display: rate(cps) + " calls/sec"}, th != nil, cps > 2000)}
}

func (r *throughputResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n3. Throughput:\n   Sync:  %.1f calls/sec\n   Async: %.1f calls/sec (persisted)\n   Improvement: %s increase\n",
		r.Sync.CallsPerSecond, r.Async.CallsPerSecond, fmtX(r.Improvement.ThroughputIncrease))
}
