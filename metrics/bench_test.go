package metrics_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usagering/usagering/metrics"
	"github.com/usagering/usagering/tracker"
)

// BenchmarkRecordWhileScraped measures Record from 8 goroutines (on
// GOMAXPROCS 1, 2, 4 or 8) with no collector, with a registry scraped
// every millisecond (about 15,000 times Prometheus' usual rate), and with
// one scraped back to back (a core's worth of scraping competing for the
// CPU). The control, back-to-back-snapshot, scrapes back to back a
// collector over a frozen copy of the tracker's counts: the same work
// without touching the tracker, so what it costs Record is the CPU taken,
// and any difference from back-to-back is interference through the
// tracker. Compare the ns/op of the sub-benchmarks with benchstat.
func BenchmarkRecordWhileScraped(b *testing.B) {
	models := make([]string, 16)
	for i := range models {
		models[i] = fmt.Sprintf("model-%02d", i)
	}
	for _, mode := range []string{"none", "every-1ms", "back-to-back", "back-to-back-snapshot"} {
		b.Run("scrape="+mode, func(b *testing.B) {
			tr, err := tracker.New(filepath.Join(b.TempDir(), "usage.json"), tracker.WithNoSync())
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			reg := prometheus.NewRegistry()
			var src metrics.Source = tr
			if mode == "back-to-back-snapshot" {
				for _, m := range models { // the same series as the live tracker will have
					_ = tr.Record(tracker.Record{Model: m, Provider: "openai", InputTokens: 1, CostUSD: 0.0042})
				}
				tr.Today()
				src = snapshot{tr.Counts(), tr.Stats()}
			}
			c, err := metrics.New(src)
			if err != nil {
				b.Fatal(err)
			}
			reg.MustRegister(c)

			var scrapes atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			if mode != "none" {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var tick <-chan time.Time
					if mode == "every-1ms" {
						t := time.NewTicker(time.Millisecond)
						defer t.Stop()
						tick = t.C
					}
					for {
						if tick != nil {
							select {
							case <-stop:
								return
							case <-tick:
							}
						} else {
							select {
							case <-stop:
								return
							default:
							}
						}
						if _, err := reg.Gather(); err != nil {
							b.Error(err)
							return
						}
						scrapes.Add(1)
					}
				}()
			}

			b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
			var next atomic.Int64
			start := time.Now()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				m := models[next.Add(1)%int64(len(models))]
				r := tracker.Record{Model: m, Provider: "openai", InputTokens: 1000, OutputTokens: 200, CacheReadTokens: 500, CostUSD: 0.0042}
				for pb.Next() {
					if err := tr.Record(r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			if mode != "none" {
				b.ReportMetric(float64(scrapes.Load())/elapsed.Seconds(), "scrapes/s")
			}
		})
	}
}

// snapshot is a Source frozen at one moment: a scrape's work without the
// tracker.
type snapshot struct {
	counts []tracker.Count
	stats  tracker.Stats
}

func (s snapshot) Counts() []tracker.Count { return slices.Clone(s.counts) }
func (s snapshot) Stats() tracker.Stats    { return s.stats }
