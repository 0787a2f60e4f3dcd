package tracker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
	"go.uber.org/atomic"
)

// fileSink is the asynchronous tracker's flusher.Sink: what has been folded
// from the ring, and what the file holds.
//
// The document the tracker stands for is base ⊕ frozen ⊕ delta: base is
// the file's content as last read or written by us, frozen what was folded
// before the latest Snapshot and is not yet written (the running persist's
// work, or a failed one's), delta what was folded since. Persist re-reads
// base if another process (or tracker) wrote the file since, adds frozen,
// writes, and only then makes the result the new base and drops frozen; a
// failed persist leaves both as they were, and the next Snapshot adds delta
// to frozen, so nothing is counted twice or lost.
//
// Who touches what (see flusher.Sink): Fold and Snapshot run on the
// flusher's loop goroutine, Persist on its persister goroutine, Fold
// concurrently with Persist, Snapshot never concurrently with Persist.
// Queries run on any goroutine and read under mu; writers take mu to
// change what queries read.
type fileSink struct {
	cfg  config
	path string
	lock fileLock           // held around load and persist
	file *atomicfile.Target // opened under lock (see openFile); Persist only

	mu     sync.RWMutex
	base   *usagefile.Document // guarded by mu; written by Persist (and load, before the flusher starts)
	counts buckets[pair]       // guarded by mu; written by Persist: what was persisted since New, by model and provider (Counts adds frozen and delta)
	frozen *delta              // guarded by mu; written by Snapshot and by a successful Persist; nil: nothing unwritten
	delta  delta               // guarded by mu; written by Fold and Snapshot

	// Persist only (and load, before the flusher starts).
	lastWrite fs.FileInfo // the file as we last read or wrote it; nil: re-read before writing
	buf       []byte      // encoding buffer, reused

	prices    *prices       // the price table; priced by Fold
	ship      *shipper      // nil without a shipper; its acked and offer are used by Persist under the lock
	sealEvery time.Duration // at most one batch sealed per sealEvery (the flush interval; 0 at shutdown); under the lock
	tags      *tagger       // Fold only

	// Fold and Snapshot only.
	day   dayCache
	costs []usd.Amount // Fold's costs of a batch, reused

	// Snapshot and Persist only (they never run concurrently): a written
	// generation, emptied, for the next Snapshot to fold into.
	spare *delta

	stamp *stampClock // the tracker's record clock, resynced at each persist; nil with WithClock

	rescue *rescuer // rescue files of the path; under the lock (load, Persist)

	recoveries     atomic.Int64 // corruption recoveries (load on New or on persist)
	fallbackWrites atomic.Int64 // rescue files written at Close
	lost           atomic.Int64 // records that reached no file at Close
}

// delta is what was folded since the last successful persist: exact
// aggregates and the last maxSessions records, kept raw (formatting 1000
// sessions at persist costs less than formatting every record at fold).
type delta struct {
	daily  buckets[string]        // by day
	pairs  buckets[pair]          // by model and provider: the model and provider breakdowns
	rows   buckets[usagefile.Key] // by day, model, provider and tags: what ships (only with a shipper)
	recent []kept                 // circular, capacity maxSessions
	next   int                    // where the next record goes in recent
	count  int                    // records folded into this delta
}

// buckets is one breakdown of a delta (by day, model, provider; by row
// key; by model and provider). Folding a stream of records of one model on
// one day hits the same buckets over and over, so each breakdown remembers
// its last key and bucket: a repeated key costs a comparison (of strings,
// usually of the same pointer), not a map lookup. The zero value is empty.
type buckets[K comparable] struct {
	m       map[K]*Totals
	lastKey K
	last    *Totals
}

func (b *buckets[K]) add(k K, t Totals) {
	if b.last == nil || k != b.lastKey {
		if b.m == nil {
			b.m = map[K]*Totals{}
		}
		b.last = b.m[k]
		if b.last == nil {
			b.last = new(Totals)
			b.m[k] = b.last
		}
		b.lastKey = k
	}
	b.last.Add(t)
}

// get returns the bucket of k (zero if none).
func (b *buckets[K]) get(k K) Totals {
	if t := b.m[k]; t != nil {
		return *t
	}
	return Totals{}
}

// addTo adds every bucket into dst.
func (b *buckets[K]) addTo(dst map[K]Totals) {
	for k, t := range b.m {
		sum := dst[k]
		sum.Add(*t)
		dst[k] = sum
	}
}

func (b *buckets[K]) snapshot() map[K]Totals {
	m := make(map[K]Totals, len(b.m))
	b.addTo(m)
	return m
}

// reset empties b, keeping its memory.
func (b *buckets[K]) reset() {
	clear(b.m)
	var zero K
	b.lastKey, b.last = zero, nil
}

func newDelta(maxSessions int) delta {
	return delta{
		recent: make([]kept, 0, min(maxSessions, 1024)),
	}
}

// rowList returns the delta's shipping rows, sorted by key.
func (d *delta) rowList() []usagefile.Row {
	rows := make([]usagefile.Row, 0, len(d.rows.m))
	for k, t := range d.rows.m {
		rows = append(rows, usagefile.Row{Key: k, Totals: *t})
	}
	usagefile.SortRows(rows)
	return rows
}

// kept is a record kept raw for the sessions of the file, with its cost
// (the caller's, or its price).
type kept struct {
	r    Record
	cost usd.Amount
}

// addOne adds one record, costing cost, to t.
func addOne(t *Totals, r *Record, cost usd.Amount) {
	t.Tokens += r.InputTokens + r.OutputTokens
	t.Cost = t.Cost.Add(cost)
	t.Calls++
	t.InputTokens += r.InputTokens
	t.OutputTokens += r.OutputTokens
	t.CacheReadTokens += r.CacheReadTokens
	t.CacheWriteTokens += r.CacheWriteTokens
	t.ReasoningTokens += r.ReasoningTokens
}

// pair is a model and its provider: a record folds into one bucket per
// pair, from which both the model and the provider breakdowns are summed
// when they are read (a bucket fewer per record folded).
type pair struct{ model, provider string }

// breakdowns adds the buckets of b, by pair, into a model and a provider
// breakdown.
func breakdowns(b *buckets[pair], models, providers map[string]Totals) {
	for k, t := range b.m {
		for _, m := range [...]struct {
			dst map[string]Totals
			key string
		}{{models, k.model}, {providers, k.provider}} {
			sum := m.dst[m.key]
			sum.Add(*t)
			m.dst[m.key] = sum
		}
	}
}

// fold adds batch, whose providers are resolved and whose costs are
// costs, to d: days from day in loc, shipping rows keyed with tags unless
// tags is nil.
//
// Records come in runs of one day, model and provider (and tags): a
// service calls few models, and a day is long. fold sums a run locally and
// adds it to each breakdown once, when the run ends, so a record costs a
// few additions and the copy kept for the sessions, not a bucket update
// per breakdown.
func (d *delta) fold(batch []Record, costs []usd.Amount, day *dayCache, loc *time.Location, tags *tagger, maxSessions int) {
	var run struct {
		Totals
		day, tags string
		pair
	}
	flush := func() {
		d.daily.add(run.day, run.Totals)
		d.pairs.add(run.pair, run.Totals)
		if tags != nil {
			k := usagefile.Key{Day: run.day, Model: validUTF8(run.model), Provider: validUTF8(run.provider), Tags: run.tags}
			d.rows.add(k, run.Totals)
		}
		run.Totals = Totals{}
	}
	for i := range batch {
		r := &batch[i]
		rday, rtags := day.key(r.Timestamp, loc), ""
		if tags != nil {
			rtags = tags.of(r.Metadata)
		}
		if run.Calls > 0 && (rday != run.day || r.Model != run.model || r.Provider != run.provider || rtags != run.tags) {
			flush()
		}
		run.day, run.pair, run.tags = rday, pair{r.Model, r.Provider}, rtags
		addOne(&run.Totals, r, costs[i])
		d.keep(r, costs[i], maxSessions)
	}
	if run.Calls > 0 {
		flush()
	}
	d.count += len(batch)
}

// keep appends r, costing cost, to the recent records, overwriting the
// oldest when full. It copies r into its slot directly: a record is 150
// bytes and this runs once per record folded.
func (d *delta) keep(r *Record, cost usd.Amount, maxSessions int) {
	var slot *kept
	if len(d.recent) < maxSessions {
		d.recent = append(d.recent, kept{})
		slot = &d.recent[len(d.recent)-1]
	} else {
		slot = &d.recent[d.next]
		if d.next++; d.next == maxSessions {
			d.next = 0
		}
	}
	slot.r, slot.cost = *r, cost
}

// absorb adds newer, a delta folded after d, into d: the sums, and newer's
// recent records after d's, so d stays what folding both in order gives.
func (d *delta) absorb(newer *delta, maxSessions int) {
	for k, t := range newer.daily.m {
		d.daily.add(k, *t)
	}
	for k, t := range newer.pairs.m {
		d.pairs.add(k, *t)
	}
	for k, t := range newer.rows.m {
		d.rows.add(k, *t)
	}
	for i := range newer.recent {
		k := &newer.recent[(newer.next+i)%len(newer.recent)]
		d.keep(&k.r, k.cost, maxSessions)
	}
	d.count += newer.count
}

// reset empties d for reuse, keeping its memory.
func (d *delta) reset() {
	d.daily.reset()
	d.pairs.reset()
	d.rows.reset()
	clear(d.recent) // drop the strings for the GC
	d.recent = d.recent[:0]
	d.next, d.count = 0, 0
}

// document returns the delta as a Document to merge into a base: its
// sessions in the order they were folded.
func (d *delta) document(loc *time.Location) *usagefile.Document {
	doc := &usagefile.Document{
		Sessions:          make([]usagefile.Session, 0, len(d.recent)),
		DailyTotals:       d.daily.snapshot(),
		ModelBreakdown:    map[string]Totals{},
		ProviderBreakdown: map[string]Totals{},
	}
	breakdowns(&d.pairs, doc.ModelBreakdown, doc.ProviderBreakdown)
	for i := range d.recent {
		k := &d.recent[(d.next+i)%len(d.recent)]
		doc.Sessions = append(doc.Sessions, session(&k.r, k.cost, loc))
	}
	return doc
}

// dayCache remembers the day key of the last folded timestamp's day, so
// folding a stream of records of one day formats no dates.
type dayCache struct {
	start, end time.Time
	day        string
}

func (c *dayCache) key(t time.Time, loc *time.Location) string {
	if !t.Before(c.start) && t.Before(c.end) {
		return c.day
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	c.day = lt.Format(usagefile.DayLayout)
	c.start = time.Date(y, m, d, 0, 0, 0, 0, loc)
	c.end = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	if sy, sm, sd := c.start.Date(); sy != y || sm != m || sd != d {
		// A daylight-saving change skips this midnight (Chile, in
		// September): time.Date gave an instant of the day before, so the
		// range would hold the wrong day's last hour. Cache nothing.
		c.end = c.start
	}
	return c.day
}

func newFileSink(path string, cfg config) (*fileSink, error) {
	abs, err := usablePath(path, cfg.fs)
	if err != nil {
		return nil, err
	}
	s := &fileSink{
		cfg:    cfg,
		path:   abs,
		lock:   newFileLock(abs),
		delta:  newDelta(cfg.maxSessions),
		rescue: newRescuer(abs),
		prices: newPrices(cfg.prices),
		tags:   newTagger(cfg.tagKeys),
	}
	return s, nil
}

// openFile opens the atomic file on first use. It must run under the lock:
// opening removes stale temp files, which outside the lock could be the
// live temp file of another process's write.
func (s *fileSink) openFile() error {
	if s.file != nil {
		return nil
	}
	f, err := atomicfile.Open(s.path, atomicfile.Options{Backup: usagefile.BackupPath(s.path), NoSync: s.cfg.noSync, FS: s.cfg.fs})
	if err != nil {
		return fmt.Errorf("tracker: open %s: %w", s.path, err)
	}
	s.file = f
	return nil
}

// load reads the file under the lock, as New does, and merges the rescue
// files of earlier runs into it at once (a write) if there are any. It
// fails if the lock file cannot be taken or the file cannot be read or is
// not a usage document: New must answer queries with what the file holds,
// or not start. A failure of the rescue write is left for the persists to
// retry.
func (s *fileSink) load() error {
	return s.lock.do(func() error {
		if err := s.openFile(); err != nil {
			return err
		}
		if err := s.refresh(); err != nil {
			return err
		}
		// Rescue files to merge, ids of merged ones to forget, or (when
		// shipping) aggregates to seal: write now. A batch in flight from an
		// earlier run ships at once.
		o := s.base.State.Outbox
		if s.ship != nil {
			s.ship.offer(o)
		}
		toSeal := s.ship != nil && o != nil && o.Inflight == nil && len(o.Pending) > 0
		if files, _ := usagefile.RescueFiles(s.path, s.rescue.tmpDir); len(files) > 0 || len(s.base.State.Rescued) > 0 || toSeal {
			_ = s.persistLocked() // retried by every persist until it works
		} else {
			s.rescue.scan = false
		}
		return nil
	})
}

// refresh re-reads the file into base unless it is still what we last read
// or wrote. Called with the lock held, by Persist on the flusher's
// persister goroutine (or by load, before the flusher starts).
//
// If the file has disappeared since we read it, base is kept: it is the
// best knowledge of the file's content, and a vanished file (an operator
// moving it away to clear a fault, say) must not cost the records in it.
// That decision is taken on the read's own result, not on the stat before
// it: the path can change between the two (a directory at the path when
// stat looks, removed before the read), and a stale "exists" must not turn
// into "start from an empty document".
func (s *fileSink) refresh() error {
	if fi, err := os.Stat(s.path); err == nil && s.lastWrite != nil && sameVersion(fi, s.lastWrite) {
		return nil
	}
	res, err := usagefile.Load(s.path, s.cfg.clock())
	if err != nil {
		return err
	}
	if res.Source == usagefile.SourceNew && s.base != nil {
		s.lastWrite = nil
		return nil
	}
	s.recoveries.Add(int64(res.Recoveries))
	// Other writers write under the lock we hold: this stat shows the
	// version just read (nil if there is no file yet: re-read next time).
	s.lastWrite, _ = os.Stat(s.path)
	s.mu.Lock()
	s.base = res.Doc
	s.mu.Unlock()
	return nil
}

// sameVersion reports whether two stats of the path show the same version
// of the file. Every write replaces the file by a rename, so a new version
// is a new inode; size and modification time guard against inode reuse.
func sameVersion(a, b fs.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Fold implements flusher.Sink: it prices the records that need it (and
// fills their providers) before it takes the lock queries read under.
func (s *fileSink) Fold(batch []Record) {
	s.costs = s.costs[:0]
	for i := range batch {
		s.costs = append(s.costs, s.prices.cost(&batch[i]))
	}
	var tags *tagger // rows are kept only for a shipper
	if s.ship != nil {
		tags = s.tags
	}
	s.mu.Lock()
	s.delta.fold(batch, s.costs, &s.day, s.cfg.loc, tags, s.cfg.maxSessions)
	s.mu.Unlock()
}

// Snapshot implements flusher.Sink: what was folded so far becomes frozen,
// the work of the next Persist (added to a failed persist's frozen, if
// any), and Fold goes on into an empty delta.
func (s *fileSink) Snapshot() {
	next := s.spare
	s.spare = nil
	if next == nil {
		d := newDelta(s.cfg.maxSessions)
		next = &d
	}
	s.mu.Lock()
	if s.frozen == nil {
		cur := s.delta
		s.frozen = &cur
	} else {
		s.frozen.absorb(&s.delta, s.cfg.maxSessions) // after a failed persist
	}
	s.delta = *next
	s.mu.Unlock()
}

// Persist implements flusher.Sink: under the cross-process lock, bring base
// up to date with the file, write base ⊕ rescue files ⊕ frozen, and make
// it the new base. It runs while Fold goes on into delta, which it never
// reads.
func (s *fileSink) Persist() error {
	if s.stamp != nil {
		s.stamp.resync()
	}
	return s.lock.do(s.persistLocked)
}

// persistLocked is Persist under the lock.
func (s *fileSink) persistLocked() error {
	if err := s.openFile(); err != nil {
		return err
	}
	if err := s.refresh(); err != nil {
		return err
	}
	doc := s.compose(s.frozen)
	var err error
	s.buf, err = doc.AppendJSON(s.buf[:0])
	if err != nil {
		s.rescue.settle(false)
		return fmt.Errorf("tracker: encode %s: %w", s.path, err)
	}
	err = s.file.Replace(s.buf)
	// A failed directory fsync comes after the rename: the file holds
	// doc already, so doc is the new base and frozen is spent (merging
	// it again would count it twice). The error still fails this
	// persist, and the retry rewrites the same content durably.
	var step *atomicfile.StepError
	written := err == nil || errors.As(err, &step) && step.Step == atomicfile.StepSyncDir
	s.rescue.settle(written)
	if written {
		if s.ship != nil {
			s.ship.offer(doc.State.Outbox)
		}
		s.lastWrite, _ = os.Stat(s.path)
		s.mu.Lock()
		s.base = doc
		spent := s.frozen
		s.frozen = nil
		if spent != nil {
			for k, t := range spent.pairs.m {
				s.counts.add(k, *t)
			}
		}
		s.mu.Unlock()
		if spent != nil {
			spent.reset() // no query can reach it any more
			s.spare = spent
		}
	}
	if err != nil {
		return fmt.Errorf("tracker: write %s: %w", s.path, err)
	}
	return nil
}

// compose returns the document the next write makes: base (or an empty
// one) ⊕ the rescue files not yet absorbed ⊕ d, stamped now. Called by
// Persist, under the lock.
func (s *fileSink) compose(d *delta) *usagefile.Document {
	var doc *usagefile.Document
	if s.base != nil {
		doc = s.base.Clone()
	} else {
		doc = usagefile.NewDocument()
	}
	s.rescue.absorb(doc, s.cfg.maxSessions)
	if d != nil {
		doc.Merge(d.document(s.cfg.loc), s.cfg.maxSessions)
	}
	now := s.cfg.clock()
	if s.ship != nil {
		st := &doc.State
		if st.WriterID == "" {
			st.WriterID = newWriterID()
		}
		if st.Outbox == nil {
			st.Outbox = &usagefile.Outbox{NextSeq: 1}
		}
		if d != nil {
			st.Outbox.AddPending(d.rowList())
		}
		st.Outbox.Shipped(s.ship.acked.Load())
		st.Outbox.Seal(st.WriterID, time.Now(), s.sealEvery) // real time: a cadence, not a record's stamp
	}
	doc.LastUpdated = now.In(s.cfg.loc).Format(usagefile.TimestampLayout)
	return doc
}

// writeRescue writes frozen ⊕ delta, every record accepted and not
// persisted, to a rescue file of its own (see rescuer), and returns Close's
// error: a *FallbackError naming the file, or saying the records were lost
// if none could be written. Called by Close once the flusher's goroutines
// have stopped, after the final persist failed with persistErr.
func (s *fileSink) writeRescue(persistErr error) error {
	s.Snapshot() // delta joins frozen
	if s.frozen == nil || s.frozen.count == 0 {
		// Nothing unwritten: the last write failed after its rename (its
		// directory fsync), so the file holds everything, but that it is
		// on stable storage is not known.
		return fmt.Errorf("tracker: %s holds every record, but its last write may not be durable: %w", s.path, persistErr)
	}
	pending := s.frozen.count
	now := s.cfg.clock()
	doc := s.frozen.document(s.cfg.loc)
	if rows := s.frozen.rowList(); len(rows) > 0 {
		doc.State.Outbox = &usagefile.Outbox{Pending: rows} // to ship once merged
	}
	doc.LastUpdated = now.In(s.cfg.loc).Format(usagefile.TimestampLayout)
	p, err := writeRescue(s.path, s.rescue.tmpDir, doc, rescueInfo(s.path, pending, now, persistErr), s.cfg.noSync)
	s.mu.Lock()
	s.frozen = nil // in the rescue file now, or lost: never written to the usage file too
	s.mu.Unlock()
	if err != nil {
		s.lost.Add(int64(pending))
		return &FallbackError{Records: pending, Err: errors.Join(persistErr, err)}
	}
	s.fallbackWrites.Inc()
	return &FallbackError{Path: p, Records: pending, Err: persistErr}
}
