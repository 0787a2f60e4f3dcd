package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/usagering/usagering/harness"
)

// concurrentScenario is registered in scenarios.
var concurrentScenario = scenario{name: "concurrent", run: (*bench).concurrent}

// concurrent is the original's concurrent-access scenario (-threads
// goroutines × -calls-per-thread calls, all started together, each call
// timed) and a sweep over 1, 2, 4, 8, 16 and 64 goroutines: sync with
// -calls-per-thread calls each, async with -sweep-calls each. With -rate the
// goroutines are paced at rate/g each.
func (b *bench) concurrent() (result, error) {
	c := b.cfg
	b.section(fmt.Sprintf("4. Concurrent access: %d goroutines × %d calls, started together (%s)", c.threads, c.perThread, b.loopMode()))
	res := &concurrentResult{NumThreads: c.threads, CallsPerThread: c.perThread, TotalCalls: int64(c.threads) * int64(c.perThread)}
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
	b.printConcurrent(res)
	return res, errors.Join(errs...)
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
	cs.TotalTimeMS, cs.MeanCallMS, cs.MaxCallMS = cs.TotalMS, cs.MeanMS, cs.MaxMS
	for k, err := range errs {
		if err != nil {
			errs[k] = fmt.Errorf("%s, %d goroutines, goroutine %d: %w", name, g, k, err)
		}
	}
	return cs, errors.Join(append(errs, closeErr)...)
}

type concurrentResult struct {
	// The original's parameters: goroutines, calls each, and their product
	// (each side's calls made are its total_calls).
	NumThreads     int                   `json:"num_threads"`
	CallsPerThread int                   `json:"calls_per_thread"`
	TotalCalls     int64                 `json:"total_calls"`
	Sync           concurrentSide        `json:"sync"`
	Async          concurrentSide        `json:"async"`
	Improvement    concurrentImprovement `json:"improvement"`
	Sweep          []sweepPoint          `json:"sweep"`
}

type concurrentSide struct {
	NumThreads     int     `json:"num_threads"`
	CallsPerThread int     `json:"calls_per_thread"`
	TotalCalls     int64   `json:"total_calls"`
	TotalMS        float64 `json:"total_ms"` // start to the last goroutine's last call returning (Close excluded)
	MeanMS         float64 `json:"mean_ms"`
	MedianMS       float64 `json:"median_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	P999MS         float64 `json:"p999_ms"`
	MaxMS          float64 `json:"max_ms"`
	// The original's names for total_ms, mean_ms and max_ms.
	TotalTimeMS    float64 `json:"total_time_ms"`
	MeanCallMS     float64 `json:"mean_call_ms"`
	MaxCallMS      float64 `json:"max_call_ms"`
	CloseMS        float64 `json:"close_ms"`
	PersistedCalls int64   `json:"persisted_calls"`
	Mode           string  `json:"mode"`
	File           string  `json:"file"`
}

type concurrentImprovement struct {
	SpeedupTotal float64 `json:"speedup_total"`
	SpeedupMean  float64 `json:"speedup_mean"`
	SpeedupP99   float64 `json:"speedup_p99"`
	SpeedupMax   float64 `json:"speedup_max"`
}

type sweepPoint struct {
	Goroutines  int                   `json:"goroutines"`
	Sync        concurrentSide        `json:"sync"`
	Async       concurrentSide        `json:"async"`
	Improvement concurrentImprovement `json:"improvement"`
}

func (b *bench) printConcurrent(r *concurrentResult) {
	s, a := r.Sync, r.Async
	fmt.Fprintf(b.stdout, "  the original's configuration: %d goroutines × %d calls\n", s.NumThreads, s.CallsPerThread)
	t := newTable("", "sync", "async", "sync/async")
	t.add("calls", count(s.TotalCalls), count(a.TotalCalls), "")
	t.add("total (all goroutines done)", fmtMSAsNs(s.TotalMS), fmtMSAsNs(a.TotalMS), fmtX(r.Improvement.SpeedupTotal))
	t.add("mean per call", fmtMSAsNs(s.MeanMS), fmtMSAsNs(a.MeanMS), fmtX(r.Improvement.SpeedupMean))
	t.add("p50", fmtMSAsNs(s.MedianMS), fmtMSAsNs(a.MedianMS), fmtX(ratio(s.MedianMS, a.MedianMS)))
	t.add("p99", fmtMSAsNs(s.P99MS), fmtMSAsNs(a.P99MS), fmtX(r.Improvement.SpeedupP99))
	t.add("max call", fmtMSAsNs(s.MaxMS), fmtMSAsNs(a.MaxMS), fmtX(r.Improvement.SpeedupMax))
	t.add("Close (not in total)", fmtMSAsNs(s.CloseMS), fmtMSAsNs(a.CloseMS), "")
	t.write(b.stdout)
	fmt.Fprintf(b.stdout, "\n  sweep: sync %d calls per goroutine, async %d; per-call latency, all goroutines' histograms merged\n",
		s.CallsPerThread, b.cfg.sweepCalls)
	t = newTable("goroutines", "side", "calls", "total", "mean", "p99", "p99.9", "max", "mean sync/async")
	for _, p := range r.Sweep {
		for _, sd := range []struct {
			name string
			c    concurrentSide
		}{{"sync", p.Sync}, {"async", p.Async}} {
			x := ""
			if sd.name == "async" {
				x = fmtX(p.Improvement.SpeedupMean)
			}
			t.add(strconv.Itoa(p.Goroutines), sd.name, count(sd.c.TotalCalls), fmtMSAsNs(sd.c.TotalMS), fmtMSAsNs(sd.c.MeanMS),
				fmtMSAsNs(sd.c.P99MS), fmtMSAsNs(sd.c.P999MS), fmtMSAsNs(sd.c.MaxMS), x)
		}
	}
	t.write(b.stdout)
	b.printTimer()
}

func (r *concurrentResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n4. Concurrent Access:\n   Sync:  %s ms total\n   Async: %s ms total\n   Improvement: %s faster\n",
		fmtMS(r.Sync.TotalMS), fmtMS(r.Async.TotalMS), fmtX(r.Improvement.SpeedupTotal))
}

// sweepGoroutines are the goroutine counts of the concurrent sweep.
var sweepGoroutines = []int{1, 2, 4, 8, 16, 64}
