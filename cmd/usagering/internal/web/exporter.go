package web

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usagering/usagering/cmd/usagering/internal/figures"
	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/internal/labelcap"
	"github.com/usagering/usagering/usagefile"
)

// exporter is a prometheus.Collector over a source's totals: what the file
// (or the store) holds, all time and today, and the source's health. Each
// scrape queries the source; a File answers from memory, re-reading the
// file if it changed.
type exporter struct {
	src     source.Source
	now     func() time.Time
	timeout time.Duration
	cap     *labelcap.Cap // which models have series of their own

	modelCalls, modelTokens, modelCost          *prometheus.Desc
	providerCalls, providerTokens, providerCost *prometheus.Desc
	todayCalls, todayTokens, todayCost          *prometheus.Desc
	folded, up, lastUpdated                     *prometheus.Desc
	sessions, rescueFiles, writers              *prometheus.Desc
}

func newExporter(src source.Source, now func() time.Time, maxModels int) *exporter {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("usagering_"+name, help, labels, nil)
	}
	const kinds = " (type: input, output, cache_read, cache_write, reasoning, and unclassified for tokens recorded without a kind; cache_read and cache_write are parts of input, reasoning of output)"
	return &exporter{
		src: src, now: now, timeout: 10 * time.Second, cap: labelcap.New(maxModels, labelcap.DefaultOther),
		modelCalls:     d("model_calls_total", "Calls in the source, all time, by model.", "model"),
		modelTokens:    d("model_tokens_total", "Tokens in the source, all time, by model and type"+kinds+".", "model", "type"),
		modelCost:      d("model_cost_usd_total", "Cost in US dollars in the source, all time, by model (summed exactly).", "model"),
		providerCalls:  d("provider_calls_total", "Calls in the source, all time, by provider.", "provider"),
		providerTokens: d("provider_tokens_total", "Tokens in the source, all time, by provider and type"+kinds+".", "provider", "type"),
		providerCost:   d("provider_cost_usd_total", "Cost in US dollars in the source, all time, by provider (summed exactly).", "provider"),
		todayCalls:     d("today_calls", "Calls today (the server's local day)."),
		todayTokens:    d("today_tokens", "Tokens today, by type"+kinds+".", "type"),
		todayCost:      d("today_cost_usd", "Cost in US dollars today (summed exactly)."),
		folded:         d("models_folded", `Models whose usage is counted under model="other" (beyond the cap).`),
		up:             d("source_up", "1 if the source's latest read or query succeeded."),
		lastUpdated:    d("source_last_updated_timestamp_seconds", "When the source was last written: the file's last_updated, the store's latest shipment."),
		sessions:       d("file_sessions", "Sessions kept in the usage file."),
		rescueFiles:    d("file_rescue_files", "Rescue files waiting beside the usage file to be merged by its next writer."),
		writers:        d("writers", "Writers that have shipped to the store."),
	}
}

func (x *exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{x.modelCalls, x.modelTokens, x.modelCost, x.providerCalls, x.providerTokens,
		x.providerCost, x.todayCalls, x.todayTokens, x.todayCost, x.folded, x.up, x.lastUpdated, x.sessions,
		x.rescueFiles, x.writers} {
		ch <- d
	}
}

// tokenTypes are the tokens of t by type, as the exporter labels them.
func tokenTypes(t usagefile.Totals) [6]struct {
	name string
	n    int64
} {
	return [6]struct {
		name string
		n    int64
	}{{"input", t.InputTokens}, {"output", t.OutputTokens}, {"cache_read", t.CacheReadTokens},
		{"cache_write", t.CacheWriteTokens}, {"reasoning", t.ReasoningTokens}, {"unclassified", figures.Unclassified(t)}}
}

func (x *exporter) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), x.timeout)
	defer cancel()
	h := x.src.Health(ctx)
	up := 0.0
	if h.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(x.up, prometheus.GaugeValue, up)
	if !h.LastUpdated.IsZero() {
		ch <- prometheus.MustNewConstMetric(x.lastUpdated, prometheus.GaugeValue, float64(h.LastUpdated.UnixNano())/1e9)
	}
	switch h.Kind {
	case "file":
		ch <- prometheus.MustNewConstMetric(x.sessions, prometheus.GaugeValue, float64(h.Sessions))
		ch <- prometheus.MustNewConstMetric(x.rescueFiles, prometheus.GaugeValue, float64(h.RescueFiles))
	case "postgres":
		ch <- prometheus.MustNewConstMetric(x.writers, prometheus.GaugeValue, float64(h.Writers))
	}

	byModel, err := x.src.Report(ctx, source.Query{By: []source.Dim{source.Model}})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(x.modelCalls, err)
		return
	}
	x.collectModels(ch, byModel.Rows)
	byProvider, err := x.src.Report(ctx, source.Query{By: []source.Dim{source.Provider}})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(x.providerCalls, err)
		return
	}
	providers := make([]string, len(byProvider.Rows))
	for i, r := range byProvider.Rows {
		providers[i] = r.Provider
	}
	order, sums := group(providers, byProvider.Rows)
	for _, p := range order {
		emitTotals(ch, x.providerCalls, x.providerTokens, x.providerCost, prometheus.CounterValue, sums[p], p)
	}
	day := x.now().Format(usagefile.DayLayout)
	today, err := x.src.Report(ctx, source.Query{From: day, To: day})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(x.todayCalls, err)
		return
	}
	emitTotals(ch, x.todayCalls, x.todayTokens, x.todayCost, prometheus.GaugeValue, today.Total)
}

// collectModels sends the per-model series, the models beyond the cap
// summed exactly under "other".
func (x *exporter) collectModels(ch chan<- prometheus.Metric, rows []source.Row) {
	rows = slices.Clone(rows)
	slices.SortFunc(rows, func(a, b source.Row) int {
		return cmp.Or(b.Cost.Cmp(a.Cost), cmp.Compare(b.Calls, a.Calls), cmp.Compare(a.Model, b.Model))
	})
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = strings.ToValidUTF8(r.Model, "\uFFFD")
	}
	labels, folded := x.cap.Apply(names)
	order, sums := group(labels, rows)
	for _, m := range order {
		emitTotals(ch, x.modelCalls, x.modelTokens, x.modelCost, prometheus.CounterValue, sums[m], m)
	}
	ch <- prometheus.MustNewConstMetric(x.folded, prometheus.GaugeValue, float64(folded))
}

// emitTotals sends t as its three series: calls, tokens by type and cost,
// each with the given label values (tokens with the type's after them).
func emitTotals(ch chan<- prometheus.Metric, calls, tokens, cost *prometheus.Desc, vt prometheus.ValueType, t usagefile.Totals, labels ...string) {
	ch <- prometheus.MustNewConstMetric(calls, vt, float64(t.Calls), labels...)
	for _, tt := range tokenTypes(t) {
		ch <- prometheus.MustNewConstMetric(tokens, vt, float64(tt.n), append(slices.Clip(labels), tt.name)...)
	}
	ch <- prometheus.MustNewConstMetric(cost, vt, t.Cost.Float64(), labels...)
}

// group sums rows[i] under labels[i] (made valid UTF-8, as label values
// must be), exactly, and returns the labels in order of first appearance.
func group(labels []string, rows []source.Row) ([]string, map[string]usagefile.Totals) {
	sums := map[string]usagefile.Totals{}
	var order []string
	for i, r := range rows {
		l := strings.ToValidUTF8(labels[i], "\uFFFD")
		t, ok := sums[l]
		if !ok {
			order = append(order, l)
		}
		t.Add(r.Totals)
		sums[l] = t
	}
	return order, sums
}
