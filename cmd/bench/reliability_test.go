package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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

// TestStallScenario runs the stall scenario with a 300 ms stall: both
// sides stalled for at least that long, every record persisted, the
// report's lines there. The latency figures are not asserted.
func TestStallScenario(t *testing.T) {
	stdout, doc := runScenario(t, "-scenarios", "stall", "-stall", "300ms", "-producers", "8")
	for _, s := range []string{
		"7. Disk stall: one fsync blocked for 300ms", "calls starting during the stall",
		"+ calls kept from starting (correction)", "p99.9 of the timed calls only", "whole run, every call timed",
		"async, no stall (control)", "the fsync stall adds nothing to async p99.9",
		"async Flush after the stall", "stall, sync:", "stall, async:",
		"5. Disk Stall (300.000 ms fsync, 8 producers)", "async Record p99.9 during an fsync stall < 100 µs",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, stdout)
		}
	}
	if n := strings.Count(stdout, "honesty check: recorded"); n != 2 {
		t.Errorf("%d honesty checks, want 2", n)
	}
	for _, side := range []string{"sync", "async"} {
		if w, _ := field(doc, "stall."+side+".window_ms").(float64); w < 300 {
			t.Errorf("stall.%s.window_ms = %v, want >= 300", side, w)
		}
		total, _ := field(doc, "stall."+side+".total_calls").(float64)
		persisted, _ := field(doc, "stall."+side+".persisted_calls").(float64)
		if total <= 0 || persisted != total {
			t.Errorf("stall.%s: %v calls recorded, %v persisted", side, total, persisted)
		}
	}
	// A producer calls the async Record every few µs at most, so some of
	// its calls (timed, or kept from starting) fall in a 300 ms window.
	if n, _ := field(doc, "stall.async.during.count").(float64); n <= 0 {
		t.Errorf("stall.async.during.count = %v: nothing measured during the stall", n)
	}
	if n, _ := field(doc, "stall.async.control.calls.count").(float64); n <= 0 {
		t.Errorf("stall.async.control.calls.count = %v: nothing measured without the stall", n)
	}
	for _, c := range []string{"stall_p999", "stall_isolation"} {
		if r := criterionResult(doc, c); r != "PASS" && r != "FAIL" {
			t.Errorf("criterion %s: %q", c, r)
		}
	}
	if r := criterionResult(doc, "zero_loss"); r != "PASS" {
		t.Errorf("criterion zero_loss: %q", r)
	}
}
