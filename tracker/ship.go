package tracker

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/atomic"

	"github.com/usagering/usagering/usagefile"
)

// Shipper is where a tracker ships its aggregates: package postgres's
// Store is one. The tracker defines it so that it depends on no database.
//
// Ship applies one batch exactly once. Batches of one writer (b.Writer,
// one per usage file) come in sequence (b.Seq = 1, 2, ...), one at a time;
// a batch whose outcome the tracker did not learn is sent again, the same,
// so Ship must apply a (Writer, Seq) at most once and return nil for one
// it applied before. A nil error means the batch is applied; any error
// means it may or may not be, and the tracker sends it again later. Ship
// must honour ctx.
type Shipper interface {
	Ship(ctx context.Context, b usagefile.Batch) error
}

// shipAttemptTimeout bounds one Ship call, so that a destination that
// never answers cannot hold a shutdown: the batch is sent again later.
const shipAttemptTimeout = 30 * time.Second

// shipper is a tracker's shipping loop, on a goroutine of its own: it
// sends the usage file's in-flight batch (see usagefile.Outbox) until it
// is applied. The next write of the file records that and seals the next
// batch, at most one per interval (the flush interval): a busy writer
// ships once per interval whatever its record rate. The writes are the
// flusher's own persists; when none comes in time (an idle tracker) the
// loop forces one (the flusher's Persist). The outbox as last written is
// handed over by Persist (offer); Record never touches any of this.
type shipper struct {
	dest       Shipper
	every      time.Duration // at most one batch sealed per every
	retryBase  time.Duration
	retryMax   time.Duration
	persist    func(context.Context) error // the flusher's forced persist; set before start
	acked      atomic.Uint64               // highest sequence number known applied: read by Persist under the lock
	latest     atomic.Pointer[shipWork]    // the in-flight batch of the last write; nil: none
	sealDue    atomic.Pointer[time.Time]   // when the last write's pending rows may be sealed, with none in flight; nil: not so
	pending    atomic.Bool                 // the last write left pending rows
	wake       chan struct{}               // buffered 1: offer never blocks
	stop, done chan struct{}
	stopOnce   sync.Once

	shipped atomic.Int64 // batches applied
	errs    atomic.Int64 // failed Ship calls
	lastErr atomic.Error
}

// shipWork is a sealed batch and when it was sealed.
type shipWork struct {
	batch  usagefile.Batch
	sealed time.Time
}

func newShipper(dest Shipper, every, base, max time.Duration) *shipper {
	return &shipper{dest: dest, every: every, retryBase: base, retryMax: max,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// offer hands the shipping loop the file's outbox as last written: its
// in-flight batch, and when its pending rows may be sealed. Called by
// Persist after a write, under the lock.
func (s *shipper) offer(o *usagefile.Outbox) {
	defer func() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}()
	s.sealDue.Store(nil)
	s.pending.Store(o != nil && len(o.Pending) > 0)
	if o != nil {
		if due, ok := o.SealDue(s.every); ok {
			s.sealDue.Store(&due)
		}
	}
	if o == nil || o.Inflight == nil {
		s.latest.Store(nil)
		return
	}
	if cur := s.latest.Load(); cur != nil && cur.batch.Seq == o.Inflight.Seq && cur.batch.Writer == o.Inflight.Writer {
		return // the same sealed batch: it never changes
	}
	sealed, _ := time.Parse(time.RFC3339Nano, o.SealedAt)
	s.latest.Store(&shipWork{batch: *o.Inflight, sealed: sealed})
}

// due returns when the loop must force a write, if it must: pending rows
// wait to be sealed (behind an applied batch the file does not know is
// applied yet, or behind none). A fifth of an interval after the next
// batch may be sealed: a busy tracker's own persist (one per interval)
// usually comes first and does it. An applied batch with nothing behind it
// needs no write: the next one, whenever it comes, records it.
func (s *shipper) due() (time.Time, bool) {
	slack := s.every / 5
	if w := s.latest.Load(); w != nil {
		if w.batch.Seq > s.acked.Load() {
			return time.Time{}, false // to send first
		}
		if !s.pending.Load() {
			return time.Time{}, false
		}
		return w.sealed.Add(s.every + slack), true
	}
	if d := s.sealDue.Load(); d != nil {
		return d.Add(slack), true
	}
	return time.Time{}, false
}

// start runs the loop until halt.
func (s *shipper) start() { go s.run() }

func (s *shipper) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5417))
	failures := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if w := s.latest.Load(); w != nil && w.batch.Seq > s.acked.Load() {
			if err := s.ship(ctx, w); err != nil {
				failures++
				timer.Reset(backoff(s.retryBase, s.retryMax, failures, rng))
				select {
				case <-timer.C:
				case <-s.stop:
					return
				}
			} else {
				failures = 0
			}
			continue
		}
		// Nothing to send. The ack (or the pending rows) go into the file
		// with the flusher's next write; if none has come when the next
		// batch may be sealed, force one.
		due, ok := s.due()
		var fire <-chan time.Time
		if ok {
			timer.Reset(time.Until(due))
			fire = timer.C
		}
		select {
		case <-fire:
			_ = s.persist(ctx) // a failure leaves it for the next write
		case <-s.wake:
			timer.Stop()
		case <-s.stop:
			return
		}
	}
}

// ship sends w's batch once, within shipAttemptTimeout, and counts it.
func (s *shipper) ship(ctx context.Context, w *shipWork) error {
	ctx, cancel := context.WithTimeout(ctx, shipAttemptTimeout)
	defer cancel()
	if err := s.dest.Ship(ctx, w.batch); err != nil {
		s.errs.Inc()
		s.lastErr.Store(err)
		return err
	}
	s.shipped.Inc()
	s.lastErr.Store(nil)
	for { // acked only moves up
		a := s.acked.Load()
		if w.batch.Seq <= a || s.acked.CompareAndSwap(a, w.batch.Seq) {
			return nil
		}
	}
}

// halt stops the loop and waits for it (a Ship in progress is cancelled).
func (s *shipper) halt() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// lag is how long the in-flight batch has waited since it was sealed; 0
// if none waits.
func (s *shipper) lag(now time.Time) time.Duration {
	w := s.latest.Load()
	if w == nil || w.batch.Seq <= s.acked.Load() || w.sealed.IsZero() {
		return 0
	}
	return now.Sub(w.sealed)
}

// backoff is the delay before attempt failures+1: equal jitter, a random
// duration in [d/2, d] with d = min(max, base·2^(failures-1)).
func backoff(base, max time.Duration, failures int, rng *rand.Rand) time.Duration {
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if d <= 1 {
		return d
	}
	return d/2 + time.Duration(rng.Int64N(int64(d/2)+1))
}

// newWriterID returns a new writer id: 128 random bits in hex.
func newWriterID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
