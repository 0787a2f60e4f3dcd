package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
)

// shipFixture ships the fixture's nine calls to a store of the test's own,
// as two writers (each call one row; the tag "team" as the row's tags),
// and returns the DSN and schema.
func shipFixture(t *testing.T) (dsn, schema string) {
	t.Helper()
	dsn = pgtest.DSN(t) // skips with one line without USAGERING_POSTGRES_DSN, fails under CI=true
	schema = pgtest.Schema(t, dsn)
	ctx := context.Background()
	store, err := postgres.Open(ctx, dsn, postgres.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	batches := map[string]*usagefile.Batch{}
	for i, c := range fixtureCalls {
		w := []string{"host-a:/srv/usage.json", "host-b:/srv/usage.json"}[i%2]
		b := batches[w]
		if b == nil {
			b = &usagefile.Batch{Writer: w, Seq: 1}
			batches[w] = b
		}
		var tags map[string]string
		if c.team != "" {
			tags = map[string]string{"team": c.team}
		}
		b.Rows = append(b.Rows, usagefile.Row{
			Key:    usagefile.Key{Day: c.at[:10], Model: c.model, Provider: c.provider, Tags: usagefile.EncodeTags(tags)},
			Totals: c.totals(t),
		})
	}
	for _, b := range batches {
		usagefile.SortRows(b.Rows)
		if err := store.Ship(ctx, *b); err != nil {
			t.Fatal(err)
		}
	}
	return dsn, schema
}

// expectedBy groups the fixture's calls of [from, to] by key.
func expectedBy(t *testing.T, from, to string, key func(c call) string) map[string]usagefile.Totals {
	m := map[string]usagefile.Totals{}
	for _, c := range fixtureCalls {
		if d := c.at[:10]; d < from || d > to {
			continue
		}
		tot := m[key(c)]
		tot.Add(c.totals(t))
		m[key(c)] = tot
	}
	return m
}

func TestReportFromPostgres(t *testing.T) {
	dsn, schema := shipFixture(t)
	for _, c := range []struct {
		by   string
		key  func(c call) string
		from string
	}{
		{"model", func(c call) string { return c.model }, "2026-11-24"},
		{"tag:team", func(c call) string { return c.team }, "2026-11-24"},
		{"provider", func(c call) string { return c.provider }, "2026-11-26"},
	} {
		days := "3"
		if c.from == "2026-11-26" {
			days = "1"
		}
		stdout, stderr, code := runCLI(t, "report", "-postgres", dsn, "-schema", schema, "-days", days, "-by", c.by, "-json")
		if code != 0 {
			t.Fatalf("-by %s: exit %d: %s", c.by, code, stderr)
		}
		var out struct {
			Rows []struct {
				Model, Provider, Tag *string
				Unattributed         bool
				Calls                int64
				Tokens               int64       `json:"tokens"`
				CacheRead            int64       `json:"cache_read_tokens"`
				Cost                 json.Number `json:"cost_usd"`
			}
			Notes []string
		}
		dec := json.NewDecoder(strings.NewReader(stdout))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			t.Fatal(err)
		}
		want := expectedBy(t, c.from, "2026-11-26", c.key)
		if len(out.Rows) != len(want) || len(out.Notes) != 0 {
			t.Fatalf("-by %s: %d rows, notes %q; want %d rows, none", c.by, len(out.Rows), out.Notes, len(want))
		}
		for _, r := range out.Rows {
			k := *cmpOr(r.Model, r.Provider, r.Tag)
			w := want[k]
			if r.Unattributed || r.Calls != w.Calls || r.Tokens != w.Tokens || r.CacheRead != w.CacheReadTokens || string(r.Cost) != w.Cost.String() {
				t.Errorf("-by %s: row %q = %d calls %d tokens %s USD, want %d %d %s", c.by, k, r.Calls, r.Tokens, r.Cost, w.Calls, w.Tokens, w.Cost)
			}
		}
	}
}

func cmpOr(ps ...*string) *string {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	empty := ""
	return &empty
}

func TestServeFromPostgres(t *testing.T) {
	dsn, schema := shipFixture(t)
	base := startServe(t, "-postgres", dsn, "-schema", schema)
	fams := scrape(t, base)
	for m, w := range expectedBy(t, "", "9999-12-31", func(c call) string { return c.model }) {
		if got := sample(t, fams, "usagering_model_cost_usd_total", "model", m); got != w.Cost.Float64() {
			t.Errorf("model %s: cost %v, want %v", m, got, w.Cost.Float64())
		}
		if got := sample(t, fams, "usagering_model_calls_total", "model", m); got != float64(w.Calls) {
			t.Errorf("model %s: calls %v, want %d", m, got, w.Calls)
		}
	}
	today := expectedBy(t, "2026-11-26", "2026-11-26", func(call) string { return "" })[""]
	if got := sample(t, fams, "usagering_today_cost_usd"); got != today.Cost.Float64() {
		t.Errorf("today's cost %v, want %v", got, today.Cost.Float64())
	}
	if got := sample(t, fams, "usagering_writers"); got != 2 {
		t.Errorf("writers %v, want 2", got)
	}
	if got := sample(t, fams, "usagering_source_up"); got != 1 {
		t.Errorf("source_up %v", got)
	}
	if page := get(t, base+"/"); !strings.Contains(page, "writer host-a:/srv/usage.json") {
		t.Errorf("the dashboard does not list the writers")
	}
}

func (c call) totals(t *testing.T) usagefile.Totals {
	s := c.session(t)
	return s.Totals()
}
