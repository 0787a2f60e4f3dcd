package tracker

import (
	"fmt"
	"time"

	"github.com/usagering/usagering/atomicfile"
	"github.com/usagering/usagering/flusher"
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/ring"
)

// Overflow says what Record does when the ring is full.
type Overflow uint8

const (
	// Block waits for space (spinning briefly, then parking; never a
	// mutex). Nothing is lost. The default.
	Block Overflow = iota
	// Drop returns ErrFull at once and counts the record in Stats.Dropped
	// and Stats.LostRecords.
	Drop
)

func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

// Defaults of the asynchronous tracker. Those of the flusher are its own
// (package flusher); docs/design.md says why these values.
const (
	// DefaultCapacity is the ring's capacity: 16384 records. It absorbs
	// the records of a burst while the loop is descheduled.
	DefaultCapacity = 1 << 14
	// DefaultBatchSize is the pending count that wakes the flusher to fold.
	DefaultBatchSize = flusher.DefaultBatchSize
	// DefaultFlushInterval is how long a folded record may wait for a
	// persist, and the persist cadence under load.
	DefaultFlushInterval = flusher.DefaultFlushInterval
	// DefaultMaxSessions is how many sessions the file keeps, as the
	// original tool.
	DefaultMaxSessions = 1000
	// DefaultRetryBase and DefaultRetryMax shape the persist retry backoff.
	DefaultRetryBase = flusher.DefaultRetryBase
	DefaultRetryMax  = flusher.DefaultRetryMax
	// DefaultCloseRetries is how often Close retries a failing persist
	// before it writes a rescue file.
	DefaultCloseRetries = flusher.DefaultCloseRetries
)

// config is what the options set. NewSync reads only the fields that
// concern a synchronous tracker (maxSessions, pricing, loc, clock, noSync).
type config struct {
	capacity      int
	batchSize     int
	batchSet      bool // batchSize was given by WithBatchSize
	flushInterval time.Duration
	maxSessions   int
	overflow      Overflow
	prices        pricing.Pricer // nil: pricing.Default(), loaded by the constructor
	loc           *time.Location
	clock         func() time.Time
	clockSet      bool // clock was given by WithClock; else New uses a stampClock
	noSync        bool
	retryBase     time.Duration
	retryMax      time.Duration
	closeRetries  int
	fs            atomicfile.FS // nil: the real file system (WithFS)
	asyncOnly     []string      // options given that only New takes (NewSync refuses them)
	shipper       Shipper       // nil: no shipping
	tagKeys       []string      // metadata keys whose values group shipped aggregates
}

func defaultConfig() config {
	return config{
		capacity:      DefaultCapacity,
		batchSize:     DefaultBatchSize,
		flushInterval: DefaultFlushInterval,
		maxSessions:   DefaultMaxSessions,
		overflow:      Block,
		loc:           time.Local,
		clock:         time.Now,
		retryBase:     DefaultRetryBase,
		retryMax:      DefaultRetryMax,
		closeRetries:  DefaultCloseRetries,
	}
}

// Option configures New and NewSync. Options that concern only the
// asynchronous tracker (WithCapacity, WithBatchSize, WithFlushInterval,
// WithOverflow, WithRetry, WithCloseRetries) make NewSync fail with an
// error naming them: it has no ring, flusher or retries to configure.
type Option func(*config) error

func buildConfig(opts []Option) (config, error) {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	if c.prices == nil {
		c.prices = pricing.Default()
	}
	if c.retryMax < c.retryBase {
		return c, fmt.Errorf("%w: retry max %v below retry base %v", ErrInvalidOption, c.retryMax, c.retryBase)
	}
	if c.batchSize > c.capacity {
		if !c.batchSet {
			// The default batch does not fit a small ring: wake at half.
			c.batchSize = max(1, c.capacity/2)
			return c, nil
		}
		return c, fmt.Errorf("%w: batch size %d above capacity %d: the flusher would never be woken by size", ErrInvalidOption, c.batchSize, c.capacity)
	}
	return c, nil
}

func invalidOption(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// WithCapacity sets the ring's capacity: n from 2 to 1<<30, rounded up to
// the next power of two (1000 gives 1024). Default DefaultCapacity.
func WithCapacity(n int) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithCapacity")
		if n < ring.MinCapacity || n > ring.MaxCapacity {
			return invalidOption("capacity %d not in [%d, %d]", n, ring.MinCapacity, ring.MaxCapacity)
		}
		c.capacity = n
		return nil
	}
}

// WithBatchSize sets how many pending records wake the flusher to fold
// them before the flush interval. Default DefaultBatchSize.
func WithBatchSize(n int) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithBatchSize")
		if n < 1 {
			return invalidOption("batch size %d < 1", n)
		}
		c.batchSize, c.batchSet = n, true
		return nil
	}
}

// WithFlushInterval sets how long a record may wait for a persist when
// nobody calls Flush: what a crash can lose while the disk works. Default
// DefaultFlushInterval.
func WithFlushInterval(d time.Duration) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithFlushInterval")
		if d <= 0 {
			return invalidOption("flush interval %v <= 0", d)
		}
		c.flushInterval = d
		return nil
	}
}

// WithMaxSessions sets how many of the latest sessions the file keeps.
// Default DefaultMaxSessions (1000), as the original.
func WithMaxSessions(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return invalidOption("max sessions %d < 1", n)
		}
		c.maxSessions = n
		return nil
	}
}

// WithOverflow sets what Record does on a full ring. Default Block.
func WithOverflow(o Overflow) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithOverflow")
		if o != Block && o != Drop {
			return invalidOption("overflow policy %v", o)
		}
		c.overflow = o
		return nil
	}
}

// WithPrices sets the price table that records without a cost are priced
// from (see Record.CostUSD): pricing.Default() (LiteLLM's table, embedded)
// unless given; pricing.Original() reproduces the original tool's figures;
// pricing.Load reads a newer table, and pricing.Chain puts a table of your
// own first. SetPrices swaps it while the tracker runs.
func WithPrices(p pricing.Pricer) Option {
	return func(c *config) error {
		if p == nil {
			return invalidOption("nil price table")
		}
		c.prices = p
		return nil
	}
}

// WithLocation sets the time zone of timestamps and daily keys. Default
// time.Local, as the original (local time without a zone).
func WithLocation(loc *time.Location) Option {
	return func(c *config) error {
		if loc == nil {
			return invalidOption("nil location")
		}
		c.loc = loc
		return nil
	}
}

// WithClock sets the clock that stamps records without a Timestamp and
// decides what "today" is. By default the asynchronous tracker reads the
// wall clock through a cheaper stamp clock (one monotonic clock read,
// resynced with time.Now at every persist) and the synchronous one calls
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return invalidOption("nil clock")
		}
		c.clock, c.clockSet = now, true
		return nil
	}
}

// WithRetry sets the backoff between persist attempts after a failure:
// exponential from base to max, with jitter. Defaults DefaultRetryBase and
// DefaultRetryMax.
func WithRetry(base, max time.Duration) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithRetry")
		if base <= 0 || max <= 0 {
			return invalidOption("retry base %v and max %v must be > 0", base, max)
		}
		c.retryBase, c.retryMax = base, max
		return nil
	}
}

// WithCloseRetries sets how many times Close retries a failing persist
// before it writes the fallback files. Default DefaultCloseRetries.
func WithCloseRetries(n int) Option {
	return func(c *config) error {
		c.asyncOnly = append(c.asyncOnly, "WithCloseRetries")
		if n < 0 {
			return invalidOption("close retries %d < 0", n)
		}
		c.closeRetries = n
		return nil
	}
}

// WithShipper makes the tracker ship its aggregates to s (a PostgreSQL
// store, say) after each persist: per day, model, provider and tags, as
// sealed batches recorded in the usage file before they are sent and sent
// until they are applied, exactly once (see Shipper and usagefile.Outbox).
// Record never notices the destination, nor its outages: batches wait in
// the file, merged, bounded by the number of distinct keys. Retries use
// WithRetry's backoff; Shutdown ships what it can within its context.
func WithShipper(s Shipper) Option {
	return func(c *config) error {
		if s == nil {
			return invalidOption("nil shipper")
		}
		c.asyncOnly = append(c.asyncOnly, "WithShipper")
		c.shipper = s
		return nil
	}
}

// WithTagKeys names the metadata keys whose values group the shipped
// aggregates (a team, a feature, a user tier): a record's tag set is its
// metadata entries with those keys. Other metadata is kept in the
// sessions only. Keep tag values few: every distinct set is a row.
func WithTagKeys(keys ...string) Option {
	return func(c *config) error {
		for _, k := range keys {
			if k == "" {
				return invalidOption("empty tag key")
			}
		}
		c.tagKeys = append(c.tagKeys, keys...)
		return nil
	}
}

// WithNoSync skips fsync when writing the file. For benchmarks only: a
// crash or power cut may then lose writes that were reported persisted.
func WithNoSync() Option {
	return func(c *config) error {
		c.noSync = true
		return nil
	}
}

// WithFS makes the tracker write its usage file through fsys instead of the
// real file system: the seam for injecting disk faults and stalls (a slow
// fsync, a full disk) in tests and in cmd/bench's stall scenario. Reading
// the file, the cross-process lock and rescue files always use the real
// file system. A nil fsys means the real file system.
func WithFS(fsys atomicfile.FS) Option {
	return func(c *config) error {
		c.fs = fsys
		return nil
	}
}
