package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/usagering/usagering/harness"
)

// plotSeries are the histograms latency.svg draws, if they were measured.
var plotSeries = []struct{ hist, label string }{
	{"latency_sync", "sync Record"},
	{"latency_async", "async Record"},
	{"queues_ring_p16", "ring push, 16 producers"},
	{"queues_chan_p16", "chan push, 16 producers"},
	{"queues_mutex_p16", "mutex push, 16 producers"},
}

// maxNines is the highest percentile the plot's axis goes to: 99.9999%.
const maxNines = 6

// plot draws latency by percentile on HdrHistogram's log scale (x:
// log10(1/(1-p)), so 90%, 99%, 99.9% ... are equally spaced; y: µs, log
// scale) into latency.svg and latency.png. Without any of the histograms
// it draws nothing and reports false.
func (b *bench) plot() (bool, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency by percentile (%s, GOMAXPROCS %d, fsync %s)", b.env.CPU, b.env.GOMAXPROCS, onOff(b.env.Fsync))
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.TickerFunc(latencyTicks)
	p.X.Tick.Marker = plot.TickerFunc(percentileTicks)
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	xMax, yMin, yMax, n := 0.0, math.Inf(1), 0.0, 0
	for i, s := range plotSeries {
		h := b.hist(s.hist)
		if h == nil || h.Count() == 0 {
			continue
		}
		pts, x := percentileCurve(h)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return false, err
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1.5)
		l.Dashes = plotutil.Dashes(i)
		p.Add(l)
		sum := h.Summary()
		p.Legend.Add(fmt.Sprintf("%s (n=%s, p50 %s, p99 %s, max %s)", s.label, count(sum.Count),
			fmtNs(float64(sum.P50)), fmtNs(float64(sum.P99)), fmtNs(float64(sum.Max))), l)
		xMax = max(xMax, x)
		for _, pt := range pts {
			yMin, yMax = min(yMin, pt.Y), max(yMax, pt.Y)
		}
		n++
	}
	if n == 0 {
		return false, nil
	}
	p.X.Min, p.X.Max = 0, max(3, math.Ceil(xMax))
	// Headroom above the curves for the legend (top left): a third more
	// decades than the data span, at least one.
	decades := math.Log10(yMax / yMin)
	p.Y.Min, p.Y.Max = yMin, yMax*math.Pow(10, max(1, decades/3))
	for _, name := range []string{"latency.svg", "latency.png"} {
		if err := p.Save(10*vg.Inch, 6*vg.Inch, filepath.Join(b.cfg.out, name)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// percentileCurve returns h's latency (µs) against log10(1/(1-p)) from
// p = 0 up to the last percentile the count resolves (1 - 1/count, at most
// maxNines nines), and that last x.
func percentileCurve(h *harness.Histogram) (plotter.XYs, float64) {
	xEnd := min(math.Log10(float64(h.Count())), maxNines)
	const steps = 600
	pts := make(plotter.XYs, 0, steps+1)
	for i := 0; i <= steps; i++ {
		x := xEnd * float64(i) / steps
		pct := 100 * (1 - math.Pow(10, -x))
		v := float64(h.ValueAtPercentile(pct)) / 1000
		pts = append(pts, plotter.XY{X: x, Y: max(v, 0.001)}) // 1 ns floor for the log scale
	}
	return pts, xEnd
}

// percentileTicks labels x = log10(1/(1-p)) with the percentile: 0, 90%,
// 99%, 99.9% ...
func percentileTicks(lo, hi float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	var ticks []plot.Tick
	for i, l := range labels {
		if x := float64(i); x >= lo-1e-9 && x <= hi+1e-9 {
			ticks = append(ticks, plot.Tick{Value: x, Label: l})
		}
	}
	return ticks
}

// latencyTicks are log ticks over values in µs, labelled with units:
// 100 ns, 1 µs, 10 µs ... 1 s.
func latencyTicks(lo, hi float64) []plot.Tick {
	ticks := plot.LogTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = durationLabel(t.Value)
		}
	}
	return ticks
}

// durationLabel formats a power of ten of µs: "10 ns", "1 µs", "100 ms".
func durationLabel(us float64) string {
	for _, u := range []struct {
		name  string
		scale float64
	}{{"s", 1e6}, {"ms", 1e3}, {"µs", 1}} {
		if us >= u.scale*0.999 {
			return strconv.FormatFloat(us/u.scale, 'f', -1, 64) + " " + u.name
		}
	}
	return strconv.FormatFloat(math.Round(us*1e3*1e6)/1e6, 'f', -1, 64) + " ns"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
