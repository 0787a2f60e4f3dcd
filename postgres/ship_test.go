package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func seeded(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed>>7))
}

// TestShipExactUnderConcurrency: many writers ship at once, each writer's
// batches sent by several goroutines racing each other (so most sends are
// resends, some of them concurrent with the original). Every writer's
// rows must hold exactly one copy of each batch, with no deadlock and no
// error but the lost race of two first batches.
func TestShipExactUnderConcurrency(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	r := seeded(t)
	const (
		writers = 12
		senders = 3 // goroutines per writer, each sending all its batches in order
		batches = 25
	)
	want := ledger{}
	plan := make([][]usagefile.Batch, writers)
	for w := range plan {
		for seq := uint64(1); seq <= batches; seq++ {
			b := randomBatch(r, fmt.Sprintf("host-%02d/usage.json", w), seq, 40)
			plan[w] = append(plan[w], b)
			want.add(b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		retried  []error
		failures []error
	)
	for w := range writers {
		for range senders {
			wg.Go(func() {
				for _, b := range plan[w] {
					temp, err := shipUntilApplied(ctx, s, b)
					mu.Lock()
					retried = append(retried, temp...)
					if err != nil {
						failures = append(failures, err)
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	for _, err := range retried {
		// Only two first batches of one writer racing to create its row
		// may collide; a deadlock (40P01) or anything else is a failure.
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" || !strings.Contains(pe.ConstraintName, "writers") {
			t.Errorf("retried after %v", err)
		}
	}
	t.Logf("%d temporary errors (first-batch races), all retried", len(retried))
	checkStored(t, dsn, s, want)
	for w := range writers {
		if got := highWater(t, dsn, s, plan[w][0].Writer); got != batches {
			t.Errorf("writer %d high-water mark %d, want %d", w, got, batches)
		}
	}
}

// TestShipReplay: a batch sent again, right away or after later batches,
// is acknowledged and counted once.
func TestShipReplay(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	r := seeded(t)
	want := ledger{}
	var sent []usagefile.Batch
	for seq := uint64(1); seq <= 6; seq++ {
		b := randomBatch(r, "w", seq, 20)
		for range 2 { // each twice in a row
			if err := s.Ship(ctx, b); err != nil {
				t.Fatalf("ship #%d: %v", seq, err)
			}
		}
		want.add(b)
		sent = append(sent, b)
	}
	for _, i := range []int{5, 2, 0, 4, 1, 3, 0} { // out of order, all within the digest window
		if err := s.Ship(ctx, sent[i]); err != nil {
			t.Fatalf("replay #%d: %v", sent[i].Seq, err)
		}
	}
	checkStored(t, dsn, s, want)
	if got := highWater(t, dsn, s, "w"); got != 6 {
		t.Fatalf("high-water mark %d, want 6", got)
	}
}

// TestShipRefusals: a resent number with other content, a number beyond
// the next, a number too old to verify — each refused loudly, as an error
// that is not worth retrying, and nothing changes.
func TestShipRefusals(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	r := seeded(t)
	want := ledger{}
	var sent []usagefile.Batch
	for seq := uint64(1); seq <= postgres.DigestWindow+4; seq++ {
		b := randomBatch(r, "w", seq, 5)
		if err := s.Ship(ctx, b); err != nil {
			t.Fatal(err)
		}
		want.add(b)
		sent = append(sent, b)
	}
	last := uint64(len(sent))
	changed := func(b usagefile.Batch) usagefile.Batch {
		c := b
		c.Rows = append([]usagefile.Row(nil), b.Rows...)
		c.Rows[0].Calls++
		return c
	}
	oldest := last - postgres.DigestWindow + 1 // the oldest batch with a digest kept
	for _, c := range []struct {
		name string
		b    usagefile.Batch
		want error
	}{
		{"last resent with other content", changed(sent[last-1]), postgres.ErrConflict},
		{"oldest kept resent with other content", changed(sent[oldest-1]), postgres.ErrConflict},
		{"gap of one", randomBatch(r, "w", last+2, 5), postgres.ErrSeqGap},
		{"new writer starting at 2", randomBatch(r, "v", 2, 5), postgres.ErrSeqGap},
		{"older than the window", sent[oldest-2], postgres.ErrStaleSeq},
		{"first batch, older than the window", sent[0], postgres.ErrStaleSeq},
	} {
		err := s.Ship(ctx, c.b)
		var se *postgres.ShipError
		if !errors.Is(err, c.want) || errors.Is(err, postgres.ErrTemporary) || !errors.As(err, &se) || se.Temporary() ||
			se.Writer != c.b.Writer || se.Seq != c.b.Seq {
			t.Errorf("%s: %v, want %v, permanent", c.name, err, c.want)
		}
	}
	// The oldest batch within the window, unchanged, is still a resend.
	if err := s.Ship(ctx, sent[oldest-1]); err != nil {
		t.Errorf("resend of the oldest batch kept: %v", err)
	}
	checkStored(t, dsn, s, want)
	if got := highWater(t, dsn, s, "w"); got != int64(last) {
		t.Fatalf("high-water mark %d, want %d", got, last)
	}
	if got := highWater(t, dsn, s, "v"); got != -1 {
		t.Fatalf("writer v known at %d after a refused batch", got)
	}
	// And the writer goes on from where it was.
	b := randomBatch(r, "w", last+1, 5)
	if err := s.Ship(ctx, b); err != nil {
		t.Fatal(err)
	}
	want.add(b)
	checkStored(t, dsn, s, want)
}

// TestShipInvalidBatch: every way a batch breaks its rules is refused
// before the database is touched, with ErrInvalidBatch.
func TestShipInvalidBatch(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	r := seeded(t)
	want := ledger{}
	for seq := uint64(1); seq <= 2; seq++ {
		b := randomBatch(r, "w", seq, 5)
		if err := s.Ship(ctx, b); err != nil {
			t.Fatal(err)
		}
		want.add(b)
	}
	row := func(k usagefile.Key, mod func(*usagefile.Totals)) usagefile.Row {
		tt := usagefile.Totals{Tokens: 10, Calls: 1, InputTokens: 7, OutputTokens: 3, Cost: usd.FromNanos(5)}
		if mod != nil {
			mod(&tt)
		}
		return usagefile.Row{Key: k, Totals: tt}
	}
	k := usagefile.Key{Day: "2026-11-27", Model: "m", Provider: "p"}
	k2 := usagefile.Key{Day: "2026-11-28", Model: "m", Provider: "p"}
	with := func(f func(*usagefile.Key)) usagefile.Key { c := k; f(&c); return c }
	next := func(rows ...usagefile.Row) usagefile.Batch { return usagefile.Batch{Writer: "w", Seq: 3, Rows: rows} }
	for name, b := range map[string]usagefile.Batch{
		"empty writer":       {Writer: "", Seq: 3, Rows: []usagefile.Row{row(k, nil)}},
		"writer with NUL":    {Writer: "w\x00", Seq: 1},
		"writer not UTF-8":   {Writer: "w\xff", Seq: 1},
		"seq 0":              {Writer: "w", Seq: 0},
		"seq beyond bigint":  {Writer: "w", Seq: math.MaxInt64 + 1},
		"unsorted":           next(row(k2, nil), row(k, nil)),
		"duplicate key":      next(row(k, nil), row(k, nil)),
		"bad day":            next(row(with(func(k *usagefile.Key) { k.Day = "2026-13-01" }), nil)),
		"day not padded":     next(row(with(func(k *usagefile.Key) { k.Day = "2026-1-01" }), nil)),
		"day of year 0":      next(row(with(func(k *usagefile.Key) { k.Day = "0000-01-01" }), nil)),
		"model with NUL":     next(row(with(func(k *usagefile.Key) { k.Model = "a\x00b" }), nil)),
		"provider not UTF-8": next(row(with(func(k *usagefile.Key) { k.Provider = "\xc3" }), nil)),
		"tags not canonical": next(row(with(func(k *usagefile.Key) { k.Tags = "b=1&a=2" }), nil)),
		"tags unescaped":     next(row(with(func(k *usagefile.Key) { k.Tags = "a=b c" }), nil)),
		"key too long":       next(row(with(func(k *usagefile.Key) { k.Model = strings.Repeat("m", postgres.MaxKeyBytes) }), nil)),
		"negative calls":     next(row(k, func(t *usagefile.Totals) { t.Calls = -1 })),
		"negative tokens":    next(row(k, func(t *usagefile.Totals) { t.Tokens = -1 })),
		"negative reasoning": next(row(k, func(t *usagefile.Totals) { t.ReasoningTokens = -5 })),
		"negative cost":      next(row(k, func(t *usagefile.Totals) { t.Cost = usd.FromUnits(-1) })),
		"bad second row":     next(row(k, nil), row(k2, func(t *usagefile.Totals) { t.CacheReadTokens = -1 })),
	} {
		err := s.Ship(ctx, b)
		var se *postgres.ShipError
		if !errors.Is(err, postgres.ErrInvalidBatch) || errors.Is(err, postgres.ErrTemporary) || !errors.As(err, &se) || se.Temporary() {
			t.Errorf("%s: %v, want ErrInvalidBatch, permanent", name, err)
		}
	}
	checkStored(t, dsn, s, want)
	if got := highWater(t, dsn, s, "w"); got != 2 {
		t.Fatalf("high-water mark %d after refused batches, want 2", got)
	}
}

// TestShipRejected: data the table cannot hold (a total beyond bigint)
// is refused by the database; the error says not to retry and the batch
// leaves nothing behind, not even the high-water mark.
func TestShipRejected(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	k := usagefile.Key{Day: "2026-11-27", Model: "m", Provider: "p"}
	big := usagefile.Batch{Writer: "w", Seq: 1, Rows: []usagefile.Row{{Key: k, Totals: usagefile.Totals{Calls: math.MaxInt64}}}}
	if err := s.Ship(ctx, big); err != nil {
		t.Fatal(err)
	}
	over := usagefile.Batch{Writer: "w", Seq: 2, Rows: []usagefile.Row{{Key: k, Totals: usagefile.Totals{Calls: 1}}}}
	err := s.Ship(ctx, over)
	if !errors.Is(err, postgres.ErrRejected) || errors.Is(err, postgres.ErrTemporary) {
		t.Fatalf("ship past bigint: %v, want ErrRejected, permanent", err)
	}
	want := ledger{}
	want.add(big)
	checkStored(t, dsn, s, want)
	if got := highWater(t, dsn, s, "w"); got != 1 {
		t.Fatalf("high-water mark %d after a rejected batch, want 1", got)
	}
}

// TestShipEmptyBatch: a batch without rows advances the mark and nothing
// else.
func TestShipEmptyBatch(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	for seq := uint64(1); seq <= 2; seq++ {
		if err := s.Ship(ctx, usagefile.Batch{Writer: "w", Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	if got := highWater(t, dsn, s, "w"); got != 2 {
		t.Fatalf("high-water mark %d, want 2", got)
	}
	checkStored(t, dsn, s, ledger{})
}
