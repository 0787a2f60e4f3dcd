package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/usagering/usagering/internal/labelcap"
	"github.com/usagering/usagering/tracker"
)

// DefaultMaxModels is the number of models that get series of their own
// unless WithMaxModels says otherwise.
const DefaultMaxModels = 50

// Other is the model label of the models beyond the cap.
const Other = labelcap.DefaultOther

// ErrInvalidOption: an option passed to New is invalid.
var ErrInvalidOption = errors.New("metrics: invalid option")

// Source is what a Collector reads. *tracker.Tracker implements it; both
// methods must be safe for concurrent use and must not wait for I/O.
type Source interface {
	Counts() []tracker.Count
	Stats() tracker.Stats
}

// Option configures New.
type Option func(*config) error

type config struct {
	maxModels   int
	constLabels prometheus.Labels
}

// WithMaxModels sets how many models get series of their own (n ≥ 0); the
// others are summed under model="other". 0 folds every model.
func WithMaxModels(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("%w: WithMaxModels(%d): negative", ErrInvalidOption, n)
		}
		c.maxModels = n
		return nil
	}
}

// WithConstLabels adds labels with fixed values to every metric: to tell
// apart the collectors of several trackers in one process, say
// prometheus.Labels{"file": "usage.json"}. They must not be named model,
// provider or type.
func WithConstLabels(l prometheus.Labels) Option {
	return func(c *config) error {
		for k := range l {
			if k == "model" || k == "provider" || k == "type" {
				return fmt.Errorf("%w: WithConstLabels: label %q is the collector's own", ErrInvalidOption, k)
			}
		}
		c.constLabels = l
		return nil
	}
}

// Collector is a prometheus.Collector over a tracker (see the package
// documentation for its metrics). It is safe for concurrent use; register
// it once per tracker.
type Collector struct {
	src Source
	cap *labelcap.Cap // which models have series of their own

	calls, tokens, cost, folded         *prometheus.Desc
	pending, persists, persistErrors    *prometheus.Desc
	lost, unpriced, ringCap, ringQueued *prometheus.Desc
	shipped, shipErrors, shipLag        *prometheus.Desc
	persistSeconds                      *prometheus.Desc
}

// New returns a Collector over src, typically a *tracker.Tracker. Errors
// wrap ErrInvalidOption.
func New(src Source, opts ...Option) (*Collector, error) {
	if src == nil {
		return nil, fmt.Errorf("%w: nil source", ErrInvalidOption)
	}
	cfg := config{maxModels: DefaultMaxModels}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("usagering_"+name, help, labels, cfg.constLabels)
	}
	return &Collector{
		src:            src,
		cap:            labelcap.New(cfg.maxModels, Other),
		calls:          d("calls_total", "Calls recorded by this process since its tracker started.", "model", "provider"),
		tokens:         d("tokens_total", "Tokens recorded by this process since its tracker started, by type (cache_read and cache_write are parts of input, reasoning of output).", "model", "provider", "type"),
		cost:           d("cost_usd_total", "Cost in US dollars recorded by this process since its tracker started (summed exactly).", "model", "provider"),
		folded:         d("models_folded", `Models whose usage is counted under model="other" (beyond the cap).`),
		pending:        d("pending_records", "Records accepted and not yet persisted."),
		persists:       d("persists_total", "Successful persists of the usage file."),
		persistErrors:  d("persist_errors_total", "Failed persist attempts (retried)."),
		lost:           d("lost_records_total", "Records lost: dropped on a full ring (Drop policy) or reaching no file at close."),
		unpriced:       d("unpriced_records_total", "Records without a cost whose model the price table does not know (counted at $0)."),
		ringCap:        d("ring_capacity", "Slots of the tracker's ring."),
		ringQueued:     d("ring_queued_records", "Records in the ring, not yet folded (the ring's fill)."),
		persistSeconds: d("persist_duration_seconds", "Duration of persist attempts, failed ones included."),
		shipped:        d("shipped_batches_total", "Batches the shipper (tracker.WithShipper) got applied."),
		shipErrors:     d("ship_errors_total", "Failed ship attempts (each retried)."),
		shipLag:        d("ship_lag_seconds", "How long the batch in flight has waited since it was sealed; 0 if none."),
	}, nil
}

// Describe sends the descriptors of every metric the Collector emits.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.calls, c.tokens, c.cost, c.folded, c.pending, c.persists, c.persistErrors,
		c.lost, c.unpriced, c.ringCap, c.ringQueued, c.persistSeconds,
		c.shipped, c.shipErrors, c.shipLag,
	} {
		ch <- d
	}
}

// seriesKey is one (model label, provider) pair.
type seriesKey struct{ model, provider string }

// Collect takes one snapshot of the tracker and sends its metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counts := c.src.Counts()
	stats := c.src.Stats()
	for i := range counts {
		// Label values must be UTF-8; the file writes bad bytes as U+FFFD
		// too. Names that then coincide are summed below.
		counts[i].Model = strings.ToValidUTF8(counts[i].Model, "\uFFFD")
		counts[i].Provider = strings.ToValidUTF8(counts[i].Provider, "\uFFFD")
	}

	// Each model's cost over its providers, for the order of admission.
	type model struct {
		name  string
		total tracker.Totals
	}
	var models []model
	index := map[string]int{}
	for i := range counts {
		n := counts[i].Model
		j, ok := index[n]
		if !ok {
			j = len(models)
			index[n] = j
			models = append(models, model{name: n})
		}
		models[j].total.Add(counts[i].Totals)
	}
	slices.SortFunc(models, func(a, b model) int {
		return cmp.Or(b.total.Cost.Cmp(a.total.Cost), cmp.Compare(b.total.Calls, a.total.Calls), cmp.Compare(a.name, b.name))
	})
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.name
	}
	labels, folded := c.cap.Apply(names)
	label := make(map[string]string, len(names))
	for i, n := range names {
		label[n] = labels[i]
	}

	// Sum exactly per series, then convert once.
	series := make(map[seriesKey]tracker.Totals, len(counts))
	var order []seriesKey
	for i := range counts {
		k := seriesKey{label[counts[i].Model], counts[i].Provider}
		t, ok := series[k]
		if !ok {
			order = append(order, k)
		}
		t.Add(counts[i].Totals)
		series[k] = t
	}
	for _, k := range order {
		t := series[k]
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(t.Calls), k.model, k.provider)
		for _, tt := range [...]struct {
			name string
			n    int64
		}{
			{"input", t.InputTokens}, {"output", t.OutputTokens}, {"cache_read", t.CacheReadTokens},
			{"cache_write", t.CacheWriteTokens}, {"reasoning", t.ReasoningTokens},
		} {
			ch <- prometheus.MustNewConstMetric(c.tokens, prometheus.CounterValue, float64(tt.n), k.model, k.provider, tt.name)
		}
		ch <- prometheus.MustNewConstMetric(c.cost, prometheus.CounterValue, t.Cost.Float64(), k.model, k.provider)
	}
	ch <- prometheus.MustNewConstMetric(c.folded, prometheus.GaugeValue, float64(folded))

	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(stats.Pending))
	ch <- prometheus.MustNewConstMetric(c.persists, prometheus.CounterValue, float64(stats.TotalFlushes))
	ch <- prometheus.MustNewConstMetric(c.persistErrors, prometheus.CounterValue, float64(stats.ErrorCount))
	ch <- prometheus.MustNewConstMetric(c.lost, prometheus.CounterValue, float64(stats.LostRecords))
	ch <- prometheus.MustNewConstMetric(c.unpriced, prometheus.CounterValue, float64(stats.UnpricedRecords))
	ch <- prometheus.MustNewConstMetric(c.ringCap, prometheus.GaugeValue, float64(stats.RingCapacity))
	ch <- prometheus.MustNewConstMetric(c.ringQueued, prometheus.GaugeValue, float64(stats.InRing))
	ch <- prometheus.MustNewConstMetric(c.shipped, prometheus.CounterValue, float64(stats.ShippedBatches))
	ch <- prometheus.MustNewConstMetric(c.shipErrors, prometheus.CounterValue, float64(stats.ShipErrors))
	ch <- prometheus.MustNewConstMetric(c.shipLag, prometheus.GaugeValue, stats.ShipLag.Seconds())
	h := stats.PersistSeconds
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			buckets[b] = h.Counts[i]
		}
	}
	ch <- prometheus.MustNewConstHistogram(c.persistSeconds, h.Count, h.Sum, buckets)
}
