package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usagering/usagering/pricing"
	"github.com/usagering/usagering/usagefile"
)

var update = flag.Bool("update", false, "rewrite the golden files and generated fixtures in testdata")

// fixtureNow is "now" for every golden test: 2026-11-26, 15:00 local.
var fixtureNow = time.Date(2026, 11, 26, 15, 0, 0, 0, time.Local)

// call is one call of a fixture.
type call struct {
	at                         string // "2026-11-26T10:00:00"
	model, provider            string
	in, out, cr, cw, reasoning int64
	team                       string // metadata "team"; "" for none
}

// session prices c from the embedded table: exact costs with many digits.
func (c call) session(t testing.TB) usagefile.Session {
	q, err := pricing.Default().Quote(c.model, pricing.Usage{Input: c.in, Output: c.out, CacheRead: c.cr, CacheWrite: c.cw, Reasoning: c.reasoning})
	if err != nil {
		t.Fatalf("%s: %v", c.model, err)
	}
	meta := "{}"
	if c.team != "" {
		meta = fmt.Sprintf(`{"team":%q,"request_id":"r-%s"}`, c.team, c.at[11:])
	}
	return usagefile.Session{
		Timestamp: c.at + ".000000", Model: c.model, Provider: c.provider, InputTokens: c.in, OutputTokens: c.out,
		TotalTokens: c.in + c.out, CostUSD: q.Cost, LatencyMS: 420, Operation: "chat", Metadata: []byte(meta),
		CacheReadTokens: c.cr, CacheWriteTokens: c.cw, ReasoningTokens: c.reasoning,
	}
}

// fixtureCalls are the calls of usageringFixture.
var fixtureCalls = []call{
	{"2026-11-24T09:00:00", "gpt-4o", "openai", 12000, 800, 8000, 0, 0, "search"},
	{"2026-11-24T09:30:00", "claude-sonnet-4-5", "anthropic", 30000, 2000, 20000, 4000, 0, "ads"},
	{"2026-11-25T11:00:00", "gpt-4o-mini", "openai", 4000, 500, 0, 0, 0, ""},
	{"2026-11-25T12:00:00", "o3", "openai", 2000, 6000, 0, 0, 5000, "search"},
	{"2026-11-25T13:00:00", "claude-sonnet-4-5", "anthropic", 50000, 1500, 45000, 0, 0, "ads"},
	{"2026-11-26T08:00:00", "gpt-4o", "openai", 9000, 700, 6000, 0, 0, "search"},
	{"2026-11-26T09:00:00", "gpt-4o", "openai", 1500, 300, 0, 0, 0, "support"},
	{"2026-11-26T10:00:00", "claude-sonnet-4-5", "anthropic", 80000, 2500, 60000, 10000, 0, "ads"},
	{"2026-11-26T11:00:00", "gemini-2.5-pro", "google", 250000, 4000, 0, 0, 1000, ""},
}

// usageringFixture is a file as usagering writes it: token kinds, exact
// costs, tags; 9 calls over 3 days of which the file keeps the last 6
// sessions, so a grouping by model over the 3 days has an unattributed
// part.
func usageringFixture(t testing.TB) *usagefile.Document {
	d := usagefile.NewDocument()
	for _, c := range fixtureCalls {
		d.AddSession(c.session(t), c.at[:10], 6)
	}
	d.LastUpdated = "2026-11-26T11:00:00.000000"
	return d
}

// demoFixture is a busier file for the dashboard: 30 days to fixtureNow,
// 9 models, about a hundred calls a day, the last 2500 sessions kept (a
// tracker's WithMaxSessions(2500)), so the oldest days are unattributed.
func demoFixture(t testing.TB) *usagefile.Document {
	r := rand.New(rand.NewPCG(2026, 11))
	models := []struct {
		name, provider string
		weight         int
		in, out        int64
	}{
		{"claude-sonnet-4-5", "anthropic", 30, 24000, 900}, {"gpt-4o", "openai", 25, 6000, 600},
		{"gpt-4o-mini", "openai", 40, 3000, 400}, {"o3", "openai", 6, 4000, 5000},
		{"gemini-2.5-pro", "google", 8, 30000, 1200}, {"claude-haiku-4-5", "anthropic", 20, 5000, 300},
		{"gpt-4.1", "openai", 8, 8000, 700}, {"deepseek-chat", "deepseek", 10, 7000, 800},
		{"mistral-large-latest", "mistral", 4, 5000, 500},
	}
	total := 0
	for _, m := range models {
		total += m.weight
	}
	d := usagefile.NewDocument()
	start := fixtureNow.AddDate(0, 0, -29)
	for day := range 30 {
		date := start.AddDate(0, 0, day)
		n := 40 + r.IntN(60) + day*4
		if date.Weekday() == time.Saturday || date.Weekday() == time.Sunday {
			n /= 3
		}
		for i := range n {
			w := r.IntN(total)
			m := models[0]
			for _, mm := range models {
				if w < mm.weight {
					m = mm
					break
				}
				w -= mm.weight
			}
			in := m.in/2 + r.Int64N(m.in)
			out := m.out/2 + r.Int64N(m.out)
			cr := in * int64(r.IntN(90)) / 100
			at := time.Date(date.Year(), date.Month(), date.Day(), 0, 0, 0, 0, time.Local).Add(time.Duration(i) * 14 * time.Hour / time.Duration(n)).Add(8 * time.Hour)
			if day == 29 && at.After(fixtureNow) {
				break
			}
			var reasoning int64
			if m.name == "o3" {
				reasoning = out * 3 / 4
			}
			c := call{at.Format("2006-01-02T15:04:05"), m.name, m.provider, in, out, cr, 0, reasoning, []string{"search", "ads", "support", ""}[r.IntN(4)]}
			d.AddSession(c.session(t), c.at[:10], 2500)
		}
	}
	d.LastUpdated = fixtureNow.Add(-time.Minute).Format(usagefile.TimestampLayout)
	return d
}

// writeDoc writes doc to path.
func writeDoc(t testing.TB, path string, doc *usagefile.Document) {
	t.Helper()
	b, err := doc.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFixtureUpToDate: testdata/usagering.json is what usageringFixture
// generates (go test -update rewrites it).
func TestFixtureUpToDate(t *testing.T) {
	path := filepath.Join("testdata", "usagering.json")
	if *update {
		writeDoc(t, path, usageringFixture(t))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := usageringFixture(t).AppendJSON(nil)
	if !bytes.Equal(got, append(b, '\n')) {
		t.Fatalf("%s is stale: run go test -update ./cmd/usagering", path)
	}
}
