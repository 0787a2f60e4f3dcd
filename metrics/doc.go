// Package metrics exports a live tracker's counters to Prometheus: a
// prometheus.Collector over a *tracker.Tracker.
//
// # Metrics
//
// Usage, by model and provider, counted by this process since its tracker
// started (tracker.Counts: not the file's totals, nor other processes'):
//
//	usagering_calls_total{model,provider}          counter
//	usagering_tokens_total{model,provider,type}    counter; type is input, output,
//	                                               cache_read, cache_write or reasoning
//	usagering_cost_usd_total{model,provider}       counter, US dollars
//	usagering_models_folded                        gauge: models counted under model="other"
//
// As in a tracker.Record, cache_read and cache_write tokens are parts of
// input, and reasoning tokens a part of output: do not add the types up.
// Costs are summed exactly (usd.Amount) and converted to float64 once, at
// scrape time.
//
// The tracker's health (tracker.Stats):
//
//	usagering_pending_records                      gauge: accepted, not yet persisted
//	usagering_persists_total                       counter: successful persists
//	usagering_persist_errors_total                 counter: failed persist attempts
//	usagering_lost_records_total                   counter: dropped (Drop policy) or reaching no file
//	usagering_unpriced_records_total               counter: records without a cost the price table cannot price
//	usagering_ring_capacity                        gauge: the ring's slots
//	usagering_ring_queued_records                  gauge: records in the ring, not yet folded (its fill)
//	usagering_persist_duration_seconds             histogram of persist attempts
//
// # Cardinality
//
// Label values come from the records: model names are the caller's. The
// collector gives at most WithMaxModels models (default DefaultMaxModels)
// series of their own; the others are summed under model="other" (their
// provider kept), and usagering_models_folded says how many they are.
// Admission is sticky: the first models seen (at a scrape, the most
// expensive first) keep their series for the collector's life, so every
// counter only grows. A model literally named "other" is always folded.
// No metric is labelled by request, user or tag.
//
// # Cost of a scrape
//
// Collect takes one snapshot of the tracker (Counts and Stats) and emits
// const metrics from it. Neither call takes a lock that Record takes, nor
// waits for the flusher or the disk: a scrape never slows Record down
// beyond the CPU it uses. Counts reads what the flusher has folded, so a
// scrape may be a batch of records behind Record.
package metrics
