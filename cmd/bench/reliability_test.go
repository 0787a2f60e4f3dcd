package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
)

// runScenario runs the command with args and an output directory of its
// own, and returns stdout and benchmark_results.json. A non-zero exit
// status fails the test: an honesty mismatch (a lost or altered record)
// would be one.
func runScenario(t *testing.T, args ...string) (string, map[string]any) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	var out, errOut bytes.Buffer
	if code := run(append(args, "-out", dir), &out, &errOut); code != exitOK {
		t.Fatalf("run %q: exit status %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
	}
	stdout := out.String()
	if strings.Contains(stdout, "MISMATCH") {
		t.Errorf("an honesty check failed:\n%s", stdout)
	}
	return stdout, readResults(t, dir)
}

// readResults decodes dir's benchmark_results.json as generic JSON.
func readResults(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "benchmark_results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// field returns doc's value at a dotted path, or nil.
func field(doc map[string]any, path string) any {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// criterionResult returns the result of the named criterion.
func criterionResult(doc map[string]any, name string) string {
	list, _ := doc["criteria"].([]any)
	for _, c := range list {
		if m, _ := c.(map[string]any); m["name"] == name {
			r, _ := m["result"].(string)
			return r
		}
	}
	return ""
}

// TestSoakScenario runs a 20-second soak (4 s under -short): live lines,
// the first-vs-last comparison, zero loss, and heap and goroutines flat.
// Latency is not asserted: the machine may be shared.
func TestSoakScenario(t *testing.T) {
	d, lines := "20s", 4
	if testing.Short() {
		d = "4s"
	}
	stdout, doc := runScenario(t, "-scenarios", "soak", "-duration", d)

	live := regexp.MustCompile(`(?m)^  soak +[0-9.]+s +[0-9,]+ calls/s +p99 .+ heap in use .+ MiB +goroutines +[0-9]+ +pending +[0-9,]+$`)
	if n := len(live.FindAllString(stdout, -1)); n < lines {
		t.Errorf("%d live lines, want at least %d:\n%s", n, lines, stdout)
	}
	for _, s := range []string{
		"8. Soak:", "first vs last quarter of the run",
		"heap in use (highest sampled)", "goroutines (fewest sampled)", "Record p99",
		"last <= first × 1.5 + 4.0 MiB",
		"soak, async:", "honesty check: recorded", ": OK",
		"6. Soak", "soak: zero loss (honesty check OK)",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if lines, _ := field(doc, "soak.lines").([]any); len(lines) < 4 {
		t.Errorf("soak.lines: %d lines", len(lines))
	}
	total, _ := field(doc, "soak.total_calls").(float64)
	persisted, _ := field(doc, "soak.persisted_calls").(float64)
	if total <= 0 || persisted != total {
		t.Errorf("soak: %v calls recorded, %v persisted", total, persisted)
	}
	for _, f := range []string{"zero_loss", "heap_flat", "goroutines_flat"} {
		if field(doc, "soak."+f) != true {
			t.Errorf("soak.%s = %v\n%s", f, field(doc, "soak."+f), stdout)
		}
	}
	for _, c := range []string{"soak_zero_loss", "soak_heap_flat", "soak_goroutines_flat", "zero_loss"} {
		if r := criterionResult(doc, c); r != "PASS" {
			t.Errorf("criterion %s: %q", c, r)
		}
	}
	if r := criterionResult(doc, "soak_p99_flat"); r != "PASS" && r != "FAIL" {
		t.Errorf("criterion soak_p99_flat: %q", r)
	}
}

// stallRun runs the stall scenario with a 300 ms stall, the async side
// paced at 20,000 calls/s (which a Record under -race on a busy machine
// sustains; the default rate is pinned by TestFlagDefaults), and args, and
// returns stdout, benchmark_results.json and the exit status. Any exit
// status but 0 or 1 (1: a criterion failed under -strict) fails the test.
func stallRun(t *testing.T, args ...string) (string, map[string]any, int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	var out, errOut bytes.Buffer
	code := run(append([]string{"-scenarios", "stall", "-stall", "300ms", "-rate", "20000", "-out", dir}, args...), &out, &errOut)
	if code != exitOK && code != exitFail {
		t.Fatalf("run %q: exit status %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
	}
	stdout := out.String()
	if n := strings.Count(stdout, "honesty check: recorded"); n != 2 || strings.Contains(stdout, "MISMATCH") {
		t.Errorf("%d honesty checks, or one failed:\n%s", n, stdout)
	}
	doc := readResults(t, dir)
	for _, side := range []string{"sync", "async"} {
		if w, _ := field(doc, "stall."+side+".window_ms").(float64); w < 300 {
			t.Errorf("stall.%s.window_ms = %v, want >= 300", side, w)
		}
		total, _ := field(doc, "stall."+side+".total_calls").(float64)
		persisted, _ := field(doc, "stall."+side+".persisted_calls").(float64)
		if total <= 0 || persisted != total {
			t.Errorf("stall.%s: %v calls recorded, %v persisted", side, total, persisted)
		}
		if n, _ := field(doc, "stall."+side+".during.count").(float64); n <= 0 {
			t.Errorf("stall.%s.during.count = %v: nothing measured during the stall", side, n)
		}
	}
	if n, _ := field(doc, "stall.async.control.calls.count").(float64); n <= 0 {
		t.Errorf("stall.async.control.calls.count = %v: nothing measured without the stall", n)
	}
	if r := criterionResult(doc, "zero_loss"); r != "PASS" {
		t.Errorf("criterion zero_loss: %q", r)
	}
	return stdout, doc, code
}

// TestStallScenario runs the paced stall (the default mode) with a 300 ms
// stall: both sides stalled for at least that long, every record
// persisted, the report's lines there, and async calls that started during
// the stall returned before it ended (a Record that waits for the fsync
// returns none: see TestStallCoupled), while no sync call did. Whether the
// criteria's latency bounds hold is for the bench on a quiet machine, not
// for a test under -race on a shared one.
func TestStallScenario(t *testing.T) {
	stdout, doc, code := stallRun(t)
	if code != exitOK {
		t.Errorf("exit status %d without -strict:\n%s", code, stdout)
	}
	for _, s := range []string{
		"7. Disk stall: one fsync blocked for 300ms", "paced (open loop): async 20,000 calls/s in total, sync 100 calls/s",
		"calls starting during the stall", "whole run, every call timed",
		"async, no stall (control)", "verdict: async p99.9 during the stall",
		"async Flush after the stall", "stall, sync:", "stall, async:",
		"5. Disk Stall (300.000 ms fsync;", "Async without the stall (control): p99.9", "Verdict: ",
		"the fsync stall adds nothing to async Record p99.9", "no async Record waits out the fsync stall",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	for _, s := range []string{"+ calls kept from starting (correction)", "SELF-CHECK"} {
		if strings.Contains(stdout, s) {
			t.Errorf("paced stall prints %q:\n%s", s, stdout)
		}
	}
	if field(doc, "stall.corrected") != false || field(doc, "stall.coupled") != false {
		t.Errorf("stall.corrected = %v, stall.coupled = %v, want false, false", field(doc, "stall.corrected"), field(doc, "stall.coupled"))
	}
	if r, _ := field(doc, "stall.rate").(float64); r != 20000 {
		t.Errorf("stall.rate = %v, want 20000", r)
	}
	if n, _ := field(doc, "stall.async.returned_during").(float64); !(n > 0) {
		t.Errorf("stall.async.returned_during = %v: no async call returned while the fsync blocked", n)
	}
	// The sync side is the baseline: its calls wait for the fsync.
	if n, ok := field(doc, "stall.sync.returned_during").(float64); !ok || n != 0 {
		t.Errorf("stall.sync.returned_during = %v, want 0", field(doc, "stall.sync.returned_during"))
	}
	if p, _ := field(doc, "stall.sync.during.max_ms").(float64); !(p >= 150) {
		t.Errorf("stall.sync.during.max_ms = %v: the sync side did not wait for a 300 ms stall", p)
	}
	for _, c := range []string{"stall_isolation", "stall_no_wait"} {
		if r := criterionResult(doc, c); r != "PASS" && r != "FAIL" {
			t.Errorf("criterion %s: %q", c, r)
		}
	}
}

// TestStallSlowDisk runs the stall on a disk whose stalled fsync then takes
// 2 s more to sync for real (as a shared CI disk can): the sync side's
// producer, blocked behind it, still issues the calls paced during the
// stall, and they are measured.
func TestStallSlowDisk(t *testing.T) {
	stallSlowDisk = 2 * time.Second
	defer func() { stallSlowDisk = 0 }()
	_, doc, _ := stallRun(t)
	if p, _ := field(doc, "stall.sync.during.max_ms").(float64); !(p >= 150) {
		t.Errorf("stall.sync.during.max_ms = %v: the sync side did not wait for the stall", p)
	}
}

// TestStallCoupled is the self-check of the stall verdict: with
// -stall-coupled the async Record waits while the stalled fsync blocks (a
// tracker not isolated from the disk), and both stall criteria fail, which
// -strict turns into exit status 1.
func TestStallCoupled(t *testing.T) {
	stdout, doc, code := stallRun(t, "-stall-coupled", "-strict")
	if code != exitFail {
		t.Errorf("exit status %d with -strict, want %d", code, exitFail)
	}
	for _, s := range []string{"SELF-CHECK (-stall-coupled)", "Verdict: NOT isolated", "FAIL (-strict)"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if field(doc, "stall.coupled") != true {
		t.Errorf("stall.coupled = %v", field(doc, "stall.coupled"))
	}
	if p, _ := field(doc, "stall.async.during.p999_ms").(float64); !(p >= 150) {
		t.Errorf("stall.async.during.p999_ms = %v: the coupled Record did not wait for a 300 ms stall", p)
	}
	if n, ok := field(doc, "stall.async.returned_during").(float64); !ok || n != 0 {
		t.Errorf("stall.async.returned_during = %v, want 0: a coupled Record returned while the fsync blocked", field(doc, "stall.async.returned_during"))
	}
	for _, c := range []string{"stall_isolation", "stall_no_wait"} {
		if r := criterionResult(doc, c); r != "FAIL" {
			t.Errorf("criterion %s: %q, want FAIL for a Record that waits for the disk", c, r)
		}
	}
}

// TestStallClosedMode runs the closed loop with the coordinated-omission
// correction, the figures the paced mode replaced as the default: the
// correction's lines and counts are there.
func TestStallClosedMode(t *testing.T) {
	stdout, doc, _ := stallRun(t, "-stall-mode", "closed", "-producers", "8")
	for _, s := range []string{
		"8 producers per side, closed loop (coordinated-omission corrected)",
		"+ calls kept from starting (correction)", "p99.9 of the timed calls only",
		"5. Disk Stall (300.000 ms fsync; 8 producers, closed loop, corrected)",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if field(doc, "stall.corrected") != true {
		t.Errorf("stall.corrected = %v", field(doc, "stall.corrected"))
	}
	if c, _ := field(doc, "stall.capacity").(float64); c != closedStallCapacity {
		t.Errorf("stall.capacity = %v, want %v", c, closedStallCapacity)
	}
	for _, side := range []string{"sync", "async"} {
		if _, ok := field(doc, "stall."+side+".omitted_calls").(float64); !ok {
			t.Errorf("stall.%s.omitted_calls missing", side)
		}
	}
	for _, c := range []string{"stall_isolation", "stall_no_wait"} {
		if r := criterionResult(doc, c); r != "PASS" && r != "FAIL" {
			t.Errorf("criterion %s: %q", c, r)
		}
	}
}

// TestStallVerdict checks the stall verdict's bounds on made-up figures.
func TestStallVerdict(t *testing.T) {
	mk := func(p999, max, ctlP999, ctlMax float64) *stallResult {
		r := &stallResult{StallMS: 500}
		r.Async.During = latencyStats{Count: 1000, P999MS: p999, MaxMS: max}
		r.Async.Control = &stallControl{Calls: latencyStats{Count: 1000, P999MS: ctlP999, MaxMS: ctlMax}}
		return r
	}
	for _, tc := range []struct {
		r              *stallResult
		p999OK, maxOK  bool
		p999Bound, max float64
	}{
		{mk(0.9, 1.3, 2, 2), true, true, 29, 252},
		{mk(29, 252, 2, 2), true, true, 29, 252},           // on the bounds
		{mk(29.001, 252.001, 2, 2), false, false, 29, 252}, // just over
		{mk(499, 500.5, 2, 2), false, false, 29, 252},      // waited for the stall
		{mk(200, 240, 160, 215), true, true, 345, 465},     // closed loop: the machine's tail, both windows
		{mk(24, 260, 2, 2), true, false, 29, 252},          // one call waited
	} {
		v := stallVerdictOf(tc.r)
		tc.r.Verdict = v
		if v == nil || v.P999OK != tc.p999OK || v.MaxOK != tc.maxOK ||
			math.Abs(v.P999BoundMS-tc.p999Bound) > 1e-9 || math.Abs(v.MaxBoundMS-tc.max) > 1e-9 {
			t.Errorf("%+v: verdict %+v", tc.r.Async.During, v)
		}
		cs := stallCriteria(tc.r)
		if len(cs) != 2 || (cs[0].Result == "PASS") != tc.p999OK || (cs[1].Result == "PASS") != tc.maxOK {
			t.Errorf("%+v: criteria %+v", tc.r.Async.During, cs)
		}
	}
	none := mk(1, 1, 1, 1)
	none.Async.Control.Calls.Count = 0
	if v := stallVerdictOf(none); v != nil {
		t.Errorf("no control calls: verdict %+v", v)
	}
	none.Verdict = stallVerdictOf(none)
	for _, c := range stallCriteria(none) {
		if c.Result != "FAIL" {
			t.Errorf("no control calls: %s %s", c.Name, c.Result)
		}
	}
	for _, c := range stallCriteria(nil) {
		if c.Result != "SKIP" {
			t.Errorf("not run: %s %s", c.Name, c.Result)
		}
	}
}
