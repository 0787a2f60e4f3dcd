package postgres_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/postgres/pgtest"
	"github.com/usagering/usagering/usagefile"
)

// expectReport computes a report from the exact sums, without SQL.
func expectReport(t *testing.T, l ledger, q postgres.ReportQuery) []postgres.ReportRow {
	groups := map[postgres.ReportRow]usagefile.Totals{}
	for _, m := range l {
		for k, tt := range m {
			if (q.From != "" && k.Day < q.From) || (q.To != "" && k.Day > q.To) ||
				(q.Model != "" && k.Model != q.Model) || (q.Provider != "" && k.Provider != q.Provider) {
				continue
			}
			var g postgres.ReportRow
			for _, d := range q.By {
				switch d {
				case postgres.Day:
					g.Day = k.Day
				case postgres.Model:
					g.Model = k.Model
				case postgres.Provider:
					g.Provider = k.Provider
				case postgres.Tag:
					tags, err := usagefile.DecodeTags(k.Tags)
					if err != nil {
						t.Fatal(err)
					}
					g.Tag = tags[q.TagKey]
				}
			}
			sum := groups[g]
			sum.Add(tt)
			groups[g] = sum
		}
	}
	if len(q.By) == 0 && len(groups) == 0 {
		groups[postgres.ReportRow{}] = usagefile.Totals{}
	}
	var out []postgres.ReportRow
	for g, tt := range groups {
		g.Totals = tt
		out = append(out, g)
	}
	slices.SortFunc(out, compareRows)
	return out
}

func compareRows(a, b postgres.ReportRow) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Model, b.Model),
		cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Tag, b.Tag))
}

func TestReport(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	r := seeded(t)
	want := ledger{}
	for w := range 3 {
		for seq := uint64(1); seq <= 5; seq++ {
			b := randomBatch(r, fmt.Sprintf("w%d", w), seq, 30)
			if err := s.Ship(ctx, b); err != nil {
				t.Fatal(err)
			}
			want.add(b)
		}
	}
	var all usagefile.Totals
	for _, m := range want {
		for _, tt := range m {
			all.Add(tt)
		}
	}
	dims := []postgres.Dimension{postgres.Day, postgres.Model, postgres.Provider, postgres.Tag}
	filters := []postgres.ReportQuery{
		{},
		{From: "2026-11-27"},
		{To: "2026-11-27"},
		{From: "2026-11-27", To: "2026-11-27"},
		{From: "2026-11-29"}, // nothing
		{Model: "modèle/ü"},
		{Provider: "anthropic", From: "2026-11-28"},
	}
	queries := 0
	for mask := range 1 << len(dims) {
		for _, f := range filters {
			for _, tagKey := range []string{"team", "env"} {
				q := f
				for i, d := range dims {
					if mask&(1<<i) != 0 {
						q.By = append(q.By, d)
					}
				}
				if !slices.Contains(q.By, postgres.Tag) && tagKey == "env" {
					continue // the tag key matters only when grouping by tag
				}
				q.TagKey = tagKey
				slices.Reverse(q.By) // the order of By does not matter
				got, err := s.Report(ctx, q)
				if err != nil {
					t.Fatalf("%+v: %v", q, err)
				}
				queries++
				exp := expectReport(t, want, q)
				if !slices.Equal(got, exp) {
					t.Fatalf("%+v:\n got %v\nwant %v", q, got, exp)
				}
				if !slices.IsSortedFunc(got, compareRows) {
					t.Fatalf("%+v: rows out of order", q)
				}
				if f.From == "" && f.To == "" && f.Model == "" && f.Provider == "" && postgres.Sum(got) != all {
					t.Fatalf("%+v: Sum %+v, want the grand total %+v", q, postgres.Sum(got), all)
				}
			}
		}
	}
	t.Logf("%d queries checked against the exact sums", queries)

	// The tag values come back unescaped.
	got, err := s.Report(ctx, postgres.ReportQuery{By: []postgres.Dimension{postgres.Tag}, TagKey: "env"})
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, row := range got {
		values = append(values, row.Tag)
	}
	if !slices.Equal(values, []string{"", "dev&x=1", "prod"}) {
		t.Fatalf("env values %q", values)
	}
}

func TestReportInvalidQuery(t *testing.T) {
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	for _, q := range []postgres.ReportQuery{
		{From: "2026-1-01"},
		{To: "yesterday"},
		{From: "2026-11-28", To: "2026-11-27"},
		{By: []postgres.Dimension{postgres.Tag}},
		{By: []postgres.Dimension{postgres.Day, postgres.Day}},
		{By: []postgres.Dimension{0}},
		{By: []postgres.Dimension{postgres.Tag + 1}},
	} {
		if _, err := s.Report(context.Background(), q); !errors.Is(err, postgres.ErrInvalidQuery) {
			t.Errorf("%+v: %v, want ErrInvalidQuery", q, err)
		}
	}
}

func TestParseGroupBy(t *testing.T) {
	for in, want := range map[string]struct {
		by  []postgres.Dimension
		key string
	}{
		"":                            {},
		"day":                         {by: []postgres.Dimension{postgres.Day}},
		"day, model,provider":         {by: []postgres.Dimension{postgres.Day, postgres.Model, postgres.Provider}},
		"tag:team,day":                {by: []postgres.Dimension{postgres.Tag, postgres.Day}, key: "team"},
		"model,tag:a=b":               {by: []postgres.Dimension{postgres.Model, postgres.Tag}, key: "a=b"},
		"provider,model,day,tag:team": {by: []postgres.Dimension{postgres.Provider, postgres.Model, postgres.Day, postgres.Tag}, key: "team"},
	} {
		by, key, err := postgres.ParseGroupBy(in)
		if err != nil || !slices.Equal(by, want.by) || key != want.key {
			t.Errorf("ParseGroupBy(%q) = %v, %q, %v; want %v, %q", in, by, key, err, want.by, want.key)
		}
	}
	for _, in := range []string{"week", "tag", "tag:", "day,,model"} {
		if _, _, err := postgres.ParseGroupBy(in); !errors.Is(err, postgres.ErrInvalidQuery) {
			t.Errorf("ParseGroupBy(%q): %v, want ErrInvalidQuery", in, err)
		}
	}
}

func TestWriters(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := open(t, dsn)
	got, err := s.Writers(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("Writers of an empty store: %v, %v", got, err)
	}
	r := seeded(t)
	last := map[string]uint64{"b": 3, "a": 1, "B": 2, "é": 1}
	for w, n := range last {
		for seq := uint64(1); seq <= n; seq++ {
			if err := s.Ship(ctx, randomBatch(r, w, seq, 3)); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err = s.Writers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range got {
		ids = append(ids, w.ID)
		if w.Seq != last[w.ID] || w.LastShipped.Before(w.FirstShipped) || w.FirstShipped.IsZero() {
			t.Errorf("writer %+v, want seq %d and first ≤ last", w, last[w.ID])
		}
	}
	if !slices.Equal(ids, []string{"B", "a", "b", "é"}) {
		t.Fatalf("writers %q, want bytewise order", ids)
	}
}
