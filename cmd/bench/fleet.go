package main

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	json "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/internal/spendlogs"
	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
)

// fleetScenario is registered in scenarios.
var fleetScenario = scenario{name: "fleet", run: (*bench).fleet, optIn: true, criteria: fleetCriteria, describe: describeFleet}

// The fleet scenario: -writers OS processes (this program, started again
// as writers, see fleetWriterMain), each with two usage files and a tracker
// on each, one shipping to PostgreSQL (tracker.WithShipper) and one not.
// The run is a schedule of phases (fleetPlan) that every process follows
// on the wall clock: in each phase the processes record in slices, all
// into the shipping tracker or all into the other, alternating, so that
// both sides see the same machine, rate and moment. Meanwhile writer 0
// records markers (each a model of its own) into its shipping tracker
// during its shipping slices and announces them, and the bench polls
// Report until each is visible (the end-to-end lag). Then the bench ships
// what the outboxes still hold, checks every file against what was
// recorded and the database against the files, exactly, and writes a
// workload of the same records LiteLLM's way (internal/spendlogs) for the
// storage comparison. Everything lives in a schema of its own, dropped at
// the end.

const (
	// envPostgresDSN is the variable that names the database when
	// -postgres is not given (pgtest.EnvDSN, the tests' variable).
	envPostgresDSN = "USAGERING_POSTGRES_DSN"
	// exampleDSN is the project machines' database (pgtest.ExampleDSN).
	exampleDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	// envFleetWriter, when set, makes this program a fleet writer: it holds
	// the writer's configuration (fleetWriterConfig as JSON).
	envFleetWriter = "USAGERING_BENCH_FLEET_WRITER"

	fleetTagKey = "team"
	// fleetSliceTarget is the length of a slice (one side recording)
	// aimed at; a phase has an even number of them, at least four.
	fleetSliceTarget = 500 * time.Millisecond
	// fleetWarmUp is recorded before the first measured phase, both sides,
	// and not reported: the processes' first page faults and connections.
	fleetWarmUp = 500 * time.Millisecond
	// fleetPoll is how often the lag probe queries Report for its marker.
	fleetPoll = 5 * time.Millisecond
	// fleetLagGiveUp is how long the probe waits for a marker before it
	// counts it missing (and as this long).
	fleetLagGiveUp = 10 * time.Second
	// fleetSpendPerTx is how many calls LiteLLM's way writes per
	// transaction (its upserts sorted, so none deadlocks).
	fleetSpendPerTx = 100
	// fleetRatioTarget bounds Record with shipping over Record without.
	fleetRatioTarget = 1.1
	// fleetTxTolerance: transactions per writer per flush interval, at
	// most, at every record rate (one batch per persist is 1).
	fleetTxTolerance = 1.25
	// fleetTimeout bounds the writers' start, and their end after the
	// schedule.
	fleetTimeout = 2 * time.Minute
)

// fleetTeams are the values of the tag the fleet's records carry: with the
// workload's three models, twelve keys per writer and day.
var fleetTeams = []string{"search", "ads", "support", "infra"}

// fleetHowTo is the line the scenario prints when it has no database.
var fleetHowTo = fmt.Sprintf("no database: set %s or -postgres (e.g. -postgres '%s') to run it", envPostgresDSN, exampleDSN)

// Sides of a writer: the index of its trackers, histograms and tallies.
const (
	fleetShip  = 0 // the tracker shipping to the database
	fleetPlain = 1 // the same tracker without shipping
)

var fleetSideNames = [2]string{"ship", "plain"}

// newFleetWorkload is the bench's workload with a team tag on every
// record: the fleet's records. Its indices are those of workload, so
// tally and expected work on it.
func newFleetWorkload() *workload {
	w := newWorkload()
	for i := range w.recs {
		w.recs[i].Metadata = map[string]string{fleetTagKey: fleetTeams[i%len(fleetTeams)]}
	}
	return w
}

// fleetPhase is one part of the schedule. Every process follows it on the
// wall clock from a common start t0.
type fleetPhase struct {
	Name  string        `json:"name"`
	Start time.Duration `json:"start"` // from t0
	// Slices alternate between the sides; slice k of phase p records into
	// the shipping tracker if k+p is even.
	Slices int           `json:"slices"`
	Slice  time.Duration `json:"slice"`
	// Rate is each writer's calls/s, paced; 0: back to back (full speed).
	Rate float64 `json:"rate"`
	// Settle follows the last slice: nobody records, the last batches ship.
	// Batches applied until its end count for the phase.
	Settle   time.Duration `json:"settle"`
	Measured bool          `json:"measured"` // false: the warm-up
	Probe    bool          `json:"probe"`    // the lag probe runs during it
}

func (p *fleetPhase) end() time.Duration { return p.Start + time.Duration(p.Slices)*p.Slice }

// sideOf returns the side of slice k of phase number p.
func sideOf(p, k int) int { return (k + p) % 2 }

// fleetPlan is the schedule: a warm-up, then -fleet-duration split into the
// paced phase at -writer-rate (half), a tenth of that rate (a quarter) and
// full speed (a quarter).
func fleetPlan(c *config) []fleetPhase {
	settle := 2*c.fleetFlush + 300*time.Millisecond
	var ps []fleetPhase
	at := time.Duration(0)
	add := func(name string, d time.Duration, rate float64, measured, probe bool) {
		n := int(math.Round(float64(d) / float64(fleetSliceTarget)))
		n += n % 2
		n = max(n, 2)
		if measured {
			n = max(n, 4)
		}
		p := fleetPhase{Name: name, Start: at, Slices: n, Slice: d / time.Duration(n), Rate: rate,
			Settle: settle, Measured: measured, Probe: probe}
		ps = append(ps, p)
		at = p.end() + settle
	}
	add("warm-up", fleetWarmUp, c.writerRate, false, false)
	add("paced", c.fleetDuration/2, c.writerRate, true, true)
	add("paced/10", c.fleetDuration/4, c.writerRate/10, true, true)
	add("full speed", c.fleetDuration/4, 0, true, false)
	return ps
}

// fleetWriterConfig is what a writer process is told, as JSON in
// envFleetWriter.
type fleetWriterConfig struct {
	ID            int           `json:"id"`
	Writers       int           `json:"writers"`
	DSN           string        `json:"dsn"`
	Schema        string        `json:"schema"`
	ShipPath      string        `json:"ship_path"`
	PlainPath     string        `json:"plain_path"`
	FlushInterval time.Duration `json:"flush_interval"`
	NoSync        bool          `json:"no_sync"`
	Phases        []fleetPhase  `json:"phases"`
	// Probe: the writer records markers into its shipping tracker during
	// the shipping slices of the phases marked Probe, each announced on a
	// line "marker <model> <Unix ns before Record>".
	Probe bool `json:"probe"`
}

// fleetWriterReport is what a writer process prints, as JSON on a line
// starting "result ", once its trackers are closed.
type fleetWriterReport struct {
	Phases []fleetWriterPhase `json:"phases"`
	// Tally counts the records accepted per workload index and side.
	Tally [2][workloadSize]int64 `json:"tally"`
	Stats [2]statsBrief          `json:"stats"` // after Close
	// All are the batches applied by the shipping tracker, in all (the
	// phases', and those shipped by Shutdown).
	All           fleetTx `json:"all"`
	ShipErrors    int64   `json:"ship_errors"`
	LastShipError string  `json:"last_ship_error"`
	Markers       int     `json:"markers"` // fleetMarker(0) … (Markers-1) recorded, shipping side
}

type fleetWriterPhase struct {
	Records [2]int64  `json:"records"`
	Hist    [2][]byte `json:"hist"` // time in Record, HdrHistogram V2 compressed
	// Persists are the trackers' file writes from the phase's start to the
	// end of its settle (Stats().TotalFlushes).
	Persists [2]int64 `json:"persists"`
	Tx       fleetTx  `json:"tx"` // applied from the phase's start to the end of its settle
}

// fleetTx counts applied batches: transactions, and the rows they upserted.
type fleetTx struct {
	Batches int64 `json:"batches"`
	Rows    int64 `json:"rows"`
}

func (t *fleetTx) add(o fleetTx) { t.Batches += o.Batches; t.Rows += o.Rows }

// shipCounter is a tracker.Shipper that hands batches to the store and
// counts those applied (Ship returned nil), in all and per phase by when
// the store answered.
type shipCounter struct {
	dest tracker.Shipper

	mu     sync.Mutex
	bounds [][2]int64 // per phase, [from, to) on harness.Now's clock; guarded by mu
	phases []fleetTx  // guarded by mu
	all    fleetTx    // guarded by mu
}

func (s *shipCounter) Ship(ctx context.Context, b usagefile.Batch) error {
	if err := s.dest.Ship(ctx, b); err != nil {
		return err
	}
	now := harness.Now()
	tx := fleetTx{Batches: 1, Rows: int64(len(b.Rows))}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.add(tx)
	for i, bd := range s.bounds {
		if now >= bd[0] && now < bd[1] {
			s.phases[i].add(tx)
		}
	}
	return nil
}

func (s *shipCounter) setPhases(t0 int64, ps []fleetPhase) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bounds = make([][2]int64, len(ps))
	s.phases = make([]fleetTx, len(ps))
	for i, p := range ps {
		s.bounds[i] = [2]int64{t0 + int64(p.Start), t0 + int64(p.end()+p.Settle)}
	}
}

func (s *shipCounter) counts() (all fleetTx, phases []fleetTx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.all, slices.Clone(s.phases)
}

func init() {
	// A fleet writer is this program started again by the fleet scenario
	// (the test binary too, which is why this is not in main).
	if conf := os.Getenv(envFleetWriter); conf != "" {
		os.Exit(fleetWriterMain(conf, os.Stdin, os.Stdout, os.Stderr))
	}
}

// fleetWriterMain is a writer process: it opens the store and its two
// trackers, prints "ready", reads "go <t0>" (t0 in Unix nanoseconds),
// records on the schedule, closes the trackers and prints its report. It
// returns the exit status.
func fleetWriterMain(conf string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := runFleetWriter(conf, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "fleet writer: %v\n", err)
		return exitFail
	}
	return exitOK
}

func runFleetWriter(conf string, stdin io.Reader, stdout io.Writer) (err error) {
	var wc fleetWriterConfig
	if err := json.Unmarshal([]byte(conf), &wc); err != nil {
		return fmt.Errorf("%s: %w", envFleetWriter, err)
	}
	ctx := context.Background()
	store, err := postgres.Open(ctx, wc.DSN, postgres.WithSchema(wc.Schema))
	if err != nil {
		return err
	}
	defer store.Close()
	counter := &shipCounter{dest: store}
	opts := []tracker.Option{tracker.WithFlushInterval(wc.FlushInterval)}
	if wc.NoSync {
		opts = append(opts, tracker.WithNoSync())
	}
	var trs [2]*tracker.Tracker
	trs[fleetShip], err = tracker.New(wc.ShipPath, append(opts, tracker.WithShipper(counter), tracker.WithTagKeys(fleetTagKey))...)
	if err != nil {
		return err
	}
	if trs[fleetPlain], err = tracker.New(wc.PlainPath, opts...); err != nil {
		return errors.Join(err, trs[fleetShip].Close())
	}
	closed := false
	defer func() {
		if !closed {
			err = errors.Join(err, trs[fleetShip].Close(), trs[fleetPlain].Close())
		}
	}()

	fmt.Fprintln(stdout, "ready")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for go: %w", err)
	}
	wall, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(line), "go "), 10, 64)
	if err != nil {
		return fmt.Errorf("bad go line %q: %w", line, err)
	}
	t0 := harness.Now() + (wall - time.Now().UnixNano())
	counter.setPhases(t0, wc.Phases)

	wl := newFleetWorkload()
	var tallies [2]tally
	rep := fleetWriterReport{Phases: make([]fleetWriterPhase, len(wc.Phases))}
	var markers *fleetMarkers
	if wc.Probe {
		markers = &fleetMarkers{out: stdout, gap: int64(wc.FlushInterval), rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))}
	}
	persists := func() [2]int64 {
		return [2]int64{trs[fleetShip].Stats().TotalFlushes, trs[fleetPlain].Stats().TotalFlushes}
	}
	next := wc.ID * 7 // writers start at different records of the cycle
	for p, ph := range wc.Phases {
		harness.WaitUntil(t0 + int64(ph.Start))
		before := persists()
		hs := [2]*hdrhistogram.Histogram{newHdr(), newHdr()}
		var offset int64 // paced writers are staggered across the interval
		if ph.Rate > 0 {
			offset = int64(1e9 / ph.Rate * float64(wc.ID) / float64(wc.Writers))
		}
		for k := range ph.Slices {
			side := sideOf(p, k)
			start := t0 + int64(ph.Start) + int64(k)*int64(ph.Slice)
			var m *fleetMarkers
			if ph.Probe && side == fleetShip {
				m = markers
			}
			n, err := fleetSlice(trs[side], wl, &next, &tallies[side], hs[side], start, start+int64(ph.Slice), ph.Rate, offset, m)
			rep.Phases[p].Records[side] += n
			if err != nil {
				return fmt.Errorf("phase %s, %s side: %w", ph.Name, fleetSideNames[side], err)
			}
		}
		for side, h := range hs {
			if rep.Phases[p].Hist[side], err = h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err != nil {
				return err
			}
		}
		// Wait out the settle, so that the phase's last persists and
		// batches count for it.
		harness.WaitUntil(t0 + int64(ph.end()+ph.Settle))
		after := persists()
		for side := range after {
			rep.Phases[p].Persists[side] = after[side] - before[side]
		}
	}
	if markers != nil {
		rep.Markers = markers.n
	}

	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	closed = true
	errShip, errPlain := trs[fleetShip].Shutdown(sctx), trs[fleetPlain].Shutdown(sctx)
	if err := errors.Join(errShip, errPlain); err != nil {
		return err
	}
	for side, tr := range trs {
		rep.Tally[side] = tallies[side].counts
		rep.Stats[side] = *briefStats(tr.Stats())
	}
	st := trs[fleetShip].Stats()
	rep.ShipErrors, rep.LastShipError = st.ShipErrors, st.LastShipError
	var phases []fleetTx
	rep.All, phases = counter.counts()
	for p := range rep.Phases {
		rep.Phases[p].Tx = phases[p]
	}
	data, err := json.Marshal(&rep)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "result %s\n", data)
	return err
}

func newHdr() *hdrhistogram.Histogram {
	return hdrhistogram.New(harness.LowestValue, harness.HighestValue, harness.SignificantFigures)
}

// fleetSlice records into tr from start to end (harness.Now's clock):
// paced at rate calls/s, the first at start+offset, sleeping between calls
// (so that the writers leave the processors to the flushers and the
// database: calls due while a writer overslept are made at once), or back
// to back when rate is 0. The time in each Record call goes into h. If m
// is not nil, markers are recorded too when due (not timed, not in the
// tally). It returns the calls accepted, markers not included.
func fleetSlice(tr *tracker.Tracker, wl *workload, next *int, t *tally, h *hdrhistogram.Histogram, start, end int64, rate float64, offset int64, m *fleetMarkers) (int64, error) {
	var n int64
	call := func() error {
		if m != nil {
			if err := m.maybe(tr); err != nil {
				return err
			}
		}
		i := *next
		*next++
		s := harness.Now()
		err := tr.Record(*wl.rec(i))
		d := harness.Now() - s
		if err != nil {
			return err
		}
		_ = h.RecordValue(min(max(d, 0), harness.HighestValue))
		t.add(i)
		n++
		return nil
	}
	if rate <= 0 {
		harness.WaitUntil(start)
		for harness.Now() < end {
			if err := call(); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	period := 1e9 / rate
	for k := 0; ; k++ {
		at := start + offset + int64(float64(k)*period)
		if at >= end {
			return n, nil
		}
		if d := at - harness.Now(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		if err := call(); err != nil {
			return n, err
		}
	}
}

// fleetMarkers records the lag probe's markers in a writer: one every
// random interval of 0 to 2 × gap, each announced on out.
type fleetMarkers struct {
	out  io.Writer
	gap  int64
	rng  *rand.Rand
	next int64 // when the next marker is due, on harness.Now's clock
	n    int   // markers recorded
}

// fleetProbeTeam tags the markers.
const fleetProbeTeam = "probe"

// fleetMarker is marker k: a model of its own, so a Report for that model
// shows when it arrived.
func fleetMarker(k int) tracker.Record {
	return tracker.Record{Model: fmt.Sprintf("fleet-marker-%05d", k), Provider: "probe", InputTokens: 10, OutputTokens: 1,
		CostUSD: 0.000123, Metadata: map[string]string{fleetTagKey: fleetProbeTeam}}
}

// maybe records a marker into tr if one is due.
func (m *fleetMarkers) maybe(tr *tracker.Tracker) error {
	now := harness.Now()
	if now < m.next {
		return nil
	}
	r := fleetMarker(m.n)
	at := time.Now().UnixNano()
	if err := tr.Record(r); err != nil {
		return err
	}
	m.n++
	m.next = now + m.rng.Int64N(2*m.gap+1)
	_, err := fmt.Fprintf(m.out, "marker %s %d\n", r.Model, at)
	return err
}

// fleetProc is a running writer process.
type fleetProc struct {
	id          int
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	lines       chan string // its stdout, line by line; closed at EOF
	stderr      *lockedBuffer
	ship, plain string // its usage files
	report      *fleetWriterReport
}

// lockedBuffer collects a writer process's stderr, which the exec package
// copies on a goroutine of its own, for the error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startFleetWriter starts writer process wc.ID.
func startFleetWriter(exe string, wc fleetWriterConfig) (*fleetProc, error) {
	conf, err := json.Marshal(&wc)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	// GORACE: a race-enabled writer (under go test -race) exits at once
	// rather than after the detector's default second.
	cmd.Env = append(os.Environ(), envFleetWriter+"="+string(conf),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	p := &fleetProc{id: wc.ID, cmd: cmd, lines: make(chan string, 4), stderr: &lockedBuffer{}, ship: wc.ShipPath, plain: wc.PlainPath}
	cmd.Stderr = p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	return p, nil
}

// expect waits for the process's next line, which must start with prefix,
// and returns the rest.
func (p *fleetProc) expect(prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("writer %d ended without %q: %s", p.id, prefix, strings.TrimSpace(p.stderr.String()))
		}
		if !strings.HasPrefix(l, prefix) {
			return "", fmt.Errorf("writer %d: got %q, want %q", p.id, l, prefix)
		}
		return strings.TrimPrefix(l, prefix), nil
	case <-t.C:
		return "", fmt.Errorf("writer %d: no %q within %s", p.id, strings.TrimSpace(prefix), timeout)
	}
}

// wait waits for the process to exit, killing it first if kill is set.
func (p *fleetProc) wait(kill bool) error {
	if kill {
		_ = p.cmd.Process.Kill()
	}
	_ = p.stdin.Close()
	for range p.lines { // the rest of its output, so that Wait can close the pipe
	}
	if err := p.cmd.Wait(); err != nil && !kill {
		return fmt.Errorf("writer %d: %w: %s", p.id, err, strings.TrimSpace(p.stderr.String()))
	}
	return nil
}

// fleet runs the fleet scenario (see the comment at the top of the file).
func (b *bench) fleet() (result, error) {
	c := b.cfg
	b.section(fmt.Sprintf("9. Fleet: %d writer processes shipping to PostgreSQL, with and without shipping side by side", c.writers))
	dsn := c.postgres
	if dsn == "" {
		dsn = os.Getenv(envPostgresDSN)
	}
	if dsn == "" {
		fmt.Fprintf(b.stdout, "  fleet: skipped: %s\n", fleetHowTo)
		b.prog.logf("fleet: skipped (%s)", fleetHowTo)
		return nil, nil
	}
	f, err := newFleetRun(b, dsn)
	if err != nil {
		return nil, err
	}
	res, err := f.run()
	if derr := f.dropSchema(); derr != nil {
		err = errors.Join(err, derr)
	}
	if res == nil {
		return nil, err // a nil *fleetResult is not a nil result
	}
	b.printFleet(res)
	return res, err
}

// fleetRun is one run of the scenario: its schema, files and processes.
type fleetRun struct {
	b      *bench
	appDSN string // the DSN with the run's application_name, for every session of the run but admin's
	app    string
	schema string
	plan   []fleetPhase
	wl     *workload
	procs  []*fleetProc
	admin  *pgx.Conn // the bench's own session: sizes, statistics, the schema's drop
}

func newFleetRun(b *bench, dsn string) (*fleetRun, error) {
	if _, err := pgx.ParseConfig(dsn); err != nil {
		return nil, fmt.Errorf("fleet: the database's DSN: %w", err)
	}
	var suffix [6]byte
	_, _ = crand.Read(suffix[:])
	schema := "bench_fleet_" + hex.EncodeToString(suffix[:])
	app := "usagering-bench-" + schema
	appDSN, err := withAppName(dsn, app)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("fleet: connecting to the database: %w", err)
	}
	return &fleetRun{b: b, appDSN: appDSN, app: app, schema: schema, plan: fleetPlan(b.cfg), wl: newFleetWorkload(), admin: admin}, nil
}

// withAppName returns dsn with the session's application_name set to name
// (a URL or key=value DSN, as pgx reads them), so the run can tell its own
// sessions from others on the server.
func withAppName(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("fleet: the database's DSN: %w", err)
		}
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " application_name=" + name, nil
}

func (f *fleetRun) dropSchema() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := f.admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{f.schema}.Sanitize()+" CASCADE")
	return errors.Join(err, f.admin.Close(ctx))
}

func (f *fleetRun) run() (*fleetResult, error) {
	b, c := f.b, f.b.cfg
	ctx := context.Background()
	res := &fleetResult{Writers: c.writers, FlushIntervalMS: ms(c.fleetFlush), WriterRate: c.writerRate, Fsync: !c.noSync,
		Schema: f.schema, Poll: ms(fleetPoll), SpendPerTx: fleetSpendPerTx}
	b.prog.logf("fleet: schema %s, %d writers, %s measured in all", f.schema, c.writers, c.fleetDuration)
	store, err := postgres.Open(ctx, f.appDSN, postgres.WithSchema(f.schema))
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			store.Close()
		}
	}()

	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	for id := range c.writers {
		wc := fleetWriterConfig{ID: id, Writers: c.writers, DSN: f.appDSN, Schema: f.schema,
			FlushInterval: c.fleetFlush, NoSync: c.noSync, Phases: f.plan, Probe: id == 0}
		if wc.ShipPath, err = b.fresh(fmt.Sprintf("fleet_w%d_ship.json", id)); err == nil {
			wc.PlainPath, err = b.fresh(fmt.Sprintf("fleet_w%d_plain.json", id))
		}
		var p *fleetProc
		if err == nil {
			p, err = startFleetWriter(exe, wc)
		}
		if err != nil {
			f.stop(true)
			return nil, fmt.Errorf("fleet: starting writer %d: %w", id, err)
		}
		f.procs = append(f.procs, p)
	}
	for _, p := range f.procs {
		if _, err := p.expect("ready", fleetTimeout); err != nil {
			f.stop(true)
			return nil, fmt.Errorf("fleet: %w", err)
		}
	}

	// Go: every process starts the schedule at the same wall-clock time.
	wall := time.Now().Add(500 * time.Millisecond)
	for _, p := range f.procs {
		if _, err := fmt.Fprintf(p.stdin, "go %d\n", wall.UnixNano()); err != nil {
			f.stop(true)
			return nil, fmt.Errorf("fleet: writer %d: %w", p.id, err)
		}
	}
	last := f.plan[len(f.plan)-1]
	runFor := last.end() + last.Settle
	b.prog.logf("fleet: recording for %s (%d phases)", runFor.Round(time.Millisecond), len(f.plan))
	probe, result0, err := f.pollMarkers(ctx, store, f.procs[0], runFor+fleetTimeout)
	var errs []error
	for _, p := range f.procs {
		l := result0
		if p != f.procs[0] {
			l, err = p.expect("result ", runFor+fleetTimeout)
		}
		if err == nil {
			p.report = &fleetWriterReport{}
			err = json.Unmarshal([]byte(l), p.report)
		}
		if err == nil {
			err = p.wait(false)
		} else {
			_ = p.wait(true)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("fleet: %w", err))
		}
		err = nil
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	// Ship what the outboxes still hold, then check every file and the
	// database.
	b.prog.logf("fleet: draining the outboxes and checking files and database")
	drainShip := &shipCounter{dest: store}
	outboxes := f.drain(drainShip)
	drained, _ := drainShip.counts()
	res.Database.DrainedBatches = drained.Batches
	res.Database.Transactions, res.Database.RowsWritten = drained.Batches, drained.Rows

	var shipTally tally
	exp := newExpected() // what the shipping trackers recorded
	teams := map[string]tracker.Totals{}
	for _, p := range f.procs {
		r := p.report
		for side, file := range []string{p.ship, p.plain} {
			t := tally{counts: r.Tally[side]}
			e := t.expected(f.wl)
			if side == fleetShip {
				shipTally.merge(&t)
				for k := range r.Markers {
					m := fleetMarker(k)
					mt := totalsOf(&m)
					e.addTotals(m.Model, mt)
					exp.addTotals(m.Model, mt)
					pt := teams[fleetProbeTeam]
					pt.Add(mt)
					teams[fleetProbeTeam] = pt
				}
			}
			st := tracker.Stats{TotalRecords: r.Stats[side].TotalRecords, LostRecords: r.Stats[side].LostRecords,
				Dropped: r.Stats[side].Dropped, Pending: r.Stats[side].Pending}
			b.check(checkFile("fleet", fmt.Sprintf("%s, writer %d", fleetSideNames[side], p.id), file, e, &st))
		}
		res.Database.Transactions += r.All.Batches
		res.Database.RowsWritten += r.All.Rows
		res.ShipErrors += r.ShipErrors
	}
	for m, t := range shipTally.expected(f.wl).models {
		exp.addTotals(m, t)
	}
	for team, t := range teamTotals(&shipTally, f.wl) {
		tt := teams[team]
		tt.Add(t)
		teams[team] = tt
	}
	hc := f.checkDatabase(ctx, store, exp, teams, outboxes, &res.Database)
	res.Database.Calls = exp.total.Calls

	// What the store holds, before LiteLLM's tables join it in the schema.
	rows, bytes, err := f.size(ctx, "daily_totals", "writers", "schema_version")
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	res.Database.RowsStored, res.Database.Bytes = rows, bytes
	store.Close()
	storeOpen = false
	// The server's count of the rows written must be the shippers'.
	if res.Database.StatRowsWritten = f.statRowsWritten(ctx); res.Database.StatRowsWritten >= 0 && res.Database.StatRowsWritten != res.Database.RowsWritten {
		hc.Problems = append(hc.Problems, fmt.Sprintf("the server counts %d rows written (pg_stat_user_tables), the shippers %d",
			res.Database.StatRowsWritten, res.Database.RowsWritten))
		hc.OK = false
	}
	b.check(hc)

	f.fill(res, probe)
	res.ZeroLoss = true
	for _, hc := range b.res.Honesty {
		if hc.Scenario == "fleet" && !hc.OK {
			res.ZeroLoss = false
		}
	}

	b.prog.logf("fleet: writing %s calls LiteLLM's way", count(int64(c.litellmCalls)))
	if err := f.litellm(ctx, &res.LiteLLM); err != nil {
		return res, fmt.Errorf("fleet: LiteLLM's way: %w", err)
	}
	res.perMillion()
	return res, nil
}

// stop ends the writer processes started so far.
func (f *fleetRun) stop(kill bool) {
	for _, p := range f.procs {
		_ = p.wait(kill)
	}
}

// fleetProbe is what the lag probe measured.
type fleetProbe struct {
	lag     *harness.Histogram // Record to visible in Report, ns
	missing int                // markers not seen within fleetLagGiveUp
	errs    int                // Report calls that failed
}

// pollMarkers reads writer p's output until its result line, which it
// returns: for each marker announced, it polls Report for the marker's
// model every fleetPoll until it is visible, and records the lag from the
// wall-clock time the writer took just before Record (one machine, one
// clock). One writer's markers arrive in the order it recorded them (its
// batches apply in sequence), so it polls the oldest not yet seen.
func (f *fleetRun) pollMarkers(ctx context.Context, store *postgres.Store, p *fleetProc, timeout time.Duration) (*fleetProbe, string, error) {
	pr := &fleetProbe{lag: harness.NewHistogram()}
	type marker struct {
		model string
		at    int64 // Unix ns
	}
	var queue []marker
	tick := time.NewTicker(fleetPoll)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	result := ""
	lines := p.lines
	for lines != nil || len(queue) > 0 {
		select {
		case l, ok := <-lines:
			switch {
			case !ok:
				return pr, "", fmt.Errorf("writer %d ended without a result: %s", p.id, strings.TrimSpace(p.stderr.String()))
			case strings.HasPrefix(l, "marker "):
				var m marker
				if _, err := fmt.Sscanf(l, "marker %s %d", &m.model, &m.at); err != nil {
					return pr, "", fmt.Errorf("writer %d: %q: %w", p.id, l, err)
				}
				queue = append(queue, m)
			case strings.HasPrefix(l, "result "):
				result, lines = strings.TrimPrefix(l, "result "), nil
			default:
				return pr, "", fmt.Errorf("writer %d: unexpected %q", p.id, l)
			}
		case <-tick.C:
			for len(queue) > 0 {
				m := queue[0]
				rows, err := store.Report(ctx, postgres.ReportQuery{Model: m.model})
				lag := time.Now().UnixNano() - m.at
				if err != nil {
					pr.errs++
					break
				}
				if len(rows) == 1 && rows[0].Calls > 0 {
					pr.lag.Record(lag)
				} else if lag > int64(fleetLagGiveUp) {
					pr.missing++
					pr.lag.Record(lag)
				} else {
					break
				}
				queue = queue[1:]
			}
		case <-deadline.C:
			return pr, "", fmt.Errorf("writer %d: no result within %s", p.id, timeout)
		}
	}
	return pr, result, nil
}

// drain opens every writer's shipping file with the
// store once more, which ships what its outbox holds, and returns the
// problems found: an outbox not empty after, a ship error.
func (f *fleetRun) drain(ship *shipCounter) []string {
	var problems []string
	var files []string
	for _, p := range f.procs {
		files = append(files, p.ship)
	}
	for _, file := range files {
		tr, err := tracker.New(file, append(f.b.trackerOptions(), tracker.WithShipper(ship), tracker.WithTagKeys(fleetTagKey))...)
		if err == nil {
			err = tr.Close()
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("draining %s: %v", file, err))
			continue
		}
		if st := tr.Stats(); st.LastShipError != "" {
			problems = append(problems, fmt.Sprintf("draining %s: %s", file, st.LastShipError))
		}
		doc, err := usagefile.Read(file)
		if err != nil {
			problems = append(problems, fmt.Sprintf("reading %s: %v", file, err))
			continue
		}
		if o := doc.State.Outbox; o == nil || o.Inflight != nil || len(o.Pending) > 0 {
			problems = append(problems, fmt.Sprintf("%s: outbox not empty after draining: %+v", file, o))
		}
	}
	return problems
}

// teamTotals are the totals of t's records by their team tag.
func teamTotals(t *tally, wl *workload) map[string]tracker.Totals {
	e := newExpected()
	for i, n := range t.counts {
		if n > 0 {
			r := wl.recs[i]
			r.Model = r.Metadata[fleetTagKey] // addN sums by model: by team here
			e.addN(&r, n)
		}
	}
	return e.models
}

// totalsOf is what recording r once adds.
func totalsOf(r *tracker.Record) tracker.Totals {
	e := newExpected()
	e.addN(r, 1)
	return e.total
}

// addTotals adds t, recorded under model m.
func (e *expected) addTotals(m string, t tracker.Totals) {
	e.total.Add(t)
	mt := e.models[m]
	mt.Add(t)
	e.models[m] = mt
}

// checkDatabase compares the store, after the drain, with what was
// recorded into the shipping trackers (exp, and by team) and with the
// shipping files, exactly; and the writers' high-water marks with the
// batches counted as applied.
func (f *fleetRun) checkDatabase(ctx context.Context, store *postgres.Store, exp *expected, teams map[string]tracker.Totals, outboxes []string, db *fleetDB) honestyCheck {
	hc := honestyCheck{Scenario: "fleet", Side: "database", File: "schema " + f.schema, Recorded: toJSON(exp.total), Problems: outboxes}
	problem := func(format string, a ...any) { hc.Problems = append(hc.Problems, fmt.Sprintf(format, a...)) }
	byModel, err := store.Report(ctx, postgres.ReportQuery{By: []postgres.Dimension{postgres.Model}})
	if err != nil {
		problem("Report by model: %v", err)
	}
	got := map[string]tracker.Totals{}
	for _, r := range byModel {
		got[r.Model] = r.Totals
	}
	hc.Persisted = toJSON(postgres.Sum(byModel))
	if postgres.Sum(byModel) != exp.total {
		problem("the database holds %s, the shipping trackers recorded %s", fmtTotals(postgres.Sum(byModel)), fmtTotals(exp.total))
	}
	files := map[string]tracker.Totals{}
	var paths []string
	for _, p := range f.procs {
		paths = append(paths, p.ship)
	}
	for _, path := range paths {
		doc, err := usagefile.Read(path)
		if err != nil {
			problem("reading %s: %v", path, err)
			continue
		}
		for m, t := range doc.ModelBreakdown {
			ft := files[m]
			ft.Add(t)
			files[m] = ft
		}
	}
	var names []string
	for _, m := range [...]map[string]tracker.Totals{got, exp.models, files} {
		for name := range m {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, m := range slices.Compact(names) {
		if got[m] != exp.models[m] {
			problem("model %q: database %s, recorded %s", m, fmtTotals(got[m]), fmtTotals(exp.models[m]))
		}
		if got[m] != files[m] {
			problem("model %q: database %s, files %s", m, fmtTotals(got[m]), fmtTotals(files[m]))
		}
	}
	byTeam, err := store.Report(ctx, postgres.ReportQuery{By: []postgres.Dimension{postgres.Tag}, TagKey: fleetTagKey})
	if err != nil {
		problem("Report by team: %v", err)
	}
	gotTeams := map[string]tracker.Totals{}
	for _, r := range byTeam {
		gotTeams[r.Tag] = r.Totals
	}
	for team := range gotTeams {
		if _, ok := teams[team]; !ok {
			problem("team %q in the database, never recorded", team)
		}
	}
	for team, t := range teams {
		if gotTeams[team] != t {
			problem("team %q: database %s, recorded %s", team, fmtTotals(gotTeams[team]), fmtTotals(t))
		}
	}
	ws, err := store.Writers(ctx)
	if err != nil {
		problem("Writers: %v", err)
	}
	for _, w := range ws {
		db.WritersSeqSum += int64(w.Seq)
	}
	db.WriterIDs = len(ws)
	if want := len(f.procs); len(ws) != want {
		problem("%d writers in the database, want %d (one per shipping file)", len(ws), want)
	}
	if db.WritersSeqSum != db.Transactions {
		problem("the writers' high-water marks add up to %d batches, %d were applied", db.WritersSeqSum, db.Transactions)
	}
	hc.OK = len(hc.Problems) == 0
	return hc
}

// size returns the rows and the bytes (pg_total_relation_size: with
// indexes and TOAST) of the named tables of the run's schema.
func (f *fleetRun) size(ctx context.Context, tables ...string) (rows, bytes int64, err error) {
	for _, t := range tables {
		name := pgx.Identifier{f.schema, t}.Sanitize()
		var n, sz int64
		if err := f.admin.QueryRow(ctx, "SELECT count(*), pg_total_relation_size($1::regclass) FROM "+name, name).Scan(&n, &sz); err != nil {
			return 0, 0, fmt.Errorf("size of %s: %w", name, err)
		}
		rows += n
		bytes += sz
	}
	return rows, bytes, nil
}

// statRowsWritten returns the rows inserted and updated in the store's
// daily_totals as the server's statistics count them
// (pg_stat_user_tables), once every session of the run has ended (a
// session reports its counts by the time it is gone); -1 if they could not
// be read in time.
func (f *fleetRun) statRowsWritten(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		var n int
		if err := f.admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", f.app).Scan(&n); err != nil {
			return -1
		}
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(10 * time.Millisecond): // sessions end asynchronously after their pool closes
		}
	}
	var n int64
	if err := f.admin.QueryRow(ctx, "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'daily_totals'", f.schema).Scan(&n); err != nil {
		return -1
	}
	return n
}

// litellm writes -litellm-calls calls of the fleet's workload LiteLLM's
// way into the run's schema: -writers goroutines, fleetSpendPerTx calls per
// transaction, a spend-log row per call and the upsert of the daily row
// all writers share.
func (f *fleetRun) litellm(ctx context.Context, r *fleetLiteLLM) error {
	c := f.b.cfg
	pool, err := pgxpool.New(ctx, f.appDSN)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := spendlogs.Create(ctx, pool, f.schema); err != nil {
		return err
	}
	w := spendlogs.NewWriter(pool, f.schema, spendlogs.SortedUpserts())
	now := time.Now()
	per := c.litellmCalls / c.writers
	errs := make([]error, c.writers)
	start := time.Now()
	var wg sync.WaitGroup
	for g := range c.writers {
		n := per
		if g == c.writers-1 {
			n = c.litellmCalls - per*(c.writers-1)
		}
		wg.Go(func() {
			calls := make([]spendlogs.Call, 0, fleetSpendPerTx)
			for i := range n {
				rec := f.wl.rec(g*7 + i)
				team := rec.Metadata[fleetTagKey]
				calls = append(calls, spendlogs.Call{
					RequestID: fmt.Sprintf("chatcmpl-%d-%08d", g, i), APIKey: fmt.Sprintf("%064x", team), User: team,
					Model: rec.Model, Provider: tracker.DetectProvider(rec.Model), Start: now, End: now.Add(time.Duration(rec.LatencyMS) * time.Millisecond),
					PromptTokens: rec.InputTokens, CompletionTokens: rec.OutputTokens, Spend: rec.CostUSD, Tags: []string{fleetTagKey + ":" + team},
				})
				if len(calls) == fleetSpendPerTx || i == n-1 {
					if err := w.Write(ctx, calls); err != nil {
						errs[g] = err
						return
					}
					calls = calls[:0]
				}
			}
		})
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.Calls, r.CallsPerTx = int64(c.litellmCalls), fleetSpendPerTx
	r.Transactions, r.Retries = w.Commits(), w.Retries()
	r.Rows, r.Bytes, err = f.size(ctx, "spend_logs", "daily_user_spend")
	return err
}

// fill computes the phases' figures from the writers' reports, and the
// probe's.
func (f *fleetRun) fill(res *fleetResult, probe *fleetProbe) {
	w := float64(len(f.procs))
	for p, ph := range f.plan {
		if !ph.Measured {
			continue
		}
		pr := fleetPhaseResult{Name: ph.Name, RatePerWriter: ph.Rate, Slices: ph.Slices, SliceMS: ms(ph.Slice)}
		secs := float64(ph.Slices/2) * ph.Slice.Seconds() // per side and writer
		for side, sr := range []*fleetSideResult{&pr.Ship, &pr.Plain} {
			h := newHdr()
			sr.Seconds = secs
			sr.MinPerWriter = math.Inf(1)
			for _, proc := range f.procs {
				wp := proc.report.Phases[p]
				dh, err := hdrhistogram.Decode(wp.Hist[side])
				if err != nil {
					f.b.fail(fmt.Errorf("fleet: writer %d's histogram: %w", proc.id, err))
					continue
				}
				h.Merge(dh)
				sr.Records += wp.Records[side]
				sr.Persists += wp.Persists[side]
				perSec := float64(wp.Records[side]) / secs
				sr.MinPerWriter, sr.MaxPerWriter = min(sr.MinPerWriter, perSec), max(sr.MaxPerWriter, perSec)
			}
			sr.PerWriter = float64(sr.Records) / w / secs
			sr.PersistsPerSecond = float64(sr.Persists) / w / secs
			sr.Latency = statsOf(hdrSummary(h))
		}
		pr.Ratio = ratioOf(pr.Ship.Latency, pr.Plain.Latency)
		for _, proc := range f.procs {
			pr.Tx.add(proc.report.Phases[p].Tx)
		}
		pr.Transactions, pr.RowsWritten = pr.Tx.Batches, pr.Tx.Rows
		pr.TxPerSecond = float64(pr.Tx.Batches) / secs
		pr.TxPerSecondPerWriter = pr.TxPerSecond / w
		pr.TxPerWriterPerFlush = pr.TxPerSecondPerWriter * f.b.cfg.fleetFlush.Seconds()
		pr.RowsPerSecond = float64(pr.Tx.Rows) / secs
		pr.RowsPerTx = ratio(float64(pr.Tx.Rows), float64(pr.Tx.Batches))
		pr.RecordsPerTx = ratio(float64(pr.Ship.Records), float64(pr.Tx.Batches))
		pr.TxPerMillion = ratio(1e6, pr.RecordsPerTx)
		res.Phases = append(res.Phases, pr)
		if ph.Name == "paced" {
			res.RecordRatio = pr.Ratio
		}
	}
	s := probe.lag.Summary()
	res.Lag = fleetLag{Markers: int(s.Count), Missing: probe.missing, ReportErrors: probe.errs,
		P50MS: s.P50MS(), P99MS: s.P99MS(), MaxMS: s.MaxMS(),
		TargetMS: ms(2*f.b.cfg.fleetFlush + 100*time.Millisecond)}
	f.b.keep("fleet_lag", probe.lag)
}

// hdrSummary is harness.Histogram.Summary for a histogram of the same
// geometry decoded from a writer's report.
func hdrSummary(h *hdrhistogram.Histogram) harness.Summary {
	s := harness.Summary{Count: h.TotalCount()}
	if s.Count == 0 {
		return s
	}
	s.Mean, s.StdDev, s.Min, s.Max = h.Mean(), h.StdDev(), h.Min(), h.Max()
	p := h.ValueAtPercentilesSlice([]float64{50, 90, 95, 99, 99.9, 99.99})
	s.P50, s.P90, s.P95, s.P99, s.P999, s.P9999 = p[0], p[1], p[2], p[3], p[4], p[5]
	return s
}

func ratioOf(ship, plain latencyStats) fleetRatio {
	return fleetRatio{P50: ratio(ship.MedianMS, plain.MedianMS), P99: ratio(ship.P99MS, plain.P99MS), P999: ratio(ship.P999MS, plain.P999MS)}
}

// perMillion extrapolates the run's counts to a million calls, linearly.
func (r *fleetResult) perMillion() {
	if r.Database.Calls > 0 {
		k := 1e6 / float64(r.Database.Calls)
		r.PerMillionCalls.Usagering = fleetPerMillion{Rows: float64(r.Database.RowsStored) * k, Bytes: float64(r.Database.Bytes) * k,
			Transactions: float64(r.Database.Transactions) * k}
	}
	if r.LiteLLM.Calls > 0 {
		k := 1e6 / float64(r.LiteLLM.Calls)
		r.PerMillionCalls.LiteLLM = fleetPerMillion{Rows: float64(r.LiteLLM.Rows) * k, Bytes: float64(r.LiteLLM.Bytes) * k,
			Transactions: float64(r.LiteLLM.Transactions) * k}
	}
	r.PerMillionCalls.Note = "extrapolated linearly from this run's counts: usagering's rows are bounded by writers × keys × days " +
		"and its transactions grow with time, not calls; LiteLLM's way grows by a row per call"
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

type fleetResult struct {
	Writers         int     `json:"writers"`
	FlushIntervalMS float64 `json:"flush_interval_ms"`
	WriterRate      float64 `json:"writer_rate"` // the paced phase's calls/s per writer
	Fsync           bool    `json:"fsync"`
	Schema          string  `json:"schema"` // dropped at the end
	// Phases are the measured phases: paced at WriterRate, at a tenth of
	// it, and at full speed; each alternates slices with and without
	// shipping.
	Phases []fleetPhaseResult `json:"phases"`
	// RecordRatio is Record with shipping over without, in the paced
	// phase.
	RecordRatio fleetRatio   `json:"record_ratio"`
	Lag         fleetLag     `json:"lag"`
	Poll        float64      `json:"poll_interval_ms"` // the lag probe's
	Database    fleetDB      `json:"database"`
	ShipErrors  int64        `json:"ship_errors"` // failed Ship calls (retried), all shipping trackers
	SpendPerTx  int          `json:"litellm_calls_per_transaction"`
	LiteLLM     fleetLiteLLM `json:"litellm"`
	// PerMillionCalls compares the two ways' storage and transactions.
	PerMillionCalls struct {
		Usagering fleetPerMillion `json:"usagering"`
		LiteLLM   fleetPerMillion `json:"litellm"`
		Note      string          `json:"note"`
	} `json:"per_million_calls"`
	ZeroLoss bool `json:"zero_loss"` // every fleet honesty check OK: files and database
}

type fleetPhaseResult struct {
	Name          string          `json:"name"`
	RatePerWriter float64         `json:"rate_per_writer"` // calls/s; 0: full speed
	Slices        int             `json:"slices"`
	SliceMS       float64         `json:"slice_ms"`
	Ship          fleetSideResult `json:"ship"`
	Plain         fleetSideResult `json:"plain"`
	Ratio         fleetRatio      `json:"ratio"` // ship / plain
	Tx            fleetTx         `json:"-"`
	// Database writes while shipping: transactions (batches applied) and
	// rows upserted, per second of shipping.
	Transactions         int64   `json:"transactions"`
	TxPerSecond          float64 `json:"transactions_per_second"`
	TxPerSecondPerWriter float64 `json:"transactions_per_second_per_writer"`
	TxPerWriterPerFlush  float64 `json:"transactions_per_writer_per_flush_interval"`
	RowsWritten          int64   `json:"rows_written"`
	RowsPerSecond        float64 `json:"rows_written_per_second"`
	RowsPerTx            float64 `json:"rows_per_transaction"`
	RecordsPerTx         float64 `json:"records_per_transaction"`
	TxPerMillion         float64 `json:"transactions_per_million_records"`
}

type fleetSideResult struct {
	Records      int64   `json:"records"`
	Seconds      float64 `json:"seconds"` // recording, per writer
	PerWriter    float64 `json:"records_per_second_per_writer"`
	MinPerWriter float64 `json:"min_records_per_second_per_writer"`
	MaxPerWriter float64 `json:"max_records_per_second_per_writer"`
	// Persists are the file writes of the side's trackers during the phase
	// (to the end of its settle); PersistsPerSecond per writer and second
	// of recording.
	Persists          int64        `json:"persists"`
	PersistsPerSecond float64      `json:"persists_per_second_per_writer"`
	Latency           latencyStats `json:"latency"` // time in Record
}

type fleetRatio struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
}

type fleetLag struct {
	Markers      int     `json:"markers"`
	Missing      int     `json:"missing"` // not visible within 10 s
	ReportErrors int     `json:"report_errors"`
	P50MS        float64 `json:"p50_ms"`
	P99MS        float64 `json:"p99_ms"`
	MaxMS        float64 `json:"max_ms"`
	TargetMS     float64 `json:"target_p99_ms"` // 2 × flush interval + 100 ms
}

type fleetDB struct {
	Calls           int64 `json:"calls"`        // recorded into the shipping trackers (the probe's included)
	Transactions    int64 `json:"transactions"` // batches applied, as the shippers counted them
	WritersSeqSum   int64 `json:"writers_seq_sum"`
	WriterIDs       int   `json:"writers"`
	DrainedBatches  int64 `json:"drained_batches"`   // shipped by the drain after the writers ended
	RowsWritten     int64 `json:"rows_written"`      // rows upserted, as the shippers counted them
	StatRowsWritten int64 `json:"stat_rows_written"` // the server's count (pg_stat_user_tables), checked equal; -1: not read in time
	RowsStored      int64 `json:"rows_stored"`       // in the store's tables at the end
	Bytes           int64 `json:"bytes"`             // pg_total_relation_size of the store's tables
}

type fleetLiteLLM struct {
	Calls        int64   `json:"calls"`
	CallsPerTx   int     `json:"calls_per_transaction"`
	Transactions int64   `json:"transactions"`
	Retries      int64   `json:"retries"` // after deadlocks
	Rows         int64   `json:"rows"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
}

type fleetPerMillion struct {
	Rows         float64 `json:"rows"`
	Bytes        float64 `json:"bytes"`
	Transactions float64 `json:"transactions"`
}

func (b *bench) printFleet(r *fleetResult) {
	w := b.stdout
	fmt.Fprintf(w, "  schema %s (dropped at the end), flush interval %s, fsync %s; each phase alternates slices with and without shipping, all writers in step\n",
		r.Schema, fmtMSAsNs(r.FlushIntervalMS), onOff(r.Fsync))
	t := newTable("phase", "side", "records/s per writer", "(min-max)", "file writes/s", "Record p50", "p99", "p99.9", "max")
	for _, p := range r.Phases {
		name := fmt.Sprintf("%s, %s/s per writer, %d × %s", p.Name, rate(p.RatePerWriter), p.Slices, fmtMSAsNs(p.SliceMS))
		if p.RatePerWriter == 0 {
			name = fmt.Sprintf("%s, back to back, %d × %s", p.Name, p.Slices, fmtMSAsNs(p.SliceMS))
		}
		for i, s := range []fleetSideResult{p.Ship, p.Plain} {
			label := name
			if i > 0 {
				label = ""
			}
			t.add(label, fleetSideNames[i], rate(s.PerWriter), rate(s.MinPerWriter)+"-"+rate(s.MaxPerWriter), fmtF(s.PersistsPerSecond),
				fmtMSAsNs(s.Latency.MedianMS), fmtMSAsNs(s.Latency.P99MS), fmtMSAsNs(s.Latency.P999MS), fmtMSAsNs(s.Latency.MaxMS))
		}
		t.add("", "ship/plain", "", "", "", fmtRatio(p.Ratio.P50), fmtRatio(p.Ratio.P99), fmtRatio(p.Ratio.P999), "")
	}
	t.write(w)
	fmt.Fprintln(w, "  (Record timed from its call to its return; paced writers sleep between calls and make at once the calls due while they slept;")
	fmt.Fprintln(w, "  file writes/s: the trackers' persists per writer and second of recording, to the end of the phase's settle)")
	fmt.Fprintf(w, "  database while shipping (per second of shipping; one batch per writer and flush interval would be %s transactions/s):\n",
		fmtF(float64(r.Writers)/(r.FlushIntervalMS/1e3)))
	t = newTable("phase", "transactions/s", "per writer", "per writer and flush", "rows written/s", "rows/tx", "records/tx", "tx per million records")
	for _, p := range r.Phases {
		t.add(p.Name, fmtF(p.TxPerSecond), fmtF(p.TxPerSecondPerWriter), fmtF(p.TxPerWriterPerFlush), fmtF(p.RowsPerSecond),
			fmtF(p.RowsPerTx), fmtF(p.RecordsPerTx), fmtF(p.TxPerMillion))
	}
	t.write(w)
	d := &r.Database
	stat := "not read in time"
	if d.StatRowsWritten >= 0 {
		stat = count(d.StatRowsWritten)
	}
	fmt.Fprintf(w, "  in all: %s calls shipped in %s transactions (%s by the drain after the writers ended; the %d writers' high-water marks add up to %s), %s rows written (pg_stat_user_tables: %s), %s failed Ship calls retried\n",
		count(d.Calls), count(d.Transactions), count(d.DrainedBatches), d.WriterIDs, count(d.WritersSeqSum),
		count(d.RowsWritten), stat, count(r.ShipErrors))
	l := r.Lag
	fmt.Fprintf(w, "  end-to-end lag, Record to visible in a Report query: %d markers recorded by writer 0 in its shipping slices of the paced phases, polled every %s: p50 %s, p99 %s, max %s (target p99 <= %s); %d missing\n",
		l.Markers, fmtMSAsNs(r.Poll), fmtMSAsNs(l.P50MS), fmtMSAsNs(l.P99MS), fmtMSAsNs(l.MaxMS), fmtMSAsNs(l.TargetMS), l.Missing)
	ll := &r.LiteLLM
	if ll.Calls > 0 {
		fmt.Fprintf(w, "  LiteLLM's way (internal/spendlogs): %s calls of the same workload by %d writers, %d per transaction (upserts sorted): %s transactions (%d retried), %s rows, %s, %.1f s\n",
			count(ll.Calls), r.Writers, ll.CallsPerTx, count(ll.Transactions), ll.Retries, count(ll.Rows), mib(uint64(ll.Bytes)), ll.Seconds)
		u, x := r.PerMillionCalls.Usagering, r.PerMillionCalls.LiteLLM
		fmt.Fprintln(w, "  per million calls (extrapolated linearly from this run's counts; usagering's rows are bounded by writers × keys × days):")
		t = newTable("", "rows", "bytes", "transactions")
		t.add("usagering", count(int64(u.Rows)), mib(uint64(u.Bytes)), count(int64(u.Transactions)))
		t.add("LiteLLM's way", count(int64(x.Rows)), mib(uint64(x.Bytes)), count(int64(x.Transactions)))
		t.add("LiteLLM's / usagering's", fmtX(ratio(x.Rows, u.Rows)), fmtX(ratio(x.Bytes, u.Bytes)), fmtX(ratio(x.Transactions, u.Transactions)))
		t.write(w)
		var parts []string
		for _, p := range r.Phases {
			parts = append(parts, fmt.Sprintf("%s at %s records/s per writer", fmtF(p.TxPerMillion), rate(p.Ship.PerWriter)))
		}
		fmt.Fprintf(w, "  (usagering's transactions per million calls depend on the record rate, the run's on its full-speed phase: %s)\n", strings.Join(parts, ", "))
	}
}

func fmtRatio(r float64) string {
	if r <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2fx", r)
}

// fmtF formats a figure with three significant digits at least.
func fmtF(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1000:
		return count(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// fleetCriteria: Record with shipping within 1.1× of without (p50, p99,
// p99.9, paced phase); transactions bounded by writers × flush rate at
// every record rate; the lag's p99 within 2 × flush interval + 100 ms; and
// every record in the files and the database.
func fleetCriteria(r result) []criterion {
	fr, _ := r.(*fleetResult)
	ran := fr != nil
	var f fleetResult
	if ran {
		f = *fr
	}
	var crit []criterion
	for _, q := range []struct {
		name, label string
		v           float64
	}{{"p50", "p50", f.RecordRatio.P50}, {"p99", "p99", f.RecordRatio.P99}, {"p999", "p99.9", f.RecordRatio.P999}} {
		crit = append(crit, judge(criterion{Name: "fleet_record_" + q.name + "_ratio",
			Target:   fmt.Sprintf("fleet: Record %s with shipping <= %.1f× without (paced, interleaved)", q.label, fleetRatioTarget),
			Measured: q.v, Unit: "ratio", Display: fmtRatio(q.v)}, ran, q.v > 0 && q.v <= fleetRatioTarget))
	}
	worst, at := 0.0, ""
	for _, p := range f.Phases {
		if p.TxPerWriterPerFlush >= worst {
			worst, at = p.TxPerWriterPerFlush, p.Name
		}
	}
	crit = append(crit, judge(criterion{Name: "fleet_tx_per_flush",
		Target:   fmt.Sprintf("fleet: database transactions scale with writers × flush rate, not records (<= %.2f per writer and flush interval at every rate)", fleetTxTolerance),
		Measured: worst, Unit: "transactions per writer per flush interval",
		Display: fmt.Sprintf("at most %s (%s)", fmtF(worst), at)}, ran, len(f.Phases) > 0 && worst <= fleetTxTolerance))
	crit = append(crit, judge(criterion{Name: "fleet_lag_p99",
		Target:   "fleet: end-to-end lag p99 <= 2 × flush interval + 100 ms",
		Measured: f.Lag.P99MS, Unit: "ms",
		Display: fmt.Sprintf("%s (bound %s, %d markers, %d missing)", fmtMSAsNs(f.Lag.P99MS), fmtMSAsNs(f.Lag.TargetMS), f.Lag.Markers, f.Lag.Missing)},
		ran, f.Lag.Markers > 0 && f.Lag.Missing == 0 && f.Lag.P99MS <= f.Lag.TargetMS))
	crit = append(crit, judge(criterion{Name: "fleet_zero_loss", Target: "fleet: zero loss, files and database exact (honesty checks OK)",
		Measured: float64(f.Database.Calls), Unit: "calls",
		Display: fmt.Sprintf("%s calls shipped, database exact: %v", count(f.Database.Calls), f.ZeroLoss)}, ran, f.ZeroLoss))
	return crit
}

func (r *fleetResult) summary(w io.Writer) {
	fmt.Fprintf(w, "\n7. Fleet (%d writer processes -> PostgreSQL, flush interval %s):\n", r.Writers, fmtMSAsNs(r.FlushIntervalMS))
	fmt.Fprintf(w, "   Record with / without shipping (paced at %s/s per writer): p50 %s, p99 %s, p99.9 %s\n",
		rate(r.WriterRate), fmtRatio(r.RecordRatio.P50), fmtRatio(r.RecordRatio.P99), fmtRatio(r.RecordRatio.P999))
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, fmt.Sprintf("%s at %s records/s", fmtF(p.TxPerSecondPerWriter), rate(p.Ship.PerWriter)))
	}
	fmt.Fprintf(w, "   transactions/s per writer: %s\n", strings.Join(parts, ", "))
	fmt.Fprintf(w, "   lag Record -> Report: p50 %s, p99 %s\n", fmtMSAsNs(r.Lag.P50MS), fmtMSAsNs(r.Lag.P99MS))
	u, x := r.PerMillionCalls.Usagering, r.PerMillionCalls.LiteLLM
	fmt.Fprintf(w, "   per million calls, usagering vs LiteLLM's way: %s vs %s rows, %s vs %s, %s vs %s transactions\n",
		count(int64(u.Rows)), count(int64(x.Rows)), mib(uint64(u.Bytes)), mib(uint64(x.Bytes)), count(int64(u.Transactions)), count(int64(x.Transactions)))
}

func describeFleet(c *config) string {
	db := "-postgres"
	if c.postgres == "" {
		db = "$" + envPostgresDSN
	}
	return fmt.Sprintf("fleet: %d writer processes, %s/s per writer paced (and a tenth of it, and full speed), %s in all, flush interval %s, database from %s; LiteLLM's way: %s calls",
		c.writers, rate(c.writerRate), c.fleetDuration, c.fleetFlush, db, count(int64(c.litellmCalls)))
}
