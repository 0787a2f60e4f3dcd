package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/usagering/usagering/tracker"
)

// config is a validated command line.
type config struct {
	out          string
	scenarios    []string // a subset of allScenarios, in their order
	calls        int      // async latency calls
	syncCalls    int      // sync latency calls
	chunks       int      // streaming chunks, both sides
	duration     time.Duration
	threads      int // the original's concurrent scenario
	perThread    int // its calls per thread; also the sync sweep's
	sweepCalls   int // async calls per goroutine in the sweep
	queueItems   int // items per queues run (all producers together)
	rate         float64
	producers    int           // goroutines of the soak
	stall        time.Duration // the injected fsync stall
	stallMode    string        // stallPaced or stallClosed
	stallProds   int           // goroutines of the stall scenario, per side
	stallRate    float64       // paced: the async side's calls/s in total; 0 in a closed loop
	stallSyncR   float64       // paced: the sync side's calls/s in total; 0 in a closed loop
	stallCap     int           // the async ring's capacity in the stall scenario
	stallCoupled bool          // the self-check: async Record waits while the stalled fsync blocks
	soakDuration time.Duration
	soakRate     float64       // calls/s in total
	soakInterval time.Duration // between live lines
	quick        bool
	strict       bool
	seedDefaults bool
	noSync       bool
	// The fleet scenario.
	postgres      string        // the database's DSN; "" → $USAGERING_POSTGRES_DSN
	writers       int           // writer processes
	writerRate    float64       // the paced phase's calls/s per writer
	fleetDuration time.Duration // the measured phases together
	fleetFlush    time.Duration // the fleet's trackers' flush interval
	litellmCalls  int           // calls written LiteLLM's way
}

// errUsage marks a command line error: exit status 2.
var errUsage = errors.New("usage")

const usageHead = `usage: bench [flags]

Runs the original UsageTracker benchmark suite against usagering, the
synchronous baseline (tracker.NewSync: read, parse, write the whole file per
call) and the asynchronous tracker (tracker.New) side by side in one run, plus
a concurrency sweep, a queue comparison (ring vs chan vs mutex), an I/O
count and a disk stall (one fsync blocked for -stall). A soak (-scenarios
soak) runs a paced load for -duration with a live line every few seconds.
Every async (and sync) run is checked afterwards against the file it
wrote: any lost or altered record makes the run exit 1.

Output (in -out): benchmark_results.json (the original's keys plus ours),
one .hgrm per histogram (microseconds), latency.svg and latency.png, and the
usage files of each scenario (sync_latency.json, async_latency.json, ...).

Exit status: 0 ok; 1 an honesty check failed, a scenario failed, or (with
-strict) a success criterion failed; 2 bad command line.

Flags:
`

const usageTail = `
Defaults by mode (an explicit flag always wins):
                             default           -quick   -seed-defaults
  -calls (async)           1,000,000          100,000              100
  sync latency calls  min(calls, 1000)  min(calls, 200)   calls (so 100)
  -chunks                      1,000              200              100
  -duration                       5s               1s               5s
  -sweep-calls                20,000            2,000           20,000
  -queue-items             1,000,000          100,000        1,000,000
  -stall                          2s            500ms               2s
  soak duration                   1m              20s               1m
    (the soak runs for -duration when it is given)

throughput: calls_per_second counts persisted records only. Sync: calls that
returned (each wrote the file) / window. Async: records persisted (Stats, and
verified in the file) / (window + Close), Close being what persists the rest;
enqueue_calls_per_second is accepted / window.

-rate N paces the latency and concurrent scenarios (both sides) open-loop at
N calls per second in total, split evenly across the goroutines (each gets
N/g, starts staggered), and the paced stall's async side; latency is measured
from each call's intended start, which corrects coordinated omission. A rate
above what a side sustains makes its latencies grow with the run's length:
that is the point.

stall: producers call Record on each side while one fsync of the usage file
is made to block for -stall (through tracker.WithFS; the scenario always
fsyncs, -nosync or not). The figures that count are of the calls that start
while the fsync blocks. The async side also measures a window as long as the
stall just before it (the control: calls that start in it and end before the
stall begins): what the same producers see without a stall. Two criteria
judge the async side against its control: the stall adds nothing to the
p99.9 (during <= control × 2 + stall / 20) and no call waits the stall out (max
during <= control max + stall / 2).
  -stall-mode paced (the default) measures the tracker: GOMAXPROCS-1
  producers (at least 1; -producers overrides), paced open loop at 100,000
  calls/s in total on the async side (-rate overrides) and 100 calls/s on
  the sync side (what it sustains with an fsync per call), the async ring at
  the tracker's default capacity. Latency is from each call's intended start.
  -stall-mode closed measures what full speed costs on this machine: -producers
  goroutines (8) calling back to back, a 131,072-slot async ring, -rate not
  used. A blocked producer issues no calls, so each producer's calls that a
  long call kept from starting (at its own mean interval before the stall)
  count too, each with the latency it would have seen (coordinated-omission
  correction); the timed calls alone are shown beside them. With more
  producers than processors these figures are mostly the scheduler's time
  slices, with or without a stall, which is why they are not the default.
  -stall-coupled is a self-check: the async side's Record waits while the
  stalled fsync blocks (a tracker NOT isolated from the disk); the stall
  criteria must then FAIL.

soak: -producers goroutines paced at -rate in total (50,000 calls/s when -rate
is not given) on the async tracker for -duration, a line every -interval
(default 5 s, at most a quarter of the run); then the first and the last
quarter of the run (a minute each for runs of 4 minutes or more) are compared:
heap in use, goroutines, Record p99.

fleet (-scenarios fleet; needs PostgreSQL: -postgres DSN or $USAGERING_POSTGRES_DSN,
else it is SKIP): -writers processes (this program, started again), each
with two usage files, one tracker shipping to the database and one not.
They follow one schedule: a warm-up, then -fleet-duration split into a
phase paced at -writer-rate calls/s per writer (half), one at a tenth of it
and one at full speed; in each, slices of about 500 ms alternate between
the two trackers, all writers in step, so with and without shipping see
the same machine and moment. Reported: Record p50/p99/p99.9 per side and
their ratio (criterion: <= 1.1x, paced phase); records/s per writer;
transactions and rows written per second of shipping (criterion: at most
1.25 per writer and -fleet-flush interval, at every rate); the lag from
Record to visible in a Report query (a probe's markers, polled every 5 ms;
criterion: p99 <= 2 x flush interval + 100 ms); then -litellm-calls of the
same workload written LiteLLM's way (a row per call and a shared daily
upsert, 100 calls per transaction) and both ways' rows, bytes and
transactions per million calls, extrapolated from the run's counts. Every
file is checked against what was recorded, and the database (after
shipping what the outboxes still hold) against the files, exactly. Each
run works in a schema of its own and drops it. -quick: 4 s, 2,000 calls.
`

// parseFlags parses args. Errors wrap errUsage; -h gives flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
		fmt.Fprint(stderr, usageTail)
	}
	out := fs.String("out", "bench-out", "output `dir`ectory")
	scen := fs.String("scenarios", strings.Join(defaultScenarios, ","), "comma-separated `list` of scenarios to run: "+strings.Join(allScenarios, ", "))
	calls := fs.Int("calls", 1_000_000, "`N` async record-latency calls (sync: min(N, 1000); see below)")
	chunks := fs.Int("chunks", 1000, "`N` streaming chunks per side")
	duration := fs.Duration("duration", 5*time.Second, "throughput window per side, and the soak's length (the soak's is 1m when not given)")
	threads := fs.Int("threads", 5, "goroutines of the original concurrent scenario")
	perThread := fs.Int("calls-per-thread", 20, "calls per goroutine of the original concurrent scenario and of the sync sweep")
	sweepCalls := fs.Int("sweep-calls", 20_000, "async calls per goroutine in the concurrent sweep (1, 2, 4, 8, 16, 64 goroutines)")
	queueItems := fs.Int("queue-items", 1_000_000, "items per queues run (ring, chan, mutex × 1, 4, 16, 64 producers), all producers together")
	rate := fs.Float64("rate", 0, "open-loop pacing: `calls/s` in total, split evenly across goroutines (latency and concurrent scenarios, both sides, 0 = closed loop; the paced stall's async side, 100000 when not given; the soak, 50000 when not given)")
	producers := fs.Int("producers", 8, "`N` goroutines calling Record in the soak and the closed-loop stall; the paced stall's default is GOMAXPROCS-1, at least 1")
	stallD := fs.Duration("stall", 2*time.Second, "how long the stall scenario's fsync blocks")
	stallMode := fs.String("stall-mode", stallPaced, "the stall scenario's `mode`: "+stallPaced+" (open loop, the default) or "+stallClosed+" (closed loop, coordinated-omission corrected); see below")
	stallCap := fs.Int("stall-capacity", 0, "the async ring's `capacity` in the stall scenario (default: the tracker's, 16384, when paced; 131072 in a closed loop)")
	stallCoupled := fs.Bool("stall-coupled", false, "self-check of the stall verdict: the async side's Record waits while the stalled fsync blocks, as a tracker not isolated from the disk would; its stall criteria must FAIL")
	interval := fs.Duration("interval", 5*time.Second, "between the soak's live lines (at most a quarter of the soak)")
	quick := fs.Bool("quick", false, "short run (about 15 s): see the table below")
	strict := fs.Bool("strict", false, "exit 1 if any success criterion fails")
	seed := fs.Bool("seed-defaults", false, "the original's exact parameters: 100 latency calls per side, 100 chunks, 5 s, 5 × 20")
	noSync := fs.Bool("nosync", false, "skip fsync in both trackers (default: durable, file and directory fsynced)")
	pgDSN := fs.String("postgres", "", "the fleet scenario's PostgreSQL `DSN` (default $"+envPostgresDSN+"; without either the fleet is SKIP)")
	writers := fs.Int("writers", 4, "`N` writer processes of the fleet scenario")
	writerRate := fs.Float64("writer-rate", 5000, "the fleet's paced phase: `calls/s` per writer (a second phase runs at a tenth of it, a third at full speed)")
	fleetDur := fs.Duration("fleet-duration", 10*time.Second, "the fleet's measured phases together (half paced, a quarter at a tenth of the rate, a quarter at full speed)")
	fleetFlush := fs.Duration("fleet-flush", tracker.DefaultFlushInterval, "the flush interval of the fleet's trackers")
	litellmCalls := fs.Int("litellm-calls", 20_000, "`N` calls the fleet scenario writes LiteLLM's way")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err) // the flag package printed it
	}
	bad := func(format string, a ...any) (*config, error) {
		msg := fmt.Sprintf(format, a...)
		fmt.Fprintln(stderr, "bench:", msg)
		fs.Usage()
		return nil, fmt.Errorf("%w: %s", errUsage, msg)
	}
	if fs.NArg() > 0 {
		return bad("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	c := &config{
		out: *out, calls: *calls, chunks: *chunks, duration: *duration,
		threads: *threads, perThread: *perThread, sweepCalls: *sweepCalls, queueItems: *queueItems,
		rate: *rate, quick: *quick, strict: *strict, seedDefaults: *seed, noSync: *noSync,
		producers: *producers, stall: *stallD, stallMode: *stallMode, stallCap: *stallCap, stallCoupled: *stallCoupled, soakInterval: *interval,
		soakDuration: time.Minute, soakRate: defaultSoakRate,
		postgres: *pgDSN, writers: *writers, writerRate: *writerRate, fleetDuration: *fleetDur, fleetFlush: *fleetFlush, litellmCalls: *litellmCalls,
	}
	// Mode defaults for what was not given explicitly.
	syncCap := 1000
	if c.quick {
		syncCap = 200
		if !set["calls"] {
			c.calls = 100_000
		}
		if !set["chunks"] {
			c.chunks = 200
		}
		if !set["duration"] {
			c.duration = time.Second
		}
		if !set["sweep-calls"] {
			c.sweepCalls = 2_000
		}
		if !set["queue-items"] {
			c.queueItems = 100_000
		}
		if !set["stall"] {
			c.stall = 500 * time.Millisecond
		}
		c.soakDuration = 20 * time.Second
		if !set["fleet-duration"] {
			c.fleetDuration = 4 * time.Second
		}
		if !set["litellm-calls"] {
			c.litellmCalls = 2_000
		}
	}
	if set["duration"] {
		c.soakDuration = c.duration
	}
	if c.rate > 0 {
		c.soakRate = c.rate
	}
	if !set["interval"] {
		c.soakInterval = min(c.soakInterval, c.soakDuration/4)
	}
	if c.seedDefaults {
		if !set["calls"] {
			c.calls = 100
		}
		if !set["chunks"] {
			c.chunks = 100
		}
	}
	for _, v := range []struct {
		name string
		n    int64
	}{
		{"calls", int64(c.calls)}, {"chunks", int64(c.chunks)}, {"threads", int64(c.threads)},
		{"calls-per-thread", int64(c.perThread)}, {"sweep-calls", int64(c.sweepCalls)},
		{"queue-items", int64(c.queueItems)}, {"duration", int64(c.duration)},
		{"producers", int64(c.producers)}, {"stall", int64(c.stall)}, {"interval", int64(c.soakInterval)},
		{"writers", int64(c.writers)}, {"fleet-duration", int64(c.fleetDuration)}, {"fleet-flush", int64(c.fleetFlush)},
		{"litellm-calls", int64(c.litellmCalls)},
	} {
		if v.n <= 0 {
			return bad("-%s must be positive, got %d", v.name, v.n)
		}
	}
	if c.rate < 0 || math.IsNaN(c.rate) || math.IsInf(c.rate, 0) {
		return bad("-rate must be a finite number >= 0, got %v", c.rate)
	}
	if !(c.writerRate > 0) || math.IsInf(c.writerRate, 0) {
		return bad("-writer-rate must be a finite number > 0, got %v", c.writerRate)
	}
	if err := c.stallDefaults(set); err != nil {
		return bad("%v", err)
	}
	if c.out == "" {
		return bad("-out must not be empty")
	}
	c.syncCalls = min(c.calls, syncCap)
	if c.seedDefaults {
		c.syncCalls = c.calls
	}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case !slices.Contains(allScenarios, s):
			return bad("unknown scenario %q (want some of %s)", s, strings.Join(allScenarios, ","))
		case !slices.Contains(c.scenarios, s):
			c.scenarios = append(c.scenarios, s)
		}
	}
	if len(c.scenarios) == 0 {
		return bad("-scenarios: no scenario given")
	}
	slices.SortFunc(c.scenarios, func(a, b string) int {
		return slices.Index(allScenarios, a) - slices.Index(allScenarios, b)
	})
	return c, nil
}

// mode describes the parameter set for the report.
func (c *config) mode() string {
	var m []string
	if c.seedDefaults {
		m = append(m, "seed-defaults")
	}
	if c.quick {
		m = append(m, "quick")
	}
	if len(m) == 0 {
		return "default"
	}
	return strings.Join(m, "+")
}
