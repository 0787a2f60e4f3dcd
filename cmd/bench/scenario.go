package main

import (
	"io"
	"slices"
)

// scenario is one part of the benchmark. Each lives in a file of its own
// (its run, result type, printers and criteria); scenarios lists them in
// the order they run, so a new scenario is its file plus one line there.
type scenario struct {
	name string
	// optIn scenarios run only when -scenarios names them.
	optIn bool
	// run measures, prints the scenario's section and returns its result
	// (nil if it could not start), which benchmark_results.json holds under
	// name. An error fails the run; the result is kept all the same.
	run func(b *bench) (result, error)
	// criteria, if set, returns the scenario's success criteria judged on
	// r, which is nil when the scenario did not run (each is then SKIP).
	criteria func(r result) []criterion
	// describe, if set, returns the scenario's line of the environment
	// header: its parameters.
	describe func(c *config) string
}

// result is what a scenario measured.
type result interface {
	// summary writes the scenario's part of the SUMMARY REPORT (nothing
	// if it has none).
	summary(w io.Writer)
}

// scenarios are all the scenarios, in the order they run.
var scenarios = []scenario{
	latencyScenario,
	streamingScenario,
	throughputScenario,
	concurrentScenario,
	queuesScenario,
	ioScenario,
	stallScenario,
	soakScenario,
	fleetScenario,
}

// allScenarios are the scenarios' names, in the order they run.
var allScenarios = func() []string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.name
	}
	return names
}()

// defaultScenarios run without -scenarios: all but the opt-in ones (the
// soak, which is a run of its own, a minute by default; the fleet, which
// needs PostgreSQL).
var defaultScenarios = func() []string {
	var names []string
	for _, s := range scenarios {
		if !s.optIn {
			names = append(names, s.name)
		}
	}
	return names
}()

// lookupScenario returns the scenario named name.
func lookupScenario(name string) (scenario, bool) {
	i := slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
	if i < 0 {
		return scenario{}, false
	}
	return scenarios[i], true
}
