package main

import (
	"fmt"
	"slices"
)

type criterion struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Display  string  `json:"display"` // the measured value, for people
	Result   string  `json:"result"`  // PASS, FAIL or SKIP (scenario not run)
	Original bool    `json:"original"`
	// detail, if set, are the lines the assessment prints for an original
	// criterion that ran, before its result, instead of Display.
	detail []string
}

// judge sets c's result: SKIP (and Display "not run") if its scenario did
// not run, else PASS or FAIL.
func judge(c criterion, ran, pass bool) criterion {
	switch {
	case !ran:
		c.Result, c.Display, c.detail = "SKIP", "not run", nil
	case pass:
		c.Result = "PASS"
	default:
		c.Result = "FAIL"
	}
	return c
}

// evaluateCriteria judges every scenario's criteria, run or not (a
// criterion whose scenario did not run is SKIP, which -strict does not
// count as a failure), then zero loss over the whole run: the original's
// criteria first, then our stricter ones, each in scenario order.
func (b *bench) evaluateCriteria() {
	r := &b.res
	var all []criterion
	for _, s := range scenarios {
		if s.criteria != nil {
			all = append(all, s.criteria(r.byScenario[s.name])...)
		}
	}
	failed := b.honestyFailures()
	all = append(all, judge(criterion{Name: "zero_loss", Target: "zero loss: every honesty check OK", Measured: float64(failed), Unit: "failed checks",
		Display: fmt.Sprintf("%d of %d checks OK", len(r.Honesty)-failed, len(r.Honesty))}, len(r.Honesty) > 0, failed == 0))
	slices.SortStableFunc(all, func(x, y criterion) int {
		switch {
		case x.Original == y.Original:
			return 0
		case x.Original:
			return -1
		}
		return 1
	})
	r.Criteria = append(r.Criteria, all...)
}

func (b *bench) criteriaFailed() bool {
	for _, c := range b.res.Criteria {
		if c.Result == "FAIL" {
			return true
		}
	}
	return false
}
