package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usagering/usagering/internal/spendlogs"
	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// benchKeys returns n distinct keys, sorted: days × models × providers ×
// tag sets, as many of each as it takes.
func benchKeys(n int) []usagefile.Key {
	var ks []usagefile.Key
	for d := 0; len(ks) < n; d++ {
		for m := 0; m < 8 && len(ks) < n; m++ {
			for p := 0; p < 2 && len(ks) < n; p++ {
				for tg := 0; tg < 4 && len(ks) < n; tg++ {
					ks = append(ks, usagefile.Key{
						Day:      time.Date(2026, 11, 1+d%28, 0, 0, 0, 0, time.UTC).AddDate(0, d/28, 0).Format(time.DateOnly),
						Model:    fmt.Sprintf("model-%d", m),
						Provider: fmt.Sprintf("provider-%d", p),
						Tags:     usagefile.EncodeTags(map[string]string{"team": fmt.Sprintf("t%d", tg)}),
					})
				}
			}
		}
	}
	slices.SortFunc(ks, usagefile.Key.Compare)
	return ks
}

// BenchmarkShip: batches of a typical size shipped by 1 or 4 writers at
// once into the shared database; each batch updates rows the writer
// already has (as every flush of a running writer does). ns/op is wall
// time per batch over all writers.
func BenchmarkShip(b *testing.B) {
	dsn := pgtest.DSN(b)
	for _, rows := range []int{1, 10, 100, 1000} {
		for _, writers := range []int{1, 4} {
			b.Run(fmt.Sprintf("rows=%d/writers=%d", rows, writers), func(b *testing.B) {
				ctx := context.Background()
				s := open(b, dsn)
				keys := benchKeys(rows)
				batch := func(w int, seq uint64) usagefile.Batch {
					bt := usagefile.Batch{Writer: fmt.Sprintf("bench-%d", w), Seq: seq, Rows: make([]usagefile.Row, len(keys))}
					for i, k := range keys {
						bt.Rows[i] = usagefile.Row{Key: k, Totals: usagefile.Totals{
							Tokens: 1500, Calls: 3, InputTokens: 1200, OutputTokens: 300, Cost: usd.FromNanos(5_400_321)}}
					}
					return bt
				}
				// Each writer's first batch creates its rows; the measured ones
				// update them.
				for w := range writers {
					if err := s.Ship(ctx, batch(w, 1)); err != nil {
						b.Fatal(err)
					}
				}
				var next atomic.Int64 // batches handed out
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for seq := uint64(2); next.Add(1) <= int64(b.N); seq++ {
							if err := s.Ship(ctx, batch(w, seq)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				el := time.Since(start).Seconds()
				b.ReportMetric(float64(b.N)/el, "batches/s")
				b.ReportMetric(float64(b.N*rows)/el, "rows/s")
			})
		}
	}
}

var storageCalls = flag.Int("storage.calls", 100_000, "calls per BenchmarkStorage run")

// storageWorkload is BenchmarkStorage's calls: spread over 4 writers and,
// in time order, over 7 days; each call of a day has one of 64 keys (8
// models × 2 providers × 4 teams), at random. Costs are exact.
type storageWorkload struct {
	calls   int
	writers int
	days    int
	keys    []usagefile.Key // sorted: day first, keysPerDay per day
}

const storageDays, keysPerDay = 7, 8 * 2 * 4

// each generates writer w's calls, in order, deterministically.
func (wl storageWorkload) each(w int, f func(k usagefile.Key, t usagefile.Totals)) {
	r := rand.New(rand.NewPCG(uint64(w), 42))
	n := wl.calls / wl.writers
	for i := range n {
		day := i * wl.days / n
		in, out := 200+r.Int64N(4000), 20+r.Int64N(800)
		f(wl.keys[day*keysPerDay+r.IntN(keysPerDay)], usagefile.Totals{
			Tokens: in + out, Calls: 1, InputTokens: in, OutputTokens: out, CacheReadTokens: r.Int64N(in / 2),
			Cost: usd.FromNanos(in*2500 + out*10000), // $2.50 and $10 per million tokens
		})
	}
}

// exactCost is the workload's total cost, as a decimal.
func (wl storageWorkload) exactCost() usd.Amount {
	var sum usd.Amount
	for w := range wl.writers {
		wl.each(w, func(_ usagefile.Key, t usagefile.Totals) { sum = sum.Add(t.Cost) })
	}
	return sum
}

// BenchmarkStorage writes one workload (-storage.calls calls from 4
// writers) into a throwaway server both ways, and reports per million
// calls: the rows the tables hold, their bytes (tables, indexes and TOAST,
// as written and after VACUUM FULL), the row writes and the transactions
// (counted, and as the server's xact_commit saw them); and, for LiteLLM's
// way, how far its double precision total is from the exact one.
func BenchmarkStorage(b *testing.B) {
	wl := storageWorkload{calls: *storageCalls, writers: 4, days: storageDays, keys: benchKeys(storageDays * keysPerDay)}
	exact := wl.exactCost()
	srv := pgtest.Start(b)
	ways := []struct {
		name string
		run  func(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string) (txs, writes int64)
	}{
		{"usagering/calls-per-batch=1000", func(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string) (int64, int64) {
			return shipWorkload(ctx, b, srv.DSN(), schema, wl, 1000, exact)
		}},
		{"usagering/calls-per-batch=100", func(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string) (int64, int64) {
			return shipWorkload(ctx, b, srv.DSN(), schema, wl, 100, exact)
		}},
		{"litellm/calls-per-tx=1", func(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string) (int64, int64) {
			txs, writes, _ := spendWorkload(ctx, b, pool, schema, wl, 1)
			return txs, writes
		}},
		{"litellm/calls-per-tx=100/sorted", func(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string) (int64, int64) {
			txs, writes, deadlocks := spendWorkload(ctx, b, pool, schema, wl, 100, spendlogs.SortedUpserts())
			if deadlocks != 0 {
				b.Errorf("%d deadlocks with sorted upserts", deadlocks)
			}
			return txs, writes
		}},
	}
	for i, way := range ways {
		b.Run(way.name, func(b *testing.B) {
			ctx := context.Background()
			admin, err := pgx.Connect(ctx, srv.DSN())
			if err != nil {
				b.Fatal(err)
			}
			defer admin.Close(ctx)
			perM := 1e6 / float64(wl.calls)
			var m struct{ rows, bytes, compact, writes, txs, xacts, spendErr, secs float64 }
			for n := range b.N {
				schema := fmt.Sprintf("storage_%d_%d", i, n)
				cfg, err := pgxpool.ParseConfig(srv.DSN())
				if err != nil {
					b.Fatal(err)
				}
				cfg.ConnConfig.RuntimeParams["application_name"] = "bench-storage"
				pool, err := pgxpool.NewWithConfig(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				before := xactCommit(ctx, b, admin)
				start := time.Now()
				txs, writes := way.run(ctx, b, pool, schema)
				m.secs += time.Since(start).Seconds()
				if strings.HasPrefix(way.name, "litellm") {
					var spend float64
					if err := pool.QueryRow(ctx, "SELECT sum(spend) FROM "+pgx.Identifier{schema}.Sanitize()+".daily_user_spend").Scan(&spend); err != nil {
						b.Fatal(err)
					}
					m.spendErr += floatError(spend, exact)
				}
				pool.Close()
				m.xacts += float64(xactCommit(ctx, b, admin) - before)
				m.txs += float64(txs)
				m.writes += float64(writes)
				rows, bytes := schemaSize(ctx, b, admin, schema)
				m.rows += float64(rows)
				m.bytes += float64(bytes)
				if _, err := admin.Exec(ctx, "VACUUM FULL"); err != nil {
					b.Fatal(err)
				}
				_, compact := schemaSize(ctx, b, admin, schema)
				m.compact += float64(compact)
				if _, err := admin.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(m.rows/n*perM, "rows/Mcall")
			b.ReportMetric(m.bytes/n*perM/1e6, "MB/Mcall")
			b.ReportMetric(m.compact/n*perM/1e6, "MB-vacuumed/Mcall")
			b.ReportMetric(m.writes/n*perM, "row-writes/Mcall")
			b.ReportMetric(m.txs/n*perM, "tx/Mcall")
			b.ReportMetric(m.xacts/n*perM, "xact_commit/Mcall")
			b.ReportMetric(float64(wl.calls)*n/m.secs, "calls/s")
			if strings.HasPrefix(way.name, "litellm") {
				b.ReportMetric(m.spendErr/n*1e9, "spend-error-nUSD")
			}
		})
	}
}

// shipWorkload aggregates each writer's calls and ships a batch every
// perBatch calls, checking the stored total cost is exact. It returns the
// batches shipped and the rows they upserted.
func shipWorkload(ctx context.Context, b *testing.B, dsn, schema string, wl storageWorkload, perBatch int, exact usd.Amount) (int64, int64) {
	s, err := postgres.Open(ctx, dsn+"&application_name=bench-storage", postgres.WithSchema(schema))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var txs, writes atomic.Int64
	var wg sync.WaitGroup
	for w := range wl.writers {
		wg.Go(func() {
			pending := map[usagefile.Key]usagefile.Totals{}
			seq, n := uint64(0), 0
			ship := func() {
				seq++
				bt := usagefile.Batch{Writer: fmt.Sprintf("writer-%d", w), Seq: seq}
				for k, t := range pending {
					bt.Rows = append(bt.Rows, usagefile.Row{Key: k, Totals: t})
				}
				usagefile.SortRows(bt.Rows)
				if err := s.Ship(ctx, bt); err != nil {
					b.Error(err)
				}
				txs.Add(1)
				writes.Add(int64(len(bt.Rows)))
				clear(pending)
			}
			wl.each(w, func(k usagefile.Key, t usagefile.Totals) {
				sum := pending[k]
				sum.Add(t)
				pending[k] = sum
				if n++; n%perBatch == 0 {
					ship()
				}
			})
			if len(pending) > 0 {
				ship()
			}
		})
	}
	wg.Wait()
	rows, err := s.Report(ctx, postgres.ReportQuery{})
	if err != nil {
		b.Fatal(err)
	}
	if got := postgres.Sum(rows); got.Cost != exact || got.Calls != int64(wl.calls/wl.writers*wl.writers) {
		b.Fatalf("stored %d calls costing %s, want %d costing %s", got.Calls, got.Cost, wl.calls, exact)
	}
	return txs.Load(), writes.Load()
}

// spendWorkload writes each writer's calls LiteLLM's way, perTx calls per
// transaction. It returns the transactions committed, the rows written (a
// log row and a daily upsert per call) and the transactions retried after
// a deadlock.
func spendWorkload(ctx context.Context, b *testing.B, pool *pgxpool.Pool, schema string, wl storageWorkload, perTx int, opts ...spendlogs.Option) (txs, writes, deadlocks int64) {
	if err := spendlogs.Create(ctx, pool, schema); err != nil {
		b.Fatal(err)
	}
	sw := spendlogs.NewWriter(pool, schema, opts...)
	var wg sync.WaitGroup
	for w := range wl.writers {
		wg.Go(func() {
			var calls []spendlogs.Call
			i := 0
			wl.each(w, func(k usagefile.Key, t usagefile.Totals) {
				i++
				day, _ := time.Parse(time.DateOnly, k.Day)
				start := day.Add(time.Duration(i) * time.Millisecond)
				tags, _ := usagefile.DecodeTags(k.Tags)
				calls = append(calls, spendlogs.Call{
					// The caller's key: a team's calls reach every instance, so
					// instances share daily rows.
					RequestID: fmt.Sprintf("chatcmpl-%d-%08d", w, i), APIKey: fmt.Sprintf("%064x", tags["team"]),
					User: tags["team"], Model: k.Model, Provider: k.Provider, Start: start, End: start.Add(1200 * time.Millisecond),
					PromptTokens: t.InputTokens, CompletionTokens: t.OutputTokens, CacheReadTokens: t.CacheReadTokens,
					Spend: t.Cost.Float64(), Tags: []string{"team:" + tags["team"]},
				})
				if len(calls) == perTx {
					if err := sw.Write(ctx, calls); err != nil {
						b.Error(err)
					}
					calls = calls[:0]
				}
			})
			if len(calls) > 0 {
				if err := sw.Write(ctx, calls); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return sw.Commits(), int64(2 * wl.calls / wl.writers * wl.writers), sw.Retries()
}

// xactCommit returns the server's committed transactions in the current
// database, once every other session of the benchmark has ended (a session
// reports its counts when it exits).
func xactCommit(ctx context.Context, b *testing.B, admin *pgx.Conn) int64 {
	for {
		var others int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bench-storage'").Scan(&others); err != nil {
			b.Fatal(err)
		}
		if others == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond) // sessions exit asynchronously after the pool closes
	}
	var n int64
	if err := admin.QueryRow(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// schemaSize returns the rows in a schema's tables and their total size.
func schemaSize(ctx context.Context, b *testing.B, admin *pgx.Conn, schema string) (rows, bytes int64) {
	tables, err := admin.Query(ctx, "SELECT c.oid::regclass::text, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'", schema)
	if err != nil {
		b.Fatal(err)
	}
	type table struct {
		name string
		size int64
	}
	ts, err := pgx.CollectRows(tables, func(r pgx.CollectableRow) (table, error) {
		var t table
		return t, r.Scan(&t.name, &t.size)
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range ts {
		var n int64
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM "+t.name).Scan(&n); err != nil {
			b.Fatal(err)
		}
		rows += n
		bytes += t.size
	}
	return rows, bytes
}

// floatError returns |f − exact| in USD.
func floatError(f float64, exact usd.Amount) float64 {
	e, ok := new(big.Float).SetPrec(200).SetString(exact.String())
	if !ok {
		return math.NaN()
	}
	d, _ := new(big.Float).Sub(new(big.Float).SetPrec(200).SetFloat64(f), e).Float64()
	return math.Abs(d)
}

// BenchmarkSharedDailyRows: 4 writers write the same day's calls (64
// daily keys, at random) 20 per transaction into a throwaway server, each
// op one full workload of 2000 calls. LiteLLM's way upserts daily rows
// that all writers share: in the calls' order, transactions deadlock and
// each deadlock waits deadlock_timeout (1 s) before PostgreSQL breaks it;
// sorted, they only queue. The store's writers upsert only their own rows.
func BenchmarkSharedDailyRows(b *testing.B) {
	srv := pgtest.Start(b)
	wl := storageWorkload{calls: 2000, writers: 4, days: 1, keys: benchKeys(keysPerDay)}
	const perTx = 20
	for _, way := range []string{"litellm/unsorted", "litellm/sorted", "usagering"} {
		b.Run(way, func(b *testing.B) {
			ctx := context.Background()
			pool, err := pgxpool.New(ctx, srv.DSN())
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			var deadlocks int64
			start := time.Now()
			for n := range b.N {
				schema := fmt.Sprintf("shared_%s_%d", strings.ReplaceAll(way, "/", "_"), n)
				switch way {
				case "litellm/unsorted":
					_, _, d := spendWorkload(ctx, b, pool, schema, wl, perTx)
					deadlocks += d
				case "litellm/sorted":
					_, _, d := spendWorkload(ctx, b, pool, schema, wl, perTx, spendlogs.SortedUpserts())
					deadlocks += d
				default:
					shipWorkload(ctx, b, srv.DSN(), schema, wl, perTx, wl.exactCost())
				}
				if _, err := pool.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(wl.calls*b.N)/time.Since(start).Seconds(), "calls/s")
			b.ReportMetric(float64(deadlocks)/float64(b.N), "deadlocks/op")
		})
	}
}
