package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on dsn in a schema of the test's own.
func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, postgres.WithSchema(pgtest.Schema(t, dsn)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// keys is the key space of generated batches: rows of different writers
// share keys, and some keys carry tags, some escaped.
var keys = func() []usagefile.Key {
	var ks []usagefile.Key
	for _, day := range []string{"2026-11-26", "2026-11-27", "2026-11-28"} {
		for _, model := range []string{"gpt-4o", "claude-sonnet-4", "gemini-2.5-pro", "modèle/ü"} {
			for _, provider := range []string{"openai", "anthropic"} {
				for _, tags := range []map[string]string{nil, {"team": "a"}, {"team": "b c", "env": "prod"}, {"env": "dev&x=1"}} {
					ks = append(ks, usagefile.Key{Day: day, Model: model, Provider: provider, Tags: usagefile.EncodeTags(tags)})
				}
			}
		}
	}
	slices.SortFunc(ks, usagefile.Key.Compare)
	return ks
}()

// randomBatch returns batch seq of writer w: up to maxRows distinct keys
// with random totals, costs with digits down to 10^-24 USD.
func randomBatch(r *rand.Rand, w string, seq uint64, maxRows int) usagefile.Batch {
	n := 1 + r.IntN(maxRows)
	idx := r.Perm(len(keys))[:min(n, len(keys))]
	slices.Sort(idx)
	b := usagefile.Batch{Writer: w, Seq: seq}
	for _, i := range idx {
		in, out := r.Int64N(100_000), r.Int64N(10_000)
		b.Rows = append(b.Rows, usagefile.Row{Key: keys[i], Totals: usagefile.Totals{
			Tokens: in + out, Calls: 1 + r.Int64N(50), InputTokens: in, OutputTokens: out,
			CacheReadTokens: r.Int64N(in + 1), CacheWriteTokens: r.Int64N(in/2 + 1), ReasoningTokens: r.Int64N(out + 1),
			Cost: usd.FromNanos(r.Int64N(5_000_000_000)).Add(usd.FromUnits(r.Int64N(1_000_000_000_000_000))),
		}})
	}
	return b
}

// ledger is the exact sums a test expects: per writer, per key.
type ledger map[string]map[usagefile.Key]usagefile.Totals

func (l ledger) add(b usagefile.Batch) {
	m := l[b.Writer]
	if m == nil {
		m = map[usagefile.Key]usagefile.Totals{}
		l[b.Writer] = m
	}
	for _, r := range b.Rows {
		t := m[r.Key]
		t.Add(r.Totals)
		m[r.Key] = t
	}
}

// stored reads every row of the store's daily totals, straight from the
// table.
func stored(t testing.TB, dsn string, s *postgres.Store) ledger {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT writer_id, to_char(day, 'YYYY-MM-DD'), model, provider, tags,
		calls, tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost::text
		FROM `+pgx.Identifier{s.Schema(), "daily_totals"}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	got := ledger{}
	for rows.Next() {
		var (
			w    string
			k    usagefile.Key
			tt   usagefile.Totals
			cost string
		)
		if err := rows.Scan(&w, &k.Day, &k.Model, &k.Provider, &k.Tags, &tt.Calls, &tt.Tokens, &tt.InputTokens,
			&tt.OutputTokens, &tt.CacheReadTokens, &tt.CacheWriteTokens, &tt.ReasoningTokens, &cost); err != nil {
			t.Fatal(err)
		}
		if tt.Cost, err = usd.Parse(cost); err != nil {
			t.Fatal(err)
		}
		if got[w] == nil {
			got[w] = map[usagefile.Key]usagefile.Totals{}
		}
		got[w][k] = tt
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkStored fails t unless the store holds exactly want, row for row.
func checkStored(t testing.TB, dsn string, s *postgres.Store, want ledger) {
	t.Helper()
	got := stored(t, dsn, s)
	if maps.EqualFunc(got, want, maps.Equal) {
		return
	}
	n := 0
	for w, m := range want {
		for k, tt := range m {
			if g, ok := got[w][k]; !ok || g != tt {
				if n++; n <= 5 {
					t.Errorf("writer %s %+v: stored %+v (present %v), want %+v", w, k, g, ok, tt)
				}
			}
		}
		for k := range got[w] {
			if _, ok := m[k]; !ok {
				t.Errorf("writer %s %+v: stored but never shipped", w, k)
			}
		}
	}
	for w := range got {
		if _, ok := want[w]; !ok {
			t.Errorf("writer %s: rows stored but none shipped", w)
		}
	}
	t.Fatalf("stored totals differ from the exact sums (%d rows differ)", n)
}

// highWater returns the writer's high-water mark (-1: unknown writer).
func highWater(t testing.TB, dsn string, s *postgres.Store, w string) int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var seq int64
	err = c.QueryRow(ctx, "SELECT seq FROM "+pgx.Identifier{s.Schema(), "writers"}.Sanitize()+" WHERE writer_id = $1", w).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return -1
	}
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// shipUntilApplied ships b until Ship returns nil, as a shipper does: a
// temporary error means "same batch again", anything else is a failure.
// It returns the temporary errors seen.
// Each temporary error is also passed to the optional callbacks.
func shipUntilApplied(ctx context.Context, s *postgres.Store, b usagefile.Batch, onTemporary ...func(error)) ([]error, error) {
	var temp []error
	backoff := time.Millisecond
	for {
		err := s.Ship(ctx, b)
		if err == nil {
			return temp, nil
		}
		if !errors.Is(err, postgres.ErrTemporary) {
			return temp, fmt.Errorf("batch %s#%d: %w", b.Writer, b.Seq, err)
		}
		temp = append(temp, err)
		for _, f := range onTemporary {
			f(err)
		}
		if ctx.Err() != nil {
			return temp, fmt.Errorf("batch %s#%d: gave up: %w", b.Writer, b.Seq, err)
		}
		time.Sleep(backoff) // a shipper's backoff between attempts, not synchronisation
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}
