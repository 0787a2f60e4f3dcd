package main

import (
	"fmt"
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
	for _, name := range c.scenarios {
		if s, _ := lookupScenario(name); s.describe != nil {
			fmt.Fprintf(w, "              %s\n", s.describe(c))
		}
	}
	fmt.Fprintf(w, "  output      %s\n", c.out)
}

func (b *bench) printTimer() {
	t := b.env.TimerOverheadNs
	fmt.Fprintf(b.stdout, "  (timer overhead in each per-call figure: p50 %s, mean %s)\n", fmtNs(float64(t.P50)), fmtNs(t.Mean))
}

// printSummary prints the original's SUMMARY REPORT: each scenario that
// ran, in order.
func (b *bench) printSummary() {
	w := b.stdout
	fmt.Fprintf(w, "\n%s\nSUMMARY REPORT\n%s\n", rule, rule)
	for _, s := range scenarios {
		if r := b.res.byScenario[s.name]; r != nil {
			r.summary(w)
		}
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
		case c.detail != nil:
			for _, l := range c.detail {
				fmt.Fprintf(w, "  %s\n", l)
			}
			fmt.Fprintf(w, "  Result: %s\n", c.Result)
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
