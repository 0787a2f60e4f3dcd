package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// quick is one end-to-end run shared by the tests that inspect its output:
// -quick, or smaller still under -short.
var quick struct {
	once           sync.Once
	dir            string
	code           int
	stdout, stderr string
}

func quickRun(t *testing.T) (dir, stdout string) {
	t.Helper()
	quick.once.Do(func() {
		d, err := os.MkdirTemp("", "bench-test-")
		if err != nil {
			t.Fatal(err)
		}
		quick.dir = filepath.Join(d, "out")
		args := []string{"-quick", "-out", quick.dir}
		if testing.Short() {
			args = append(args, "-calls", "20000", "-chunks", "50", "-duration", "200ms",
				"-calls-per-thread", "5", "-sweep-calls", "500", "-queue-items", "20000", "-stall", "200ms")
		}
		var out, errOut bytes.Buffer
		quick.code = run(args, &out, &errOut)
		quick.stdout, quick.stderr = out.String(), errOut.String()
	})
	if quick.dir == "" {
		t.Fatal("the quick run could not start")
	}
	if quick.code != 0 {
		t.Fatalf("run: exit status %d\nstdout:\n%s\nstderr:\n%s", quick.code, quick.stdout, quick.stderr)
	}
	return quick.dir, quick.stdout
}

// TestMain removes the shared quick run's files and fails the run if a
// test leaves a goroutine behind (a tracker, producer or queue consumer the
// bench forgot to stop).
func TestMain(m *testing.M) {
	code := m.Run()
	if quick.dir != "" {
		os.RemoveAll(filepath.Dir(quick.dir))
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestRunQuickEndToEnd(t *testing.T) {
	dir, stdout := quickRun(t)

	// Every scenario's honesty checks ran and passed.
	checks := strings.Count(stdout, "honesty check: recorded ")
	if want := 2 + 2 + 2 + 2*(1+len(sweepGoroutines)) + 3 + 2; checks != want {
		t.Errorf("%d honesty check lines, want %d", checks, want)
	}
	if strings.Contains(stdout, "MISMATCH") {
		t.Error("an honesty check failed")
	}
	for _, s := range []string{"SUMMARY REPORT", "OVERALL ASSESSMENT", "1. Record Latency:", "4. Concurrent Access:", "fsync ON",
		"5. Disk Stall", "calls starting during the stall"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}

	// The original's files, written fresh and valid.
	for _, side := range []string{"sync", "async"} {
		for _, sc := range []string{"latency", "streaming", "throughput", "concurrent"} {
			data, err := os.ReadFile(filepath.Join(dir, side+"_"+sc+".json"))
			if err != nil {
				t.Error(err)
				continue
			}
			if _, err := usagefile.ParseDocument(data); err != nil {
				t.Errorf("%s_%s.json: %v", side, sc, err)
			}
		}
	}

	// .hgrm files parse and hold every value.
	hgrms, _ := filepath.Glob(filepath.Join(dir, "*.hgrm"))
	if want := 2 + 2 + 2 + 2*len(sweepGoroutines) + len(queueProducers)*len(harness.QueueKinds) + 2*2 + 1; len(hgrms) != want {
		t.Errorf("%d .hgrm files, want %d", len(hgrms), want)
	}
	for _, name := range append(hgrms, filepath.Join(dir, "latency_sync.hgrm"), filepath.Join(dir, "queues_ring_p16.hgrm")) {
		f, err := os.Open(name)
		if err != nil {
			t.Error(err)
			continue
		}
		rows, err := harness.ParseHgrm(f)
		f.Close()
		if err != nil || len(rows) == 0 {
			t.Errorf("%s: %d rows, %v", filepath.Base(name), len(rows), err)
			continue
		}
		if last := rows[len(rows)-1]; last.Percentile != 1 || last.TotalCount <= 0 {
			t.Errorf("%s: last row %+v", filepath.Base(name), last)
		}
	}

	for _, name := range []string{"latency.svg", "latency.png"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", name, err)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "latency.svg"))
	for _, s := range []string{"<svg", "99.9%", "async Record", "mutex push, 16 producers"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("latency.svg lacks %q", s)
		}
	}
}

// TestResultsSchema checks benchmark_results.json: the original's keys and
// field names, and ours, with their JSON types.
func TestResultsSchema(t *testing.T) {
	dir, _ := quickRun(t)
	doc := readResults(t, dir)
	get := func(path string) any {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: %q is not inside an object", path, k)
				return nil
			}
			if v, ok = m[k]; !ok {
				t.Errorf("%s: no key %q", path, k)
				return nil
			}
		}
		return v
	}
	number := func(path string) float64 {
		f, ok := get(path).(float64)
		if !ok {
			t.Errorf("%s: %T, want a number", path, get(path))
		}
		return f
	}
	for _, side := range []string{"sync", "async"} {
		for _, f := range []string{"mean_ms", "median_ms", "min_ms", "max_ms", "p95_ms", "p99_ms", "stdev_ms", "p999_ms", "p9999_ms", "count", "total_calls", "persisted_calls"} {
			number("latency." + side + "." + f)
		}
		for _, f := range []string{"total_ms", "mean_per_chunk_ms", "max_stutter_ms", "stutters_over_10ms", "stutters_over_1ms", "persisted_calls"} {
			number("streaming." + side + "." + f)
		}
		for _, f := range []string{"total_calls", "calls_per_second", "persisted_calls", "enqueue_calls_per_second", "duration_s"} {
			if number("throughput."+side+"."+f) <= 0 {
				t.Errorf("throughput.%s.%s is not positive", side, f)
			}
		}
		for _, f := range []string{"total_ms", "mean_ms", "max_ms", "p99_ms", "p999_ms", "total_calls", "num_threads", "calls_per_thread"} {
			number("concurrent." + side + "." + f)
		}
		if a, c := number("throughput."+side+".persisted_calls"), number("throughput."+side+".total_calls"); a != c {
			t.Errorf("throughput.%s: persisted %v of %v calls", side, a, c)
		}
	}
	for _, f := range []string{"latency.improvement.speedup_mean", "latency.improvement.speedup_p95",
		"streaming.improvement.speedup_total", "throughput.improvement.throughput_increase",
		"concurrent.improvement.speedup_total"} {
		if number(f) <= 0 {
			t.Errorf("%s is not positive", f)
		}
	}
	if sweep, ok := get("concurrent.sweep").([]any); !ok || len(sweep) != len(sweepGoroutines) {
		t.Errorf("concurrent.sweep: %v", get("concurrent.sweep"))
	}
	if runs, ok := get("queues.runs").([]any); !ok || len(runs) != len(queueProducers)*len(harness.QueueKinds) {
		t.Errorf("queues.runs: %d runs", len(runs))
	}
	if number("io.sync.writes_per_100_records") != 100 {
		t.Errorf("io.sync.writes_per_100_records = %v, want 100", get("io.sync.writes_per_100_records"))
	}
	if _, ok := get("io.async").([]any); !ok {
		t.Error("io.async is not a list")
	}
	honesty, _ := get("honesty").([]any)
	if len(honesty) == 0 {
		t.Error("no honesty checks")
	}
	for _, h := range honesty {
		if m, _ := h.(map[string]any); m["ok"] != true {
			t.Errorf("honesty check not ok: %v", h)
		}
	}
	for _, side := range []string{"sync", "async"} {
		for _, f := range []string{"during.p999_ms", "during.count", "during_timed.count", "run.p999_ms", "run.count",
			"omitted_calls", "window_ms", "total_calls", "persisted_calls"} {
			number("stall." + side + "." + f)
		}
		if w := number("stall." + side + ".window_ms"); w < number("stall.stall_ms") {
			t.Errorf("stall.%s.window_ms = %v, below the stall of %v ms", side, w, number("stall.stall_ms"))
		}
		if a, c := number("stall."+side+".persisted_calls"), number("stall."+side+".total_calls"); a != c || c <= 0 {
			t.Errorf("stall.%s: persisted %v of %v calls", side, a, c)
		}
	}
	if get("soak") != nil {
		t.Errorf("soak ran in a default run: %v", get("soak"))
	}
	criteria, _ := get("criteria").([]any)
	if len(criteria) != 19 {
		t.Errorf("%d criteria, want 19", len(criteria))
	}
	for _, c := range criteria {
		m, _ := c.(map[string]any)
		r, _ := m["result"].(string)
		name, _ := m["name"].(string)
		if strings.HasPrefix(name, "soak_") || strings.HasPrefix(name, "fleet_") {
			if r != "SKIP" {
				t.Errorf("criterion %v: result %q, want SKIP (no soak or fleet in a default run)", name, r)
			}
		} else if r != "PASS" && r != "FAIL" {
			t.Errorf("criterion %v: result %q", name, r)
		}
	}
	for _, f := range []string{"environment.go_version", "environment.cpu", "environment.goos"} {
		if s, _ := get(f).(string); s == "" {
			t.Errorf("%s: %v, want a string", f, get(f))
		}
	}
	number("environment.gomaxprocs")
	number("environment.timer_overhead_ns.p50")
	number("environment.timer_overhead_ns.mean")
	if _, ok := get("environment.fsync").(bool); !ok {
		t.Errorf("environment.fsync: %T, want a bool", get("environment.fsync"))
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-calls", "-5"},
		{"-calls", "0"},
		{"-chunks", "-1"},
		{"-threads", "0"},
		{"-calls-per-thread", "-2"},
		{"-duration", "0s"},
		{"-duration", "-1s"},
		{"-rate", "-10"},
		{"-scenarios", "latency,bogus"},
		{"-scenarios", ","},
		{"-bogus"},
		{"-calls", "many"},
		{"stray-argument"},
		{"-out", ""},
		{"-producers", "0"},
		{"-stall", "0s"},
		{"-interval", "-1s"},
		{"-stall-capacity", "1"},
		{"-stall-capacity", "0"},
		{"-stall-mode", "bogus"},
		{"-stall-mode", "closed", "-stall-capacity", "-4"},
		{"-scenarios", "soak", "-duration", "0s"},
	} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
		if !strings.Contains(errOut.String(), "usage: bench") {
			t.Errorf("%q: no usage message on stderr: %q", args, errOut.String())
		}
		if out.Len() != 0 {
			t.Errorf("%q: wrote to stdout: %q", args, out.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-h"}, &out, &errOut); code != exitOK {
		t.Errorf("-h: exit %d", code)
	}
	for _, s := range []string{"-rate", "in total, split evenly", "-nosync", "-seed-defaults", "calls_per_second",
		"-stall", "-producers", "-interval", "coordinated-omission", "soak",
		"-stall-mode", "-stall-coupled", "GOMAXPROCS-1", "100,000", "control × 2 + stall / 20", "control max + stall / 2"} {
		if !strings.Contains(errOut.String(), s) {
			t.Errorf("-h lacks %q", s)
		}
	}
}

func TestFlagDefaults(t *testing.T) {
	for _, tc := range []struct {
		args                    []string
		calls, syncCalls, chunk int
	}{
		{nil, 1_000_000, 1000, 1000},
		{[]string{"-quick"}, 100_000, 200, 200},
		{[]string{"-seed-defaults"}, 100, 100, 100},
		{[]string{"-calls", "500"}, 500, 500, 1000},
		{[]string{"-seed-defaults", "-calls", "300"}, 300, 300, 100},
	} {
		c, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c.calls != tc.calls || c.syncCalls != tc.syncCalls || c.chunks != tc.chunk {
			t.Errorf("%q: calls %d, sync %d, chunks %d; want %d, %d, %d", tc.args, c.calls, c.syncCalls, c.chunks, tc.calls, tc.syncCalls, tc.chunk)
		}
	}
	c, err := parseFlags([]string{"-scenarios", "io, latency,io"}, &bytes.Buffer{})
	if err != nil || strings.Join(c.scenarios, ",") != "latency,io" {
		t.Errorf("-scenarios: %v, %v", c.scenarios, err)
	}
	c, err = parseFlags([]string{"-scenarios", "soak,stall"}, &bytes.Buffer{})
	if err != nil || strings.Join(c.scenarios, ",") != "stall,soak" {
		t.Errorf("-scenarios soak,stall: %v, %v", c.scenarios, err)
	}

	// The soak, the stall and the default scenario list.
	for _, tc := range []struct {
		args                  []string
		stall, soak, interval time.Duration
		rate                  float64
		throughput            time.Duration
	}{
		{nil, 2 * time.Second, time.Minute, 5 * time.Second, defaultSoakRate, 5 * time.Second},
		{[]string{"-quick"}, 500 * time.Millisecond, 20 * time.Second, 5 * time.Second, defaultSoakRate, time.Second},
		{[]string{"-duration", "10m"}, 2 * time.Second, 10 * time.Minute, 5 * time.Second, defaultSoakRate, 10 * time.Minute},
		{[]string{"-duration", "8s", "-rate", "1000"}, 2 * time.Second, 8 * time.Second, 2 * time.Second, 1000, 8 * time.Second},
		{[]string{"-quick", "-stall", "3s", "-interval", "1m"}, 3 * time.Second, 20 * time.Second, time.Minute, defaultSoakRate, time.Second},
	} {
		c, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c.stall != tc.stall || c.soakDuration != tc.soak || c.soakInterval != tc.interval || c.soakRate != tc.rate || c.duration != tc.throughput {
			t.Errorf("%q: stall %v, soak %v every %v at %v/s, throughput %v; want %v, %v every %v at %v/s, %v", tc.args,
				c.stall, c.soakDuration, c.soakInterval, c.soakRate, c.duration, tc.stall, tc.soak, tc.interval, tc.rate, tc.throughput)
		}
		if want := strings.Join(defaultScenarios, ","); strings.Join(c.scenarios, ",") != want || slices.Contains(c.scenarios, "soak") {
			t.Errorf("%q: scenarios %v, want %s", tc.args, c.scenarios, want)
		}
	}

	// The stall's modes: paced by default with producers that leave the
	// tracker a processor; the closed loop as it was.
	paced := max(1, runtime.GOMAXPROCS(0)-1)
	for _, tc := range []struct {
		args            []string
		mode            string
		prods, capacity int
		rate, syncRate  float64
		coupled         bool
	}{
		{nil, stallPaced, paced, tracker.DefaultCapacity, defaultStallRate, stallSyncRate, false},
		{[]string{"-quick"}, stallPaced, paced, tracker.DefaultCapacity, defaultStallRate, stallSyncRate, false},
		{[]string{"-rate", "5000", "-producers", "3"}, stallPaced, 3, tracker.DefaultCapacity, 5000, stallSyncRate, false},
		{[]string{"-rate", "50", "-stall-capacity", "1024"}, stallPaced, paced, 1024, 50, 50, false},
		{[]string{"-stall-coupled"}, stallPaced, paced, tracker.DefaultCapacity, defaultStallRate, stallSyncRate, true},
		{[]string{"-stall-mode", "closed"}, stallClosed, 8, closedStallCapacity, 0, 0, false},
		{[]string{"-stall-mode", "closed", "-rate", "5000", "-producers", "2"}, stallClosed, 2, closedStallCapacity, 0, 0, false},
	} {
		c, err := parseFlags(tc.args, &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if c.stallMode != tc.mode || c.stallProds != tc.prods || c.stallCap != tc.capacity || c.stallRate != tc.rate ||
			c.stallSyncR != tc.syncRate || c.stallCoupled != tc.coupled {
			t.Errorf("%q: stall %s, %d producers, ring %d, %v/s, sync %v/s, coupled %v; want %s, %d, %d, %v/s, %v/s, %v", tc.args,
				c.stallMode, c.stallProds, c.stallCap, c.stallRate, c.stallSyncR, c.stallCoupled,
				tc.mode, tc.prods, tc.capacity, tc.rate, tc.syncRate, tc.coupled)
		}
	}
}

// TestHonestyMismatch fabricates files that differ from what was recorded
// and checks that the comparison says so and the run's exit status is 1.
func TestHonestyMismatch(t *testing.T) {
	wl := newWorkload()
	var tl tally
	doc := usagefile.NewDocument()
	for i := range 10 {
		tl.add(i)
		s, day := tracker.NewSession(wl.rec(i), nil)
		doc.AddSession(s, day, tracker.DefaultMaxSessions)
	}
	exp := tl.expected(wl)
	if hc := compareDocument("test", "async", exp, doc); !hc.OK {
		t.Fatalf("identical: %v", hc.Problems)
	}

	lost := tl
	lost.add(10) // recorded one more than the file holds
	hc := compareDocument("test", "async", lost.expected(wl), doc)
	if hc.OK || !strings.HasSuffix(hc.line(), ": MISMATCH") {
		t.Errorf("a lost record: OK %v, line %q", hc.OK, hc.line())
	}

	altered := doc.Clone()
	for day, tot := range altered.DailyTotals {
		tot.Cost = tot.Cost.Add(usd.FromNanos(1)) // one nano-dollar off
		altered.DailyTotals[day] = tot
		break
	}
	if hc := compareDocument("test", "async", exp, altered); hc.OK {
		t.Error("a cost one nano-dollar off: OK")
	}

	moved := doc.Clone()
	a, b := moved.ModelBreakdown[workloadModels[0]], moved.ModelBreakdown[workloadModels[1]]
	a.Calls, b.Calls = a.Calls+1, b.Calls-1 // same totals, wrong models
	moved.ModelBreakdown[workloadModels[0]], moved.ModelBreakdown[workloadModels[1]] = a, b
	if hc := compareDocument("test", "async", exp, moved); hc.OK {
		t.Error("calls moved between models: OK")
	}

	// checkFile on a file that is not there, and with stats that disagree.
	if hc := checkFile("test", "async", filepath.Join(t.TempDir(), "missing.json"), exp, nil); hc.OK {
		t.Error("missing file: OK")
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	data, err := doc.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if hc := checkFile("test", "async", path, exp, &tracker.Stats{TotalRecords: 10}); !hc.OK {
		t.Errorf("matching file and stats: %v", hc.Problems)
	}
	if hc := checkFile("test", "async", path, exp, &tracker.Stats{TotalRecords: 9, LostRecords: 1}); hc.OK {
		t.Error("stats reporting a lost record: OK")
	}

	// Any failed check fails the run, -strict or not.
	var out bytes.Buffer
	bn := &bench{cfg: &config{}, stdout: &out, prog: newProgress(&bytes.Buffer{})}
	bn.check(hc)
	if code := bn.exitStatus(); code != exitFail {
		t.Errorf("exit status %d with a failed honesty check, want %d", code, exitFail)
	}
	bn.printChecks()
	if !strings.Contains(out.String(), "MISMATCH") {
		t.Errorf("output lacks MISMATCH: %q", out.String())
	}
}

func TestStrictExit(t *testing.T) {
	bn := &bench{cfg: &config{}, stdout: &bytes.Buffer{}, prog: newProgress(&bytes.Buffer{})}
	bn.res.Criteria = []criterion{{Name: "x", Result: "FAIL"}, {Name: "y", Result: "SKIP"}}
	if code := bn.exitStatus(); code != exitOK {
		t.Errorf("failed criterion without -strict: exit %d", code)
	}
	bn.cfg.strict = true
	if code := bn.exitStatus(); code != exitFail {
		t.Errorf("failed criterion with -strict: exit %d", code)
	}
	bn.res.Criteria[0].Result = "PASS"
	if code := bn.exitStatus(); code != exitOK {
		t.Errorf("passed and skipped criteria with -strict: exit %d", code)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{count(0), "0"}, {count(999), "999"}, {count(1000), "1,000"}, {count(-1234567), "-1,234,567"},
		{fmtMS(12.4561), "12.456"}, {fmtMS(0.000234), "0.000234"}, {fmtMS(0.0234), "0.0234"},
		{fmtX(53.21), "53.2x"}, {fmtX(1234.4), "1234x"}, {fmtX(0), "n/a"},
		{fmtNs(25), "25.0 ns"}, {fmtNs(2500), "2.50 µs"}, {fmtNs(2.5e6), "2.500 ms"},
		{cpuModel(filepath.Join(t.TempDir(), "nope")), "unknown"},
		{durationLabel(0.01), "10 ns"}, {durationLabel(1), "1 µs"}, {durationLabel(100), "100 µs"},
		{durationLabel(1000), "1 ms"}, {durationLabel(1e6), "1 s"}, {durationLabel(1e7), "10 s"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
