package web

import (
	"bytes"
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"log"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// Options configure Handler.
type Options struct {
	// Now is the clock that says which day is today; time.Now if nil.
	Now func() time.Time
	// Refresh is how often the dashboard reloads itself; 30 s if zero.
	Refresh time.Duration
	// MaxModels is how many models /metrics gives series of their own
	// (the rest are summed under model="other"); 50 if zero, none if
	// negative.
	MaxModels int
	// Days is how many days the dashboard's chart shows; 30 if zero.
	Days int
	// Log receives request errors; log.Default() if nil.
	Log *log.Logger
}

// Handler serves the dashboard on / and the metrics on /metrics.
func Handler(src source.Source, o Options) http.Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	switch {
	case o.MaxModels == 0:
		o.MaxModels = 50
	case o.MaxModels < 0:
		o.MaxModels = 0
	}
	if o.Days <= 0 {
		o.Days = 30
	}
	if o.Log == nil {
		o.Log = log.Default()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newExporter(src, o.Now, o.MaxModels))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: o.Log, ErrorHandling: promhttp.HTTPErrorOnError}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		page, err := render(r, src, o)
		if err != nil {
			o.Log.Printf("dashboard: %v", err)
			http.Error(w, "dashboard: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(page)
	})
	return mux
}

//go:embed dashboard.html
var dashboardHTML string

var page = template.Must(template.New("dashboard").Parse(dashboardHTML))

// money is an amount as the page shows it (rounded) and as it is (exact,
// in a data-exact attribute).
type money struct{ Display, Exact string }

func dollars(a usd.Amount) money { return money{figures.Dollars(a), a.String()} }

// dashboardData is what the template renders.
type dashboardData struct {
	Source, Generated, Today string
	Refresh                  int
	TodayCost                money
	TodayCalls, TodayTokens  string
	TodayCache               string
	PeriodDays               int
	PeriodCost               money
	PeriodCalls              string
	PeriodCache              string
	Chart                    chart
	Top                      []topModel
	TopTotal                 money
	Health                   source.Health
	Notes                    []string
}

type topModel struct {
	Rank       int
	Model      string
	Calls      string
	Cost       money
	Share      string  // of the all-time cost
	ShareWidth float64 // of the 100 px bar
	Cache      string
}

// cache is a totals' cache-read share for the page.
func cache(t usagefile.Totals) string {
	if s, ok := figures.CacheReadShare(t); ok {
		return figures.Percent(s)
	}
	return "—"
}

// render builds the page from three reports: today's total, the chart's
// days by day and model, and all time by model.
func render(r *http.Request, src source.Source, o Options) ([]byte, error) {
	ctx := r.Context()
	now := o.Now()
	today := now.Format(usagefile.DayLayout)
	y, m, d := now.Date()
	first := time.Date(y, m, d-o.Days+1, 12, 0, 0, 0, now.Location()).Format(usagefile.DayLayout)

	todayRes, err := src.Report(ctx, source.Query{From: today, To: today})
	if err != nil {
		return nil, err
	}
	days, err := src.Report(ctx, source.Query{From: first, To: today, By: []source.Dim{source.Day, source.Model}})
	if err != nil {
		return nil, err
	}
	models, err := src.Report(ctx, source.Query{By: []source.Dim{source.Model}})
	if err != nil {
		return nil, err
	}
	data := dashboardData{
		Source: src.Name(), Generated: now.Format(time.DateTime), Today: today, Refresh: int(o.Refresh / time.Second),
		TodayCost: dollars(todayRes.Total.Cost), TodayCalls: figures.Int(todayRes.Total.Calls),
		TodayTokens: figures.Int(todayRes.Total.Tokens), TodayCache: cache(todayRes.Total),
		PeriodDays: o.Days, PeriodCost: dollars(days.Total.Cost), PeriodCalls: figures.Int(days.Total.Calls),
		PeriodCache: cache(days.Total),
		Chart:       buildChart(days, first, o.Days, now.Location()),
		Health:      src.Health(ctx),
		TopTotal:    dollars(models.Total.Cost),
		Notes:       days.Notes,
	}
	top := slices.Clone(models.Rows)
	slices.SortFunc(top, func(a, b source.Row) int {
		return cmp.Or(b.Cost.Cmp(a.Cost), cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Model, b.Model))
	})
	total := models.Total.Cost.Float64()
	for i, row := range top[:min(len(top), 10)] {
		share := 0.0
		if total > 0 {
			share = row.Cost.Float64() / total
		}
		data.Top = append(data.Top, topModel{Rank: i + 1, Model: row.Model, Calls: figures.Int(row.Calls),
			Cost: dollars(row.Cost), Share: figures.Percent(share), ShareWidth: math.Round(share*1000) / 10, Cache: cache(row.Totals)})
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	return buf.Bytes(), nil
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH         = 960.0, 320.0
	padL, padR, padT, padB = 70.0, 10.0, 12.0, 46.0
	plotW, plotH           = chartW - padL - padR, chartH - padT - padB
	unattributedName       = "not in the kept sessions"
	otherModelsName        = "other models"
	maxColoredModels       = 8
	unattributedColor      = "#bab0ac"
	otherColor             = "#9c755f"
)

var palette = [maxColoredModels]string{"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"}

type chart struct {
	W, H, PlotLeft, PlotRight, PlotTop, PlotBottom float64
	Bars                                           []bar
	Ticks                                          []tick
	Legend                                         []legendItem
	Empty                                          bool
}

type bar struct {
	Day, Label string
	ShowLabel  bool
	Total      money
	X, LabelX  float64
	Width      float64
	Segments   []segment
}

type segment struct {
	Name, Color string
	Cost        money
	Y, Height   float64
}

type tick struct {
	Y     float64
	Label string
}

type legendItem struct{ Name, Color string }

// buildChart lays out one bar per day from first, n days, each stacked by
// model: the chart's eight costliest models of the period in colour, the
// rest as "other models", and the part of a day the kept sessions do not
// cover (a file's) in grey. Segments add up exactly to the day's total
// (data-exact attributes).
func buildChart(res *source.Result, first string, n int, loc *time.Location) chart {
	c := chart{W: chartW, H: chartH, PlotLeft: padL, PlotRight: chartW - padR, PlotTop: padT, PlotBottom: chartH - padB}
	// Rank models by their cost over the period.
	byModel := map[string]usd.Amount{}
	for _, r := range res.Rows {
		if !r.Unattributed {
			byModel[r.Model] = byModel[r.Model].Add(r.Cost)
		}
	}
	ranked := make([]string, 0, len(byModel))
	for m := range byModel {
		ranked = append(ranked, m)
	}
	slices.SortFunc(ranked, func(a, b string) int { return cmp.Or(byModel[b].Cmp(byModel[a]), cmp.Compare(a, b)) })
	color := map[string]string{}
	for i, m := range ranked {
		if i < maxColoredModels {
			color[m] = palette[i]
			c.Legend = append(c.Legend, legendItem{m, palette[i]})
		}
	}
	if len(ranked) > maxColoredModels {
		c.Legend = append(c.Legend, legendItem{otherModelsName, otherColor})
	}
	// Each day's segments, exact.
	type seg struct {
		name, color string
		cost        usd.Amount
	}
	perDay := map[string][]seg{}
	hasUnattributed := false
	for _, r := range res.Rows {
		s := seg{name: r.Model, color: color[r.Model], cost: r.Cost}
		switch {
		case r.Unattributed:
			s.name, s.color, hasUnattributed = unattributedName, unattributedColor, true
		case s.color == "":
			s.name, s.color = otherModelsName, otherColor
		}
		segs := perDay[r.Day]
		if i := slices.IndexFunc(segs, func(x seg) bool { return x.name == s.name }); i >= 0 {
			segs[i].cost = segs[i].cost.Add(s.cost)
		} else {
			segs = append(segs, s)
		}
		perDay[r.Day] = segs
	}
	if hasUnattributed {
		c.Legend = append(c.Legend, legendItem{unattributedName, unattributedColor})
	}
	// The scale: a round maximum above the costliest day.
	maxDay := 0.0
	start, _ := time.ParseInLocation(usagefile.DayLayout, first, loc)
	dayKeys := make([]string, n)
	totals := make([]usd.Amount, n)
	for i := range n {
		dayKeys[i] = start.AddDate(0, 0, i).Format(usagefile.DayLayout)
		for _, s := range perDay[dayKeys[i]] {
			totals[i] = totals[i].Add(s.cost)
		}
		maxDay = max(maxDay, totals[i].Float64())
	}
	top, step := niceScale(maxDay)
	c.Empty = maxDay == 0
	for v := 0.0; v <= top+step/2; v += step {
		c.Ticks = append(c.Ticks, tick{Y: padT + plotH - v/top*plotH, Label: tickLabel(v, step)})
	}
	slot := plotW / float64(n)
	for i, day := range dayKeys {
		b := bar{Day: day, Label: day[5:], ShowLabel: n <= 10 || i%5 == (n-1)%5, Total: dollars(totals[i]),
			X: padL + float64(i)*slot + slot*0.15, Width: slot * 0.7}
		b.LabelX = b.X + b.Width/2
		segs := perDay[day]
		// Colored models in legend order, then other models, then unattributed.
		rank := func(s seg) int {
			for j, l := range c.Legend {
				if l.Name == s.name {
					return j
				}
			}
			return len(c.Legend)
		}
		slices.SortFunc(segs, func(a, b seg) int { return cmp.Compare(rank(a), rank(b)) })
		yBase := padT + plotH
		for _, s := range segs {
			h := s.cost.Float64() / top * plotH
			yBase -= h
			b.Segments = append(b.Segments, segment{Name: s.name, Color: s.color, Cost: dollars(s.cost), Y: round2(yBase), Height: round2(h)})
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// niceScale returns a round top of the axis at or above v and the step of
// about four ticks.
func niceScale(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.25
	}
	raw := v / 4
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

// tickLabel prints v with as many decimals as step needs.
func tickLabel(v, step float64) string {
	dec := 0
	for s := step; s < 1 && dec < 9; s *= 10 {
		dec++
	}
	if math.Abs(step*math.Pow(10, float64(dec))-math.Round(step*math.Pow(10, float64(dec)))) > 1e-9 {
		dec++
	}
	return "$" + strconv.FormatFloat(v, 'f', dec, 64)
}
