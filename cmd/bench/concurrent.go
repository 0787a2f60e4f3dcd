package main

import (
	"errors"
	"fmt"
	"sync"

	"github.com/usagering/usagering/harness"
)

// concurrent is the original's concurrent-access scenario (-threads
// goroutines × -calls-per-thread calls, all started together, each call
// timed) and a sweep over 1, 2, 4, 8, 16 and 64 goroutines: sync with
// -calls-per-thread calls each, async with -sweep-calls each. With -rate the
// goroutines are paced at rate/g each.
func (b *bench) concurrent() error {
	c := b.cfg
	b.section(fmt.Sprintf("4. Concurrent access: %d goroutines × %d calls, started together (%s)", c.threads, c.perThread, b.loopMode()))
	res := &concurrentResult{}
	var errs []error
	var err error
	b.prog.logf("concurrent: %d goroutines × %d calls, sync and async", c.threads, c.perThread)
	res.Sync, err = b.concurrentRun("sync", "sync_concurrent.json", "concurrent_sync", c.threads, c.perThread)
	errs = append(errs, err)
	res.Async, err = b.concurrentRun("async", "async_concurrent.json", "concurrent_async", c.threads, c.perThread)
	errs = append(errs, err)
	res.Improvement = improveConcurrent(res.Sync, res.Async)

	for _, g := range sweepGoroutines {
		b.prog.logf("concurrent sweep: %d goroutines (sync × %d, async × %d)", g, c.perThread, c.sweepCalls)
		p := sweepPoint{Goroutines: g}
		p.Sync, err = b.concurrentRun("sync", "sync_concurrent_sweep.json", fmt.Sprintf("concurrent_sweep_sync_g%d", g), g, c.perThread)
		errs = append(errs, err)
		p.Async, err = b.concurrentRun("async", "async_concurrent_sweep.json", fmt.Sprintf("concurrent_sweep_async_g%d", g), g, c.sweepCalls)
		errs = append(errs, err)
		p.Improvement = improveConcurrent(p.Sync, p.Async)
		res.Sweep = append(res.Sweep, p)
	}
	b.res.Concurrent = res
	b.printConcurrent(res)
	return errors.Join(errs...)
}

func improveConcurrent(s, a concurrentSide) concurrentImprovement {
	return concurrentImprovement{
		SpeedupTotal: ratio(s.TotalMS, a.TotalMS), SpeedupMean: ratio(s.MeanMS, a.MeanMS),
		SpeedupP99: ratio(s.P99MS, a.P99MS), SpeedupMax: ratio(s.MaxMS, a.MaxMS),
	}
}

// concurrentRun runs g goroutines of perG calls each against a fresh
// tracker of the named side, then closes it and checks its file.
func (b *bench) concurrentRun(name, file, histName string, g, perG int) (concurrentSide, error) {
	s, err := b.open(name, file)
	if err != nil {
		return concurrentSide{}, err
	}
	set := harness.NewSet(g)
	tallies := make([]tally, g)
	errs := make([]error, g)
	start := make(chan struct{})
	var t0 int64
	var wg sync.WaitGroup
	for k := range g {
		wg.Go(func() {
			<-start // t0 is set before start is closed
			errs[k] = callLoop(s.rec, b.wl, k*perG, perG, set.Get(k), b.pacerFor(k, g, t0), &tallies[k])
		})
	}
	t0 = harness.Now()
	close(start)
	wg.Wait()
	total := harness.Now() - t0
	h := set.Merged()
	b.keep(histName, h)
	var t tally
	for k := range tallies {
		t.merge(&tallies[k])
	}
	exp := t.expected(b.wl)
	closeNs, hc, closeErr := b.finish(fmt.Sprintf("concurrent g=%d", g), s, exp)
	sum := h.Summary()
	cs := concurrentSide{
		NumThreads: g, CallsPerThread: perG, TotalCalls: exp.total.Calls,
		TotalMS: harness.NsToMS(float64(total)), MeanMS: sum.MeanMS(), MedianMS: sum.P50MS(),
		P95MS: sum.P95MS(), P99MS: sum.P99MS(), P999MS: sum.P999MS(), MaxMS: sum.MaxMS(),
		CloseMS: harness.NsToMS(float64(closeNs)), PersistedCalls: hc.Persisted.Calls,
		Mode: b.loopMode(), File: file,
	}
	for k, err := range errs {
		if err != nil {
			errs[k] = fmt.Errorf("%s, %d goroutines, goroutine %d: %w", name, g, k, err)
		}
	}
	return cs, errors.Join(append(errs, closeErr)...)
}
