// Package usagefile is the usage file's format: the original tool's JSON
// document (sessions, daily_totals, model_breakdown, provider_breakdown,
// last_updated) with usagering's additive keys, its exact totals, and the
// batches a writer ships from it. It reads and writes bytes and documents;
// it knows nothing of rings, flushers or trackers.
package usagefile
