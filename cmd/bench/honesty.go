package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// honestyCheck compares what a scenario recorded with what its usage file
// holds once the tracker is closed: calls, tokens and cost (exact, in
// nano-dollars), overall (the sum of daily_totals) and per model, plus the
// tracker's own counters for the async side. Any difference is a lost or
// altered record and fails the run.
type honestyCheck struct {
	Scenario  string      `json:"scenario"`
	Side      string      `json:"side"`
	File      string      `json:"file"`
	Recorded  totalsJSON  `json:"recorded"`
	Persisted totalsJSON  `json:"persisted"`
	OK        bool        `json:"ok"`
	Problems  []string    `json:"problems,omitempty"`
	Stats     *statsBrief `json:"stats,omitempty"` // async only: the tracker's counters after Close
}

type totalsJSON struct {
	Calls     int64      `json:"calls"`
	Tokens    int64      `json:"tokens"`
	CostUSD   float64    `json:"cost_usd"`   // the nearest float, for plots
	CostExact usd.Amount `json:"cost_exact"` // exact: a decimal with every digit
}

func toJSON(t tracker.Totals) totalsJSON {
	return totalsJSON{Calls: t.Calls, Tokens: t.Tokens, CostUSD: t.Cost.Float64(), CostExact: t.Cost}
}

// statsBrief is the part of tracker.Stats the check looks at.
type statsBrief struct {
	TotalFlushes int64 `json:"total_flushes"`
	TotalRecords int64 `json:"total_records"`
	LostRecords  int64 `json:"lost_records"`
	Dropped      int64 `json:"dropped"`
	Pending      int   `json:"pending"`
	ErrorCount   int64 `json:"error_count"`
}

func briefStats(s tracker.Stats) *statsBrief {
	return &statsBrief{
		TotalFlushes: s.TotalFlushes, TotalRecords: s.TotalRecords, LostRecords: s.LostRecords,
		Dropped: s.Dropped, Pending: s.Pending, ErrorCount: s.ErrorCount,
	}
}

// checkFile reads and parses the usage file at path and compares it with
// exp (and, if not nil, the async tracker's stats after Close).
func checkFile(scenario, side, path string, exp *expected, stats *tracker.Stats) honestyCheck {
	hc := honestyCheck{Scenario: scenario, Side: side, File: filepath.Base(path), Recorded: toJSON(exp.total)}
	doc, err := usagefile.Read(path)
	if err == nil {
		hc = compareDocument(scenario, side, exp, doc)
		hc.File = filepath.Base(path)
	}
	if err != nil {
		hc.Problems = append(hc.Problems, fmt.Sprintf("cannot read the usage file: %v", err))
	}
	if stats != nil {
		hc.Stats = briefStats(*stats)
		if stats.TotalRecords != exp.total.Calls {
			hc.Problems = append(hc.Problems, fmt.Sprintf("Stats().TotalRecords = %d, recorded %d", stats.TotalRecords, exp.total.Calls))
		}
		if stats.LostRecords != 0 || stats.Dropped != 0 || stats.Pending != 0 {
			hc.Problems = append(hc.Problems, fmt.Sprintf("Stats() after Close: lost %d, dropped %d, pending %d",
				stats.LostRecords, stats.Dropped, stats.Pending))
		}
	}
	hc.OK = len(hc.Problems) == 0
	return hc
}

// compareDocument compares a parsed usage file with what was recorded into
// it, starting from an empty file.
func compareDocument(scenario, side string, exp *expected, doc *usagefile.Document) honestyCheck {
	hc := honestyCheck{Scenario: scenario, Side: side, Recorded: toJSON(exp.total)}
	var daily, models, providers tracker.Totals
	for _, t := range doc.DailyTotals {
		daily.Add(t)
	}
	for _, t := range doc.ModelBreakdown {
		models.Add(t)
	}
	for _, t := range doc.ProviderBreakdown {
		providers.Add(t)
	}
	hc.Persisted = toJSON(daily)
	if daily != exp.total {
		hc.Problems = append(hc.Problems, fmt.Sprintf("daily_totals sum %s, recorded %s", fmtTotals(daily), fmtTotals(exp.total)))
	}
	if models != daily {
		hc.Problems = append(hc.Problems, fmt.Sprintf("model_breakdown sum %s != daily_totals sum %s", fmtTotals(models), fmtTotals(daily)))
	}
	if providers != daily {
		hc.Problems = append(hc.Problems, fmt.Sprintf("provider_breakdown sum %s != daily_totals sum %s", fmtTotals(providers), fmtTotals(daily)))
	}
	names := make([]string, 0, len(exp.models)+len(doc.ModelBreakdown))
	for m := range exp.models {
		names = append(names, m)
	}
	for m := range doc.ModelBreakdown {
		names = append(names, m)
	}
	slices.Sort(names)
	for _, m := range slices.Compact(names) {
		if got, want := doc.ModelBreakdown[m], exp.models[m]; got != want {
			hc.Problems = append(hc.Problems, fmt.Sprintf("model %q: persisted %s, recorded %s", m, fmtTotals(got), fmtTotals(want)))
		}
	}
	if want := min(exp.total.Calls, tracker.DefaultMaxSessions); int64(len(doc.Sessions)) != want {
		hc.Problems = append(hc.Problems, fmt.Sprintf("%d sessions kept, want %d", len(doc.Sessions), want))
	}
	hc.OK = len(hc.Problems) == 0
	return hc
}

// line is the check's one-line verdict.
func (hc *honestyCheck) line() string {
	verdict := "OK"
	if !hc.OK {
		verdict = "MISMATCH"
	}
	r, p := hc.Recorded, hc.Persisted
	return fmt.Sprintf("honesty check: recorded %d calls, %d tokens, $%s; persisted %d calls, %d tokens, $%s: %s",
		r.Calls, r.Tokens, r.CostExact, p.Calls, p.Tokens, p.CostExact, verdict)
}

func fmtTotals(t tracker.Totals) string {
	return fmt.Sprintf("{%d calls, %d tokens, $%s}", t.Calls, t.Tokens, t.Cost)
}
