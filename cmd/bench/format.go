package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

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

// mib formats bytes in MiB.
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// ratio is a/b, or 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}
