//go:build unix

package postgres_test

// The fleet: OS processes record into usage files that ship to one store
// through the tracker's outbox (tracker.WithShipper). These tests check
// the whole path, exactly, through what can happen to it: many processes
// at once, SIGKILLs at random points, an outage, connections cut at
// COMMIT. Each ends by opening every usage file once more with the store
// ("draining" what the processes left in their outboxes) and comparing
// the store with the files, to the token and the 10^-24 USD.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// Environment of TestFleetChild.
const (
	envFleetPath   = "USAGERING_FLEET_PATH"
	envFleetDSN    = "USAGERING_FLEET_DSN"
	envFleetSchema = "USAGERING_FLEET_SCHEMA"
	envFleetID     = "USAGERING_FLEET_ID"
	envFleetN      = "USAGERING_FLEET_N" // records; 0: until killed
)

var fleetDay = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// fleetRecord is record i of child id: three models, two teams, exact
// costs with many digits.
func fleetRecord(id, i int) tracker.Record {
	return tracker.Record{
		Timestamp: fleetDay, Model: fmt.Sprintf("model-%d", (id+i)%3), Provider: "openai",
		InputTokens: int64(100 + i%13), OutputTokens: int64(1 + i%7), CacheReadTokens: int64(i % 50),
		CostUSD:  float64(1+i%1000) * 1.234567e-7,
		Metadata: map[string]string{"team": []string{"search", "ads"}[i%2], "request": strconv.Itoa(i)},
	}
}

// TestFleetChild records USAGERING_FLEET_N records (0: until killed) into
// the usage file at USAGERING_FLEET_PATH, shipping to the store, with a
// Flush now and then, and closes. It prints "ready" once the store is
// open. It does nothing when run directly.
func TestFleetChild(t *testing.T) {
	path := os.Getenv(envFleetPath)
	if path == "" {
		return
	}
	id, _ := strconv.Atoi(os.Getenv(envFleetID))
	n, _ := strconv.Atoi(os.Getenv(envFleetN))
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv(envFleetDSN), postgres.WithSchema(os.Getenv(envFleetSchema)))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	r := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	tr, err := tracker.New(path, tracker.WithShipper(store), tracker.WithTagKeys("team"),
		tracker.WithFlushInterval(time.Duration(2+r.IntN(20))*time.Millisecond),
		tracker.WithRetry(5*time.Millisecond, 50*time.Millisecond), tracker.WithCloseRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	for i := 0; n == 0 || i < n; i++ {
		if err := tr.Record(fleetRecord(id, i)); err != nil {
			t.Fatal(err)
		}
		if r.IntN(5000) == 0 {
			_ = tr.Flush(ctx)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
}

// fleet is one test's store and usage files.
type fleet struct {
	t      *testing.T
	dsn    string // as the children connect (through a proxy, maybe)
	direct string // straight to the server
	schema string
	files  []string
}

func newFleet(t *testing.T, files int) *fleet {
	dsn := pgtest.DSN(t)
	f := &fleet{t: t, dsn: dsn, direct: dsn, schema: pgtest.Schema(t, dsn)}
	dir := t.TempDir()
	for i := range files {
		f.files = append(f.files, filepath.Join(dir, fmt.Sprintf("usage-%d.json", i)))
	}
	return f
}

// start starts a child recording n records (0: until killed) into file.
func (f *fleet) start(file string, id, n int) (*exec.Cmd, *bufio.Scanner) {
	f.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFleetChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFleetPath+"="+file, envFleetDSN+"="+f.dsn, envFleetSchema+"="+f.schema,
		envFleetID+"="+strconv.Itoa(id), envFleetN+"="+strconv.Itoa(n),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}

// ready waits for a child's "ready" line.
func ready(t *testing.T, sc *bufio.Scanner) {
	t.Helper()
	for sc.Scan() {
		if sc.Text() == "ready" {
			go func() {
				for sc.Scan() { // drain the rest
				}
			}()
			return
		}
	}
	t.Fatal("child ended before it was ready")
}

// drain opens every file once more with the store, which ships what the
// outboxes hold, and checks that nothing is left.
func (f *fleet) drain(store *postgres.Store) {
	f.t.Helper()
	for _, file := range f.files {
		tr, err := tracker.New(file, tracker.WithShipper(store))
		if err != nil {
			f.t.Fatal(err)
		}
		if err := tr.Close(); err != nil {
			f.t.Fatal(err)
		}
		if st := tr.Stats(); st.LastShipError != "" {
			f.t.Fatalf("%s: %s", file, st.LastShipError)
		}
		if o := readFile(f.t, file).State.Outbox; o != nil && (o.Inflight != nil || len(o.Pending) > 0) {
			f.t.Fatalf("%s: outbox not empty after draining: %+v", file, o)
		}
	}
}

func readFile(t *testing.T, path string) *usagefile.Document {
	t.Helper()
	doc, err := usagefile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// check compares the store's totals, by model and by team, with the sum
// of the files', exactly; and, if want is not nil, with what the children
// recorded.
func (f *fleet) check(store *postgres.Store, want map[string]usagefile.Totals) {
	f.t.Helper()
	files := map[string]usagefile.Totals{}
	for _, file := range f.files {
		for m, tot := range readFile(f.t, file).ModelBreakdown {
			sum := files[m]
			sum.Add(tot)
			files[m] = sum
		}
	}
	rows, err := store.Report(context.Background(), postgres.ReportQuery{By: []postgres.Dimension{postgres.Model}})
	if err != nil {
		f.t.Fatal(err)
	}
	db := map[string]usagefile.Totals{}
	for _, r := range rows {
		db[r.Model] = r.Totals
	}
	if len(db) != len(files) {
		f.t.Fatalf("store has %d models, files %d", len(db), len(files))
	}
	for m, tot := range files {
		if db[m] != tot {
			f.t.Fatalf("model %s: store %+v\n files %+v", m, db[m], tot)
		}
		if want != nil && want[m] != tot {
			f.t.Fatalf("model %s: files %+v\n recorded %+v", m, tot, want[m])
		}
	}
	teams, err := store.Report(context.Background(), postgres.ReportQuery{By: []postgres.Dimension{postgres.Tag}, TagKey: "team"})
	if err != nil {
		f.t.Fatal(err)
	}
	var all usagefile.Totals
	for _, r := range teams {
		if r.Tag != "search" && r.Tag != "ads" {
			f.t.Fatalf("team %q in the store", r.Tag)
		}
		all.Add(r.Totals)
	}
	var fileAll usagefile.Totals
	for _, tot := range files {
		fileAll.Add(tot)
	}
	if all != fileAll {
		f.t.Fatalf("by team the store sums to %+v, the files to %+v", all, fileAll)
	}
}

func (f *fleet) open() *postgres.Store {
	f.t.Helper()
	s, err := postgres.Open(context.Background(), f.direct, postgres.WithSchema(f.schema))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(s.Close)
	return s
}

// recorded is what children ids (each n records) recorded, by model.
func recorded(ids []int, n int) map[string]usagefile.Totals {
	want := map[string]usagefile.Totals{}
	for _, id := range ids {
		for i := range n {
			r := fleetRecord(id, i)
			t := want[r.Model]
			cost, err := usdOf(r.CostUSD)
			if err != nil {
				panic(err)
			}
			t.Add(usagefile.Totals{Tokens: r.InputTokens + r.OutputTokens, Cost: cost, Calls: 1,
				InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CacheReadTokens: r.CacheReadTokens})
			want[r.Model] = t
		}
	}
	return want
}

// TestFleetExact: 8 processes on 4 usage files, 100,000 records each
// (20,000 with -short), with random Flushes: the store holds the exact
// sums.
func TestFleetExact(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	f := newFleet(t, 4)
	store := f.open()
	var cmds []*exec.Cmd
	var ids []int
	for id := range 8 {
		cmd, sc := f.start(f.files[id%4], id, n)
		go func() {
			for sc.Scan() {
			}
		}()
		cmds = append(cmds, cmd)
		ids = append(ids, id)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	f.drain(store)
	f.check(store, recorded(ids, n))
	ws, err := store.Writers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 4 {
		t.Fatalf("%d writers for 4 usage files", len(ws))
	}
}

// TestFleetCrash: writer processes SIGKILLed at random points, over and
// over (including between a commit and the mark of the batch in the
// file): the store never counts a record twice, and holds exactly what
// the files hold.
func TestFleetCrash(t *testing.T) {
	kills := 120
	if testing.Short() {
		kills = 30
	}
	f := newFleet(t, 4)
	store := f.open()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %#x", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	var mu sync.Mutex
	delays := make([]time.Duration, kills)
	for k := range kills {
		delays[k] = time.Duration(20+r.IntN(200)) * time.Millisecond
	}
	for k := range kills {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			mu.Lock()
			cmd, sc := f.start(f.files[k%4], k, 0)
			mu.Unlock()
			ready(t, sc)
			time.Sleep(delays[k]) // a random point in the child's life, not a synchronization
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}()
	}
	wg.Wait()
	f.drain(store)
	f.check(store, nil)
}

// TestFleetOutage: the store is unreachable (connections refused and cut)
// while four processes record; they notice nothing, their outboxes stay
// bounded by the distinct keys, and once it is back the store holds the
// exact sums.
func TestFleetOutage(t *testing.T) {
	n := 30_000
	if testing.Short() {
		n = 10_000
	}
	f := newFleet(t, 4)
	proxy := pgtest.NewProxy(t, pgtest.Addr(t, f.direct))
	f.dsn = proxy.DSN(f.direct)
	store := f.open()
	var cmds []*exec.Cmd
	var ids []int
	for id := range 4 {
		cmd, sc := f.start(f.files[id], id, n)
		ready(t, sc)
		cmds = append(cmds, cmd)
		ids = append(ids, id)
	}
	proxy.Refuse()
	proxy.DropAll()
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	// 3 models × 2 teams × 1 day: at most 6 pending rows, and one sealed
	// batch, whatever the outage's length.
	for _, file := range f.files {
		o := readFile(t, file).State.Outbox
		if o == nil || len(o.Pending) > 6 || o.Inflight != nil && len(o.Inflight.Rows) > 6 {
			t.Fatalf("%s: outbox after the outage: %+v", file, o)
		}
	}
	if err := proxy.Accept(); err != nil {
		t.Fatal(err)
	}
	f.drain(store)
	f.check(store, recorded(ids, n))
}

// TestFleetCutAtCommit: the connection is cut when the client sends
// COMMIT, before the server gets it or after it committed, again and
// again: the tracker resends the same batch and the store applies it
// once.
func TestFleetCutAtCommit(t *testing.T) {
	f := newFleet(t, 1)
	proxy := pgtest.NewProxy(t, pgtest.Addr(t, f.direct))
	store, err := postgres.Open(context.Background(), proxy.DSN(f.direct), postgres.WithSchema(f.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tr, err := tracker.New(f.files[0], tracker.WithShipper(store), tracker.WithTagKeys("team"),
		tracker.WithFlushInterval(10*time.Millisecond), tracker.WithRetry(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const rounds, each = 20, 500
	for round := range rounds {
		cut := proxy.CutNextCommit([]pgtest.CommitCut{pgtest.CutBeforeCommit, pgtest.CutAfterCommit}[round%2])
		for i := range each {
			if err := tr.Record(fleetRecord(0, round*each+i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tr.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		<-cut // the batch's first COMMIT was cut
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	f.drain(f.open())
	f.check(f.open(), recorded([]int{0}, rounds*each))
	if st := tr.Stats(); st.ShipErrors < rounds {
		t.Fatalf("%d ship errors for %d cut commits", st.ShipErrors, rounds)
	}
}

// usdOf is the exact amount the tracker keeps for a float cost.
func usdOf(f float64) (usd.Amount, error) { return usd.FromFloat(f) }

// TestFleetStartsWhileDown: with WithLazyConnect a service starts while
// the database is unreachable; its records wait in the usage file's
// outbox and ship, exactly, once the database is back.
func TestFleetStartsWhileDown(t *testing.T) {
	f := newFleet(t, 1)
	proxy := pgtest.NewProxy(t, pgtest.Addr(t, f.direct))
	proxy.Refuse()
	ctx := context.Background()
	if _, err := postgres.Open(ctx, proxy.DSN(f.direct), postgres.WithSchema(f.schema)); !errors.Is(err, postgres.ErrTemporary) {
		t.Fatalf("Open with the database down = %v, want ErrTemporary", err)
	}
	store, err := postgres.Open(ctx, proxy.DSN(f.direct), postgres.WithSchema(f.schema), postgres.WithLazyConnect())
	if err != nil {
		t.Fatalf("Open with WithLazyConnect = %v", err)
	}
	defer store.Close()
	tr, err := tracker.New(f.files[0], tracker.WithShipper(store), tracker.WithTagKeys("team"),
		tracker.WithRetry(time.Millisecond, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		if err := tr.Record(fleetRecord(0, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Writers(ctx); !errors.Is(err, postgres.ErrTemporary) {
		t.Fatalf("Writers with the database down = %v, want ErrTemporary", err)
	}
	for deadline := time.Now().Add(time.Minute); tr.Stats().ShipErrors == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shipper made no attempt in a minute")
		}
	}
	if err := proxy.Accept(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	f.drain(f.open())
	f.check(f.open(), recorded([]int{0}, n))
}
