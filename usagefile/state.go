package usagefile

import (
	"fmt"
	"slices"
	"time"

	json "github.com/goccy/go-json"
)

// keyState is the top-level key under which usagering keeps its own state
// in a usage file. The original tool ignores it and keeps it.
const keyState = "usagering"

// State is what usagering's writers keep in a usage file beside the
// original's five keys, under "usagering". Every writer of the file reads
// and writes it under the file's lock.
type State struct {
	// Rescued lists the rescue files (by RescueInfo.ID) merged into this
	// file whose removal is not yet confirmed. A writer that finds one of
	// them again removes it instead of merging it twice: a crash between
	// the merged write and the removal costs nothing and counts nothing
	// twice.
	Rescued []string `json:"rescued,omitempty"`
	// Rescue is set in a rescue file, and only there: what the file is.
	Rescue *RescueInfo `json:"rescue,omitempty"`
	// WriterID identifies the file as a writer of a shipping destination
	// (a database): every process writing the file ships under it. Made
	// once, when the file first ships.
	WriterID string `json:"writer_id,omitempty"`
	// Outbox is what the file's writers have to ship, and where they are.
	Outbox *Outbox `json:"outbox,omitempty"`
}

// Outbox is a usage file's shipping state: the aggregates written to the
// file but not yet known to be shipped. It is the only place they live
// (the file is the outbox), so a crash, a restart or another process
// sharing the file ships them exactly once.
//
// Every write of the file by a shipping writer adds the aggregates of the
// records it writes to Pending. When no batch is in flight, a write seals
// Pending as batch NextSeq (Inflight), before anything is sent; Inflight
// is then sent, and resent as it is, until a writer learns it was applied
// and a later write clears it. A sealed batch never changes: new records
// go to Pending, whose keys merge, so the outbox stays bounded by the
// number of distinct keys however long the destination is down.
type Outbox struct {
	NextSeq  uint64 `json:"next_seq"`           // the sequence number the next sealed batch gets; ≥ 1
	Inflight *Batch `json:"inflight,omitempty"` // sealed, perhaps sent, not known to be applied
	// SealedAt is when the last batch was sealed (RFC 3339): how far the
	// batch in flight lags, and when the next may be sealed.
	SealedAt string `json:"sealed_at,omitempty"`
	Pending  []Row  `json:"pending,omitempty"` // written, not sealed; sorted by key, keys unique
}

// AddPending adds rows to Pending, summing the rows of equal keys, and
// keeps Pending sorted.
func (o *Outbox) AddPending(rows []Row) {
	if len(rows) == 0 {
		return
	}
	m := make(map[Key]Totals, len(o.Pending)+len(rows))
	for _, r := range o.Pending {
		m[r.Key] = r.Totals
	}
	for _, r := range rows {
		t := m[r.Key]
		t.Add(r.Totals)
		m[r.Key] = t
	}
	o.Pending = o.Pending[:0]
	for k, t := range m {
		o.Pending = append(o.Pending, Row{Key: k, Totals: t})
	}
	SortRows(o.Pending)
}

// Seal makes Pending the in-flight batch of writer, numbered NextSeq, if
// no batch is in flight, Pending holds anything, and at least every has
// passed since the last batch was sealed; it reports whether it did. every
// bounds how often a writer ships (a batch per flush interval), whatever
// the record rate.
func (o *Outbox) Seal(writer string, now time.Time, every time.Duration) bool {
	if o.Inflight != nil || len(o.Pending) == 0 {
		return false
	}
	if last, err := time.Parse(time.RFC3339Nano, o.SealedAt); err == nil && now.Sub(last) < every {
		return false
	}
	if o.NextSeq == 0 {
		o.NextSeq = 1
	}
	o.Inflight = &Batch{Writer: writer, Seq: o.NextSeq, Rows: o.Pending}
	o.SealedAt = now.UTC().Format(time.RFC3339Nano)
	o.Pending = nil
	o.NextSeq++
	return true
}

// Shipped clears the in-flight batch if it is seq, and reports whether it
// was.
func (o *Outbox) Shipped(seq uint64) bool {
	if o.Inflight == nil || o.Inflight.Seq != seq {
		return false
	}
	o.Inflight = nil
	return true
}

// SealDue returns when the pending rows may be sealed (zero: now), and
// whether any wait.
func (o *Outbox) SealDue(every time.Duration) (time.Time, bool) {
	if o.Inflight != nil || len(o.Pending) == 0 {
		return time.Time{}, false
	}
	last, err := time.Parse(time.RFC3339Nano, o.SealedAt)
	if err != nil {
		return time.Time{}, true
	}
	return last.Add(every), true
}

// RescueInfo describes a rescue file: records a writer accepted but could
// not write to the usage file at Close, kept apart until a writer of that
// file merges them (see RescuePath).
type RescueInfo struct {
	ID      string `json:"id"`      // unique; also in the file's name
	For     string `json:"for"`     // absolute path of the usage file the records belong to
	Records int64  `json:"records"` // how many records the file holds
	Created string `json:"created"` // when it was written, RFC 3339
	Reason  string `json:"reason"`  // why the usage file could not be written
}

// IsZero reports whether s holds nothing (and is then not written).
func (s *State) IsZero() bool {
	return len(s.Rescued) == 0 && s.Rescue == nil && s.WriterID == "" && s.Outbox == nil
}

func (s State) clone() State {
	c := State{Rescued: slices.Clone(s.Rescued), WriterID: s.WriterID}
	if s.Rescue != nil {
		r := *s.Rescue
		c.Rescue = &r
	}
	if s.Outbox != nil {
		o := *s.Outbox
		o.Pending = slices.Clone(o.Pending)
		if o.Inflight != nil {
			b := *o.Inflight // sealed: its rows are never written to, and may be shared
			o.Inflight = &b
		}
		c.Outbox = &o
	}
	return c
}

func parseState(raw []byte) (State, error) {
	var s State
	if err := json.Unmarshal(raw, &s); err != nil {
		return State{}, fmt.Errorf("%w: %q: %v", ErrCorrupt, keyState, err)
	}
	return s, nil
}
