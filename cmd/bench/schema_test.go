package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// originalSchema is every key path of the original suite's
// benchmark_results.json with its JSON type: "object"; "integer", a number
// written without fraction or exponent (the original's counts); "number",
// any number (its milliseconds, rates and ratios, floats in Python). Ours
// must hold each of them, with the same type, so that scripts reading the
// original's file read ours.
var originalSchema = map[string]string{
	"latency":                            "object",
	"latency.num_calls":                  "integer",
	"latency.improvement":                "object",
	"latency.improvement.speedup_mean":   "number",
	"latency.improvement.speedup_median": "number",
	"latency.improvement.speedup_p95":    "number",

	"streaming":                               "object",
	"streaming.num_chunks":                    "integer",
	"streaming.improvement":                   "object",
	"streaming.improvement.speedup_total":     "number",
	"streaming.improvement.speedup_chunk":     "number",
	"streaming.improvement.stutter_reduction": "number",

	"throughput":                                 "object",
	"throughput.duration_seconds":                "number",
	"throughput.improvement":                     "object",
	"throughput.improvement.throughput_increase": "number",
	"throughput.improvement.additional_calls":    "integer",

	"concurrent":                           "object",
	"concurrent.num_threads":               "integer",
	"concurrent.calls_per_thread":          "integer",
	"concurrent.total_calls":               "integer",
	"concurrent.improvement":               "object",
	"concurrent.improvement.speedup_total": "number",
	"concurrent.improvement.speedup_mean":  "number",
}

func init() {
	for _, side := range []string{"sync", "async"} {
		originalSchema["latency."+side] = "object"
		for _, k := range []string{"mean_ms", "median_ms", "min_ms", "max_ms", "stddev_ms", "p95_ms", "p99_ms"} {
			originalSchema["latency."+side+"."+k] = "number"
		}
		originalSchema["streaming."+side] = "object"
		for _, k := range []string{"total_ms", "mean_chunk_ms", "max_stutter_ms"} {
			originalSchema["streaming."+side+"."+k] = "number"
		}
		originalSchema["streaming."+side+".stutters_over_10ms"] = "integer"
		originalSchema["throughput."+side] = "object"
		originalSchema["throughput."+side+".total_calls"] = "integer"
		originalSchema["throughput."+side+".calls_per_second"] = "number"
		originalSchema["concurrent."+side] = "object"
		for _, k := range []string{"total_time_ms", "mean_call_ms", "max_call_ms"} {
			originalSchema["concurrent."+side+"."+k] = "number"
		}
	}
}

// jsonType names v's type as originalSchema does (a json.Number is an
// "integer" if it parses as one), or the Go type of anything else.
func jsonType(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case nil:
		return "null"
	}
	return "other"
}

// readResultsNumbers decodes dir's benchmark_results.json keeping numbers
// as written (json.Number).
func readResultsNumbers(t *testing.T, dir string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "benchmark_results.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestResultsOriginalSchema pins benchmark_results.json to the original
// suite's schema: every key path of the original's file, with its type,
// in a -quick run; and the added keys mean what the original's do.
func TestResultsOriginalSchema(t *testing.T) {
	dir, _ := quickRun(t)
	doc := readResultsNumbers(t, dir)
	paths := make([]string, 0, len(originalSchema))
	for p := range originalSchema {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		want := originalSchema[p]
		v := field(doc, p)
		got := jsonType(v)
		if want == "number" && got == "integer" {
			got = "number" // a float that happens to be whole: Go writes 2, Python 2.0; both are numbers
		}
		if got != want {
			t.Errorf("%s: %s (%v), want %s", p, got, v, want)
		}
	}

	// num is the number at p, NaN if there is none (which fails every
	// comparison below).
	num := func(p string) float64 {
		n, _ := field(doc, p).(json.Number)
		f, err := n.Float64()
		if err != nil {
			return math.NaN()
		}
		return f
	}
	near := func(name string, got, want float64) {
		if !(math.Abs(got-want) <= 1e-9*math.Max(1, math.Abs(want))) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The original's meanings, from the figures beside them.
	for _, side := range []string{"sync", "async"} {
		near("latency."+side+".stddev_ms", num("latency."+side+".stddev_ms"), num("latency."+side+".stdev_ms"))
		near("concurrent."+side+".total_time_ms", num("concurrent."+side+".total_time_ms"), num("concurrent."+side+".total_ms"))
		near("concurrent."+side+".mean_call_ms", num("concurrent."+side+".mean_call_ms"), num("concurrent."+side+".mean_ms"))
		near("concurrent."+side+".max_call_ms", num("concurrent."+side+".max_call_ms"), num("concurrent."+side+".max_ms"))
		if m, max := num("streaming."+side+".mean_chunk_ms"), num("streaming."+side+".max_stutter_ms"); !(m > 0 && m <= max) {
			t.Errorf("streaming.%s.mean_chunk_ms = %v, want in (0, max_stutter_ms %v]", side, m, max)
		}
	}
	near("streaming.improvement.stutter_reduction", num("streaming.improvement.stutter_reduction"),
		num("streaming.sync.max_stutter_ms")/num("streaming.async.max_stutter_ms"))
	near("streaming.improvement.speedup_chunk", num("streaming.improvement.speedup_chunk"),
		num("streaming.sync.mean_chunk_ms")/num("streaming.async.mean_chunk_ms"))
	near("throughput.improvement.additional_calls", num("throughput.improvement.additional_calls"),
		num("throughput.async.total_calls")-num("throughput.sync.total_calls"))
	near("concurrent.total_calls", num("concurrent.total_calls"), num("concurrent.num_threads")*num("concurrent.calls_per_thread"))
	near("concurrent.sync.total_calls", num("concurrent.sync.total_calls"), num("concurrent.total_calls"))
	near("latency.num_calls", num("latency.num_calls"), num("latency.async.count"))
	near("streaming.num_chunks", num("streaming.num_chunks"), num("streaming.async.chunks"))
	if d := num("throughput.duration_seconds"); !(d > 0 && d <= num("throughput.async.duration_s")) {
		t.Errorf("throughput.duration_seconds = %v, want the window asked for, in (0, %v]", d, num("throughput.async.duration_s"))
	}
}
