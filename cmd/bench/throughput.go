package main

import (
	"errors"
	"fmt"

	"github.com/usagering/usagering/harness"
)

// throughputDefinition says how the throughput scenario counts.
const throughputDefinition = "calls_per_second = persisted records / (window + Close); " +
	"sync persists each call before it returns (Close is instant), async persists at Close what the window left pending; " +
	"enqueue_calls_per_second = calls accepted / window"

// throughput is the original's maximum-throughput scenario: one goroutine
// calls Record back to back for -duration per side. Only persisted records
// count: the async tracker is closed after the window (Close persists what
// is pending, and is timed) and its file checked.
func (b *bench) throughput() error {
	d := b.cfg.duration
	b.section(fmt.Sprintf("3. Throughput: one goroutine, back-to-back calls for %s per side, persisted records only", d))
	res := &throughputResult{Definition: throughputDefinition}
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
	}
	b.res.Throughput = res
	b.printThroughput(res)
	return errors.Join(errs...)
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
