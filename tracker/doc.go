// Package tracker records the usage of LLM API calls (model, tokens, cost,
// latency) into a JSON usage file shared with the original Python tooling.
//
// # Two trackers, one interface
//
// Tracker (New) is the one to embed: Record validates a record, stamps it and
// pushes it into a lock-free ring in tens of nanoseconds, without I/O, a
// mutex or an allocation. The flusher's loop goroutine folds the ring into
// memory (exact aggregates and the last sessions) while its persister
// goroutine writes the file atomically and durably, at most every flush
// interval, on Flush and on Close.
//
// SyncTracker (NewSync) is the baseline the project measures against: every
// Record reads, parses, updates, encodes and rewrites the whole file, as the
// original did, but correctly (serialized, atomic). Both satisfy Recorder
// and take the same options.
//
// # The file
//
// The usage file is the original's document: "sessions" (the last
// WithMaxSessions, default 1000), "daily_totals" ("YYYY-MM-DD" local date →
// {tokens, cost, calls}), "model_breakdown", "provider_breakdown" and
// "last_updated" (ISO 8601 local time, microseconds). Unknown top-level keys
// are kept. Token totals are int64 and costs are summed as integer
// nano-dollars, so ten million records of $0.001 sum to exactly 10000.
// Each write keeps the previous version as <stem>.backup.json.
//
// A corrupt file (unparsable, or one of the five keys of the wrong type) is
// recovered from its backup, or archived as <stem>.corrupted.<unix>.json and
// started afresh; each case counts in Stats.CorruptionRecoveries. A file
// that is valid JSON but not a usage document is never touched: New returns
// an error wrapping ErrForeignFile.
//
// Several processes (or trackers) may share one file: each persist takes an
// advisory lock on <path>.lock, re-reads the file if someone else wrote it
// since, and adds only its own unpersisted records.
//
// # When the disk fails
//
// Record keeps working: records stay in memory (bounded: aggregates and the
// last sessions), queries stay exact, and persisting is retried with
// exponential backoff until the fault clears. Close under a persistent fault
// writes the data to the backup file, or an emergency file, and returns a
// *FallbackError naming it. With the default Block overflow policy no
// accepted record is ever dropped; under Drop, a full ring refuses records
// with ErrFull and counts them.
package tracker
