package main

import (
	"fmt"
	"slices"
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

func (b *bench) printTimer() {
	t := b.env.TimerOverheadNs
	fmt.Fprintf(b.stdout, "  (timer overhead in each per-call figure: p50 %s, mean %s)\n", fmtNs(float64(t.P50)), fmtNs(t.Mean))
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
