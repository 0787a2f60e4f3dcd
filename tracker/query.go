package tracker

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// ErrInvalidArgument is wrapped by query methods given an out-of-range
// argument.
var ErrInvalidArgument = errors.New("tracker: invalid argument")

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
}

// Today returns today's totals (today in the tracker's location and
// clock). Like every query it is answered from memory: the file as last
// read or written plus every record folded since. Records still in the
// ring (at most one batch, or one flush interval, behind) are not counted
// yet; call Flush first to include everything recorded before.
func (t *Tracker) Today() Totals {
	day := t.cfg.clock().In(t.cfg.loc).Format(usagefile.DayLayout)
	st := t.state
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
// exactly (integer nano-dollars). It is answered from memory (see Today).
// days must be at least 1 (ErrInvalidArgument).
func (t *Tracker) Summary(days int) (Summary, error) {
	if days < 1 {
		return Summary{}, fmt.Errorf("%w: days %d < 1", ErrInvalidArgument, days)
	}
	now := t.cfg.clock().In(t.cfg.loc)
	y, m, d := now.Date()
	first := time.Date(y, m, d-days+1, 0, 0, 0, 0, t.cfg.loc).Format(usagefile.DayLayout)
	last := now.Format(usagefile.DayLayout)

	st := t.state
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
			d.models.addTo(models)
			d.providers.addTo(providers)
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
	}, nil
}
