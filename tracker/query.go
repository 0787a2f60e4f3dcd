package tracker

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// Summary is the original's get_summary result.
type Summary struct {
	PeriodDays           int               `json:"period_days"`
	TotalTokens          int64             `json:"total_tokens"`
	TotalCostUSD         float64           `json:"total_cost_usd"`
	TotalCalls           int64             `json:"total_calls"`
	AvgDailyTokens       float64           `json:"avg_daily_tokens"`
	AvgDailyCost         float64           `json:"avg_daily_cost"`
	ProjectedMonthlyCost float64           `json:"projected_monthly_cost"` // AvgDailyCost × 30
	ModelBreakdown       map[string]Totals `json:"model_breakdown"`        // all time, as the file keeps it
	ProviderBreakdown    map[string]Totals `json:"provider_breakdown"`     // all time, as the file keeps it
	// Period is the period's totals, every token kind and the exact cost
	// (TotalTokens, TotalCostUSD and TotalCalls are the original's view
	// of it).
	Period Totals `json:"period"`
}

// Today returns today's totals (today in the tracker's location and
// clock). Like every query it reads its writes: it counts every record
// accepted before the call. It is answered from memory, the file as last
// read or written plus every record accepted since, after the flusher has
// folded what was still pending in the ring; it never waits for the disk.
func (t *Tracker) Today() Totals {
	t.fold()
	day := t.cfg.clock().In(t.cfg.loc).Format(usagefile.DayLayout)
	st := t.sink
	st.mu.RLock()
	defer st.mu.RUnlock()
	var tot Totals
	if st.base != nil {
		tot.Add(st.base.DailyTotals[day])
	}
	if st.frozen != nil {
		tot.Add(st.frozen.daily.get(day))
	}
	tot.Add(st.delta.daily.get(day))
	return tot
}

// Summary returns the totals of the last days days, today included, their
// daily averages and the projected monthly cost, and the all-time model
// and provider breakdowns, as the original's get_summary. Costs are summed
// exactly. Like Today it counts every record accepted before the call,
// from memory. days must be at least 1 (ErrInvalidArgument).
func (t *Tracker) Summary(days int) (Summary, error) {
	if days < 1 {
		return Summary{}, fmt.Errorf("%w: days %d < 1", ErrInvalidArgument, days)
	}
	t.fold()
	now := t.cfg.clock().In(t.cfg.loc)
	y, m, d := now.Date()
	first := time.Date(y, m, d-days+1, 0, 0, 0, 0, t.cfg.loc).Format(usagefile.DayLayout)
	last := now.Format(usagefile.DayLayout)

	st := t.sink
	st.mu.RLock()
	daily := map[string]Totals{}
	models := map[string]Totals{}
	providers := map[string]Totals{}
	if st.base != nil {
		maps.Copy(daily, st.base.DailyTotals)
		maps.Copy(models, st.base.ModelBreakdown)
		maps.Copy(providers, st.base.ProviderBreakdown)
	}
	for _, d := range [...]*delta{st.frozen, &st.delta} {
		if d != nil {
			d.daily.addTo(daily)
			breakdowns(&d.pairs, models, providers)
		}
	}
	st.mu.RUnlock()

	// "YYYY-MM-DD" keys compare as dates.
	var sum Totals
	for day, v := range daily {
		if day >= first && day <= last {
			sum.Add(v)
		}
	}
	avgCost := sum.Cost.Float64() / float64(days)
	return Summary{
		PeriodDays:           days,
		TotalTokens:          sum.Tokens,
		TotalCostUSD:         sum.Cost.Float64(),
		TotalCalls:           sum.Calls,
		AvgDailyTokens:       float64(sum.Tokens) / float64(days),
		AvgDailyCost:         avgCost,
		ProjectedMonthlyCost: avgCost * 30,
		ModelBreakdown:       models,
		ProviderBreakdown:    providers,
		Period:               sum,
	}, nil
}

// Count is what a tracker recorded for one model and provider since it
// started: the counters a metrics exporter reports.
type Count struct {
	Model, Provider string
	Totals
}

// Counts returns what the tracker has recorded since New, by model and
// provider, sorted by model then provider. Unlike the queries it counts
// only this tracker's records (not the file's, nor other processes'), and
// it reads what is folded without folding first: it never waits, and may
// be a batch behind Record. For metrics exporters (package metrics).
func (t *Tracker) Counts() []Count {
	st := t.sink
	sum := map[pair]Totals{}
	st.mu.RLock()
	for _, b := range [...]*buckets[pair]{&st.counts, framePairs(st.frozen), &st.delta.pairs} {
		if b != nil {
			b.addTo(sum)
		}
	}
	st.mu.RUnlock()
	out := make([]Count, 0, len(sum))
	for k, v := range sum {
		out = append(out, Count{Model: k.model, Provider: k.provider, Totals: v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return strings.Compare(a.Provider, b.Provider)
	})
	return out
}

// framePairs returns d's pairs, nil for a nil d.
func framePairs(d *delta) *buckets[pair] {
	if d == nil {
		return nil
	}
	return &d.pairs
}

// fold has the flusher fold every record accepted before the call, so that
// a query reads its writes. The loop folds while a persist runs, so this
// waits for at most the folding of the pending records (a few µs per
// thousand), never for the disk.
func (t *Tracker) fold() {
	_ = t.flusher.Fold(context.Background()) // only ctx can fail it
}
