package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
)

// bench is one run: its configuration, where it writes, and what it has
// measured so far.
type bench struct {
	cfg    *config
	env    environment
	wl     *workload
	stdout io.Writer
	prog   *progress

	res       results
	hists     []namedHist    // every histogram, for the .hgrm files and the plot
	errs      []error        // scenario failures
	unprinted []honestyCheck // checks not printed yet
	// asyncIO collects the async trackers' file writes per run, for io.
	asyncIO []ioAsyncRun
}

type namedHist struct {
	name string
	h    *harness.Histogram
}

func newBench(cfg *config, stdout, stderr io.Writer) *bench {
	b := &bench{cfg: cfg, wl: newWorkload(), stdout: stdout, prog: newProgress(stderr), res: results{byScenario: map[string]result{}}}
	b.prog.logf("calibrating the clock (%d samples)", calibrationSamples)
	b.env = detectEnvironment(cfg)
	b.res.Environment = b.env
	return b
}

// fail records a scenario error (the run will exit 1) and prints it.
func (b *bench) fail(err error) {
	b.errs = append(b.errs, err)
	fmt.Fprintf(b.stdout, "ERROR: %v\n", err)
	b.prog.logf("ERROR: %v", err)
}

// keep registers a histogram under name (its .hgrm file is <name>.hgrm).
func (b *bench) keep(name string, h *harness.Histogram) {
	b.hists = append(b.hists, namedHist{name, h})
}

func (b *bench) hist(name string) *harness.Histogram {
	for _, nh := range b.hists {
		if nh.name == name {
			return nh.h
		}
	}
	return nil
}

// check keeps an honesty check; printChecks prints it after the
// scenario's table.
func (b *bench) check(hc honestyCheck) honestyCheck {
	b.res.Honesty = append(b.res.Honesty, hc)
	b.unprinted = append(b.unprinted, hc)
	if !hc.OK {
		b.prog.logf("%s/%s: honesty check MISMATCH (%s)", hc.Scenario, hc.Side, hc.File)
	}
	return hc
}

// printChecks prints the honesty checks made since the last call.
func (b *bench) printChecks() {
	for _, hc := range b.unprinted {
		fmt.Fprintf(b.stdout, "  %-24s %s\n", hc.Scenario+", "+hc.Side+":", hc.line())
		for _, p := range hc.Problems {
			fmt.Fprintf(b.stdout, "      %s\n", p)
		}
	}
	b.unprinted = b.unprinted[:0]
}

func (b *bench) honestyFailures() int {
	n := 0
	for _, hc := range b.res.Honesty {
		if !hc.OK {
			n++
		}
	}
	return n
}

// trackerOptions are the options both trackers get: durable unless -nosync.
func (b *bench) trackerOptions() []tracker.Option {
	if b.cfg.noSync {
		return []tracker.Option{tracker.WithNoSync()}
	}
	return nil
}

// fresh returns the path of file in the output directory after removing it
// and what a tracker leaves beside it (backup, lock), so a scenario starts
// from an empty usage file.
func (b *bench) fresh(file string) (string, error) {
	path := filepath.Join(b.cfg.out, file)
	for _, p := range []string{path, usagefile.BackupPath(path), path + ".lock"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return path, nil
}

// side is a tracker under test, sync or async, on a fresh file.
type side struct {
	name  string // "sync" or "async"
	path  string
	rec   tracker.Recorder
	async *tracker.Tracker // nil for the sync side
}

// open starts a tracker of the named side ("sync" or "async") on a fresh
// file, with the options every scenario's trackers get.
func (b *bench) open(name, file string) (*side, error) {
	return b.openWith(name, file, b.trackerOptions()...)
}

// openWith is open with the given options instead.
func (b *bench) openWith(name, file string, opts ...tracker.Option) (*side, error) {
	path, err := b.fresh(file)
	if err != nil {
		return nil, err
	}
	s := &side{name: name, path: path}
	switch name {
	case "sync":
		st, err := tracker.NewSync(path, opts...)
		if err != nil {
			return nil, err
		}
		s.rec = st
	case "async":
		at, err := tracker.New(path, opts...)
		if err != nil {
			return nil, err
		}
		s.rec, s.async = at, at
	default:
		return nil, fmt.Errorf("unknown side %q", name)
	}
	return s, nil
}

// finish closes the tracker, timing Close, and checks its file against
// exp. The async side's stats after Close go into the check too.
func (b *bench) finish(scenario string, s *side, exp *expected) (closeNs int64, hc honestyCheck, err error) {
	t0 := harness.Now()
	err = s.rec.Close()
	closeNs = harness.Now() - t0
	var stats *tracker.Stats
	if s.async != nil {
		st := s.async.Stats()
		stats = &st
	}
	hc = b.check(checkFile(scenario, s.name, s.path, exp, stats))
	if err != nil {
		err = fmt.Errorf("%s %s: Close: %w", scenario, s.name, err)
	}
	return closeNs, hc, err
}

// progress writes "[ 12.3s] what" lines to stderr.
type progress struct {
	w     io.Writer
	start time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

func (p *progress) logf(format string, a ...any) {
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, a...))
}

// pacerFor returns goroutine k's pacer of g for -rate in total (see
// sharePacer), or nil without -rate.
func (b *bench) pacerFor(k, g int, t0 int64) *harness.Pacer {
	return sharePacer(b.cfg.rate, k, g, t0)
}

// sharePacer returns goroutine k's pacer of g for a total rate, starting at
// t0 and staggered by a g-th of its interval, or nil if total is not
// positive (a closed loop).
func sharePacer(total float64, k, g int, t0 int64) *harness.Pacer {
	if total <= 0 {
		return nil
	}
	per := total / float64(g)
	interval := int64(1e9 / per)
	return harness.NewPacer(per, t0+int64(k)*interval/int64(g))
}

// callLoop makes n calls of rec.Record with the workload records from index
// off on, timing each into h: from just before the call, or, with a pacer,
// from its intended start (open loop). Successful calls are tallied; the
// first error stops the loop.
func callLoop(rec tracker.Recorder, wl *workload, off, n int, h *harness.Histogram, p *harness.Pacer, t *tally) error {
	for i := off; i < off+n; i++ {
		r := wl.rec(i)
		var start int64
		if p != nil {
			start = p.Next()
		} else {
			start = harness.Now()
		}
		err := rec.Record(*r)
		h.Record(harness.Now() - start)
		if err != nil {
			return fmt.Errorf("call %d: %w", i-off, err)
		}
		t.add(i)
	}
	return nil
}

// loopMode names how calls are issued: closed loop, or paced.
func (b *bench) loopMode() string {
	if b.cfg.rate > 0 {
		return fmt.Sprintf("open loop at %g calls/s in total", b.cfg.rate)
	}
	return "closed loop"
}
