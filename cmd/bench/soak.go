package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// soakScenario is registered in scenarios.
var soakScenario = scenario{name: "soak", run: (*bench).soak, optIn: true, criteria: soakCriteria, describe: describeSoak}

// defaultSoakRate is the soak's rate in calls/s in total when -rate is not
// given.
const defaultSoakRate = 50_000

// What "flat" means when the soak compares the last part of its run with
// the first: heap in use at most 1.5 times the first's plus 4 MiB (the GC
// cycle makes the heap a sawtooth, and the first part includes the
// warm-up); no more goroutines (the fewest seen in each part, so that one
// alive for a moment in a sample is not counted); Record p99 at most twice
// the first's plus 50 µs (a 2-core machine shared with other work moves a
// paced p99 by tens of µs from one minute to the next).
const (
	soakHeapFactor = 1.5
	soakHeapSlack  = 4 << 20
	soakP99Factor  = 2
	soakP99Slack   = 50 * time.Microsecond
)

// Runtime metrics the soak samples: heap in use (live objects and dead
// ones not yet swept) and goroutines. Reading them does not stop the world,
// unlike runtime.ReadMemStats.
const (
	metricHeap       = "/memory/classes/heap/objects:bytes"
	metricGoroutines = "/sched/goroutines:goroutines"
)

// soak runs -producers goroutines paced at the soak rate in total on one
// async tracker for the soak duration, printing a line every interval, then
// compares the first part of the run with the last and checks the file.
func (b *bench) soak() (result, error) {
	c := b.cfg
	d, g, iv := c.soakDuration, c.producers, c.soakInterval
	win := min(time.Minute, d/4)
	b.section(fmt.Sprintf("8. Soak: async tracker, %s at %s calls/s in total over %d producers (open loop), a line every %s",
		d, rate(c.soakRate), g, iv))
	res := &soakResult{
		DurationS: d.Seconds(), Rate: c.soakRate, Producers: g, IntervalS: iv.Seconds(), WindowS: win.Seconds(),
		Tolerance: soakTolerance{
			HeapFactor: soakHeapFactor, HeapSlackBytes: soakHeapSlack,
			P99Factor: soakP99Factor, P99SlackNs: int64(soakP99Slack),
			Goroutines: "last <= first (the fewest sampled in each)",
		},
		File: "async_soak.json",
	}
	b.prog.logf("soak: %s at %s calls/s, %d producers", d, rate(c.soakRate), g)
	s, err := b.open("async", res.File)
	if err != nil {
		return nil, err
	}
	at := s.async

	prods := make([]*soakProducer, g)
	spares := make([]*harness.Histogram, g)
	for k := range prods {
		prods[k] = &soakProducer{cur: harness.NewHistogram(), all: harness.NewHistogram(),
			first: harness.NewHistogram(), last: harness.NewHistogram()}
		spares[k] = harness.NewHistogram()
	}
	// The producers stay alive after their last call until release, so
	// the last line and samples count the same goroutines as the others.
	start, done, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var t0 int64
	var wg, calling sync.WaitGroup
	per := c.soakRate / float64(g)
	for k, p := range prods {
		calling.Add(1)
		wg.Go(func() {
			<-start // t0 is set before start is closed
			pace := harness.NewPacer(per, t0+int64(float64(k)*1e9/per/float64(g)))
			p.run(s.rec, b.wl, k, pace, t0+int64(d), t0+int64(win), t0+int64(d-win))
			calling.Done()
			<-release
		})
	}
	wg.Go(func() {
		calling.Wait()
		close(done)
		<-release
	})

	samples := []metrics.Sample{{Name: metricHeap}, {Name: metricGoroutines}}
	var first, last soakWindow
	first.FromS, first.ToS = 0, win.Seconds()
	last.FromS, last.ToS = (d - win).Seconds(), d.Seconds()
	sample := func(now int64) (heap uint64, gs int) {
		metrics.Read(samples)
		heap, gs = samples[0].Value.Uint64(), int(samples[1].Value.Uint64())
		switch el := now - t0; {
		case el < int64(win):
			first.sample(heap, gs)
		case el >= int64(d-win):
			last.sample(heap, gs)
		}
		return heap, gs
	}
	interval := harness.NewHistogram()
	lastLine := int64(0)
	// line swaps every producer's histogram of the calls since the last
	// line for its spare and prints the interval's figures.
	line := func(now int64) {
		heap, gs := sample(now)
		interval.Reset()
		for k, p := range prods {
			p.mu.Lock()
			h := p.cur
			p.cur = spares[k]
			p.mu.Unlock()
			interval.Merge(h)
			h.Reset()
			spares[k] = h
		}
		if interval.Count() == 0 && now-t0 >= int64(d) {
			return // nothing since the last line: the run ended on it
		}
		l := soakLine{
			ElapsedS:       float64(now-t0) / 1e9,
			Calls:          interval.Count(),
			CallsPerSecond: float64(interval.Count()) / (float64(now-t0-lastLine) / 1e9),
			P99Ns:          interval.ValueAtPercentile(99),
			HeapBytes:      heap, Goroutines: gs, Pending: at.Stats().Pending,
		}
		lastLine = now - t0
		res.Lines = append(res.Lines, l)
		fmt.Fprintf(b.stdout, "  soak %7.1fs  %10s calls/s  p99 %10s  heap in use %9s  goroutines %3d  pending %6s\n",
			l.ElapsedS, rate(l.CallsPerSecond), fmtNs(float64(l.P99Ns)), mib(l.HeapBytes), l.Goroutines, count(int64(l.Pending)))
	}

	t0 = harness.Now()
	close(start)
	sample(t0)
	tick := time.NewTicker(max(time.Millisecond, min(250*time.Millisecond, iv/4, win/4)))
	nextLine := t0 + int64(iv)
run:
	for {
		select {
		case <-done:
			break run
		case <-tick.C:
		}
		now := harness.Now()
		if now >= nextLine {
			line(now)
			nextLine += int64(iv)
		} else {
			sample(now)
		}
	}
	tick.Stop()
	end := harness.Now()
	line(end)
	close(release)
	wg.Wait()
	res.ElapsedS = float64(end-t0) / 1e9

	all, fh, lh := harness.NewHistogram(), harness.NewHistogram(), harness.NewHistogram()
	var t tally
	var errs []error
	for k, p := range prods {
		all.Merge(p.all)
		fh.Merge(p.first)
		lh.Merge(p.last)
		t.merge(&p.t)
		if p.err != nil {
			errs = append(errs, fmt.Errorf("soak, producer %d: %w", k, p.err))
		}
	}
	b.keep("soak_async", all)
	first.latency(fh)
	last.latency(lh)
	res.First, res.Last = first, last
	res.Run = statsOf(all.Summary())
	res.HeapFlat = float64(last.HeapBytes) <= float64(first.HeapBytes)*soakHeapFactor+soakHeapSlack
	res.GoroutinesFlat = last.Goroutines <= first.Goroutines
	res.P99Flat = float64(last.P99Ns) <= float64(first.P99Ns)*soakP99Factor+float64(soakP99Slack)

	exp := t.expected(b.wl)
	res.TotalCalls = exp.total.Calls
	_, hc, closeErr := b.finish("soak", s, exp)
	res.PersistedCalls, res.ZeroLoss = hc.Persisted.Calls, hc.OK
	b.printSoak(res)
	return res, errors.Join(append(errs, closeErr)...)
}

// soakProducer is one paced goroutine of the soak: the histogram of its
// calls since the last line (swapped by the line under mu), of all its
// calls, of those intended in the first and in the last part of the run,
// and its tally.
type soakProducer struct {
	mu               sync.Mutex
	cur              *harness.Histogram // guarded by mu
	all, first, last *harness.Histogram
	t                tally
	err              error
}

// run calls rec.Record at the pacer's times until the intended start
// reaches end, timing each call from its intended start.
func (p *soakProducer) run(rec tracker.Recorder, wl *workload, k int, pace *harness.Pacer, end, firstEnd, lastStart int64) {
	for i := k; pace.Intended(pace.Count()) < end; i++ {
		s := pace.Next()
		err := rec.Record(*wl.rec(i))
		lat := harness.Now() - s
		if err != nil {
			p.err = fmt.Errorf("call %d: %w", pace.Count()-1, err)
			return
		}
		p.t.add(i)
		p.all.Record(lat)
		switch {
		case s < firstEnd:
			p.first.Record(lat)
		case s >= lastStart:
			p.last.Record(lat)
		}
		p.mu.Lock()
		p.cur.Record(lat)
		p.mu.Unlock()
	}
}

// sample adds a heap and goroutine reading to the window.
func (w *soakWindow) sample(heap uint64, goroutines int) {
	w.HeapBytes = max(w.HeapBytes, heap)
	if w.Samples == 0 || goroutines < w.Goroutines {
		w.Goroutines = goroutines
	}
	w.Samples++
}

// latency sets the window's latency figures from h.
func (w *soakWindow) latency(h *harness.Histogram) {
	s := h.Summary()
	w.Calls, w.P99Ns, w.P999Ns = s.Count, s.P99, s.P999
}

func (b *bench) printSoak(r *soakResult) {
	w := b.stdout
	part := "quarter"
	if r.WindowS >= 60 {
		part = "minute"
	}
	fmt.Fprintf(w, "  first vs last %s of the run (%s each; %d and %d samples of heap and goroutines):\n",
		part, fmtNs(r.WindowS*1e9), r.First.Samples, r.Last.Samples)
	verdict := func(ok bool) string {
		if ok {
			return "flat"
		}
		return "GROWING"
	}
	t := newTable("", "first", "last", "flat if", "")
	t.add("heap in use (highest sampled)", mib(r.First.HeapBytes), mib(r.Last.HeapBytes),
		fmt.Sprintf("last <= first × %g + %s", r.Tolerance.HeapFactor, mib(uint64(r.Tolerance.HeapSlackBytes))), verdict(r.HeapFlat))
	t.add("goroutines (fewest sampled)", fmt.Sprint(r.First.Goroutines), fmt.Sprint(r.Last.Goroutines), "last <= first", verdict(r.GoroutinesFlat))
	t.add("Record p99", fmtNs(float64(r.First.P99Ns)), fmtNs(float64(r.Last.P99Ns)),
		fmt.Sprintf("last <= first × %g + %s", r.Tolerance.P99Factor, fmtNs(float64(r.Tolerance.P99SlackNs))), verdict(r.P99Flat))
	t.add("Record p99.9 (not judged)", fmtNs(float64(r.First.P999Ns)), fmtNs(float64(r.Last.P999Ns)), "", "")
	t.add("calls", count(r.First.Calls), count(r.Last.Calls), "", "")
	t.write(w)
	fmt.Fprintf(w, "  whole run: %s calls in %.1f s (%s calls/s), p50 %s, p99 %s, p99.9 %s, max %s; persisted %s\n",
		count(r.TotalCalls), r.ElapsedS, rate(float64(r.TotalCalls)/r.ElapsedS), fmtMSAsNs(r.Run.MedianMS), fmtMSAsNs(r.Run.P99MS),
		fmtMSAsNs(r.Run.P999MS), fmtMSAsNs(r.Run.MaxMS), count(r.PersistedCalls))
	b.printTimer()
	fmt.Fprintln(w, "  (paced: latency from each call's intended start; heap in use is "+metricHeap+", read without stopping the world)")
}

type soakResult struct {
	DurationS float64 `json:"duration_s"` // asked for
	ElapsedS  float64 `json:"elapsed_s"`  // start to the last producer's stop
	Rate      float64 `json:"rate"`       // calls/s in total, paced
	Producers int     `json:"producers"`
	IntervalS float64 `json:"interval_s"` // between lines
	// WindowS is the length of the first and the last part compared:
	// a quarter of the run, at most a minute.
	WindowS        float64       `json:"window_s"`
	Lines          []soakLine    `json:"lines"`
	First          soakWindow    `json:"first"`
	Last           soakWindow    `json:"last"`
	Tolerance      soakTolerance `json:"tolerance"`
	HeapFlat       bool          `json:"heap_flat"`
	GoroutinesFlat bool          `json:"goroutines_flat"`
	P99Flat        bool          `json:"p99_flat"`
	ZeroLoss       bool          `json:"zero_loss"` // the honesty check of the soak's file
	Run            latencyStats  `json:"run"`
	TotalCalls     int64         `json:"total_calls"`
	PersistedCalls int64         `json:"persisted_calls"`
	File           string        `json:"file"`
}

// soakLine is one live line: the calls completed since the previous line.
type soakLine struct {
	ElapsedS       float64 `json:"elapsed_s"`
	Calls          int64   `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	P99Ns          int64   `json:"p99_ns"`
	HeapBytes      uint64  `json:"heap_bytes"` // heap in use when the line was printed
	Goroutines     int     `json:"goroutines"`
	Pending        int     `json:"pending"` // Stats().Pending: accepted, not yet persisted
}

// soakWindow is the first or the last part of the soak: heap and
// goroutines as sampled in it, latency of the calls intended in it.
type soakWindow struct {
	FromS      float64 `json:"from_s"`
	ToS        float64 `json:"to_s"`
	Samples    int     `json:"samples"`
	HeapBytes  uint64  `json:"heap_bytes"` // the highest sampled
	Goroutines int     `json:"goroutines"` // the fewest sampled
	Calls      int64   `json:"calls"`
	P99Ns      int64   `json:"p99_ns"`
	P999Ns     int64   `json:"p999_ns"`
}

// soakTolerance is what counts as flat: heap last <= first × HeapFactor +
// HeapSlackBytes; p99 last <= first × P99Factor + P99SlackNs.
type soakTolerance struct {
	HeapFactor     float64 `json:"heap_factor"`
	HeapSlackBytes int64   `json:"heap_slack_bytes"`
	Goroutines     string  `json:"goroutines"`
	P99Factor      float64 `json:"p99_factor"`
	P99SlackNs     int64   `json:"p99_slack_ns"`
}

// soakCriteria: heap, goroutines and Record p99 flat from the first part
// of the run to the last, and nothing lost.
func soakCriteria(r result) []criterion {
	sk, _ := r.(*soakResult)
	var soak soakResult
	if sk != nil {
		soak = *sk
	}
	return []criterion{
		judge(criterion{Name: "soak_heap_flat", Target: "soak: heap in use flat (last <= first × 1.5 + 4 MiB)", Measured: float64(soak.Last.HeapBytes), Unit: "bytes",
			Display: fmt.Sprintf("%s -> %s", mib(soak.First.HeapBytes), mib(soak.Last.HeapBytes))}, sk != nil, soak.HeapFlat),
		judge(criterion{Name: "soak_goroutines_flat", Target: "soak: goroutines flat (last <= first)", Measured: float64(soak.Last.Goroutines), Unit: "goroutines",
			Display: fmt.Sprintf("%d -> %d", soak.First.Goroutines, soak.Last.Goroutines)}, sk != nil, soak.GoroutinesFlat),
		judge(criterion{Name: "soak_p99_flat", Target: "soak: Record p99 flat (last <= first × 2 + 50 µs)", Measured: float64(soak.Last.P99Ns), Unit: "ns",
			Display: fmt.Sprintf("%s -> %s", fmtNs(float64(soak.First.P99Ns)), fmtNs(float64(soak.Last.P99Ns)))}, sk != nil, soak.P99Flat),
		judge(criterion{Name: "soak_zero_loss", Target: "soak: zero loss (honesty check OK)", Measured: float64(soak.TotalCalls - soak.PersistedCalls), Unit: "calls",
			Display: fmt.Sprintf("%s recorded, %s persisted", count(soak.TotalCalls), count(soak.PersistedCalls))}, sk != nil, soak.ZeroLoss),
	}
}

func (r *soakResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n6. Soak (%s at %s calls/s, %d producers, async):\n   calls: %s, persisted %s\n   heap in use: %s -> %s, goroutines %d -> %d, p99 %s -> %s (first -> last %s)\n",
		fmtMSAsNs(r.DurationS*1e3), rate(r.Rate), r.Producers, count(r.TotalCalls), count(r.PersistedCalls),
		mib(r.First.HeapBytes), mib(r.Last.HeapBytes), r.First.Goroutines, r.Last.Goroutines,
		fmtNs(float64(r.First.P99Ns)), fmtNs(float64(r.Last.P99Ns)), fmtMSAsNs(r.WindowS*1e3))
}

func describeSoak(c *config) string {
	return fmt.Sprintf("soak: %s at %s calls/s over %d producers, a line every %s", c.soakDuration, rate(c.soakRate), c.producers, c.soakInterval)
}
