package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func ExampleOpen() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("USAGERING_POSTGRES_DSN"))
	switch {
	case errors.Is(err, postgres.ErrTemporary):
		log.Fatal("database unreachable, try later: ", err)
	case err != nil:
		log.Fatal(err) // ErrInvalidDSN, ErrAuth, ErrSchemaTooNew, ...
	}
	defer store.Close()
}

func ExampleStore_Ship() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("USAGERING_POSTGRES_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	batch := usagefile.Batch{Writer: "host-a:/var/lib/app/usage.json", Seq: 1, Rows: []usagefile.Row{{
		Key:    usagefile.Key{Day: "2026-11-27", Model: "gpt-4o", Provider: "openai", Tags: "team=search"},
		Totals: usagefile.Totals{Calls: 3, Tokens: 1500, InputTokens: 1200, OutputTokens: 300, Cost: usd.FromNanos(5_400_000)},
	}}}
	for {
		err := store.Ship(ctx, batch)
		if err == nil {
			break // applied now, or before: mark the batch shipped
		}
		if !errors.Is(err, postgres.ErrTemporary) {
			log.Fatal(err) // never applicable as it is: keep it, alert
		}
		// Not applied, or outcome unknown: the same batch again, later.
	}
}

func ExampleStore_Report() {
	ctx := context.Background()
	store, err := postgres.Open(ctx, os.Getenv("USAGERING_POSTGRES_DSN"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	by, tagKey, err := postgres.ParseGroupBy("day,model,tag:team") // as a -by flag gives it
	if err != nil {
		log.Fatal(err)
	}
	rows, err := store.Report(ctx, postgres.ReportQuery{From: "2026-11-01", To: "2026-11-30", By: by, TagKey: tagKey})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rows {
		fmt.Printf("%s %-20s %-10s %8d calls %12d tokens $%s\n", r.Day, r.Model, r.Tag, r.Calls, r.Tokens, r.Cost)
	}
	total := postgres.Sum(rows)
	fmt.Printf("total: %d calls, $%s\n", total.Calls, total.Cost)
}
