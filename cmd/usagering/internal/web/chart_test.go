package web

import (
	"testing"
	"time"

	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ v, top, step float64 }{
		{0, 1, 0.25}, {3.97, 4, 1}, {0.0123, 0.014, 0.0035}, {60.2, 80, 20}, {1, 1, 0.25},
	} {
		top, step := niceScale(c.v)
		if top < c.v || step <= 0 || top/step > 5 {
			t.Errorf("niceScale(%v) = %v, %v: top below the value or too many ticks", c.v, top, step)
		}
	}
	if got := tickLabel(0.5, 0.25); got != "$0.50" {
		t.Errorf("tickLabel(0.5, 0.25) = %s", got)
	}
	if got := tickLabel(20, 20); got != "$20" {
		t.Errorf("tickLabel(20, 20) = %s", got)
	}
}

// The chart's segments of a day add up to its rows exactly; models beyond
// the eighth are "other models"; unattributed rows are their own segment.
func TestBuildChartGroupsModels(t *testing.T) {
	day := "2026-11-26"
	res := &source.Result{}
	for i := range 10 {
		res.Rows = append(res.Rows, source.Row{Day: day, Model: string(rune('a' + i)), Totals: usagefile.Totals{Calls: 1, Cost: usd.FromNanos(int64(100 - i))}})
	}
	res.Rows = append(res.Rows, source.Row{Day: day, Unattributed: true, Totals: usagefile.Totals{Calls: 1, Cost: usd.FromNanos(7)}})
	c := buildChart(res, "2026-11-25", 2, time.UTC)
	if len(c.Bars) != 2 || len(c.Bars[0].Segments) != 0 {
		t.Fatalf("bars %+v", c.Bars)
	}
	b := c.Bars[1]
	if len(b.Segments) != 10 || b.Segments[8].Name != otherModelsName || b.Segments[9].Name != unattributedName {
		t.Fatalf("segments %+v", b.Segments)
	}
	if b.Segments[8].Cost.Exact != usd.FromNanos(92+91).String() || b.Total.Exact != usd.FromNanos(955+7).String() {
		t.Errorf("other %s, total %s", b.Segments[8].Cost.Exact, b.Total.Exact)
	}
}
