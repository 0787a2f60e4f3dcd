package metrics_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usagering/usagering/metrics"
	"github.com/usagering/usagering/tracker"
)

// A service that embeds a tracker registers a collector over it and serves
// the registry (promhttp.HandlerFor) on /metrics.
func Example() {
	dir, _ := os.MkdirTemp("", "metrics-example")
	defer os.RemoveAll(dir)
	t, err := tracker.New(filepath.Join(dir, "usage.json"))
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	c, err := metrics.New(t, metrics.WithMaxModels(20))
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	// http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	_ = t.Record(tracker.Record{Model: "gpt-4o", Provider: "openai", InputTokens: 1200, OutputTokens: 300,
		CacheReadTokens: 1000, CostUSD: 0.00375})
	_ = t.Flush(context.Background()) // only so that the example's output is certain

	fams, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "usagering_calls_total", "usagering_cost_usd_total", "usagering_tokens_total":
			for _, m := range f.GetMetric() {
				fmt.Print(f.GetName())
				for _, l := range m.GetLabel() {
					fmt.Printf(" %s=%s", l.GetName(), l.GetValue())
				}
				fmt.Printf(" %v\n", m.GetCounter().GetValue())
			}
		}
	}
	// Output:
	// usagering_calls_total model=gpt-4o provider=openai 1
	// usagering_cost_usd_total model=gpt-4o provider=openai 0.00375
	// usagering_tokens_total model=gpt-4o provider=openai type=cache_read 1000
	// usagering_tokens_total model=gpt-4o provider=openai type=cache_write 0
	// usagering_tokens_total model=gpt-4o provider=openai type=input 1200
	// usagering_tokens_total model=gpt-4o provider=openai type=output 300
	// usagering_tokens_total model=gpt-4o provider=openai type=reasoning 0
}
