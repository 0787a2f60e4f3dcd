package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

const rule = "======================================================================"

func (b *bench) section(title string) {
	fmt.Fprintf(b.stdout, "\n== %s ==\n", title)
}

func (b *bench) printEnvironment() {
	e, c, w := &b.env, b.cfg, b.stdout
	fmt.Fprintln(w, "usagering bench: sync baseline (tracker.NewSync) vs async (tracker.New), side by side in one run")
	fmt.Fprintf(w, "  Go          %s %s/%s, GOMAXPROCS %d (%d CPUs)\n", e.GoVersion, e.GOOS, e.GOARCH, e.GOMAXPROCS, e.NumCPU)
	fmt.Fprintf(w, "  CPU         %s\n", e.CPU)
	t := e.TimerOverheadNs
	fmt.Fprintf(w, "  timer       empty timed region (two harness.Now calls): p50 %s, mean %s, p99 %s, max %s over %d samples;\n",
		fmtNs(float64(t.P50)), fmtNs(t.Mean), fmtNs(float64(t.P99)), fmtNs(float64(t.Max)), t.Samples)
	fmt.Fprintln(w, "              every per-call figure below includes it (the loop means do not)")
	if e.Fsync {
		fmt.Fprintln(w, "  durability  fsync ON: both trackers fsync the file and its directory on every write (the default; -nosync skips)")
	} else {
		fmt.Fprintln(w, "  durability  fsync OFF (-nosync): writes reach the page cache only")
	}
	fmt.Fprintf(w, "  mode        %s: latency %d sync / %d async calls, %d chunks, %s windows, %d × %d concurrent, sweep %d async calls per goroutine, %d items per queue run, %s\n",
		e.Mode, c.syncCalls, c.calls, c.chunks, c.duration, c.threads, c.perThread, c.sweepCalls, c.queueItems, b.loopMode())
	if slices.Contains(c.scenarios, "stall") {
		fmt.Fprintf(w, "              stall: fsync blocked for %s, %d producers, async ring %s\n", c.stall, c.producers, count(int64(c.stallCap)))
	}
	if slices.Contains(c.scenarios, "soak") {
		fmt.Fprintf(w, "              soak: %s at %s calls/s over %d producers, a line every %s\n", c.soakDuration, rate(c.soakRate), c.producers, c.soakInterval)
	}
	fmt.Fprintf(w, "  output      %s\n", c.out)
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

func (b *bench) printTimer() {
	t := b.env.TimerOverheadNs
	fmt.Fprintf(b.stdout, "  (timer overhead in each per-call figure: p50 %s, mean %s)\n", fmtNs(float64(t.P50)), fmtNs(t.Mean))
}

func (b *bench) printStreaming(r *streamingResult) {
	s, a := r.Sync, r.Async
	t := newTable("", "sync", "async", "sync/async")
	t.add("chunks", count(s.Chunks), count(a.Chunks), "")
	t.add("total", fmtMSAsNs(s.TotalMS), fmtMSAsNs(a.TotalMS), fmtX(r.Improvement.SpeedupTotal))
	t.add("mean per chunk", fmtMSAsNs(s.MeanPerChunkMS), fmtMSAsNs(a.MeanPerChunkMS), fmtX(r.Improvement.SpeedupMeanPerChunk))
	t.add("p50 per chunk", fmtMSAsNs(s.P50MS), fmtMSAsNs(a.P50MS), fmtX(ratio(s.P50MS, a.P50MS)))
	t.add("p99 per chunk", fmtMSAsNs(s.P99MS), fmtMSAsNs(a.P99MS), fmtX(ratio(s.P99MS, a.P99MS)))
	t.add("max stutter", fmtMSAsNs(s.MaxStutterMS), fmtMSAsNs(a.MaxStutterMS), fmtX(r.Improvement.SpeedupMaxStutter))
	t.add("stutters > 10 ms", count(s.StuttersOver10ms), count(a.StuttersOver10ms), "")
	t.add("stutters > 1 ms", count(s.StuttersOver1ms), count(a.StuttersOver1ms), "")
	t.write(b.stdout)
	b.printTimer()
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

func (b *bench) printQueues(r *queuesResult) {
	fmt.Fprintf(b.stdout, "  consumer: %s\n", r.Consumer)
	t := newTable("producers", "queue", "items/s", "ns/item", "push p50", "p99", "p99.9", "p99.99", "max")
	for _, run := range r.Runs {
		t.add(strconv.Itoa(run.Producers), run.Kind, rate(run.ItemsPerSecond), fmt.Sprintf("%.1f", run.NsPerItem),
			fmtNs(float64(run.P50Ns)), fmtNs(float64(run.P99Ns)), fmtNs(float64(run.P999Ns)), fmtNs(float64(run.P9999Ns)), fmtNs(float64(run.MaxNs)))
	}
	t.write(b.stdout)
	b.printTimer()
}

func (b *bench) printIO(r *ioResult) {
	t := newTable("run", "records", "file writes", "per 100 records")
	t.add("original's claim, sync", "", "", r.OriginalClaim.Sync)
	t.add("original's claim, async", "", "", r.OriginalClaim.Async)
	t.add(fmt.Sprintf("sync, %d records (inode changes)", r.Sync.Records), count(r.Sync.Records), count(r.Sync.Writes), fmt.Sprintf("%.1f", r.Sync.PerHundred))
	for _, a := range r.Async {
		w := count(a.Flushes)
		if a.InodeChanges > 0 {
			w += fmt.Sprintf(" (inode changes %d)", a.InodeChanges)
		}
		t.add("async, "+a.Run, count(a.Records), w, fmt.Sprintf("%.4g", a.PerHundred))
	}
	t.write(b.stdout)
	fmt.Fprintf(b.stdout, "  sync: %s\n  async: file writes = Stats().TotalFlushes after Close (successful persists)\n", r.Sync.Method)
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

// printSummary prints the original's SUMMARY REPORT.
func (b *bench) printSummary() {
	w := b.stdout
	fmt.Fprintf(w, "\n%s\nSUMMARY REPORT\n%s\n", rule, rule)
	if r := b.res.Latency; r != nil {
		fmt.Fprintf(w, "\n1. Record Latency:\n   Sync:  %s ms (mean)\n   Async: %s ms (mean)\n   Improvement: %s faster\n",
			fmtMS(r.Sync.MeanMS), fmtMS(r.Async.MeanMS), fmtX(r.Improvement.SpeedupMean))
	}
	if r := b.res.Streaming; r != nil {
		fmt.Fprintf(w, "\n2. Streaming Performance:\n   Sync:  %s ms total\n   Async: %s ms total\n   Improvement: %s faster\n",
			fmtMS(r.Sync.TotalMS), fmtMS(r.Async.TotalMS), fmtX(r.Improvement.SpeedupTotal))
	}
	if r := b.res.Throughput; r != nil {
		fmt.Fprintf(w, "\n3. Throughput:\n   Sync:  %.1f calls/sec\n   Async: %.1f calls/sec (persisted)\n   Improvement: %s increase\n",
			r.Sync.CallsPerSecond, r.Async.CallsPerSecond, fmtX(r.Improvement.ThroughputIncrease))
	}
	if r := b.res.Concurrent; r != nil {
		fmt.Fprintf(w, "\n4. Concurrent Access:\n   Sync:  %s ms total\n   Async: %s ms total\n   Improvement: %s faster\n",
			fmtMS(r.Sync.TotalMS), fmtMS(r.Async.TotalMS), fmtX(r.Improvement.SpeedupTotal))
	}
	if r := b.res.Stall; r != nil {
		fmt.Fprintf(w, "\n5. Disk Stall (%s fsync, %d producers), p99.9 of the calls starting during it:\n   Sync:  %s ms\n   Async: %s ms\n",
			fmtMSAsNs(r.StallMS), r.Producers, fmtMS(r.Sync.During.P999MS), fmtMS(r.Async.During.P999MS))
		if c := r.Async.Control; c != nil {
			fmt.Fprintf(w, "   Async without the stall (control): %s ms\n", fmtMS(c.Calls.P999MS))
		}
		fmt.Fprintf(w, "   Improvement: %s faster\n", fmtX(r.SpeedupP999))
	}
	if r := b.res.Soak; r != nil {
		fmt.Fprintf(w, "\n6. Soak (%s at %s calls/s, %d producers, async):\n   calls: %s, persisted %s\n   heap in use: %s -> %s, goroutines %d -> %d, p99 %s -> %s (first -> last %s)\n",
			fmtMSAsNs(r.DurationS*1e3), rate(r.Rate), r.Producers, count(r.TotalCalls), count(r.PersistedCalls),
			mib(r.First.HeapBytes), mib(r.Last.HeapBytes), r.First.Goroutines, r.Last.Goroutines,
			fmtNs(float64(r.First.P99Ns)), fmtNs(float64(r.Last.P99Ns)), fmtMSAsNs(r.WindowS*1e3))
	}
}

// printAssessment prints the original's OVERALL ASSESSMENT, then ours.
func (b *bench) printAssessment() {
	w := b.stdout
	fmt.Fprintf(w, "\nOVERALL ASSESSMENT\n%s\n", rule)
	for _, c := range b.res.Criteria {
		if !c.Original {
			continue
		}
		fmt.Fprintf(w, "\n%s Target: %s\n", mark(c.Result), c.Target)
		switch {
		case c.Result == "SKIP":
			fmt.Fprintln(w, "  Result: not run - SKIP")
		case c.Name == "streaming_stutters":
			r := b.res.Streaming
			fmt.Fprintf(w, "  Sync stutters >10ms:  %d\n  Async stutters >10ms: %d\n  Result: %s\n",
				r.Sync.StuttersOver10ms, r.Async.StuttersOver10ms, c.Result)
		default:
			fmt.Fprintf(w, "  Result: %s - %s\n", c.Display, c.Result)
		}
	}
	fmt.Fprintln(w, "\nStricter criteria (usagering):")
	for _, c := range b.res.Criteria {
		if !c.Original {
			fmt.Fprintf(w, "%s %s: %s - %s\n", mark(c.Result), c.Target, c.Display, c.Result)
		}
	}
	pass, fail, skip := 0, 0, 0
	for _, c := range b.res.Criteria {
		switch c.Result {
		case "PASS":
			pass++
		case "FAIL":
			fail++
		default:
			skip++
		}
	}
	fmt.Fprintf(w, "\nCriteria: %d PASS, %d FAIL, %d SKIP (not run)\n", pass, fail, skip)
}

func mark(result string) string {
	switch result {
	case "PASS":
		return "✓"
	case "FAIL":
		return "✗"
	}
	return "-"
}

// fmtMS formats milliseconds with at least 3 significant digits, the way
// the original's report reads ("12.456", "0.000234").
func fmtMS(ms float64) string {
	prec := 3
	if ms > 0 && ms < 1 {
		prec = max(3, 2-int(math.Floor(math.Log10(ms))))
	}
	return strconv.FormatFloat(ms, 'f', prec, 64)
}

// fmtNs formats a duration in ns with a unit that suits it.
func fmtNs(ns float64) string {
	switch a := math.Abs(ns); {
	case a < 100:
		return fmt.Sprintf("%.1f ns", ns)
	case a < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case a < 1e6:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	case a < 1e9:
		return fmt.Sprintf("%.3f ms", ns/1e6)
	}
	return fmt.Sprintf("%.3f s", ns/1e9)
}

func fmtMSAsNs(ms float64) string { return fmtNs(ms * 1e6) }

// fmtX formats a ratio ("53.2x"), or "n/a" when there is none.
func fmtX(r float64) string {
	switch {
	case r <= 0 || math.IsInf(r, 0) || math.IsNaN(r):
		return "n/a"
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}

func rate(perSec float64) string { return count(int64(math.Round(perSec))) }

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// table prints aligned columns: the first left-aligned, the rest right.
type table struct{ rows [][]string }

func newTable(header ...string) *table { return &table{rows: [][]string{header}} }

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer) {
	var widths []int
	for _, r := range t.rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range t.rows {
		var sb strings.Builder
		sb.WriteString("  ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i == 0 {
				sb.WriteString(c + pad)
			} else {
				sb.WriteString("   " + pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(sb.String(), " "))
	}
}
