package capture_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/usagering/usagering/capture"
	"github.com/usagering/usagering/tracker"
)

// fileRow is what the usage file holds for a group of calls (a model, a
// provider, a day), and what it must hold: one field per total the file
// format keeps.
type fileRow struct {
	Calls  int64
	Tokens int64 // input + output
}

// rowOf is what one record adds to its rows.
func rowOf(r tracker.Record) fileRow {
	return fileRow{Calls: 1, Tokens: r.InputTokens + r.OutputTokens}
}

// rowFromFile reads a row of the file.
func rowFromFile(t tracker.Totals) fileRow {
	return fileRow{Calls: t.Calls, Tokens: t.Tokens}
}

func (a *fileRow) add(b fileRow) {
	a.Calls += b.Calls
	a.Tokens += b.Tokens
}

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

	res, err := tracker.LoadDocument(path, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	doc := res.Doc
	var wantAll fileRow
	wantModels, wantProviders := map[string]fileRow{}, map[string]fileRow{}
	for _, r := range want {
		row := rowOf(r)
		wantAll.add(row)
		m, p := wantModels[r.Model], wantProviders[tracker.DetectProvider(r.Model)]
		m.add(row)
		p.add(row)
		wantModels[r.Model], wantProviders[tracker.DetectProvider(r.Model)] = m, p
	}
	var days fileRow
	for _, d := range doc.DailyTotals {
		days.add(rowFromFile(d))
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
