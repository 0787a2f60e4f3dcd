// Command bench reproduces the original UsageTracker benchmark suite (record
// latency, streaming, throughput, concurrent access) against usagering's
// synchronous baseline and asynchronous tracker, side by side in one run,
// and adds what the original could not measure: enough samples for the tail,
// open-loop pacing, a concurrency sweep, the queue peers, file writes per
// record, and an honesty check of every usage file written.
//
// Run `bench -h` for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // honesty mismatch, scenario error, or -strict criterion failure
	exitUsage = 2
)

// run is the whole command: parse, run the scenarios, report. It returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return exitFail
	}
	b := newBench(cfg, stdout, stderr)
	b.printEnvironment()
	for _, name := range cfg.scenarios {
		s, _ := lookupScenario(name) // parseFlags checked the names
		r, err := s.run(b)
		b.res.byScenario[name] = r
		b.printChecks()
		if err != nil {
			b.fail(fmt.Errorf("%s: %w", name, err))
		}
	}
	b.evaluateCriteria()
	b.printSummary()
	b.printAssessment()
	if err := b.writeOutputs(); err != nil {
		b.fail(err)
	}
	return b.exitStatus()
}

// exitStatus: 1 on any honesty mismatch or scenario error, always; on a
// failed criterion only with -strict.
func (b *bench) exitStatus() int {
	status := exitOK
	if len(b.errs) > 0 {
		fmt.Fprintf(b.stdout, "\n%d error(s):\n", len(b.errs))
		for _, err := range b.errs {
			fmt.Fprintf(b.stdout, "  %v\n", err)
		}
		status = exitFail
	}
	if n := b.honestyFailures(); n > 0 {
		fmt.Fprintf(b.stdout, "\nFAIL: %d honesty check(s) found lost or altered records\n", n)
		status = exitFail
	}
	if b.cfg.strict && b.criteriaFailed() {
		fmt.Fprintln(b.stdout, "\nFAIL (-strict): a success criterion failed")
		status = exitFail
	}
	b.prog.logf("done, exit status %d", status)
	return status
}
