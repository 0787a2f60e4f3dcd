package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usagering/usagering/cmd/usagering/internal/source"
	"github.com/usagering/usagering/usagefile"
)

const reportSynopsis = `usage: usagering report [-file usage.json | -postgres DSN] [-days N | -from DAY -to DAY | -all]
                        [-by day,model,provider,tag:KEY] [-json | -csv]

Totals for today (the default), the last N days, a range of days or all
time, grouped by any of day, model, provider and tag:KEY (the value of the
metadata key KEY), with the cache-read share of input tokens and the cost
per 1000 calls. Days are the calls' local days as the writers wrote them.

Exactness. Costs are summed exactly. The table rounds them to 6 decimal
places; -json and -csv print every digit (the cost per 1000 calls, a
quotient, is rounded to 24 decimal places, the unit of an exact amount).
From a usage file, totals and totals by day are exact (daily_totals), and
so are all-time totals by model or by provider (the file's breakdowns).
Any other grouping (by tag, by model over a range of days, by two
dimensions) can only come from the sessions the file keeps (the last
1000): what they do not cover is shown as one "(unattributed)" row per
group of days, and a note says so; the rows still add up to the exact
total. A PostgreSQL store answers every grouping exactly.

Files written by the original tool count tokens without their kinds: their
input, output, cache and reasoning columns show "—" and the cache-read
share is unknown.`

// reportFlags are report's flags.
type reportFlags struct {
	src           sourceFlags
	days          int
	from, to, by  string
	all           bool
	asJSON, asCSV bool
}

func runReport(ctx context.Context, args []string, e *env) error {
	var f reportFlags
	fs := newFlagSet("report", reportSynopsis, e)
	f.src.register(fs)
	fs.IntVar(&f.days, "days", 0, "the last `N` days, today included")
	fs.StringVar(&f.from, "from", "", "the first `day` (YYYY-MM-DD) of a range")
	fs.StringVar(&f.to, "to", "", "the last `day` (YYYY-MM-DD) of a range, included")
	fs.BoolVar(&f.all, "all", false, "all time")
	fs.StringVar(&f.by, "by", "", "group by a comma-separated `list` of day, model, provider, tag:KEY")
	fs.BoolVar(&f.asJSON, "json", false, "print JSON (exact costs)")
	fs.BoolVar(&f.asCSV, "csv", false, "print CSV (exact costs)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInputf("unexpected argument %q", fs.Arg(0))
	}
	if f.asJSON && f.asCSV {
		return badInputf("-json and -csv: choose one")
	}
	q, err := f.query(e.now())
	if err != nil {
		return err
	}
	src, err := f.src.open(ctx, fs)
	if err != nil {
		return err
	}
	defer src.Close()
	res, err := src.Report(ctx, q)
	if err != nil {
		if errors.Is(err, source.ErrInvalidQuery) {
			return badInput(err)
		}
		return err
	}
	r := &report{Source: src.Name(), Query: q, Result: res}
	switch {
	case f.asJSON:
		return r.writeJSON(e.stdout)
	case f.asCSV:
		if err := r.writeCSV(e.stdout); err != nil {
			return err
		}
		for _, n := range res.Notes {
			fmt.Fprintf(e.stderr, "note: %s\n", n)
		}
		return nil
	}
	return r.writeTable(e.stdout)
}

// query turns the flags into a query; today is now's local day.
func (f *reportFlags) query(now time.Time) (source.Query, error) {
	by, tagKey, err := source.ParseBy(f.by)
	if err != nil {
		return source.Query{}, badInput(err)
	}
	q := source.Query{By: by, TagKey: tagKey}
	today := now.Format(usagefile.DayLayout)
	ranged := f.from != "" || f.to != ""
	switch {
	case f.all && (ranged || f.days != 0):
		return q, badInputf("-all with -days, -from or -to: choose one period")
	case f.days != 0 && ranged:
		return q, badInputf("-days with -from or -to: choose one period")
	case f.days < 0:
		return q, badInputf("-days %d: want 1 or more", f.days)
	case f.all:
	case f.days > 0:
		y, m, d := now.Date()
		q.From = time.Date(y, m, d-f.days+1, 12, 0, 0, 0, now.Location()).Format(usagefile.DayLayout)
		q.To = today
	case ranged:
		for _, d := range []struct{ flag, v string }{{"-from", f.from}, {"-to", f.to}} {
			if d.v != "" && !source.ValidDay(d.v) {
				return q, badInputf("%s %q: not a date YYYY-MM-DD", d.flag, d.v)
			}
		}
		if f.from != "" && f.to != "" && f.from > f.to {
			return q, badInputf("-from %s is after -to %s", f.from, f.to)
		}
		q.From, q.To = f.from, f.to
	default:
		q.From, q.To = today, today
	}
	return q, nil
}

// period describes q's days for people.
func period(q source.Query) string {
	switch {
	case q.AllTime():
		return "all time"
	case q.From == q.To:
		return q.From
	case q.To == "":
		return "from " + q.From
	case q.From == "":
		return "through " + q.To
	}
	return q.From + " … " + q.To
}

// report is one report and what it was asked.
type report struct {
	Source string
	Query  source.Query
	Result *source.Result
}

// keyColumns returns the names of the report's key columns, in the
// query's order.
func (r *report) keyColumns() []string {
	cols := make([]string, len(r.Query.By))
	for i, d := range r.Query.By {
		cols[i] = d.String()
		if d == source.Tag {
			cols[i] = "tag:" + r.Query.TagKey
		}
	}
	return cols
}

// keys returns a row's key values, in the query's order. An unattributed
// row shows unattributedLabel in its first column other than the day.
func (r *report) keys(row *source.Row, unattributedLabel string) []string {
	out := make([]string, len(r.Query.By))
	labelled := false
	for i, d := range r.Query.By {
		switch d {
		case source.Day:
			out[i] = row.Day
		case source.Model:
			out[i] = row.Model
		case source.Provider:
			out[i] = row.Provider
		case source.Tag:
			out[i] = row.Tag
		}
		if row.Unattributed && d != source.Day && !labelled {
			out[i], labelled = unattributedLabel, true
		}
	}
	return out
}

const unattributed = "(unattributed)"

// joinNotes is the notes as lines "note: …".
func joinNotes(notes []string) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}
