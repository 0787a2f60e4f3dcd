package spendlogs_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usagering/usagering/internal/spendlogs"
	"github.com/usagering/usagering/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestWrite: every call is a log row, and the daily rows add up every
// call of their key, with writers racing on the same daily rows (in
// one order: in different orders they deadlock, and each deadlock costs
// deadlock_timeout, 1 s by default).
func TestWrite(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	schema := pgtest.Schema(t, dsn)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := spendlogs.Create(ctx, pool, schema); err != nil {
		t.Fatal(err)
	}
	w := spendlogs.NewWriter(pool, schema)
	const writers, txs, perTx = 4, 20, 10
	day := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range txs {
				var calls []spendlogs.Call
				for j := range perTx {
					calls = append(calls, spendlogs.Call{
						RequestID: fmt.Sprintf("%d-%d-%d", g, i, j), APIKey: "k", User: "u",
						Model: []string{"a", "b", "c"}[j%3], Provider: "p",
						Start: day, End: day.Add(time.Second), PromptTokens: 100, CompletionTokens: 10,
						Spend: 0.001, Tags: []string{"team:x"},
					})
				}
				if err := w.Write(ctx, calls); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	q := pgx.Identifier{schema}.Sanitize()
	var logs, requests, prompt, daily int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+q+".spend_logs").Scan(&logs); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*), sum(api_requests), sum(prompt_tokens) FROM "+q+".daily_user_spend").
		Scan(&daily, &requests, &prompt); err != nil {
		t.Fatal(err)
	}
	const calls = writers * txs * perTx
	if logs != calls || requests != calls || prompt != 100*calls || daily != 3 {
		t.Fatalf("%d log rows, %d daily rows counting %d requests and %d prompt tokens; want %d, 3, %d, %d",
			logs, daily, requests, prompt, calls, calls, 100*calls)
	}
	if w.Commits() != writers*txs {
		t.Fatalf("%d commits, want %d", w.Commits(), writers*txs)
	}
	t.Logf("%d transactions retried after deadlocks", w.Retries())
}
