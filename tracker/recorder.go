package tracker

import "context"

// Recorder is what both trackers offer: the synchronous baseline
// (SyncTracker) and the asynchronous write-behind tracker.
//
// Record validates r and records it; after Close it returns ErrClosed.
// Flush returns once every record accepted before the call is persisted, or
// with ctx's error when ctx is done first. Close persists what is pending and releases the tracker; it
// is idempotent.
type Recorder interface {
	Record(r Record) error
	Flush(ctx context.Context) error
	Close() error
}
