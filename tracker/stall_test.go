package tracker

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/internal/faultfs"
)

// stallRecords are the records of TestStallKeepsRecording: four models,
// three days, distinct token counts and exact nano-dollar costs.
const stallRecords = 24

func stallRecord(j int) Record {
	return Record{
		Timestamp:    day0.Add(time.Duration(j%3-1) * 24 * time.Hour),
		Model:        models[j%len(models)],
		InputTokens:  int64(100 + j),
		OutputTokens: int64(7 * j),
		CostUSD:      float64(1000+13*j) / 1e6,
		LatencyMS:    float64(j),
	}
}

// expectCounts returns what counts[j] calls of stallRecord(j) add up to.
func expectCounts(counts *[stallRecords]int64) *expect {
	e := newExpect()
	for j, n := range counts {
		if n == 0 {
			continue
		}
		one := newExpect()
		one.add(stallRecord(j))
		for _, m := range []struct{ dst, src map[string]Totals }{
			{e.daily, one.daily}, {e.models, one.models}, {e.providers, one.providers},
		} {
			for k, t := range m.src {
				cur := m.dst[k]
				cost, _ := t.Cost.Mul(n)
				cur.Add(Totals{Tokens: n * t.Tokens, Cost: cost, Calls: n * t.Calls, InputTokens: n * t.InputTokens, OutputTokens: n * t.OutputTokens,
					CacheReadTokens: n * t.CacheReadTokens, CacheWriteTokens: n * t.CacheWriteTokens, ReasoningTokens: n * t.ReasoningTokens})
				m.dst[k] = cur
			}
		}
	}
	return e
}

// TestStallKeepsRecording: the usage file's fsync stalls for 2 s (500 ms
// with -short) while 8 goroutines record with the Block policy into a ring
// of 4096. Records keep going through while the persist waits: the stall
// lasts until 4 rings' worth were recorded during it, which producers
// blocked on a full ring could never do. After it, Flush; the file holds
// every record, exactly. The latency of the calls made during the stall is
// logged, not asserted.
func TestStallKeepsRecording(t *testing.T) {
	const (
		goroutines = 8
		capacity   = 4096
		during     = 4 * capacity // records made during the stall before it may end
		watchdog   = time.Minute  // fail rather than hang if producers stay blocked
	)
	stall := 2 * time.Second
	if testing.Short() {
		stall = 500 * time.Millisecond
	}
	path := filepath.Join(t.TempDir(), "usage.json")
	// The first fsync (of the first persist's temp file) stalls.
	fsys, fsyncStall := faultfs.New(nil), faultfs.NewStall(faultfs.OpSync, stall)
	fsys.Set(fsyncStall)
	tr := newTracker(t, path, WithFS(fsys), WithCapacity(capacity), WithOverflow(Block))

	var (
		stop      atomic.Bool
		madeIn    atomic.Int64 // calls made while the fsync stalls
		enough    = make(chan struct{})
		enoughOne sync.Once
		wg        sync.WaitGroup
		counts    [goroutines][stallRecords]int64
		hists     = harness.NewSet(goroutines)
		errs      [goroutines]error
	)
	for g := range goroutines {
		wg.Go(func() {
			h := hists.Get(g)
			for i := 0; !stop.Load(); i++ {
				j := (g*5 + i) % stallRecords
				s := harness.Now()
				err := tr.Record(stallRecord(j))
				d := harness.Now() - s
				if err != nil {
					errs[g] = err
					return
				}
				counts[g][j]++
				if fsyncStall.Stalling() {
					h.Record(d)
					if madeIn.Add(1) == during {
						enoughOne.Do(func() { close(enough) })
					}
				}
			}
		})
	}
	// However the test ends, the stall ends, producers stop and the tracker
	// closes: goleak checks that nothing is left behind.
	closed := false
	defer func() {
		fsyncStall.Release()
		stop.Store(true)
		wg.Wait()
		if !closed {
			tr.Close()
		}
	}()

	select {
	case <-fsyncStall.Started():
	case <-time.After(watchdog):
		t.Fatalf("no persist reached fsync within %s", watchdog)
	}
	select {
	case <-enough:
	case <-time.After(watchdog):
		st := tr.Stats()
		t.Fatalf("only %d records made during the stall in %s (ring %d, queue %d, folded awaiting persist %d): "+
			"producers are blocked, the flusher stopped folding while the persist waits for fsync",
			madeIn.Load(), watchdog, capacity, st.InRing, st.InMemory)
	}
	mid := tr.Stats()
	fsyncStall.Release()
	<-fsyncStall.Done()
	stop.Store(true)
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: Record: %v", g, err)
		}
	}

	if err := tr.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the stall: %v", err)
	}
	var all [stallRecords]int64
	var total int64
	for g := range counts {
		for j, n := range counts[g] {
			all[j] += n
			total += n
		}
	}
	st := tr.Stats()
	if st.Pending != 0 || st.TotalRecords != total || st.LostRecords != 0 || st.Dropped != 0 {
		t.Fatalf("after Flush: %+v, recorded %d", st, total)
	}
	doc := readDoc(t, path)
	expectCounts(&all).check(t, doc)
	if want := min(total, DefaultMaxSessions); int64(len(doc.Sessions)) != want {
		t.Errorf("%d sessions in the file, want %d", len(doc.Sessions), want)
	}
	closed = true
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st := tr.Stats(); st.TotalRecords != total || st.LostRecords != 0 {
		t.Fatalf("after Close: %+v, recorded %d", st, total)
	}

	sum := hists.Merged().Summary()
	t.Logf("fsync stalled >= %s; %d records in all, %d made during the stall (%d timed); when %d were: %d in the ring, %d folded awaiting the persist",
		stall, total, madeIn.Load(), sum.Count, during, mid.InRing, mid.InMemory)
	t.Logf("Record during the stall (timed calls, clock included): p50 %d ns, p99 %d ns, p99.9 %d ns, max %d ns",
		sum.P50, sum.P99, sum.P999, sum.Max)
}
