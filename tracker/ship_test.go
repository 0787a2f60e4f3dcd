package tracker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// memDest is a Shipper that keeps what it applied in memory, exactly once
// per (writer, seq), as a database would: a batch whose seq it applied
// already is acknowledged and ignored. Its faults are set by the test.
type memDest struct {
	mu       sync.Mutex
	hw       map[string]uint64 // writer → highest seq applied
	totals   map[usagefile.Key]Totals
	attempts []uint64 // seq of every Ship call, in order
	applied  int
	failNext int  // fail this many calls before applying
	lostAck  int  // apply, then fail, this many calls: the commit's outcome is lost
	down     bool // fail every call until cleared
	events   chan uint64
	acks     chan uint64 // the seq of every call that returned nil
}

var errDown = errors.New("destination down")

func newMemDest() *memDest {
	return &memDest{hw: map[string]uint64{}, totals: map[usagefile.Key]Totals{}, events: make(chan uint64, 1<<16), acks: make(chan uint64, 1<<16)}
}

func (d *memDest) Ship(ctx context.Context, b usagefile.Batch) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.attempts = append(d.attempts, b.Seq)
	if d.down || d.failNext > 0 {
		if d.failNext > 0 {
			d.failNext--
		}
		return errDown
	}
	if b.Seq > d.hw[b.Writer] {
		if b.Seq != d.hw[b.Writer]+1 {
			return fmt.Errorf("gap: batch %d after %d", b.Seq, d.hw[b.Writer])
		}
		d.hw[b.Writer] = b.Seq
		for _, r := range b.Rows {
			t := d.totals[r.Key]
			t.Add(r.Totals)
			d.totals[r.Key] = t
		}
		d.applied++
		select {
		case d.events <- b.Seq:
		default:
		}
	}
	if d.lostAck > 0 {
		d.lostAck--
		return errors.New("connection lost at commit")
	}
	select {
	case d.acks <- b.Seq:
	default:
	}
	return nil
}

// waitAck waits for a successful Ship of a batch numbered seq or later.
func (d *memDest) waitAck(t *testing.T, seq uint64) {
	t.Helper()
	for {
		select {
		case s := <-d.acks:
			if s >= seq {
				return
			}
		case <-time.After(time.Minute):
			t.Fatalf("no batch ≥ %d acknowledged within a minute", seq)
		}
	}
}

// sum returns what the destination holds, by model, over all days.
func (d *memDest) byModel() map[string]Totals {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := map[string]Totals{}
	for k, t := range d.totals {
		sum := m[k.Model]
		sum.Add(t)
		m[k.Model] = sum
	}
	return m
}

func (d *memDest) set(f func(d *memDest)) {
	d.mu.Lock()
	f(d)
	d.mu.Unlock()
}

// checkShipped checks that the destination holds exactly the file's model
// breakdown.
func checkShipped(t *testing.T, d *memDest, path string) {
	t.Helper()
	doc := readDoc(t, path)
	got := d.byModel()
	if len(got) != len(doc.ModelBreakdown) {
		t.Fatalf("destination has %d models, file %d", len(got), len(doc.ModelBreakdown))
	}
	for m, want := range doc.ModelBreakdown {
		if got[m] != want {
			t.Fatalf("model %s: destination %+v, file %+v", m, got[m], want)
		}
	}
	if o := doc.State.Outbox; o == nil || o.Inflight != nil || len(o.Pending) != 0 {
		t.Fatalf("outbox not empty after shipping: %+v", o)
	}
}

// TestShipping: records reach the destination exactly once through every
// fault a network has: failures before the commit, commits whose
// acknowledgement is lost, and an outage while eight goroutines record;
// during the outage the outbox holds one sealed batch and merged pending
// rows, bounded by the distinct keys.
func TestShipping(t *testing.T) {
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithShipper(dest), WithTagKeys("team"))
	var (
		mu     sync.Mutex
		byTeam = map[string]Totals{} // what was recorded, by tag
	)
	record := func(g, n int) {
		for i := range n {
			r := mkRecord(g, i)
			team := []string{"a", "b"}[i%2]
			r.Metadata = map[string]string{"team": team, "request": fmt.Sprint(i)}
			if err := tr.Record(r); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			sum := byTeam["team="+team]
			sum.Add(Totals{Calls: 1, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens})
			byTeam["team="+team] = sum
			mu.Unlock()
			if i%100 == 99 {
				_ = tr.Flush(context.Background()) // many persists, each adding to the outbox
			}
		}
	}
	record(0, 100)
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	dest.waitAck(t, 1)

	// Three commits whose outcome is lost: the batch is applied once.
	dest.set(func(d *memDest) { d.lostAck = 3 })
	record(1, 100)
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	dest.waitAck(t, 2)

	// An outage while eight goroutines record across many persists.
	var downFrom int
	dest.set(func(d *memDest) { d.down, downFrom = true, len(d.attempts) })
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); record(2+g, 500) }()
	}
	wg.Wait()
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := readDoc(t, path).State.Outbox
	keys := len(readDoc(t, path).DailyTotals) * len(readDoc(t, path).ProviderBreakdown) * len(models) * 2
	if o == nil || len(o.Pending) > keys {
		t.Fatalf("outbox during the outage: %+v (bounded by %d keys)", o, keys)
	}
	if st := tr.Stats(); st.ShipErrors == 0 || st.LastShipError == "" {
		t.Fatalf("stats during the outage: %+v", st)
	}
	// The batch in flight when the outage began is the only one sent
	// during it: new records wait, merged, in the pending rows.
	dest.set(func(d *memDest) {
		d.down = false
		seqs := map[uint64]bool{}
		for _, s := range d.attempts[downFrom:] {
			seqs[s] = true
		}
		if len(seqs) > 1 {
			t.Errorf("batches %v sent during the outage, want one, resent", seqs)
		}
	})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
	if st := tr.Stats(); st.ShippedBatches == 0 || st.LastShipError != "" || st.ShipLag != 0 {
		t.Fatalf("stats after shipping: %+v", st)
	}
	// Tags group the rows: each team's rows sum to what it recorded
	// (its records alternate with the other team's).
	dest.mu.Lock()
	got := map[string]Totals{}
	for k, sum := range dest.totals {
		g := got[k.Tags]
		g.Add(Totals{Calls: sum.Calls, InputTokens: sum.InputTokens, OutputTokens: sum.OutputTokens})
		got[k.Tags] = g
	}
	dest.mu.Unlock()
	if len(got) != 2 || got["team=a"] != byTeam["team=a"] || got["team=b"] != byTeam["team=b"] {
		t.Fatalf("shipped by tags %+v, recorded %+v", got, byTeam)
	}
}

// TestShippingResumesAfterRestart: a batch sealed and applied, whose
// acknowledgement never reached the file (the process stopped first), is
// sent again by the next run, ignored by the destination, and counted
// once; batches never sent ship on the next start.
func TestShippingResumesAfterRestart(t *testing.T) {
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	dest.set(func(d *memDest) { d.lostAck = 1 << 30 }) // every commit's outcome is lost
	tr := newTracker(t, path, WithShipper(dest))
	for i := range 50 {
		if err := tr.Record(mkRecord(1, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if dest.applied == 0 {
		t.Fatal("nothing applied")
	}
	if o := readDoc(t, path).State.Outbox; o == nil || o.Inflight == nil {
		t.Fatalf("the file must still hold the batch whose outcome is unknown: %+v", o)
	}
	dest.set(func(d *memDest) { d.lostAck = 0 })
	tr2 := newTracker(t, path, WithShipper(dest))
	if err := tr2.Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
}

// TestShippingSharedFile: two trackers on one file (as two processes)
// share its writer id and sequence; their records ship exactly once.
func TestShippingSharedFile(t *testing.T) {
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	a := newTracker(t, path, WithShipper(dest))
	b := newTracker(t, path, WithShipper(dest))
	var wg sync.WaitGroup
	for g, tr := range []*Tracker{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				if err := tr.Record(mkRecord(g, i)); err != nil {
					t.Error(err)
					return
				}
				if i%300 == 0 {
					_ = tr.Flush(context.Background())
				}
			}
		}()
	}
	wg.Wait()
	for _, tr := range []*Tracker{a, b} {
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// One more start ships what the last Close left sealed.
	if err := newTracker(t, path, WithShipper(dest)).Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
	if len(dest.hw) != 1 {
		t.Fatalf("%d writer ids for one file", len(dest.hw))
	}
}

// TestShippingRescue: records rescued at Close carry their aggregates;
// the next start merges them into the outbox and ships them.
func TestShippingRescue(t *testing.T) {
	rescueTmp(t)
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	ffs := newFaultFS()
	tr := newTracker(t, path, WithShipper(dest), WithFS(ffs), WithCloseRetries(0), WithFlushInterval(time.Hour))
	for i := range 30 {
		if err := tr.Record(mkRecord(3, i)); err != nil {
			t.Fatal(err)
		}
	}
	ffs.err.Store(syscall.EIO)
	var fe *FallbackError
	if err := tr.Close(); !errors.As(err, &fe) || fe.Records != 30 {
		t.Fatalf("Close = %v, want 30 records rescued", err)
	}
	if err := newTracker(t, path, WithShipper(dest)).Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
	if got := dest.byModel(); len(got) == 0 {
		t.Fatal("nothing shipped")
	}
}

// TestShutdownLeavesTheOutbox: with the destination down, Close does not
// wait for it: the batch stays in the file for the next start.
func TestShutdownLeavesTheOutbox(t *testing.T) {
	dest := newMemDest()
	dest.set(func(d *memDest) { d.down = true })
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithShipper(dest))
	if err := tr.Record(mkRecord(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	o := readDoc(t, path).State.Outbox
	if o == nil || o.Inflight == nil || o.Inflight.Seq != 1 {
		t.Fatalf("outbox after Close with the destination down: %+v", o)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestShippingCadence: a writer that persists often (here a Flush after
// every few records) still ships at most one batch per flush interval, so
// the destination's transactions scale with writers and intervals, not
// with the record rate; and everything ships.
func TestShippingCadence(t *testing.T) {
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	const interval = 20 * time.Millisecond
	tr := newTracker(t, path, WithShipper(dest), WithFlushInterval(interval))
	start := time.Now()
	for i := range 2000 {
		if err := tr.Record(mkRecord(1, i)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if err := tr.Flush(context.Background()); err != nil { // 200 persists
				t.Fatal(err)
			}
		}
	}
	elapsed := time.Since(start)
	dest.mu.Lock()
	applied := dest.applied
	dest.mu.Unlock()
	if limit := int(elapsed/interval) + 2; applied > limit {
		t.Fatalf("%d batches applied in %v (200 persists): want at most one per %v, %d", applied, elapsed, interval, limit)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
}

// TestShippingRowsByTags: records of one model on one day that differ only
// in their tags ship in rows of their own tags, however they interleave
// (the fold sums runs of equal keys; a change of tags alone ends a run).
func TestShippingRowsByTags(t *testing.T) {
	dest := newMemDest()
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path, WithShipper(dest), WithTagKeys("team"))
	want := map[string]Totals{}
	for i := range 1000 {
		team := fmt.Sprint("team=", []string{"a", "b", "c"}[(i*i/7)%3]) // runs of varying length
		r := Record{Timestamp: day0, Model: "gpt-4", InputTokens: int64(i), OutputTokens: 1, CostUSD: 0.001,
			Metadata: map[string]string{"team": team[len("team="):]}}
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
		sum := want[team]
		sum.Add(Totals{Calls: 1, InputTokens: r.InputTokens})
		want[team] = sum
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	checkShipped(t, dest, path)
	got := map[string]Totals{}
	for k, sum := range dest.totals {
		got[k.Tags] = Totals{Calls: sum.Calls, InputTokens: sum.InputTokens}
	}
	if len(got) != len(want) {
		t.Fatalf("shipped tags %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("tags %s: shipped %+v, recorded %+v", k, got[k], w)
		}
	}
}
