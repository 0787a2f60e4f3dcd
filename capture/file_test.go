package capture_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// fileRow is what the usage file holds for a group of calls (a model, a
// provider, a day), and what it must hold: every total the file format
// keeps, the exact cost included.
type fileRow = tracker.Totals

// priced is what the tracker makes of a record capture gives it (no cost,
// no provider for a local server): its cost and provider from the
// tracker's price table, else $0 and the provider guessed from the name.
func priced(tr *tracker.Tracker, r tracker.Record) (usd.Amount, string) {
	q, err := tr.Quote(r.Model, pricing.Usage{Input: r.InputTokens, Output: r.OutputTokens,
		CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens, Reasoning: r.ReasoningTokens})
	if err != nil {
		return usd.Amount{}, tracker.DetectProvider(r.Model)
	}
	if q.Provider == "" {
		q.Provider = tracker.DetectProvider(r.Model)
	}
	return q.Cost, q.Provider
}

// rowOf is what one record, costing cost, adds to its rows.
func rowOf(r tracker.Record, cost usd.Amount) fileRow {
	return fileRow{Calls: 1, Tokens: r.InputTokens + r.OutputTokens, Cost: cost,
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CacheReadTokens: r.CacheReadTokens,
		CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens}
}

// rowFromFile reads a row of the file.
func rowFromFile(t tracker.Totals) fileRow { return t }

// End to end through a real tracker: every format, streamed and not, plus
// calls that must not count, through the SDKs into tracker.New's file.
// After Flush the file's totals, per model and provider and over the days,
// are exactly those of the records the formats must give (TestFormats
// checks each record field by field), and its sessions are those records.
func TestUsageFileTotals(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.json")
	tr, err := tracker.New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var cnt capture.Counters
	mw := capture.Middleware(tr, capture.WithCounters(&cnt))
	ctx := capture.WithTags(t.Context(), map[string]string{"team": "search"})

	var want []tracker.Record
	for _, tc := range formatCases() {
		ts := httptest.NewServer(&apiServer{script: tc.script})
		if _, err := tc.call(ctx, ts, mw); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		ts.Close()
		want = append(want, tc.want)
	}
	// Calls that must not reach the file: a cut stream, a stream without
	// usage, an HTTP error.
	for _, sc := range []script{
		{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts, Cut: true},
		{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts, Status: 400},
	} {
		ts := httptest.NewServer(&apiServer{script: sc})
		if _, err := chatStream(true)(ctx, ts, mw); err == nil {
			t.Fatal("a failing call succeeded")
		}
		ts.Close()
	}
	ts := httptest.NewServer(&apiServer{script: script{Model: "gpt-4o-mini", Words: words, Counts: openaiCounts}})
	if _, err := chatStream(false)(ctx, ts, mw); err != nil {
		t.Fatal(err)
	}
	ts.Close()

	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var wantStats capture.Stats
	wantStats.Captured, wantStats.Failed = int64(len(want)), 1
	wantStats.Uncaptured[capture.ReasonCut], wantStats.Uncaptured[capture.ReasonNoUsage] = 1, 1
	if s := cnt.Stats(); s != wantStats {
		t.Errorf("stats %+v, want %+v", s, wantStats)
	}

	doc, err := usagefile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	var wantAll fileRow
	wantModels, wantProviders := map[string]fileRow{}, map[string]fileRow{}
	for _, r := range want {
		cost, provider := priced(tr, r)
		row := rowOf(r, cost)
		wantAll.Add(row)
		m, p := wantModels[r.Model], wantProviders[provider]
		m.Add(row)
		p.Add(row)
		wantModels[r.Model], wantProviders[provider] = m, p
	}
	if wantAll.Cost.IsZero() {
		t.Fatal("no call priced: the test would not check costs")
	}
	var days fileRow
	for _, d := range doc.DailyTotals {
		days.Add(rowFromFile(d))
	}
	if days != wantAll {
		t.Errorf("daily totals add up to %+v, want %+v", days, wantAll)
	}
	for name, got := range map[string]map[string]tracker.Totals{"model": doc.ModelBreakdown, "provider": doc.ProviderBreakdown} {
		wantRows := wantModels
		if name == "provider" {
			wantRows = wantProviders
		}
		gotRows := map[string]fileRow{}
		for k, v := range got {
			gotRows[k] = rowFromFile(v)
		}
		if !maps.Equal(gotRows, wantRows) {
			t.Errorf("%s breakdown %+v, want %+v", name, gotRows, wantRows)
		}
	}

	// The sessions, in any order: model, tokens, operation and tags.
	type session struct {
		Model, Operation, Meta string
		In, Out                int64
	}
	key := func(s session) string { b, _ := json.Marshal(s); return string(b) }
	var gotS, wantS []string
	for _, s := range doc.Sessions {
		var meta map[string]string
		if err := json.Unmarshal(s.Metadata, &meta); err != nil {
			t.Fatalf("session metadata %s: %v", s.Metadata, err)
		}
		m, _ := json.Marshal(meta)
		gotS = append(gotS, key(session{s.Model, s.Operation, string(m), s.InputTokens, s.OutputTokens}))
	}
	for _, r := range want {
		wantS = append(wantS, key(session{r.Model, r.Operation, `{"team":"search"}`, r.InputTokens, r.OutputTokens}))
	}
	slices.Sort(gotS)
	slices.Sort(wantS)
	if !slices.Equal(gotS, wantS) {
		t.Errorf("sessions\n%v\nwant\n%v", gotS, wantS)
	}
}
