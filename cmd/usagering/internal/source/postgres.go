package source

import (
	"context"
	"fmt"
	"time"

	"github.com/usagering/usagering/postgres"
)

// Postgres is a fleet's PostgreSQL store (package postgres) as a Source:
// the totals every writer shipped, exact, in any grouping.
type Postgres struct {
	store *postgres.Store
	name  string
}

// OpenPostgres connects to the store in schema (postgres.DefaultSchema if
// "") of the database dsn names. Like postgres.Open it creates the
// store's tables if they are missing. Errors are postgres.Open's.
func OpenPostgres(ctx context.Context, dsn, schema string) (*Postgres, error) {
	if schema == "" {
		schema = postgres.DefaultSchema
	}
	s, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		return nil, err
	}
	return &Postgres{store: s, name: "postgres schema " + schema}, nil
}

// Name implements Source.
func (p *Postgres) Name() string { return p.name }

// Close implements Source.
func (p *Postgres) Close() error {
	p.store.Close()
	return nil
}

// Report implements Source with postgres.Store.Report: every grouping is
// exact, and no row is unattributed.
func (p *Postgres) Report(ctx context.Context, q Query) (*Result, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	rows, err := p.store.Report(ctx, postgres.ReportQuery{From: q.From, To: q.To, By: q.By, TagKey: q.TagKey})
	if err != nil {
		return nil, err
	}
	res := &Result{Rows: make([]Row, 0, len(rows)), Total: postgres.Sum(rows)}
	for _, r := range rows {
		res.Rows = append(res.Rows, Row{Day: r.Day, Model: r.Model, Provider: r.Provider, Tag: r.Tag, Totals: r.Totals})
	}
	sortRows(res.Rows)
	return res, nil
}

// Health implements Source: the writers the store knows and when each
// last shipped.
func (p *Postgres) Health(ctx context.Context) Health {
	h := Health{Kind: "postgres", Facts: []Fact{{Name: "store", Value: p.name}}}
	ws, err := p.store.Writers(ctx)
	if err != nil {
		h.Err = err.Error()
		h.Facts = append(h.Facts, Fact{Name: "query", Value: "failed: " + err.Error(), Warn: true})
		return h
	}
	h.Up, h.Writers = true, len(ws)
	h.Facts = append(h.Facts, Fact{Name: "writers", Value: fmt.Sprint(len(ws))})
	for _, w := range ws {
		if w.LastShipped.After(h.LastUpdated) {
			h.LastUpdated = w.LastShipped
		}
		h.Facts = append(h.Facts, Fact{Name: "writer " + w.ID,
			Value: fmt.Sprintf("batch %d, last shipped %s (%s ago)", w.Seq, w.LastShipped.Local().Format(time.DateTime), time.Since(w.LastShipped).Round(time.Second))})
	}
	return h
}
