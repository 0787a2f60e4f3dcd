package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// stallScenario is registered in scenarios.
var stallScenario = scenario{name: "stall", run: (*bench).stall, criteria: stallCriteria, describe: describeStall}

// The stall scenario's modes (-stall-mode).
const (
	// stallPaced, the default, measures the tracker: producers that leave
	// the tracker a processor (GOMAXPROCS-1, at least 1), paced open loop
	// at a rate far below what either side sustains on this machine, each
	// call timed from its intended start. Its criteria judge the calls
	// that start during the stall against the same producers without one.
	stallPaced = "paced"
	// stallClosed is the closed loop at full speed (8 producers by
	// default), with the coordinated-omission correction: what full speed
	// costs on the machine, more producers than processors included.
	stallClosed = "closed"
)

// Paced rates, calls/s in total. The async side's is far below the tens
// of millions of calls/s it sustains here, and gives 50,000 calls in a
// 500 ms stall, enough for a p99.9. The sync side writes and fsyncs the
// file on every call (1-4 ms each here): it sustains 100 calls/s, and
// would fall behind from its first call at the async rate.
const (
	defaultStallRate = 100_000
	stallSyncRate    = 100
)

// closedStallCapacity is the async ring's capacity in the closed loop
// (paced, the tracker's default): 131,072 records, 14 MB. No ring absorbs
// a 2 s stall at full speed (2 s × ~9M records/s × 112 bytes is about 2
// GB): what can keep Record fast through a stalled fsync is the flusher
// folding on while the persist waits. The ring has to cover what still
// holds the flusher up: the persist's own work on its goroutine, and a
// scheduler time slice (10 ms) in which the flusher, one goroutine among
// -producers+1 on GOMAXPROCS processors, may not run. 131,072 records are
// about 14 ms at 9M records/s, against the default ring's 1.8 ms.
const closedStallCapacity = 1 << 17

// What "the stall adds nothing" tolerates: the p99.9 of the calls starting
// during the stall may be up to twice the control's plus a twentieth of
// the stall (25 ms for 500 ms, 100 ms for 2 s); their maximum up to the
// control's plus half the stall. A paced p99.9 is about the longest time
// the producer was kept off a processor in its window (another process's
// time slice, a GC cycle, the persist's own CPU work): on a 2-core machine
// where anything else runs, one window may see 10-60 ms that the other
// does not. A Record that waits for the stalled fsync waits up to the
// whole stall, and every call paced during it waits for the stall's rest
// (latency spread over [0, stall], so p99.9 and max at the stall): both
// bounds are then exceeded by a factor of two or more.
const (
	stallP999Factor   = 2
	stallP999SlackDiv = 20
)

// stallCatchUp is how long after the stop a paced side may still issue
// the calls it fell behind on, beyond the stall's length; what it has not
// issued then is counted as unissued.
const stallCatchUp = time.Second

// stallStartTimeout bounds the wait for an fsync after the stall is armed:
// the async tracker persists within its flush interval (100 ms) under
// load, the sync tracker at its next call.
const stallStartTimeout = 10 * time.Second

// stallPastTimeout bounds the wait, once the stall is over, for every
// producer to make a call that started after it: the stalled fsync's real
// sync, and a sync producer's calls paced during the stall, come first.
const stallPastTimeout = 30 * time.Second

// stallDefinition says what the stall scenario's figures count.
const stallDefinition = "during: calls whose start falls in the window from the stalled fsync's start to its return; " +
	"paced: latency from each call's intended start; " +
	"closed loop: plus, for each call longer than its producer's mean interval before the stall, the calls it kept " +
	"from starting in the window (one per interval, each with the latency it would have seen: coordinated-omission " +
	"correction); during_timed: the timed calls only; run: every timed call; " +
	"control (async): the same over a window as long as the stall just before it, of the calls that ended before it began"

// stallDefaults sets the stall scenario's parameters from its mode and the
// flags given (set): producers, rates and ring capacity.
func (c *config) stallDefaults(set map[string]bool) error {
	switch c.stallMode {
	case stallPaced:
		c.stallProds = max(1, runtime.GOMAXPROCS(0)-1)
		c.stallRate = defaultStallRate
		if c.rate > 0 {
			c.stallRate = c.rate
		}
		c.stallSyncR = min(c.stallRate, stallSyncRate)
		if !set["stall-capacity"] {
			c.stallCap = tracker.DefaultCapacity
		}
	case stallClosed:
		c.stallProds = c.producers
		c.stallRate, c.stallSyncR = 0, 0
		if !set["stall-capacity"] {
			c.stallCap = closedStallCapacity
		}
	default:
		return fmt.Errorf("-stall-mode must be %s or %s, got %q", stallPaced, stallClosed, c.stallMode)
	}
	if set["producers"] {
		c.stallProds = c.producers
	}
	if c.stallCap < 2 || c.stallCap > 1<<30 {
		return fmt.Errorf("-stall-capacity must be in [2, 1<<30], got %d", c.stallCap)
	}
	return nil
}

// stallLoad describes the stall scenario's load.
func stallLoad(c *config) string {
	if c.stallMode == stallClosed {
		return fmt.Sprintf("%s per side, closed loop (coordinated-omission corrected)", producersText(c.stallProds))
	}
	return fmt.Sprintf("%s per side, paced (open loop): async %s calls/s in total, sync %s calls/s",
		producersText(c.stallProds), rate(c.stallRate), rate(c.stallSyncR))
}

// stall measures Record while one fsync of the usage file blocks for
// -stall: producers call it on each side (paced, or in a closed loop), the
// stall is armed after a warm-up (and, async, a control window as long as
// the stall), and the producers go on for a while after it. Then the async
// tracker is flushed, both are closed and their files checked.
func (b *bench) stall() (result, error) {
	c := b.cfg
	b.section(fmt.Sprintf("7. Disk stall: one fsync blocked for %s (tracker.WithFS), %s, Block policy", c.stall, stallLoad(c)))
	if c.noSync {
		fmt.Fprintln(b.stdout, "  (fsync on in this scenario despite -nosync: the stall is injected into fsync)")
	}
	if c.stallCoupled {
		fmt.Fprintln(b.stdout, "  SELF-CHECK (-stall-coupled): the async side's Record waits while the stalled fsync blocks, as a tracker\n"+
			"  NOT isolated from the disk would; the stall criteria must FAIL")
	}
	mode := "closed loop"
	if c.stallMode == stallPaced {
		mode = fmt.Sprintf("open loop: async %g calls/s in total, sync %g calls/s", c.stallRate, c.stallSyncR)
	}
	res := &stallResult{
		StallMS: harness.NsToMS(float64(c.stall)), Producers: c.stallProds, Capacity: c.stallCap,
		Mode: mode, Rate: c.stallRate, SyncRate: c.stallSyncR, Corrected: c.stallMode == stallClosed,
		Coupled: c.stallCoupled, Definition: stallDefinition,
	}
	var errs []error
	for _, sd := range []struct {
		name string
		dst  *stallSide
	}{{"sync", &res.Sync}, {"async", &res.Async}} {
		b.prog.logf("stall: %s, %d producers, fsync blocked for %s", sd.name, c.stallProds, c.stall)
		ss, err := b.stallSide(sd.name)
		*sd.dst = ss
		errs = append(errs, err)
	}
	res.SpeedupP999 = ratio(res.Sync.During.P999MS, res.Async.During.P999MS)
	res.Verdict = stallVerdictOf(res)
	b.printStall(res)
	return res, errors.Join(errs...)
}

// coupledRecorder is the async tracker made NOT isolated from the disk,
// for -stall-coupled: each Record first waits while the stalled fsync
// blocks, as a tracker whose Record shared a lock with its persist would.
// It is there to show that the stall's verdict catches such a tracker.
type coupledRecorder struct {
	tracker.Recorder
	st *stall
}

// Record waits for the stall to end if it has begun, then records.
func (c coupledRecorder) Record(r tracker.Record) error {
	if c.st.begin.Load() != 0 {
		<-c.st.done
	}
	return c.Recorder.Record(r)
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
	// from what the load costs anyway. (The sync side's calls without a
	// stall are its latency scenario.)
	var control time.Duration
	total := c.stallSyncR
	if name == "async" {
		opts = append(opts, tracker.WithCapacity(c.stallCap), tracker.WithOverflow(tracker.Block))
		control = c.stall
		total = c.stallRate
	}
	s, err := b.openWith(name, file, opts...)
	if err != nil {
		return ss, err
	}
	g := c.stallProds
	st := newStall(c.stall)
	rec := s.rec
	if name == "async" && c.stallCoupled {
		rec = coupledRecorder{Recorder: s.rec, st: st}
	}
	prods := make([]*stallProducer, g)
	for k := range prods {
		prods[k] = &stallProducer{all: harness.NewHistogram(), stall: newStallWindow(), control: newStallWindow(),
			past: make(chan struct{})}
	}
	margin := stallMargin(c.stall)
	var stop atomic.Int64 // when the producers stop: 0 until then
	start := make(chan struct{})
	var t0 int64
	var wg sync.WaitGroup
	for k, p := range prods {
		wg.Go(func() {
			<-start // t0 is set before start is closed
			p.run(rec, b.wl, k, sharePacer(total, k, g, t0), t0, t0+int64(margin), t0+int64(margin+control),
				st, &stop, int64(c.stall+stallCatchUp))
		})
	}
	t0 = harness.Now()
	close(start)

	// Warm up (and run the control window), arm, wait for the fsync to
	// start blocking, sample the tracker until it returns, wait for every
	// producer to get past the stall, run a while longer, stop.
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
				ss.MaxQueued, ss.MaxFolded = max(ss.MaxQueued, sts.InRing), max(ss.MaxFolded, sts.InMemory)
			}
			select {
			case <-st.done:
				break sampling
			case <-tick.C:
			}
		}
		tick.Stop()
		// The stalled fsync then syncs for real, which on a busy disk may
		// take seconds more: a producer blocked behind it (the sync side's)
		// has yet to issue the calls paced during the stall. The margin
		// starts once each has made a call that started after the stall.
		deadline := time.After(stallPastTimeout)
	past:
		for k, p := range prods {
			select {
			case <-p.past:
			case <-deadline:
				stallErr = fmt.Errorf("stall %s: producer %d made no call after the stall within %s of its end", name, k, stallPastTimeout)
				break past
			}
		}
		time.Sleep(margin)
	}
	stop.Store(harness.Now())
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
		ss.Unissued += p.unissued
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
	ss.ReturnedDuring = stallW.returned
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
// only, how many were kept from starting, and how many timed calls also
// returned before the window's end.
type stallWindow struct {
	all, timed *harness.Histogram
	omitted    int64
	returned   int64
}

func newStallWindow() *stallWindow {
	return &stallWindow{all: harness.NewHistogram(), timed: harness.NewHistogram()}
}

func (w *stallWindow) merge(o *stallWindow) {
	w.all.Merge(o.all)
	w.timed.Merge(o.timed)
	w.omitted += o.omitted
	w.returned += o.returned
}

// stallProducer is one goroutine of the stall scenario: its histogram of
// every call, its stall and control windows, its tally, and its mean
// interval before the windows.
type stallProducer struct {
	all            *harness.Histogram
	stall, control *stallWindow
	t              tally
	interval       int64 // ns, set at the first call that ends in a window; 0 when paced
	unissued       int64 // paced: calls intended before the stop and never issued
	err            error
	past           chan struct{} // closed when a call that started after the stall returns, or run returns
	pastClosed     bool
}

// passed closes p.past once.
func (p *stallProducer) passed() {
	if !p.pastClosed {
		p.pastClosed = true
		close(p.past)
	}
}

// run calls rec.Record until stop holds a time, timing each call from just
// before it (or from its intended start, with a pacer), and classifies it
// by the control window [c0, c1) (if it ended before the stall began) and
// the stall window st reports. Paced, it issues every call intended
// before the stop, unless that takes it catchUp ns past the stop (it
// cannot keep up): those left are counted as unissued.
func (p *stallProducer) run(rec tracker.Recorder, wl *workload, k int, pace *harness.Pacer, t0, c0, c1 int64, st *stall,
	stop *atomic.Int64, catchUp int64) {
	defer p.passed()
	var n int64 // calls made
	for i := k; ; i++ {
		var s int64
		if pace != nil {
			next := pace.Intended(pace.Count())
			if at := stop.Load(); at != 0 && (next >= at || harness.Now() >= at+catchUp) {
				if iv := pace.Interval(); next < at {
					p.unissued = (at - next + iv - 1) / iv
				}
				return
			}
			s = pace.Next()
		} else {
			if stop.Load() != 0 {
				return
			}
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
			} else if s >= w1 {
				p.passed()
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
		if e < hi {
			w.returned++
		}
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
	Rate       float64   `json:"rate"`      // paced: the async side's calls/s in total; 0 in a closed loop
	SyncRate   float64   `json:"sync_rate"` // paced: the sync side's
	Corrected  bool      `json:"corrected"` // closed loop: coordinated-omission correction applied
	Coupled    bool      `json:"coupled"`   // -stall-coupled: async Record waited for the stalled fsync (the self-check)
	Definition string    `json:"definition"`
	Sync       stallSide `json:"sync"`
	Async      stallSide `json:"async"`
	// SpeedupP999 is sync/async of the p99.9 during the stall.
	SpeedupP999 float64 `json:"speedup_p999"`
	// Verdict decides the stall criteria; nil if a window had no calls.
	Verdict *stallVerdict `json:"verdict"`
}

// stallVerdict is what decides the stall criteria: the async calls that
// started during the stall against the control window's.
type stallVerdict struct {
	Calls         int64   `json:"calls"`
	ControlCalls  int64   `json:"control_calls"`
	P999MS        float64 `json:"p999_ms"`
	ControlP999MS float64 `json:"control_p999_ms"`
	P999BoundMS   float64 `json:"p999_bound_ms"` // control × stallP999Factor + stall / stallP999SlackDiv
	P999OK        bool    `json:"p999_ok"`
	MaxMS         float64 `json:"max_ms"`
	ControlMaxMS  float64 `json:"control_max_ms"`
	MaxBoundMS    float64 `json:"max_bound_ms"` // control + stall / 2
	MaxOK         bool    `json:"max_ok"`
}

type stallSide struct {
	WindowMS    float64      `json:"window_ms"`     // the stalled fsync, from its start to its return, as it reported them
	StartMS     float64      `json:"start_ms"`      // when it started, from the producers' start
	RunMS       float64      `json:"run_ms"`        // producers' start to their stop
	During      latencyStats `json:"during"`        // calls starting in the window (corrected in a closed loop)
	DuringTimed latencyStats `json:"during_timed"`  // the timed calls among them
	Omitted     int64        `json:"omitted_calls"` // calls kept from starting in the window (the correction)
	// ReturnedDuring counts the timed calls that started and returned
	// while the fsync blocked: none for a Record that waits for it.
	ReturnedDuring int64        `json:"returned_during"`
	Run            latencyStats `json:"run"` // every timed call of the run
	// Control (async only) is the same measure over a window as long as
	// the stall just before it was armed, of the calls that ended before
	// the stall began: the producers without a stall.
	Control *stallControl `json:"control,omitempty"`
	// PreStallCallsPerSecond is the producers' rate before the stall, from
	// their mean intervals (closed loop only).
	PreStallCallsPerSecond float64 `json:"pre_stall_calls_per_second"`
	// Unissued (paced) counts calls intended before the stop that the
	// side never issued: it could not keep up with its rate.
	Unissued       int64   `json:"unissued_calls"`
	MaxQueued      int     `json:"max_queued"`     // async: most records seen in the ring during the stall
	MaxFolded      int     `json:"max_folded"`     // async: most folded records seen awaiting a persist during the stall
	FlushAfterMS   float64 `json:"flush_after_ms"` // async: Flush once the producers stopped
	TotalCalls     int64   `json:"total_calls"`
	PersistedCalls int64   `json:"persisted_calls"`
	File           string  `json:"file"`
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
	row("of which returned before the stall ended", count(s.ReturnedDuring), count(a.ReturnedDuring), "",
		func(*stallControl) string { return "" })
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
	for _, sd := range []struct {
		name string
		s    stallSide
	}{{"sync", s}, {"async", a}} {
		if sd.s.Unissued > 0 {
			fmt.Fprintf(w, "  %s: %s paced calls never issued: the side could not keep up with its rate\n", sd.name, count(sd.s.Unissued))
		}
	}
	if v := r.Verdict; v != nil {
		fmt.Fprintf(w, "  verdict: async p99.9 during the stall %s %s %s (control × %d + stall / %d); max %s %s %s (control + stall / 2)\n",
			fmtMSAsNs(v.P999MS), leq(v.P999OK), fmtMSAsNs(v.P999BoundMS), stallP999Factor, stallP999SlackDiv,
			fmtMSAsNs(v.MaxMS), leq(v.MaxOK), fmtMSAsNs(v.MaxBoundMS))
	}
}

// fmtIfAny formats v (ms) as fmtMSAsNs does, or "n/a" if l counts no
// calls.
func fmtIfAny(l latencyStats, v float64) string {
	if l.Count == 0 {
		return "n/a"
	}
	return fmtMSAsNs(v)
}

// stallVerdictOf judges the async calls that started during the stall
// against the control, or returns nil if either window has no calls.
func stallVerdictOf(r *stallResult) *stallVerdict {
	d, ctl := r.Async.During, r.Async.Control
	if ctl == nil || d.Count == 0 || ctl.Calls.Count == 0 {
		return nil
	}
	v := &stallVerdict{
		Calls: d.Count, ControlCalls: ctl.Calls.Count,
		P999MS: d.P999MS, ControlP999MS: ctl.Calls.P999MS,
		P999BoundMS: ctl.Calls.P999MS*stallP999Factor + r.StallMS/stallP999SlackDiv,
		MaxMS:       d.MaxMS, ControlMaxMS: ctl.Calls.MaxMS,
		MaxBoundMS: ctl.Calls.MaxMS + r.StallMS/2,
	}
	v.P999OK, v.MaxOK = v.P999MS <= v.P999BoundMS, v.MaxMS <= v.MaxBoundMS
	return v
}

// stallCriteria: the stall adds nothing to the async tail the same
// producers have without it, and no async call waits the stall out.
func stallCriteria(r result) []criterion {
	st, _ := r.(*stallResult)
	var v stallVerdict
	p999Display, maxDisplay := "no calls measured during the stall or without it", "no calls measured during the stall or without it"
	if st != nil && st.Verdict != nil {
		v = *st.Verdict
		p999Display = fmt.Sprintf("p99.9 %s during the stall (%s calls), %s without it (%s calls): bound %s",
			fmtMSAsNs(v.P999MS), count(v.Calls), fmtMSAsNs(v.ControlP999MS), count(v.ControlCalls), fmtMSAsNs(v.P999BoundMS))
		maxDisplay = fmt.Sprintf("max %s during a %s stall, %s without it: bound %s",
			fmtMSAsNs(v.MaxMS), fmtMSAsNs(st.StallMS), fmtMSAsNs(v.ControlMaxMS), fmtMSAsNs(v.MaxBoundMS))
	}
	return []criterion{
		judge(criterion{Name: "stall_isolation", Target: "the fsync stall adds nothing to async Record p99.9 (during <= control × 2 + stall / 20)",
			Measured: v.P999MS * 1e6, Unit: "ns", Display: p999Display}, st != nil, v.P999OK),
		judge(criterion{Name: "stall_no_wait", Target: "no async Record waits out the fsync stall (max during <= control max + stall / 2)",
			Measured: v.MaxMS * 1e6, Unit: "ns", Display: maxDisplay}, st != nil, v.MaxOK),
	}
}

func (r *stallResult) summary(w io.Writer) {
	load := fmt.Sprintf("%s, closed loop, corrected", producersText(r.Producers))
	if !r.Corrected {
		load = fmt.Sprintf("%s paced: async %s calls/s, sync %s calls/s", producersText(r.Producers), rate(r.Rate), rate(r.SyncRate))
	}
	fmt.Fprintf(w, "\n5. Disk Stall (%s fsync; %s), calls starting during it:\n   Sync:  p99.9 %s ms\n   Async: p99.9 %s ms, max %s ms\n",
		fmtMSAsNs(r.StallMS), load, fmtMS(r.Sync.During.P999MS), fmtMS(r.Async.During.P999MS), fmtMS(r.Async.During.MaxMS))
	if c := r.Async.Control; c != nil {
		fmt.Fprintf(w, "   Async without the stall (control): p99.9 %s ms, max %s ms\n", fmtMS(c.Calls.P999MS), fmtMS(c.Calls.MaxMS))
	}
	if v := r.Verdict; v != nil {
		verdict := "isolated"
		if !v.P999OK || !v.MaxOK {
			verdict = "NOT isolated"
		}
		fmt.Fprintf(w, "   Verdict: %s: p99.9 %s %s %s ms (control × %d + stall / %d), max %s %s %s ms (control + stall / 2)\n",
			verdict, fmtMS(v.P999MS), leq(v.P999OK), fmtMS(v.P999BoundMS), stallP999Factor, stallP999SlackDiv,
			fmtMS(v.MaxMS), leq(v.MaxOK), fmtMS(v.MaxBoundMS))
	}
	fmt.Fprintf(w, "   Improvement: %s faster (p99.9, sync/async)\n", fmtX(r.SpeedupP999))
}

// leq is "<=" if ok, else ">".
func leq(ok bool) string {
	if ok {
		return "<="
	}
	return ">"
}

func describeStall(c *config) string {
	s := fmt.Sprintf("stall: fsync blocked for %s, %s, async ring %s", c.stall, stallLoad(c), count(int64(c.stallCap)))
	if c.stallCoupled {
		s += "; SELF-CHECK -stall-coupled: async Record waits for the stalled fsync"
	}
	return s
}

// producersText is "1 producer" or "n producers".
func producersText(n int) string {
	if n == 1 {
		return "1 producer"
	}
	return fmt.Sprintf("%d producers", n)
}
