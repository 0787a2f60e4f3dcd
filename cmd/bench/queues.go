package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"unsafe"

	"github.com/usagering/usagering/harness"
	"github.com/usagering/usagering/tracker"
)

// queuesScenario is registered in scenarios.
var queuesScenario = scenario{name: "queues", run: (*bench).queues}

// queueConsumer describes the consumer all three queues feed.
const queueConsumer = "one goroutine drains batches (harness.Queue.Drain) and folds each record into tokens per model (a map), as the flusher's fold does"

// queues puts the hand-off peers side by side: the ring (this project's),
// a buffered channel and a mutex-protected double buffer (harness.Queue),
// each carrying tracker.Record values from 1, 4, 16 and 64 producers to
// one consumer that folds them, with the tracker's capacity and batch size.
// Every push is timed into the producer's own histogram; the histograms are
// merged per run.
func (b *bench) queues() (result, error) {
	c := b.cfg
	res := &queuesResult{
		Capacity: tracker.DefaultCapacity, Batch: tracker.DefaultBatchSize, ItemsPerRun: c.queueItems,
		ItemBytes: unsafe.Sizeof(tracker.Record{}), Consumer: queueConsumer,
	}
	b.section(fmt.Sprintf("5. Queues: ring vs chan vs mutex, %d-byte tracker.Record, capacity %d, batch %d, %d items per run",
		res.ItemBytes, res.Capacity, res.Batch, res.ItemsPerRun))
	var errs []error
	for _, p := range queueProducers {
		for _, kind := range harness.QueueKinds {
			b.prog.logf("queues: %s, %d producers, %d items", kind, p, c.queueItems)
			run, err := b.queueRun(kind, p, c.queueItems, res.Capacity, res.Batch)
			res.Runs = append(res.Runs, run)
			errs = append(errs, err)
		}
	}
	b.printQueues(res)
	return res, errors.Join(errs...)
}

func (b *bench) queueRun(kind string, producers, items, capacity, batch int) (queueRun, error) {
	run := queueRun{Kind: kind, Producers: producers}
	q, err := harness.NewQueue[tracker.Record](kind, capacity, batch)
	if err != nil {
		return run, err
	}
	folded := map[string]int64{} // consumer only: tokens per model
	var consumed int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for q.Drain(func(recs []tracker.Record) {
			for i := range recs {
				folded[recs[i].Model] += recs[i].InputTokens + recs[i].OutputTokens
			}
			consumed += int64(len(recs))
		}) {
		}
	}()

	set := harness.NewSet(producers)
	tallies := make([]tally, producers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	per, extra := items/producers, items%producers
	for k := range producers {
		n := per
		if k < extra {
			n++
		}
		off := k*per + min(k, extra) // the goroutine's first item
		wg.Go(func() {
			h, t, wl := set.Get(k), &tallies[k], b.wl
			var r tracker.Record
			<-start
			for i := off; i < off+n; i++ {
				r = *wl.rec(i)
				t0 := harness.Now()
				q.Push(&r)
				h.Record(harness.Now() - t0)
				t.add(i)
			}
		})
	}
	t0 := harness.Now()
	close(start)
	wg.Wait()
	q.Close()
	<-done
	elapsed := harness.Now() - t0

	h := set.Merged()
	b.keep(fmt.Sprintf("queues_%s_p%d", kind, producers), h)
	var t tally
	for k := range tallies {
		t.merge(&tallies[k])
	}
	exp := t.expected(b.wl)
	sum := h.Summary()
	run.Items = consumed
	run.Seconds = float64(elapsed) / 1e9
	run.ItemsPerSecond = float64(consumed) / run.Seconds
	run.NsPerItem = ratio(float64(elapsed), float64(consumed))
	run.MeanNs, run.P50Ns, run.P99Ns, run.P999Ns, run.P9999Ns, run.MaxNs = sum.Mean, sum.P50, sum.P99, sum.P999, sum.P9999, sum.Max
	run.FoldOK = consumed == int64(items) && exp.total.Calls == int64(items) && len(folded) == len(exp.models)
	for m, want := range exp.models {
		run.FoldOK = run.FoldOK && folded[m] == want.Tokens
	}
	if !run.FoldOK {
		return run, fmt.Errorf("%s, %d producers: consumed %d of %d items, or the folded tokens per model differ from what was pushed",
			kind, producers, consumed, items)
	}
	return run, nil
}

type queuesResult struct {
	Capacity    int        `json:"capacity"`
	Batch       int        `json:"batch"`
	ItemsPerRun int        `json:"items_per_run"`
	ItemBytes   uintptr    `json:"item_bytes"`
	Consumer    string     `json:"consumer"`
	Runs        []queueRun `json:"runs"`
}

type queueRun struct {
	Kind           string  `json:"kind"`
	Producers      int     `json:"producers"`
	Items          int64   `json:"items"`
	Seconds        float64 `json:"seconds"`
	ItemsPerSecond float64 `json:"items_per_second"`
	NsPerItem      float64 `json:"ns_per_item"`
	MeanNs         float64 `json:"mean_ns"`
	P50Ns          int64   `json:"p50_ns"`
	P99Ns          int64   `json:"p99_ns"`
	P999Ns         int64   `json:"p999_ns"`
	P9999Ns        int64   `json:"p9999_ns"`
	MaxNs          int64   `json:"max_ns"`
	FoldOK         bool    `json:"fold_ok"` // the consumer's per-model token sums equal what was pushed
}

func (b *bench) printQueues(r *queuesResult) {
	fmt.Fprintf(b.stdout, "  consumer: %s\n", r.Consumer)
	t := newTable("producers", "queue", "items/s", "ns/item", "push p50", "p99", "p99.9", "p99.99", "max")
	for _, run := range r.Runs {
		t.add(strconv.Itoa(run.Producers), run.Kind, rate(run.ItemsPerSecond), fmt.Sprintf("%.1f", run.NsPerItem),
			fmtNs(float64(run.P50Ns)), fmtNs(float64(run.P99Ns)), fmtNs(float64(run.P999Ns)), fmtNs(float64(run.P9999Ns)), fmtNs(float64(run.MaxNs)))
	}
	t.write(b.stdout)
	b.printTimer()
}

func (r *queuesResult) summary(io.Writer) {}

// queueProducers are the producer counts of the queues scenario.
var queueProducers = []int{1, 4, 16, 64}
