package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

var (
	testDays      = []string{"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"}
	testModels    = []string{"gpt-4o", "claude-sonnet-4-5", "o3"}
	testProviders = map[string]string{"gpt-4o": "openai", "claude-sonnet-4-5": "anthropic", "o3": "openai"}
	testTeams     = []string{"", "ads", "search"}
)

// randomSessions returns n sessions in time order, with costs down to
// 10^-12 USD and a team tag on most.
func randomSessions(r *rand.Rand, n int) []usagefile.Session {
	ss := make([]usagefile.Session, n)
	for i := range ss {
		m := testModels[r.IntN(len(testModels))]
		in, out := r.Int64N(5000), r.Int64N(1000)
		meta := "{}"
		if team := testTeams[r.IntN(len(testTeams))]; team != "" {
			meta = fmt.Sprintf(`{"team":%q}`, team)
		}
		day := testDays[i*len(testDays)/n]
		ss[i] = usagefile.Session{
			Timestamp: fmt.Sprintf("%sT%02d:%02d:00.000000", day, i%24, i%60), Model: m, Provider: testProviders[m],
			InputTokens: in, OutputTokens: out, TotalTokens: in + out, CacheReadTokens: in / 2,
			CostUSD: usd.FromNanos(r.Int64N(1e7)).Add(usd.FromUnits(r.Int64N(1e12) * 1e12)), Metadata: []byte(meta),
		}
	}
	return ss
}

func document(ss []usagefile.Session, maxSessions int) *usagefile.Document {
	d := usagefile.NewDocument()
	for _, s := range ss {
		d.AddSession(s, s.Timestamp[:10], maxSessions)
	}
	return d
}

// bruteForce groups every session of the period (all of them, not only the
// kept ones).
func bruteForce(ss []usagefile.Session, q Query) map[Row]usagefile.Totals {
	m := map[Row]usagefile.Totals{}
	for _, s := range ss {
		day := s.Timestamp[:10]
		if (q.From != "" && day < q.From) || (q.To != "" && day > q.To) {
			continue
		}
		var k Row
		for _, d := range q.By {
			switch d {
			case Day:
				k.Day = day
			case Model:
				k.Model = s.Model
			case Provider:
				k.Provider = s.Provider
			case Tag:
				k.Tag = tagValue(s.Metadata, q.TagKey)
			}
		}
		t := m[k]
		t.Add(s.Totals())
		m[k] = t
	}
	return m
}

var testQueries = func() []Query {
	var qs []Query
	for _, by := range [][]Dim{nil, {Day}, {Model}, {Provider}, {Tag}, {Day, Model}, {Model, Provider}, {Provider, Tag, Day}} {
		for _, r := range [][2]string{{"", ""}, {"2026-11-21", "2026-11-22"}, {"2026-11-23", "2026-11-23"}, {"2026-11-22", ""}, {"2030-01-01", ""}} {
			q := Query{From: r[0], To: r[1], By: by}
			if slices.Contains(by, Tag) {
				q.TagKey = "team"
			}
			qs = append(qs, q)
		}
	}
	return qs
}()

// With every session kept, every grouping is exact: no unattributed row,
// the rows are the brute-force groups.
func TestReportAllSessionsKeptIsExact(t *testing.T) {
	ss := randomSessions(rand.New(rand.NewPCG(1, 2)), 400)
	doc := document(ss, 0)
	for _, q := range testQueries {
		res, err := Report(doc, q)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteForce(ss, q)
		if len(q.By) == 0 && len(want) == 0 {
			want[Row{}] = usagefile.Totals{}
		}
		got := map[Row]usagefile.Totals{}
		for _, r := range res.Rows {
			if r.Unattributed {
				t.Fatalf("%+v: unattributed row %+v with every session kept", q, r)
			}
			k := r
			k.Totals = usagefile.Totals{}
			got[k] = r.Totals
		}
		if len(got) != len(want) {
			t.Fatalf("%+v: %d rows, want %d", q, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%+v: row %+v = %+v, want %+v", q, k, got[k], w)
			}
		}
		checkSum(t, q, res)
		if len(res.Notes) != 0 {
			t.Errorf("%+v: notes %q", q, res.Notes)
		}
	}
}

// With only the last sessions kept, rows add up to the period's exact total
// (daily_totals), the attributed part of each group never exceeds the truth,
// and the unattributed rows are the difference.
func TestReportFewSessionsKeptStaysExactInTotal(t *testing.T) {
	ss := randomSessions(rand.New(rand.NewPCG(3, 4)), 400)
	doc := document(ss, 150)
	for _, q := range testQueries {
		res, err := Report(doc, q)
		if err != nil {
			t.Fatal(err)
		}
		checkSum(t, q, res)
		var period usagefile.Totals
		for day, tot := range doc.DailyTotals {
			if (q.From == "" || day >= q.From) && (q.To == "" || day <= q.To) {
				period.Add(tot)
			}
		}
		if res.Total != period {
			t.Errorf("%+v: total %+v, want the daily totals' %+v", q, res.Total, period)
		}
		truth := bruteForce(ss, q)
		var unattributed int64
		for _, r := range res.Rows {
			if r.Unattributed {
				unattributed += r.Calls
				continue
			}
			k := r
			k.Totals = usagefile.Totals{}
			if r.Calls > truth[k].Calls || r.Cost.Cmp(truth[k].Cost) > 0 {
				t.Errorf("%+v: row %+v above the truth %+v", q, r, truth[k])
			}
		}
		fromSessions := len(q.By) > 1 || (len(q.By) == 1 && q.By[0] != Day && !(q.AllTime() && q.By[0] != Tag))
		if fromSessions && period.Calls > 0 && q.From != "2026-11-23" {
			// Only the last day's sessions are all kept: these periods miss some.
			if unattributed == 0 || len(res.Notes) == 0 {
				t.Errorf("%+v: no unattributed calls or no note (%q) with 150 of 400 sessions kept", q, res.Notes)
			}
		}
		if !fromSessions && unattributed != 0 {
			t.Errorf("%+v: unattributed rows where the file is exact", q)
		}
	}
}

func checkSum(t *testing.T, q Query, res *Result) {
	t.Helper()
	var sum usagefile.Totals
	for i, r := range res.Rows {
		sum.Add(r.Totals)
		if i > 0 {
			a, b := res.Rows[i-1], r
			if a.Day > b.Day || (a.Day == b.Day && !a.Unattributed && !b.Unattributed &&
				[3]string{a.Model, a.Provider, a.Tag} == [3]string{b.Model, b.Provider, b.Tag}) {
				t.Errorf("%+v: rows %d and %d out of order or repeated: %+v, %+v", q, i-1, i, a, b)
			}
		}
	}
	if sum != res.Total {
		t.Errorf("%+v: rows add up to %+v, total %+v", q, sum, res.Total)
	}
	if len(q.By) == 0 && len(res.Rows) != 1 {
		t.Errorf("%+v: %d rows without grouping, want 1", q, len(res.Rows))
	}
}

func TestReportOriginalFileByModel(t *testing.T) {
	doc, err := usagefile.Read("../../testdata/original.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Report(doc, Query{By: []Dim{Model}})
	if err != nil {
		t.Fatal(err)
	}
	// model_breakdown: claude 4 calls 0.0135, gpt-4 1 call 0.006; all days 5 calls 0.0195.
	if len(res.Rows) != 2 || res.Rows[0].Model != "claude-3-5-sonnet-20241022" || res.Rows[0].Calls != 4 ||
		res.Rows[0].Cost.String() != "0.0135" || res.Total.Cost.String() != "0.0195" || res.Total.Calls != 5 {
		t.Fatalf("rows %+v total %+v", res.Rows, res.Total)
	}
	// Today by model: 2026-11-26 has 2 calls, both kept sessions.
	res, err = Report(doc, Query{From: "2026-11-26", To: "2026-11-26", By: []Dim{Model}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || res.Rows[0].Cost.String() != "0.001" || res.Rows[1].Cost.String() != "0.006" || len(res.Notes) != 0 {
		t.Fatalf("today by model: %+v notes %q", res.Rows, res.Notes)
	}
}

func TestQueryValidation(t *testing.T) {
	for _, q := range []Query{
		{From: "2026-13-01"}, {To: "26-11-2026"}, {From: "2026-11-02", To: "2026-11-01"},
		{By: []Dim{Model, Model}}, {By: []Dim{Tag}}, {By: []Dim{9}},
	} {
		if _, err := Report(usagefile.NewDocument(), q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%+v: %v, want ErrInvalidQuery", q, err)
		}
	}
	for _, s := range []string{"week", "tag:", "model,model", "day,,model"} {
		if _, _, err := ParseBy(s); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("ParseBy(%q): %v, want ErrInvalidQuery", s, err)
		}
	}
	by, key, err := ParseBy(" day , tag:team ")
	if err != nil || !slices.Equal(by, []Dim{Day, Tag}) || key != "team" {
		t.Errorf("ParseBy: %v %q %v", by, key, err)
	}
}

func TestTagValue(t *testing.T) {
	for _, c := range []struct{ meta, want string }{
		{`{"team":"ads"}`, "ads"}, {`{"team": 7}`, "7"}, {`{"team": {"a": [1, 2]}}`, `{"a":[1,2]}`},
		{`{}`, ""}, {``, ""}, {`[1]`, ""}, {`{"team": null}`, ""},
	} {
		if got := tagValue([]byte(c.meta), "team"); got != c.want {
			t.Errorf("tagValue(%s) = %q, want %q", c.meta, got, c.want)
		}
	}
}

// A File re-reads the file when a writer replaces it, and keeps the last
// good document when a read fails.
func TestFileReloadsWhenReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	write := func(doc *usagefile.Document) {
		b, err := doc.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // as writers do: atomically
			t.Fatal(err)
		}
	}
	ss := randomSessions(rand.New(rand.NewPCG(5, 6)), 20)
	write(document(ss[:10], 0))
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	total := func() usagefile.Totals {
		res, err := f.Report(context.Background(), Query{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total
	}
	if got := total(); got.Calls != 10 {
		t.Fatalf("calls %d, want 10", got.Calls)
	}
	write(document(ss, 0))
	if got := total(); got.Calls != 20 {
		t.Fatalf("after replace: calls %d, want 20", got.Calls)
	}
	if err := os.WriteFile(path, []byte(`{"sessions": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := total(); got.Calls != 20 {
		t.Fatalf("after a corrupt write: calls %d, want the last good 20", got.Calls)
	}
	h := f.Health(context.Background())
	if h.Up || !errors.Is(f.lastErr, usagefile.ErrCorrupt) || h.Sessions != 20 {
		t.Fatalf("health after a corrupt write: %+v", h)
	}
	write(document(ss[:5], 0))
	if got := total(); got.Calls != 5 || !f.Health(context.Background()).Up {
		t.Fatalf("after repair: calls %d", got.Calls)
	}
}

func TestOpenFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFile(filepath.Join(dir, "missing.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	foreign := filepath.Join(dir, "foreign.json")
	os.WriteFile(foreign, []byte(`{"hello": "world"}`), 0o644)
	if _, err := OpenFile(foreign); !errors.Is(err, usagefile.ErrForeignFile) {
		t.Errorf("foreign: %v", err)
	}
	if _, err := OpenFile(dir); err == nil {
		t.Errorf("a directory opened")
	}
}

func TestHealthCountsRescueFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	b, _ := document(randomSessions(rand.New(rand.NewPCG(7, 8)), 3), 0).AppendJSON(nil)
	os.WriteFile(path, b, 0o644)
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if h := f.Health(context.Background()); h.RescueFiles != 0 || !h.Up || h.Sessions != 3 {
		t.Fatalf("%+v", h)
	}
	os.WriteFile(usagefile.RescuePath(path, "abc"), b, 0o644)
	if h := f.Health(context.Background()); h.RescueFiles != 1 {
		t.Fatalf("rescue files %d, want 1", h.RescueFiles)
	}
}
