package tracker

import (
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // America/Santiago on any machine

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
	"pgregory.net/rapid"
)

// TestRefreshKeepsBaseWhilePathFlips: an operator clearing a fault removes
// the directory that sits at the usage file's path. Whatever refresh sees
// while the path flips between "a directory" and "nothing", it either fails
// (a directory cannot be read) or keeps base; it never starts over from an
// empty document, which would drop the records already in the file from
// the next write. (CI once caught the old stat-then-read refresh doing just
// that: stat saw the directory, the read then saw nothing.)
func TestRefreshKeepsBaseWhilePathFlips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr := newTracker(t, path)
	want := newExpect()
	for i := range 10 {
		r := mkRecord(1, i)
		if err := tr.Record(r); err != nil {
			t.Fatal(err)
		}
		want.add(r)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	cfg, err := buildConfig(testOpts())
	if err != nil {
		t.Fatal(err)
	}
	s, err := newFileSink(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.load(); err != nil {
		t.Fatal(err)
	}
	want.check(t, s.base)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}

	const flips = 2000
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range flips {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Error(err)
				return
			}
			if err := os.Remove(path); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for refreshes := 0; ; refreshes++ {
		_ = s.lock.do(s.refresh) // a directory at the path is an error: fine
		if s.base == nil || len(s.base.Sessions) != 10 {
			<-done // the flipper must finish before TempDir's cleanup
			t.Fatalf("after %d refreshes while the path flips, base lost the file's records: %+v", refreshes, s.base)
		}
		select {
		case <-done:
			// The path is empty now: the next write must still hold all 10.
			s.Snapshot()
			if err := s.Persist(); err != nil {
				t.Fatal(err)
			}
			want.check(t, readDoc(t, path))
			return
		default:
		}
	}
}

// TestDeltaAbsorb: folding a into one delta and b into another, then
// absorbing the second into the first, is folding a then b into one delta,
// sums and recent records alike, for any split, across the recent ring's
// wrap; and a reset delta folds like a new one. This is what a failed
// persist's frozen generation relies on when the next Snapshot adds to it.
func TestDeltaAbsorb(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxSessions := rapid.IntRange(1, 6).Draw(t, "maxSessions")
		n := rapid.IntRange(0, 20).Draw(t, "n")
		split := rapid.IntRange(0, n).Draw(t, "split")
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = mkRecord(rapid.IntRange(0, 3).Draw(t, "g"), i)
			recs[i].Provider = DetectProvider(recs[i].Model)
		}
		fold := func(d *delta, rs []Record) {
			costs := make([]usd.Amount, len(rs))
			for i := range rs {
				costs[i] = usdOf(rs[i].CostUSD)
			}
			d.fold(rs, costs, &dayCache{}, time.UTC, nil, maxSessions)
		}
		whole := newDelta(maxSessions)
		fold(&whole, recs)

		older, newer := newDelta(maxSessions), newDelta(maxSessions)
		fold(&older, recs[:split])
		fold(&newer, recs[split:])
		older.absorb(&newer, maxSessions)
		if got, want := older.document(time.UTC), whole.document(time.UTC); !reflect.DeepEqual(got, want) {
			t.Fatalf("absorb at %d of %d (max %d):\ngot  %+v\nwant %+v", split, n, maxSessions, got, want)
		}
		if older.count != n {
			t.Fatalf("count %d, want %d", older.count, n)
		}

		older.reset()
		fold(&older, recs)
		if got, want := older.document(time.UTC), whole.document(time.UTC); !reflect.DeepEqual(got, want) {
			t.Fatalf("reset then fold:\ngot  %+v\nwant %+v", got, want)
		}
	})
}

// TestDayKeySkippedMidnight: where a daylight-saving change skips midnight
// (America/Santiago, 2026-09-06 starts at 01:00), records are filed under
// their own local date, as the sync tracker files them, and the day before
// keeps its last hour. (Reported by the fuzzing work: the cache took the
// key from time.Date's normalised midnight, 23:00 of the day before.)
func TestDayKeySkippedMidnight(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Fatal(err)
	}
	var c dayCache
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 9, 6, 12, 0, 0, 0, loc), "2026-09-06"},
		{time.Date(2026, 9, 5, 23, 30, 0, 0, loc), "2026-09-05"}, // the hour time.Date put in the 6th
		{time.Date(2026, 9, 6, 1, 0, 0, 0, loc), "2026-09-06"},
		{time.Date(2026, 9, 6, 23, 59, 0, 0, loc), "2026-09-06"},
		{time.Date(2026, 9, 7, 0, 0, 0, 0, loc), "2026-09-07"},
		{time.Date(2026, 9, 5, 12, 0, 0, 0, loc), "2026-09-05"},
	} {
		if got := c.key(tc.at, loc); got != tc.want {
			t.Errorf("key(%v) = %s, want %s", tc.at, got, tc.want)
		}
		if got := tc.at.In(loc).Format(usagefile.DayLayout); got != tc.want {
			t.Fatalf("test case: %v is on %s", tc.at, got)
		}
	}
}
