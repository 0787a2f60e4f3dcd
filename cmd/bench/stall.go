package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// stallScenario is registered in scenarios.
var stallScenario = scenario{name: "stall", run: (*bench).stall, criteria: stallCriteria, describe: describeStall}

// stallCapacity is the async ring's capacity in the stall scenario
// (-stall-capacity): 131,072 records, 14 MB. No ring absorbs a 2 s stall at
// full speed (2 s × ~9M records/s × 112 bytes is about 2 GB): what can keep
// Record fast through a stalled fsync is the flusher folding on while the
// persist waits. The ring has to cover what still holds the flusher up:
// the persist's own work on its goroutine, and a scheduler time slice (10
// ms) in which the flusher, one goroutine among -producers+1 on GOMAXPROCS
// processors, may not run. 131,072 records are about 14 ms at 9M records/s,
// against the default ring's 1.8 ms.
const stallCapacity = 1 << 17

// stallStartTimeout bounds the wait for an fsync after the stall is armed:
// the async tracker persists within its flush interval (100 ms) under
// load, the sync tracker at its next call.
const stallStartTimeout = 10 * time.Second

// stallDefinition says what the stall scenario's figures count.
const stallDefinition = "during: calls whose start falls in the window from the stalled fsync's start to its return; " +
	"closed loop: plus, for each call longer than its producer's mean interval before the stall, the calls it kept " +
	"from starting in the window (one per interval, each with the latency it would have seen: coordinated-omission " +
	"correction); paced: latency from each call's intended start; during_timed: the timed calls only; run: every timed call"

// stall measures Record while one fsync of the usage file blocks for
// -stall: -producers goroutines call it on each side (closed loop, or paced
// with -rate), the stall is armed after a warm-up, and the producers go on
// for as long again after it. Then the async tracker is flushed, both are
// closed and their files checked.
func (b *bench) stall() (result, error) {
	c := b.cfg
	b.section(fmt.Sprintf("7. Disk stall: one fsync blocked for %s (tracker.WithFS), %d producers, %s, Block policy",
		c.stall, c.producers, b.loopMode()))
	if c.noSync {
		fmt.Fprintln(b.stdout, "  (fsync on in this scenario despite -nosync: the stall is injected into fsync)")
	}
	res := &stallResult{
		StallMS: harness.NsToMS(float64(c.stall)), Producers: c.producers, Capacity: c.stallCap,
		Mode: b.loopMode(), Corrected: c.rate <= 0, Definition: stallDefinition,
	}
	var errs []error
	for _, sd := range []struct {
		name string
		dst  *stallSide
	}{{"sync", &res.Sync}, {"async", &res.Async}} {
		b.prog.logf("stall: %s, %d producers, fsync blocked for %s", sd.name, c.producers, c.stall)
		ss, err := b.stallSide(sd.name)
		*sd.dst = ss
		errs = append(errs, err)
	}
	res.SpeedupP999 = ratio(res.Sync.During.P999MS, res.Async.During.P999MS)
	b.printStall(res)
	return res, errors.Join(errs...)
}

// stallMargin is how long producers warm up before they are measured (the
// control window, then the stall), and how long they run on after the
// stall: a tenth of the stall, within [100 ms, 250 ms].
func stallMargin(d time.Duration) time.Duration {
	return min(max(d/10, 100*time.Millisecond), 250*time.Millisecond)
}

func (b *bench) stallSide(name string) (stallSide, error) {
	c := b.cfg
	file := name + "_stall.json"
	ss := stallSide{File: file}
	fsys := newStallFS()
	opts := []tracker.Option{tracker.WithFS(fsys)} // durable: the stall is in fsync
	// The async side also measures a control window as long as the stall,
	// just before it is armed: the same producers and figures without a
	// stall (a call that started in it but was still running when the
	// stall began is not counted there), which tells what the stall adds
	// from what full speed costs anyway. (The sync side's calls without a
	// stall are its latency scenario.)
	var control time.Duration
	if name == "async" {
		opts = append(opts, tracker.WithCapacity(c.stallCap), tracker.WithOverflow(tracker.Block))
		control = c.stall
	}
	s, err := b.openWith(name, file, opts...)
	if err != nil {
		return ss, err
	}
	g := c.producers
	st := newStall(c.stall)
	prods := make([]*stallProducer, g)
	for k := range prods {
		prods[k] = &stallProducer{all: harness.NewHistogram(), stall: newStallWindow(), control: newStallWindow()}
	}
	margin := stallMargin(c.stall)
	var stop atomic.Bool
	start := make(chan struct{})
	var t0 int64
	var wg sync.WaitGroup
	for k, p := range prods {
		wg.Go(func() {
			<-start // t0 is set before start is closed
			p.run(s.rec, b.wl, k, b.pacerFor(k, g, t0), t0, t0+int64(margin), t0+int64(margin+control), st, &stop)
		})
	}
	t0 = harness.Now()
	close(start)

	// Warm up (and run the control window), arm, wait for the fsync to
	// start blocking, sample the tracker until it returns, run a while
	// longer, stop.
	time.Sleep(margin + control)
	fsys.arm(st)
	var stallErr error
	select {
	case <-st.started:
	case <-time.After(stallStartTimeout):
		if fsys.disarm(st) {
			stallErr = fmt.Errorf("stall %s: no fsync within %s of arming the stall", name, stallStartTimeout)
		} else {
			<-st.started // a Sync took it just now
		}
	}
	if stallErr == nil {
		tick := time.NewTicker(max(time.Millisecond, c.stall/50))
	sampling:
		for {
			if at := s.async; at != nil {
				sts := at.Stats()
				ss.MaxQueued, ss.MaxFolded = max(ss.MaxQueued, sts.QueueSize), max(ss.MaxFolded, sts.BufferSize)
			}
			select {
			case <-st.done:
				break sampling
			case <-tick.C:
			}
		}
		tick.Stop()
		time.Sleep(margin)
	}
	stop.Store(true)
	wg.Wait()
	ss.RunMS = harness.NsToMS(float64(harness.Now() - t0))
	if stallErr == nil {
		ss.WindowMS = harness.NsToMS(float64(st.end.Load() - st.begin.Load()))
		ss.StartMS = harness.NsToMS(float64(st.begin.Load() - t0))
	}

	var flushErr error
	if at := s.async; at != nil {
		f0 := harness.Now()
		flushErr = at.Flush(context.Background())
		ss.FlushAfterMS = harness.NsToMS(float64(harness.Now() - f0))
		if p := at.Stats().Pending; flushErr == nil && p != 0 {
			flushErr = fmt.Errorf("stall %s: %d records pending after Flush", name, p)
		}
	}

	stallW, controlW, all := newStallWindow(), newStallWindow(), harness.NewHistogram()
	var t tally
	var rate float64
	errs := []error{stallErr, flushErr}
	for k, p := range prods {
		stallW.merge(p.stall)
		controlW.merge(p.control)
		all.Merge(p.all)
		t.merge(&p.t)
		if p.interval > 0 {
			rate += 1e9 / float64(p.interval)
		}
		if p.err != nil {
			errs = append(errs, fmt.Errorf("stall %s, producer %d: %w", name, k, p.err))
		}
	}
	b.keep("stall_"+name+"_during", stallW.all)
	b.keep("stall_"+name+"_run", all)
	ss.During, ss.DuringTimed, ss.Omitted = statsOf(stallW.all.Summary()), statsOf(stallW.timed.Summary()), stallW.omitted
	ss.Run = statsOf(all.Summary())
	if control > 0 {
		b.keep("stall_"+name+"_control", controlW.all)
		ss.Control = &stallControl{
			WindowMS: harness.NsToMS(float64(control)), StartMS: harness.NsToMS(float64(margin)),
			Calls: statsOf(controlW.all.Summary()), Timed: statsOf(controlW.timed.Summary()), Omitted: controlW.omitted,
		}
	}
	ss.PreStallCallsPerSecond = rate
	exp := t.expected(b.wl)
	ss.TotalCalls = exp.total.Calls
	_, hc, closeErr := b.finish("stall", s, exp)
	ss.PersistedCalls = hc.Persisted.Calls
	return ss, errors.Join(append(errs, closeErr)...)
}

// stallWindow is what a producer measured in a window of time: the calls
// that started in it, with those kept from starting (all), the timed calls
// only, and how many were kept from starting.
type stallWindow struct {
	all, timed *harness.Histogram
	omitted    int64
}

func newStallWindow() *stallWindow {
	return &stallWindow{all: harness.NewHistogram(), timed: harness.NewHistogram()}
}

func (w *stallWindow) merge(o *stallWindow) {
	w.all.Merge(o.all)
	w.timed.Merge(o.timed)
	w.omitted += o.omitted
}

// stallProducer is one goroutine of the stall scenario: its histogram of
// every call, its stall and control windows, its tally, and its mean
// interval before the windows.
type stallProducer struct {
	all            *harness.Histogram
	stall, control *stallWindow
	t              tally
	interval       int64 // ns, set at the first call that ends in a window; 0 when paced
	err            error
}

// run calls rec.Record until stop, timing each call from just before it
// (or from its intended start, with a pacer), and classifies it by the
// control window [c0, c1) (if it ended before the stall began) and the
// stall window st reports.
func (p *stallProducer) run(rec tracker.Recorder, wl *workload, k int, pace *harness.Pacer, t0, c0, c1 int64, st *stall, stop *atomic.Bool) {
	var n int64 // calls made
	for i := k; !stop.Load(); i++ {
		var s int64
		if pace != nil {
			s = pace.Next()
		} else {
			s = harness.Now()
		}
		err := rec.Record(*wl.rec(i))
		e := harness.Now()
		if err != nil {
			p.err = fmt.Errorf("call %d: %w", n, err)
			return
		}
		p.t.add(i)
		p.all.Record(e - s)
		w0 := st.begin.Load()
		if e > c0 && s < c1 && (w0 == 0 || e < w0) {
			// In the control window, and over before the stall began
			// (else the stall is in it).
			p.window(s, e, c0, c1, n, t0, pace == nil, p.control)
		}
		if w0 != 0 && e > w0 {
			w1 := st.end.Load()
			if w1 == 0 {
				w1 = math.MaxInt64 // not over yet
			}
			p.window(s, e, w0, w1, n, t0, pace == nil, p.stall)
		}
		n++
	}
}

// window records into w the call [s, e) (the producer's n-th, counting
// from 0, the loop having started at t0) if it starts in the window [lo,
// hi) and, when correct is set, the calls it kept from starting in the
// window: one per mean interval after s, each with the latency it would
// have had.
func (p *stallProducer) window(s, e, lo, hi, n, t0 int64, correct bool, w *stallWindow) {
	if s >= hi {
		return
	}
	if s >= lo {
		w.timed.Record(e - s)
		w.all.Record(e - s)
	}
	if !correct {
		return
	}
	if p.interval == 0 {
		// The mean interval of this producer's calls so far, all of which
		// started before this one.
		p.interval = max(1, (s-t0)/max(n, 1))
	}
	iv := p.interval
	j := int64(1)
	if lo > s {
		j = max(1, (lo-s+iv-1)/iv)
	}
	for v := s + j*iv; v < e && v < hi; v += iv {
		w.all.Record(e - v)
		w.omitted++
	}
}

type stallResult struct {
	StallMS    float64   `json:"stall_ms"` // the injected stall
	Producers  int       `json:"producers"`
	Capacity   int       `json:"capacity"` // the async ring's
	Mode       string    `json:"mode"`
	Corrected  bool      `json:"corrected"` // closed loop: coordinated-omission correction applied
	Definition string    `json:"definition"`
	Sync       stallSide `json:"sync"`
	Async      stallSide `json:"async"`
	// SpeedupP999 is sync/async of the p99.9 during the stall.
	SpeedupP999 float64 `json:"speedup_p999"`
}

type stallSide struct {
	WindowMS    float64      `json:"window_ms"`     // the stalled fsync, from its start to its return, as it reported them
	StartMS     float64      `json:"start_ms"`      // when it started, from the producers' start
	RunMS       float64      `json:"run_ms"`        // producers' start to their stop
	During      latencyStats `json:"during"`        // calls starting in the window (corrected in a closed loop)
	DuringTimed latencyStats `json:"during_timed"`  // the timed calls among them
	Omitted     int64        `json:"omitted_calls"` // calls kept from starting in the window (the correction)
	Run         latencyStats `json:"run"`           // every timed call of the run
	// Control (async only) is the same measure over a window as long as
	// the stall just before it was armed, of the calls that ended before
	// the stall began: the producers without a stall.
	Control *stallControl `json:"control,omitempty"`
	// PreStallCallsPerSecond is the producers' rate before the stall, from
	// their mean intervals (closed loop only).
	PreStallCallsPerSecond float64 `json:"pre_stall_calls_per_second"`
	MaxQueued              int     `json:"max_queued"`     // async: most records seen in the ring during the stall
	MaxFolded              int     `json:"max_folded"`     // async: most folded records seen awaiting a persist during the stall
	FlushAfterMS           float64 `json:"flush_after_ms"` // async: Flush once the producers stopped
	TotalCalls             int64   `json:"total_calls"`
	PersistedCalls         int64   `json:"persisted_calls"`
	File                   string  `json:"file"`
}

// stallControl is the stall scenario's control window.
type stallControl struct {
	WindowMS float64      `json:"window_ms"`
	StartMS  float64      `json:"start_ms"` // from the producers' start
	Calls    latencyStats `json:"calls"`    // as stallSide.During
	Timed    latencyStats `json:"timed"`    // as stallSide.DuringTimed
	Omitted  int64        `json:"omitted_calls"`
}

func (b *bench) printStall(r *stallResult) {
	s, a := r.Sync, r.Async
	w := b.stdout
	fmt.Fprintf(w, "  the fsync blocked for %s (sync side) and %s (async side), from %s and %s into the run;\n",
		fmtMSAsNs(s.WindowMS), fmtMSAsNs(a.WindowMS), fmtMSAsNs(s.StartMS), fmtMSAsNs(a.StartMS))
	fmt.Fprintln(w, "  a call is in the stall if it starts while the fsync blocks")
	ctl := a.Control
	head := []string{"calls starting during the stall", "sync", "async", "sync/async"}
	if ctl != nil {
		head = append(head, "async, no stall (control)")
		fmt.Fprintf(w, "  control: the async producers over %s without a stall, from %s into the run, measured the same way\n",
			fmtMSAsNs(ctl.WindowMS), fmtMSAsNs(ctl.StartMS))
	}
	t := newTable(head...)
	row := func(name, sv, av, x string, cv func(*stallControl) string) {
		cells := []string{name, sv, av, x}
		if ctl != nil {
			cells = append(cells, cv(ctl))
		}
		t.add(cells...)
	}
	row("calls timed", count(s.DuringTimed.Count), count(a.DuringTimed.Count), "",
		func(c *stallControl) string { return count(c.Timed.Count) })
	if r.Corrected {
		row("+ calls kept from starting (correction)", count(s.Omitted), count(a.Omitted), "",
			func(c *stallControl) string { return count(c.Omitted) })
	}
	for _, q := range []struct {
		name string
		get  func(latencyStats) float64
	}{
		{"p50", func(l latencyStats) float64 { return l.MedianMS }},
		{"p99", func(l latencyStats) float64 { return l.P99MS }},
		{"p99.9", func(l latencyStats) float64 { return l.P999MS }},
		{"max", func(l latencyStats) float64 { return l.MaxMS }},
	} {
		sv, av := q.get(s.During), q.get(a.During)
		row(q.name, fmtIfAny(s.During, sv), fmtIfAny(a.During, av), fmtX(ratio(sv, av)),
			func(c *stallControl) string { return fmtIfAny(c.Calls, q.get(c.Calls)) })
	}
	if r.Corrected {
		row("p99.9 of the timed calls only", fmtIfAny(s.DuringTimed, s.DuringTimed.P999MS), fmtIfAny(a.DuringTimed, a.DuringTimed.P999MS), "",
			func(c *stallControl) string { return fmtIfAny(c.Timed, c.Timed.P999MS) })
	}
	t.write(w)
	t = newTable("whole run, every call timed", "sync", "async")
	t.add("calls", count(s.Run.Count), count(a.Run.Count))
	t.add("run (producers' start to stop)", fmtMSAsNs(s.RunMS), fmtMSAsNs(a.RunMS))
	t.add("p50", fmtMSAsNs(s.Run.MedianMS), fmtMSAsNs(a.Run.MedianMS))
	t.add("p99", fmtMSAsNs(s.Run.P99MS), fmtMSAsNs(a.Run.P99MS))
	t.add("p99.9", fmtMSAsNs(s.Run.P999MS), fmtMSAsNs(a.Run.P999MS))
	t.add("max", fmtMSAsNs(s.Run.MaxMS), fmtMSAsNs(a.Run.MaxMS))
	t.write(w)
	b.printTimer()
	if r.Corrected {
		fmt.Fprint(w, "  (closed loop: a producer blocked in a call issues no calls; each call longer than its producer's mean interval before\n"+
			"   the windows also counts the calls it kept from starting in the window, one per interval, with the latency each would have seen)\n")
		if a.PreStallCallsPerSecond > 0 {
			fmt.Fprintf(w, "  async ring: capacity %s = %s at the pre-stall rate of %s calls/s\n",
				count(int64(r.Capacity)), fmtNs(float64(r.Capacity)/a.PreStallCallsPerSecond*1e9), rate(a.PreStallCallsPerSecond))
		}
	} else {
		fmt.Fprintf(w, "  async ring: capacity %s\n", count(int64(r.Capacity)))
	}
	fmt.Fprintf(w, "  async, sampled during the stall: at most %s records in the ring, %s folded awaiting a persist\n",
		count(int64(a.MaxQueued)), count(int64(a.MaxFolded)))
	fmt.Fprintf(w, "  async Flush after the stall, producers stopped: %s\n", fmtMSAsNs(a.FlushAfterMS))
}

// fmtIfAny formats v (ms) as fmtMSAsNs does, or "n/a" if l counts no
// calls.
func fmtIfAny(l latencyStats, v float64) string {
	if l.Count == 0 {
		return "n/a"
	}
	return fmtMSAsNs(v)
}

// stallCriteria: async p99.9 during the stall under 100 µs, and the stall
// adding nothing to what the same producers see without it.
func stallCriteria(r result) []criterion {
	const p999Max = 100 * time.Microsecond
	st, _ := r.(*stallResult)
	var stallP999 float64
	stallDisplay := ""
	if st != nil {
		stallP999 = st.Async.During.P999MS * 1e6
		stallDisplay = fmt.Sprintf("%s (%s calls starting during a %s stall, %d producers; sync %s)",
			fmtNs(stallP999), count(st.Async.During.Count), fmtMSAsNs(st.StallMS), st.Producers, fmtIfAny(st.Sync.During, st.Sync.During.P999MS))
	}
	cs := []criterion{judge(criterion{Name: "stall_p999", Target: "async Record p99.9 during an fsync stall < 100 µs", Measured: stallP999, Unit: "ns",
		Display: stallDisplay}, st != nil, st != nil && st.Async.During.Count > 0 && stallP999 < float64(p999Max))}
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
	return append(cs, judge(criterion{Name: "stall_isolation", Target: "the fsync stall adds nothing to async p99.9 (during <= control × 2 + 100 µs)",
		Measured: stallP999 - ctlP999, Unit: "ns", Display: isoDisplay}, st != nil, isolated))
}

func (r *stallResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n5. Disk Stall (%s fsync, %d producers), p99.9 of the calls starting during it:\n   Sync:  %s ms\n   Async: %s ms\n",
		fmtMSAsNs(r.StallMS), r.Producers, fmtMS(r.Sync.During.P999MS), fmtMS(r.Async.During.P999MS))
	if c := r.Async.Control; c != nil {
		fmt.Fprintf(w, "   Async without the stall (control): %s ms\n", fmtMS(c.Calls.P999MS))
	}
	fmt.Fprintf(w, "   Improvement: %s faster\n", fmtX(r.SpeedupP999))
}

func describeStall(c *config) string {
	return fmt.Sprintf("stall: fsync blocked for %s, %d producers, async ring %s", c.stall, c.producers, count(int64(c.stallCap)))
}
