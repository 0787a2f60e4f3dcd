package main

import (
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usd"
)

// The records the scenarios send: a cycle of workloadSize prepared records
// over three models and providers, with varying token counts and the
// default price table's costs. Preparing them keeps the timed loops free of
// anything but the call, and lets a tally of indices say exactly what was
// recorded.
const workloadSize = 64

var workloadModels = []string{"claude-3-5-sonnet-20241022", "gpt-4o", "gemini-1.5-pro"}

// workload is the prepared cycle of records.
type workload struct {
	recs [workloadSize]tracker.Record
}

func newWorkload() *workload {
	w := &workload{}
	for i := range w.recs {
		model := workloadModels[i%len(workloadModels)]
		in, out := int64(500+10*(i%7)), int64(37+i)
		w.recs[i] = tracker.Record{
			Model:        model,
			InputTokens:  in,
			OutputTokens: out,
			CostUSD:      costOf(model, in, out),
			LatencyMS:    50,
		}
	}
	return w
}

// costOf is what the original tool's price table makes a call cost, as
// the caller's CostUSD (the trackers then keep it, as they keep any cost a
// caller gives).
func costOf(model string, in, out int64) float64 {
	q, err := pricing.Original().Quote(model, pricing.Usage{Input: in, Output: out})
	if err != nil {
		panic(err) // the original's table prices every model, with a fallback
	}
	return q.Cost.Float64()
}

// rec returns the record of call i.
func (w *workload) rec(i int) *tracker.Record { return &w.recs[i%workloadSize] }

// tally counts the successful calls per workload index: cheap enough for
// the hot loops (one increment), exact for the honesty check.
type tally struct {
	counts [workloadSize]int64
}

func (t *tally) add(i int) { t.counts[i%workloadSize]++ }

// merge adds o's counts to t.
func (t *tally) merge(o *tally) {
	for i, n := range o.counts {
		t.counts[i] += n
	}
}

// expected turns the tally into the totals the file must hold.
func (t *tally) expected(w *workload) *expected {
	e := newExpected()
	for i, n := range t.counts {
		if n > 0 {
			e.addN(&w.recs[i], n)
		}
	}
	return e
}

// expected is what a scenario recorded: calls, tokens and cost (exact, as
// the tracker sums them), overall and per model.
type expected struct {
	total  tracker.Totals
	models map[string]tracker.Totals
}

func newExpected() *expected { return &expected{models: map[string]tracker.Totals{}} }

// addN counts n successful calls of r.
func (e *expected) addN(r *tracker.Record, n int64) {
	cost, err := usd.FromFloat(r.CostUSD)
	if err != nil {
		panic(err) // the workload's costs are finite
	}
	cost, _ = cost.Mul(n)
	d := tracker.Totals{
		Tokens: n * (r.InputTokens + r.OutputTokens), Cost: cost, Calls: n,
		InputTokens: n * r.InputTokens, OutputTokens: n * r.OutputTokens,
		CacheReadTokens: n * r.CacheReadTokens, CacheWriteTokens: n * r.CacheWriteTokens, ReasoningTokens: n * r.ReasoningTokens,
	}
	e.total.Add(d)
	m := e.models[r.Model]
	m.Add(d)
	e.models[r.Model] = m
}
