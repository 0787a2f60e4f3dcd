package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
)

// TestShipCutAtCommit: the connection dies exactly when COMMIT is sent,
// either before the server gets it (not applied) or after the server
// committed (applied, unacknowledged). Either way Ship says "outcome
// unknown, retry"; the caller resends the same batch and the totals are
// exact: the applied one is recognised as a resend, the other applied now.
func TestShipCutAtCommit(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	proxy := pgtest.NewProxy(t, pgtest.Addr(t, dsn))
	schema := pgtest.Schema(t, dsn)
	s, err := postgres.Open(ctx, proxy.DSN(dsn), postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := seeded(t)
	want := ledger{}
	modes := map[pgtest.CommitCut]int{}
	for seq := uint64(1); seq <= 24; seq++ {
		b := randomBatch(r, "w", seq, 30)
		mode := pgtest.CutBeforeCommit
		if r.IntN(2) == 0 {
			mode = pgtest.CutAfterCommit
		}
		modes[mode]++
		done := proxy.CutNextCommit(mode)
		err := s.Ship(ctx, b)
		if !errors.Is(err, postgres.ErrTemporary) || !errors.Is(err, postgres.ErrOutcomeUnknown) {
			t.Fatalf("#%d %v: Ship returned %v, want a temporary error with outcome unknown", seq, mode, err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("#%d: Ship failed (%v) but the proxy did not cut", seq, err)
		}
		// What happened on the server, seen from outside.
		applied := highWater(t, dsn, s, "w") == int64(seq)
		if applied != (mode == pgtest.CutAfterCommit) {
			t.Fatalf("#%d %v: applied = %v", seq, mode, applied)
		}
		// The caller resends the same batch until acknowledged.
		if _, err := shipUntilApplied(ctx, s, b); err != nil {
			t.Fatal(err)
		}
		want.add(b)
		checkStored(t, dsn, s, want)
	}
	t.Logf("cuts: %v", modes)
	if modes[pgtest.CutBeforeCommit] == 0 || modes[pgtest.CutAfterCommit] == 0 {
		t.Fatalf("only one kind of cut was tried: %v", modes)
	}
}

// shipAll ships batches in order as a shipper does, counting the
// temporary errors it rides out; with each it tries to send on notify.
func shipAll(ctx context.Context, s *postgres.Store, bs []usagefile.Batch, temporary *atomic.Int64, notify chan<- struct{}) error {
	for _, b := range bs {
		_, err := shipUntilApplied(ctx, s, b, func(error) {
			temporary.Add(1)
			select {
			case notify <- struct{}{}:
			default:
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TestShipThroughServerOutage: a server of the test's own is stopped
// (cleanly, or as in a crash) while two writers ship, and started again
// once both have failed to ship to it eight times. Every failure is
// temporary; after the outage every batch lands exactly once.
func TestShipThroughServerOutage(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			srv := pgtest.Start(t)
			s, err := postgres.Open(ctx, srv.DSN())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			r := seeded(t)
			want := ledger{}
			plans := make([][]usagefile.Batch, 2)
			for w := range plans {
				for seq := uint64(1); seq <= 60; seq++ {
					b := randomBatch(r, fmt.Sprintf("w%d", w), seq, 20)
					plans[w] = append(plans[w], b)
					want.add(b)
				}
			}
			var temporary [2]atomic.Int64
			notify := [2]chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}
			errs := make(chan error, len(plans))
			half := make(chan struct{}, len(plans))
			stopped := make(chan struct{})
			for w, plan := range plans {
				go func() {
					if err := shipAll(ctx, s, plan[:20], &temporary[w], nil); err != nil {
						errs <- err
						return
					}
					half <- struct{}{}
					// These race with the stop: some may be in flight when
					// the server goes down.
					if err := shipAll(ctx, s, plan[20:30], &temporary[w], notify[w]); err != nil {
						errs <- err
						return
					}
					<-stopped // the rest start while it is down
					errs <- shipAll(ctx, s, plan[30:], &temporary[w], notify[w])
				}()
			}
			for range plans {
				<-half
			}
			stop := srv.Stop
			if crash {
				stop = srv.Crash
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			close(stopped)
			// While it is down: Open fails as temporary, and both shippers
			// keep getting temporary errors.
			if _, err := postgres.Open(ctx, srv.DSN(), postgres.WithSchema("other")); !errors.Is(err, postgres.ErrTemporary) {
				t.Errorf("Open while the server is down: %v, want ErrTemporary", err)
			}
			for w := range notify {
				for range 8 {
					select {
					case <-notify[w]:
					case err := <-errs:
						t.Fatalf("a shipper ended while the server was down: %v", err)
					}
				}
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			for range plans {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("temporary errors ridden out: %d, %d", temporary[0].Load(), temporary[1].Load())
			checkStored(t, srv.DSN(), s, want)
		})
	}
}

// TestShipThroughRefusedConnections: the network refuses new connections
// and drops the open ones; Ship fails as temporary until it comes back.
func TestShipThroughRefusedConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := pgtest.DSN(t)
	proxy := pgtest.NewProxy(t, pgtest.Addr(t, dsn))
	s, err := postgres.Open(ctx, proxy.DSN(dsn), postgres.WithSchema(pgtest.Schema(t, dsn)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := seeded(t)
	want := ledger{}
	seq := uint64(0)
	ship := func() usagefile.Batch {
		seq++
		b := randomBatch(r, "w", seq, 10)
		want.add(b)
		return b
	}
	for range 3 {
		if err := s.Ship(ctx, ship()); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Refuse()
	if n := proxy.DropAll(); n == 0 {
		t.Fatal("no connection to drop")
	}
	b := ship()
	for range 5 {
		err := s.Ship(ctx, b)
		if !errors.Is(err, postgres.ErrTemporary) {
			t.Fatalf("Ship while refused: %v, want ErrTemporary", err)
		}
		if errors.Is(err, postgres.ErrOutcomeUnknown) {
			t.Fatalf("Ship while refused: %v: nothing was sent, so the outcome is known", err)
		}
	}
	if _, err := s.Report(ctx, postgres.ReportQuery{}); !errors.Is(err, postgres.ErrTemporary) {
		t.Fatalf("Report while refused: %v, want ErrTemporary", err)
	}
	if err := proxy.Accept(); err != nil {
		t.Fatal(err)
	}
	if _, err := shipUntilApplied(ctx, s, b); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Ship(ctx, ship()); err != nil {
			t.Fatal(err)
		}
	}
	checkStored(t, dsn, s, want)
}
