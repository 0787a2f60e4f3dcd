package harness_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/usagering/usagering/harness"
)

func ExampleHistogram() {
	h := harness.NewHistogram()
	for ns := int64(1); ns <= 1000; ns++ {
		h.Record(ns)
	}
	fmt.Println(h.Summary())
	// Output:
	// n=1000 mean=500.5 sd=288.7 min=1 p50=500 p90=900 p95=950 p99=990 p99.9=999 p99.99=1000 max=1000 ns
}

func ExampleHistogram_Record_overflow() {
	h := harness.NewHistogram()
	h.RecordDuration(25 * time.Nanosecond)
	h.RecordDuration(2 * time.Minute) // above the 60 s range: clamped and counted
	s := h.Summary()
	fmt.Println(s.Count, s.Overflows, s.Min, s.MaxMS() >= 60000 && s.MaxMS() < 60060)
	// Output:
	// 2 1 25 true
}

func ExampleHistogram_RecordCorrected() {
	// A closed loop meant to issue a call every 10 ms saw one call take
	// 100 ms: the 9 calls it could not issue meanwhile would have waited
	// 90, 80, ..., 10 ms.
	h := harness.NewHistogram()
	h.RecordCorrected(100*int64(time.Millisecond), 10*int64(time.Millisecond))
	s := h.Summary() // Min is its bucket's lowest value, P50 and Max their buckets' highest
	fmt.Printf("count=%d min=%.2fms p50=%.2fms max=%.2fms\n", s.Count, s.MinMS(), s.P50MS(), s.MaxMS())
	// Output:
	// count=10 min=9.99ms p50=50.00ms max=100.01ms
}

func ExampleSummary_MeanMS() {
	h := harness.NewHistogram()
	h.RecordDuration(2 * time.Millisecond)
	h.RecordDuration(4 * time.Millisecond)
	s := h.Summary()
	fmt.Printf("mean_ms=%.3f p95_ms=%.3f max_ms=%.3f\n", s.MeanMS(), s.P95MS(), s.MaxMS())
	// Output:
	// mean_ms=3.001 p95_ms=4.002 max_ms=4.002
}

func ExampleSet() {
	const workers = 4
	set := harness.NewSet(workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			h := set.Get(w) // this goroutine's own histogram: no lock
			for i := range int64(250) {
				h.Record(int64(w)*250 + i + 1)
			}
		})
	}
	wg.Wait() // recording has stopped before merging
	s := set.Merged().Summary()
	fmt.Println(s.Count, s.Min, s.P50, s.Max)
	// Output:
	// 1000 1 500 1000
}

func ExampleHistogram_WriteHgrm() {
	h := harness.NewHistogram()
	for _, us := range []int64{10, 20, 30, 40, 1000} {
		h.Record(us * 1000)
	}
	_ = h.WriteHgrm(os.Stdout, 1000) // microseconds
	// Output:
	//        Value     Percentile TotalCount 1/(1-Percentile)
	//
	//       10.007 0.000000000000          1           1.00
	//       10.007 0.100000000000          1           1.11
	//       10.007 0.200000000000          1           1.25
	//       20.015 0.300000000000          2           1.43
	//       20.015 0.400000000000          2           1.67
	//       30.015 0.500000000000          3           2.00
	//       30.015 0.550000000000          3           2.22
	//       30.015 0.600000000000          3           2.50
	//       40.031 0.650000000000          4           2.86
	//       40.031 0.700000000000          4           3.33
	//       40.031 0.750000000000          4           4.00
	//       40.031 0.775000000000          4           4.44
	//       40.031 0.800000000000          4           5.00
	//     1000.447 0.825000000000          5           5.71
	//     1000.447 1.000000000000          5
	// #[Mean    =      220.046, StdDeviation   =      390.201]
	// #[Max     =     1000.447, Total count    =            5]
	// #[Buckets =           26, SubBuckets     =         2048]
}

func ExampleParseHgrm() {
	h := harness.NewHistogram()
	for ns := int64(1); ns <= 100; ns++ {
		h.Record(ns * 1000)
	}
	var b strings.Builder
	if err := h.WriteHgrm(&b, 1000); err != nil {
		panic(err)
	}
	rows, err := harness.ParseHgrm(strings.NewReader(b.String()))
	if err != nil {
		panic(err)
	}
	last := rows[len(rows)-1]
	fmt.Println(len(rows) > 2, last.Value, last.Percentile, last.TotalCount)
	// Output:
	// true 100.031 1 100
}

func ExamplePacer() {
	start := harness.Now() - int64(time.Second) // in the past, so Next does not wait
	p := harness.NewPacer(1000, start)          // 1000 ops/s: one every 1 ms
	h := harness.NewHistogram()
	for range 3 {
		intended := p.Next()
		fmt.Println(intended - start)
		// op()
		h.Record(harness.Now() - intended) // latency from the intended start
	}
	fmt.Println(p.Interval(), h.Count())
	// Output:
	// 0
	// 1000000
	// 2000000
	// 1000000 3
}

func ExampleCalibrateOverhead() {
	clock := harness.CalibrateOverhead(100_000)
	// Print it beside every per-call figure, e.g.
	//   fmt.Printf("record p50=%d ns (clock p50=%d ns, mean %.1f ns)\n", s.P50, clock.P50, clock.Mean)
	fmt.Println(clock.Count, clock.Mean > 0)
	// Output:
	// 100000 true
}

func ExampleLoopMean() {
	calls := 0
	perCall := harness.LoopMean(1_000_000, func() { calls++ }) // ns per call
	fmt.Println(calls, perCall > 0)
	// Output:
	// 1000000 true
}

func ExampleNow() {
	t0 := harness.Now()
	time.Sleep(time.Millisecond)
	elapsed := harness.Now() - t0
	fmt.Println(elapsed >= int64(time.Millisecond))
	// Output:
	// true
}
