package harness

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// HgrmTicksPerHalfDistance is the percentile resolution of WriteHgrm: rows
// per halving of the distance to 100%, as in HdrHistogram's
// HistogramLogProcessor.
const HgrmTicksPerHalfDistance = 5

// HgrmHeader is the column header line of the .hgrm format (without its
// newline).
const HgrmHeader = "       Value     Percentile TotalCount 1/(1-Percentile)"

// WriteHgrm writes h's percentile distribution in HdrHistogram's standard
// text format (.hgrm), as Java's Histogram.outputPercentileDistribution(out,
// 5, unitRatio) does: the header, one row per percentile step ("Value
// Percentile TotalCount 1/(1-Percentile)", space separated; the final 100%
// row has no last column) and the three "#[...]" footer lines (mean and
// standard deviation, max and total count, buckets and sub-buckets).
//
// Values are divided by unitRatio: 1 writes nanoseconds, 1000 microseconds,
// 1e6 milliseconds. The output is what the HdrHistogram plotter
// (hdrhistogram.github.io/HdrHistogram/plotFiles.html) reads; ParseHgrm reads
// it back. An empty histogram gives the header and footer only.
func (h *Histogram) WriteHgrm(w io.Writer, unitRatio float64) error {
	if !(unitRatio > 0) || math.IsInf(unitRatio, 0) {
		return fmt.Errorf("harness: WriteHgrm: unit ratio must be positive and finite, got %v", unitRatio)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	if h.Count() > 0 {
		for _, b := range h.h.CumulativeDistributionWithTicks(HgrmTicksPerHalfDistance) {
			v := float64(b.ValueAt) / unitRatio
			if b.Quantile != 100 {
				p := b.Quantile / 100
				fmt.Fprintf(bw, "%12.3f %2.12f %10d %14.2f\n", v, p, b.Count, 1/(1-p))
			} else {
				fmt.Fprintf(bw, "%12.3f %2.12f %10d\n", v, 1.0, b.Count)
			}
		}
	}
	buckets, subBuckets := geometry()
	fmt.Fprintf(bw, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", h.h.Mean()/unitRatio, h.h.StdDev()/unitRatio)
	fmt.Fprintf(bw, "#[Max     = %12.3f, Total count    = %12d]\n", float64(h.h.Max())/unitRatio, h.Count())
	fmt.Fprintf(bw, "#[Buckets = %12d, SubBuckets     = %12d]\n", buckets, subBuckets)
	return bw.Flush()
}

// HgrmRow is one row of a .hgrm percentile distribution.
type HgrmRow struct {
	Value      float64 // in the file's unit (nanoseconds divided by the writer's unitRatio)
	Percentile float64 // 0..1
	TotalCount int64   // values recorded at or below Value
}

// ParseHgrm reads the rows of a .hgrm percentile distribution: the output of
// WriteHgrm, of Java's outputPercentileDistribution or of hdrhistogram-go's
// PercentilesPrint. Blank lines, the header and "#" lines are skipped; every
// other line must hold 3 or 4 whitespace-separated numbers (value,
// percentile, total count and, except on the final row, 1/(1-percentile)).
func ParseHgrm(r io.Reader) ([]HgrmRow, error) {
	var rows []HgrmRow
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		f := strings.Fields(text)
		if f[0] == "Value" {
			continue
		}
		if len(f) != 3 && len(f) != 4 {
			return nil, fmt.Errorf("harness: hgrm line %d: want 3 or 4 fields, got %d: %q", line, len(f), text)
		}
		var row HgrmRow
		var err error
		if row.Value, err = strconv.ParseFloat(f[0], 64); err != nil {
			return nil, fmt.Errorf("harness: hgrm line %d: value: %w", line, err)
		}
		if row.Percentile, err = strconv.ParseFloat(f[1], 64); err != nil {
			return nil, fmt.Errorf("harness: hgrm line %d: percentile: %w", line, err)
		}
		if row.TotalCount, err = strconv.ParseInt(f[2], 10, 64); err != nil {
			return nil, fmt.Errorf("harness: hgrm line %d: total count: %w", line, err)
		}
		if len(f) == 4 {
			if _, err = strconv.ParseFloat(f[3], 64); err != nil {
				return nil, fmt.Errorf("harness: hgrm line %d: 1/(1-percentile): %w", line, err)
			}
		}
		if math.IsNaN(row.Value) || math.IsNaN(row.Percentile) || row.Percentile < 0 || row.Percentile > 1 {
			return nil, fmt.Errorf("harness: hgrm line %d: value or percentile out of range: %q", line, text)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("harness: reading hgrm: %w", err)
	}
	return rows, nil
}
