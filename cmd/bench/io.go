package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/usagering/usagering/harness"
)

// ioScenario is registered in scenarios.
var ioScenario = scenario{name: "io", run: (*bench).io}

const (
	ioRecords  = 100 // records per io run, as the original's claim counts
	ioPaceRate = 100 // records/s of the paced async run: one every 10 ms
)

// io counts file writes per 100 records. Sync: 100 records on a fresh file,
// counting after each call whether the file is a new inode (every write is
// an atomic replace: a new file renamed over the old one, so each write
// changes the inode, and the old inode is still alive as the backup when
// the new one is created, so the number cannot repeat at once). Async: the
// tracker's Stats().TotalFlushes after Close for 100 records paced at
// 100/s (polling the inode too), for a burst of 100, and for the latency and
// throughput runs of this process.
func (b *bench) io() (result, error) {
	b.section(fmt.Sprintf("6. I/O: file writes per %d records", ioRecords))
	res := &ioResult{OriginalClaim: ioClaim{Sync: "100 per 100 calls", Async: "10-20 per 100 calls"}}
	var errs []error
	var err error
	b.prog.logf("io: sync %d records, counting inode changes", ioRecords)
	res.Sync, err = b.ioSync()
	errs = append(errs, err)

	b.prog.logf("io: async %d records paced at %d/s, then %d in a burst", ioRecords, ioPaceRate, ioRecords)
	for _, paced := range []bool{true, false} {
		run, err := b.ioAsync(paced)
		errs = append(errs, err)
		res.Async = append(res.Async, run)
	}
	for _, r := range b.asyncIO { // the latency and throughput runs, if any
		r.PerHundred = ratio(float64(r.Flushes)*100, float64(r.Records))
		res.Async = append(res.Async, r)
	}
	b.printIO(res)
	return res, errors.Join(errs...)
}

func (b *bench) ioSync() (ioSync, error) {
	const file = "sync_io.json"
	r := ioSync{Records: ioRecords, File: file,
		Method: "os.Stat after each Record: the file's inode changed (os.SameFile false) = one write; nil_returns counts Record calls that returned nil"}
	s, err := b.open("sync", file)
	if err != nil {
		return r, err
	}
	var t tally
	var prev os.FileInfo
	var callErr error
	for i := range ioRecords {
		if err := s.rec.Record(*b.wl.rec(i)); err != nil {
			callErr = errors.Join(callErr, fmt.Errorf("record %d: %w", i, err))
		} else {
			r.NilReturns++
			t.add(i)
		}
		fi, err := os.Stat(s.path)
		if err == nil && (prev == nil || !os.SameFile(prev, fi)) {
			r.Writes++
		}
		prev = fi
	}
	r.PerHundred = float64(r.Writes) * 100 / ioRecords
	_, _, closeErr := b.finish("io", s, t.expected(b.wl))
	return r, errors.Join(callErr, closeErr)
}

func (b *bench) ioAsync(paced bool) (ioAsyncRun, error) {
	file, run := "async_io_burst.json", ioAsyncRun{Run: fmt.Sprintf("%d records back to back, then Close", ioRecords)}
	if paced {
		file, run.Run = "async_io.json", fmt.Sprintf("%d records paced at %d/s (%.1f s), then Close", ioRecords, ioPaceRate, float64(ioRecords)/ioPaceRate)
	}
	run.Method = "Stats().TotalFlushes after Close"
	s, err := b.open("async", file)
	if err != nil {
		return run, err
	}
	var t tally
	var callErr error
	var prev os.FileInfo
	poll := func() {
		fi, err := os.Stat(s.path)
		if err == nil && (prev == nil || !os.SameFile(prev, fi)) {
			run.InodeChanges++
		}
		prev = fi
	}
	p := harness.NewPacer(ioPaceRate, harness.Now())
	for i := range ioRecords {
		if paced {
			p.Next()
		}
		if err := s.rec.Record(*b.wl.rec(i)); err != nil {
			callErr = errors.Join(callErr, fmt.Errorf("record %d: %w", i, err))
		} else {
			t.add(i)
		}
		if paced {
			poll()
		}
	}
	_, hc, closeErr := b.finish("io", s, t.expected(b.wl))
	if paced {
		poll()
		run.Method += "; inode_changes: os.Stat after each record and after Close"
	}
	run.Records = t.expected(b.wl).total.Calls
	if hc.Stats != nil {
		run.Flushes = hc.Stats.TotalFlushes
	}
	run.PerHundred = ratio(float64(run.Flushes)*100, float64(run.Records))
	return run, errors.Join(callErr, closeErr)
}

// noteAsyncWrites keeps an async run's file writes (successful persists,
// from its stats after Close) for the io table and returns them.
func (b *bench) noteAsyncWrites(run string, records int64, st *statsBrief) int64 {
	b.asyncIO = append(b.asyncIO, ioAsyncRun{
		Run: run, Records: records, Flushes: st.TotalFlushes,
		Method: "Stats().TotalFlushes after Close",
	})
	return st.TotalFlushes
}

type ioResult struct {
	OriginalClaim ioClaim      `json:"original_claim"`
	Sync          ioSync       `json:"sync"`
	Async         []ioAsyncRun `json:"async"`
}

type ioClaim struct {
	Sync  string `json:"sync"`
	Async string `json:"async"`
}

type ioSync struct {
	Records    int64   `json:"records"`
	Writes     int64   `json:"writes"`
	PerHundred float64 `json:"writes_per_100_records"`
	Method     string  `json:"method"`
	NilReturns int64   `json:"nil_returns"`
	File       string  `json:"file"`
}

type ioAsyncRun struct {
	Run          string  `json:"run"`
	Records      int64   `json:"records"`
	Flushes      int64   `json:"flushes"` // Stats().TotalFlushes after Close
	PerHundred   float64 `json:"writes_per_100_records"`
	InodeChanges int64   `json:"inode_changes,omitempty"` // seen by polling, where polled
	Method       string  `json:"method"`
}

func (b *bench) printIO(r *ioResult) {
	t := newTable("run", "records", "file writes", "per 100 records")
	t.add("original's claim, sync", "", "", r.OriginalClaim.Sync)
	t.add("original's claim, async", "", "", r.OriginalClaim.Async)
	t.add(fmt.Sprintf("sync, %d records (inode changes)", r.Sync.Records), count(r.Sync.Records), count(r.Sync.Writes), fmt.Sprintf("%.1f", r.Sync.PerHundred))
	for _, a := range r.Async {
		w := count(a.Flushes)
		if a.InodeChanges > 0 {
			w += fmt.Sprintf(" (inode changes %d)", a.InodeChanges)
		}
		t.add("async, "+a.Run, count(a.Records), w, fmt.Sprintf("%.4g", a.PerHundred))
	}
	t.write(b.stdout)
	fmt.Fprintf(b.stdout, "  sync: %s\n  async: file writes = Stats().TotalFlushes after Close (successful persists)\n", r.Sync.Method)
}

func (r *ioResult) summary(io.Writer) {}
