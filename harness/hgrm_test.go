package harness

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type footer struct {
	mean, stddev, max      float64
	total, buckets, subBkt int64
}

func parseFooter(t *testing.T, out string) footer {
	t.Helper()
	var f footer
	n := 0
	for _, line := range strings.Split(out, "\n") {
		var err error
		switch {
		case strings.HasPrefix(line, "#[Mean"):
			_, err = fmt.Sscanf(line, "#[Mean = %f, StdDeviation = %f]", &f.mean, &f.stddev)
		case strings.HasPrefix(line, "#[Max"):
			_, err = fmt.Sscanf(line, "#[Max = %f, Total count = %d]", &f.max, &f.total)
		case strings.HasPrefix(line, "#[Buckets"):
			_, err = fmt.Sscanf(line, "#[Buckets = %d, SubBuckets = %d]", &f.buckets, &f.subBkt)
		default:
			continue
		}
		if err != nil {
			t.Fatalf("footer line %q: %v", line, err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("found %d footer lines, want 3 in\n%s", n, out)
	}
	return f
}

// plotterPoints reads out as the HdrHistogram plotter (plotFiles.html,
// appendDataSeries) does: trim each line, split on runs of spaces, keep
// lines not starting with '#' that have exactly 4 fields whose first and
// fourth parse as numbers; x = 1/(1-percentile), y = value.
func plotterPoints(out string) (xs, ys []float64) {
	spaces := regexp.MustCompile(`[ ]+`)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		values := spaces.Split(line, -1)
		if line == "" || line[0] == '#' || len(values) != 4 {
			continue
		}
		y, err1 := strconv.ParseFloat(values[0], 64)
		x, err2 := strconv.ParseFloat(values[3], 64)
		if err1 == nil && err2 == nil && !math.IsNaN(x) && !math.IsNaN(y) {
			xs = append(xs, x)
			ys = append(ys, y)
		}
	}
	return xs, ys
}

func writeHgrm(t *testing.T, h *Histogram, unitRatio float64) string {
	t.Helper()
	var buf bytes.Buffer
	if err := h.WriteHgrm(&buf, unitRatio); err != nil {
		t.Fatalf("WriteHgrm(%v): %v", unitRatio, err)
	}
	return buf.String()
}

func TestHgrmRoundTrip(t *testing.T) {
	for i, d := range dists {
		t.Run(d.name, func(t *testing.T) {
			h := NewHistogram()
			for _, v := range samples(d, uint64(100+i), 100_000) {
				h.Record(v)
			}
			s := h.Summary()
			nsOut := writeHgrm(t, h, 1)
			nsRows, err := ParseHgrm(strings.NewReader(nsOut))
			if err != nil {
				t.Fatalf("ParseHgrm(ns): %v", err)
			}
			for _, unit := range []float64{1, 1000, 1e6} {
				out := writeHgrm(t, h, unit)
				lines := strings.Split(out, "\n")
				if lines[0] != HgrmHeader || lines[1] != "" {
					t.Fatalf("unit %v: output starts %q, %q; want header %q and a blank line", unit, lines[0], lines[1], HgrmHeader)
				}
				if strings.Contains(out, "\t") {
					t.Fatalf("unit %v: output contains tabs; the plotter splits on spaces only", unit)
				}
				rows, err := ParseHgrm(strings.NewReader(out))
				if err != nil {
					t.Fatalf("unit %v: ParseHgrm: %v", unit, err)
				}
				minRows := 10
				if s.Min == s.Max {
					minRows = 2 // the 0% row and the final 100% row
				}
				if len(rows) < minRows || len(rows) != len(nsRows) {
					t.Fatalf("unit %v: %d rows, %d at unit 1", unit, len(rows), len(nsRows))
				}
				for j, r := range rows {
					if j > 0 {
						p := rows[j-1]
						if r.Value < p.Value || r.Percentile < p.Percentile || r.TotalCount < p.TotalCount {
							t.Fatalf("unit %v: row %d %+v not monotonic after %+v", unit, j, r, p)
						}
					}
					// A row is reported once the count reaches its percentile.
					if float64(r.TotalCount)/float64(h.Count()) < r.Percentile-1e-9 {
						t.Fatalf("unit %v: row %d %+v: count below its percentile", unit, j, r)
					}
					// Scaling: same rows as the ns output, values divided by unit.
					n := nsRows[j]
					if r.Percentile != n.Percentile || r.TotalCount != n.TotalCount || math.Abs(r.Value*unit-n.Value) > 0.0005*unit+1e-9*n.Value {
						t.Fatalf("unit %v: row %d %+v does not scale ns row %+v", unit, j, r, n)
					}
				}
				if rows[0].Percentile != 0 {
					t.Errorf("unit %v: first row percentile %v, want 0", unit, rows[0].Percentile)
				}
				last := rows[len(rows)-1]
				if last.Percentile != 1 || last.TotalCount != h.Count() {
					t.Errorf("unit %v: last row %+v, want percentile 1 and total count %d", unit, last, h.Count())
				}
				if math.Abs(last.Value-float64(s.Max)/unit) > 0.0005 {
					t.Errorf("unit %v: last row value %v, want Max %v", unit, last.Value, float64(s.Max)/unit)
				}

				f := parseFooter(t, out)
				if f.total != h.Count() || math.Abs(f.max-float64(s.Max)/unit) > 0.0005 ||
					math.Abs(f.mean-s.Mean/unit) > 0.0005 || math.Abs(f.stddev-s.StdDev/unit) > 0.0005 {
					t.Errorf("unit %v: footer %+v does not match summary %v", unit, f, s)
				}
				if b, sb := geometry(); f.buckets != b || f.subBkt != sb {
					t.Errorf("unit %v: footer buckets %d/%d, want %d/%d", unit, f.buckets, f.subBkt, b, sb)
				}

				// What the plotter reads: every row but the final 100% one.
				xs, ys := plotterPoints(out)
				if len(xs) != len(rows)-1 {
					t.Fatalf("unit %v: plotter reads %d points, want %d", unit, len(xs), len(rows)-1)
				}
				for j := range xs {
					if want := 1 / (1 - rows[j].Percentile); math.Abs(xs[j]-want) > 0.005+1e-9*want {
						t.Fatalf("unit %v: point %d x=%v, want 1/(1-%v)=%v", unit, j, xs[j], rows[j].Percentile, want)
					}
					if ys[j] != rows[j].Value {
						t.Fatalf("unit %v: point %d y=%v, want %v", unit, j, ys[j], rows[j].Value)
					}
				}
			}
			// ns rows hold whole bucket tops.
			for j, r := range nsRows {
				v := int64(r.Value)
				if _, hi := equivRange(v); float64(v) != r.Value || hi != v {
					t.Fatalf("ns row %d value %v is not the top of a bucket", j, r.Value)
				}
			}
		})
	}
}

// WriteHgrm's rows are the library's PercentilesPrint rows (same iterator),
// printed in the Java format.
func TestHgrmMatchesLibraryPercentilesPrint(t *testing.T) {
	h := NewHistogram()
	for _, v := range samples(dists[3], 42, 50_000) {
		h.Record(v)
	}
	var lib bytes.Buffer
	if _, err := h.h.PercentilesPrint(&lib, HgrmTicksPerHalfDistance, 1000); err != nil {
		t.Fatal(err)
	}
	libRows, err := ParseHgrm(&lib)
	if err != nil {
		t.Fatalf("ParseHgrm(PercentilesPrint output): %v", err)
	}
	rows, err := ParseHgrm(strings.NewReader(writeHgrm(t, h, 1000)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(libRows) {
		t.Fatalf("%d rows, library %d", len(rows), len(libRows))
	}
	for i := range rows {
		a, b := rows[i], libRows[i]
		if a.TotalCount != b.TotalCount || math.Abs(a.Value-b.Value) > 1e-9 || math.Abs(a.Percentile-b.Percentile) > 5e-7 {
			t.Fatalf("row %d: %+v, library %+v", i, a, b)
		}
	}
}

func TestHgrmEmpty(t *testing.T) {
	out := writeHgrm(t, NewHistogram(), 1000)
	rows, err := ParseHgrm(strings.NewReader(out))
	if err != nil || len(rows) != 0 {
		t.Fatalf("empty histogram: rows %v, err %v", rows, err)
	}
	if f := parseFooter(t, out); f.total != 0 || f.max != 0 || f.mean != 0 {
		t.Fatalf("empty footer %+v", f)
	}
	if !strings.HasPrefix(out, HgrmHeader+"\n\n#[Mean") {
		t.Fatalf("empty output:\n%s", out)
	}
}

func TestWriteHgrmBadUnit(t *testing.T) {
	h := NewHistogram()
	h.Record(5)
	for _, u := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		var buf bytes.Buffer
		if err := h.WriteHgrm(&buf, u); err == nil {
			t.Errorf("WriteHgrm(unit %v) succeeded", u)
		}
		if buf.Len() != 0 {
			t.Errorf("WriteHgrm(unit %v) wrote %q", u, buf.String())
		}
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteHgrmPropagatesWriteError(t *testing.T) {
	h := NewHistogram()
	for v := range int64(100_000) {
		h.Record(v)
	}
	boom := errors.New("boom")
	if err := h.WriteHgrm(failingWriter{boom}, 1); !errors.Is(err, boom) {
		t.Fatalf("WriteHgrm error = %v, want %v", err, boom)
	}
}

func TestParseHgrmJavaSample(t *testing.T) {
	// Java's outputPercentileDistribution layout, with extra spacing and a
	// CRLF line, as found in files written elsewhere.
	in := "       Value     Percentile TotalCount 1/(1-Percentile)\n\n" +
		"       0.016 0.000000000000          1           1.00\r\n" +
		"      11.167 0.500000000000     237581           2.00\n" +
		"     179.967 0.987500000000     469213          80.00\n" +
		"     500.000 1.000000000000     475000\n" +
		"#[Mean    =       20.000, StdDeviation   =       40.000]\n" +
		"#[Max     =      500.000, Total count    =       475000]\n" +
		"#[Buckets =           22, SubBuckets     =         2048]\n"
	rows, err := ParseHgrm(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []HgrmRow{{0.016, 0, 1}, {11.167, 0.5, 237581}, {179.967, 0.9875, 469213}, {500, 1, 475000}}
	if len(rows) != len(want) {
		t.Fatalf("rows %v, want %v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Fatalf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}

func TestParseHgrmErrors(t *testing.T) {
	for _, c := range []struct{ in, line string }{
		{HgrmHeader + "\n\n1.0 0.5\n", "line 3"},
		{"1.0 0.5 3 2.00 7\n", "line 1"},
		{"abc 0.5 3 2.00\n", "line 1"},
		{"1.0 0.5 3 2.00\n1.0 x 3 2.00\n", "line 2"},
		{"1.0 0.5 3.5 2.00\n", "line 1"},
		{"1.0 0.5 3 zz\n", "line 1"},
		{"1.0 1.5 3 2.00\n", "line 1"},
		{"1.0 -0.1 3 2.00\n", "line 1"},
		{"NaN 0.5 3 2.00\n", "line 1"},
	} {
		rows, err := ParseHgrm(strings.NewReader(c.in))
		if err == nil {
			t.Errorf("ParseHgrm(%q) = %v, want an error", c.in, rows)
			continue
		}
		if !strings.Contains(err.Error(), c.line) {
			t.Errorf("ParseHgrm(%q) error %q does not name %s", c.in, err, c.line)
		}
	}
}
