package source

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usagering/usagering/usagefile"
)

// File is a usage file as a Source. It reads the file when opened and
// again whenever the file changes (another inode, size or modification
// time): writers replace it atomically, so every read is of a complete
// document. If a later read fails, reports go on from the last good read
// and Health says what went wrong.
type File struct {
	path string

	mu      sync.Mutex // guards the fields below
	doc     *usagefile.Document
	info    os.FileInfo // of the file doc was read from
	readAt  time.Time
	reads   int
	lastErr error
}

// OpenFile reads the usage file at path. Errors wrap the read's error
// (fs.ErrNotExist for a missing file), usagefile.ErrForeignFile or
// usagefile.ErrCorrupt.
func OpenFile(path string) (*File, error) {
	f := &File{path: path}
	if _, err := f.current(); err != nil {
		return nil, err
	}
	return f, nil
}

// Path returns the file's path as given.
func (f *File) Path() string { return f.path }

// Name implements Source.
func (f *File) Name() string { return "file " + f.path }

// Close implements Source; a File holds nothing open.
func (f *File) Close() error { return nil }

// Document returns the document as last read, re-reading the file first
// if it changed. The document must not be modified.
func (f *File) Document() (*usagefile.Document, error) { return f.current() }

// current re-reads the file if it changed since the last read. It returns
// the last good document and the error of this read, if any; the error
// only when there is no good document at all.
func (f *File) current() (*usagefile.Document, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, err := os.Stat(f.path)
	if err == nil && f.doc != nil && os.SameFile(info, f.info) && info.Size() == f.info.Size() && info.ModTime().Equal(f.info.ModTime()) {
		f.lastErr = nil
		return f.doc, nil
	}
	var doc *usagefile.Document
	if err == nil {
		if info.IsDir() {
			err = fmt.Errorf("read %s: is a directory", f.path)
		} else {
			doc, err = usagefile.Read(f.path)
		}
	}
	if err != nil {
		err = fmt.Errorf("usage file: %w", err)
		f.lastErr = err
		if f.doc == nil {
			return nil, err
		}
		return f.doc, nil
	}
	f.doc, f.info, f.readAt, f.lastErr = doc, info, time.Now(), nil
	f.reads++
	return doc, nil
}

// Report implements Source: see Report for what a file can answer exactly.
func (f *File) Report(_ context.Context, q Query) (*Result, error) {
	doc, err := f.current()
	if err != nil {
		return nil, err
	}
	return Report(doc, q)
}

// Health implements Source.
func (f *File) Health(context.Context) Health {
	doc, _ := f.current()
	f.mu.Lock()
	info, readAt, reads, lastErr := f.info, f.readAt, f.reads, f.lastErr
	f.mu.Unlock()
	h := Health{Kind: "file", Up: lastErr == nil}
	if lastErr != nil {
		h.Err = lastErr.Error()
	}
	h.Facts = append(h.Facts, Fact{Name: "file", Value: f.path})
	if lastErr != nil {
		h.Facts = append(h.Facts, Fact{Name: "last read", Value: "failed: " + lastErr.Error() + " (showing the last good read)", Warn: true})
	}
	if doc == nil {
		return h
	}
	h.Sessions = len(doc.Sessions)
	if t, err := time.ParseInLocation(usagefile.TimestampLayout, doc.LastUpdated, time.Local); err == nil {
		h.LastUpdated = t
	}
	h.Facts = append(h.Facts,
		Fact{Name: "size", Value: strconv.FormatInt(info.Size(), 10) + " bytes"},
		Fact{Name: "modified", Value: info.ModTime().Format(time.DateTime)},
		Fact{Name: "last_updated", Value: orNone(doc.LastUpdated)},
		Fact{Name: "read", Value: fmt.Sprintf("%s (%d reads since start)", readAt.Format(time.DateTime), reads)},
	)
	sessions := strconv.Itoa(len(doc.Sessions))
	if n := len(doc.Sessions); n > 0 {
		sessions += " (" + doc.Sessions[0].Timestamp + " … " + doc.Sessions[n-1].Timestamp + ")"
	}
	h.Facts = append(h.Facts, Fact{Name: "sessions kept", Value: sessions})
	if abs, err := filepath.Abs(f.path); err == nil {
		rescues, err := usagefile.RescueFiles(abs, os.TempDir())
		h.RescueFiles = len(rescues)
		switch {
		case err != nil:
			h.Facts = append(h.Facts, Fact{Name: "rescue files", Value: err.Error(), Warn: true})
		case len(rescues) > 0:
			h.Facts = append(h.Facts, Fact{Name: "rescue files", Value: fmt.Sprintf("%d waiting to be merged by the next writer (records a writer could not write at close)", len(rescues)), Warn: true})
		default:
			h.Facts = append(h.Facts, Fact{Name: "rescue files", Value: "none"})
		}
	}
	if len(doc.State.Rescued) > 0 {
		h.Facts = append(h.Facts, Fact{Name: "rescues merged, removal unconfirmed", Value: strconv.Itoa(len(doc.State.Rescued))})
	}
	return h
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Report answers q from a usage document, exactly:
//
//   - totals and totals by day come from daily_totals;
//   - over all time (no From, no To), by model alone from model_breakdown
//     and by provider alone from provider_breakdown;
//   - any other grouping (by model or provider over a range of days, by
//     tag, by two dimensions) from the sessions the file keeps (the last
//     1000, by default). What the sessions of the period do not cover,
//     the period's (or the day's) total minus the sessions', is one
//     Unattributed row, with a note: the rows then add up to the exact
//     total, and the grouped rows are what the kept sessions say.
//
// A tag's value is the session's metadata value for TagKey: a string as
// it is, another JSON value as its JSON text, "" when absent.
func Report(doc *usagefile.Document, q Query) (*Result, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	in := func(day string) bool { return (q.From == "" || day >= q.From) && (q.To == "" || day <= q.To) }
	res := &Result{}
	days := map[string]usagefile.Totals{}
	for day, t := range doc.DailyTotals {
		if in(day) {
			days[day] = t
			res.Total.Add(t)
		}
	}
	switch {
	case len(q.By) == 0:
		res.Rows = []Row{{Totals: res.Total}}
		return res, nil
	case len(q.By) == 1 && q.By[0] == Day:
		for day, t := range days {
			res.Rows = append(res.Rows, Row{Day: day, Totals: t})
		}
		sortRows(res.Rows)
		return res, nil
	case q.AllTime() && len(q.By) == 1 && (q.By[0] == Model || q.By[0] == Provider):
		breakdown, name := doc.ModelBreakdown, "model_breakdown"
		if q.By[0] == Provider {
			breakdown, name = doc.ProviderBreakdown, "provider_breakdown"
		}
		var sum usagefile.Totals
		for k, t := range breakdown {
			r := Row{Totals: t}
			if q.By[0] == Model {
				r.Model = k
			} else {
				r.Provider = k
			}
			res.Rows = append(res.Rows, r)
			sum.Add(t)
		}
		sortRows(res.Rows)
		if sum != res.Total {
			res.Notes = append(res.Notes, fmt.Sprintf("the file's %s adds up to %s USD in %d calls, its daily_totals to %s USD in %d calls: they disagree; rows and total are the %s's",
				name, sum.Cost, sum.Calls, res.Total.Cost, res.Total.Calls, name))
			res.Total = sum
		}
		return res, nil
	}
	return fromSessions(doc, q, in, days, res), nil
}

// fromSessions groups the kept sessions of the period and adds what they
// do not cover as unattributed rows.
func fromSessions(doc *usagefile.Document, q Query, in func(string) bool, days map[string]usagefile.Totals, res *Result) *Result {
	groups := map[Row]usagefile.Totals{}
	covered := map[string]usagefile.Totals{} // by day, when grouping by day; else under ""
	var bad int
	for i := range doc.Sessions {
		s := &doc.Sessions[i]
		day := sessionDay(s.Timestamp)
		if day == "" {
			bad++
			continue
		}
		if !in(day) {
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
		t := s.Totals()
		g := groups[k]
		g.Add(t)
		groups[k] = g
		ck := ""
		if q.Has(Day) {
			ck = day
		}
		c := covered[ck]
		c.Add(t)
		covered[ck] = c
	}
	for k, t := range groups {
		k.Totals = t
		res.Rows = append(res.Rows, k)
	}
	// What the sessions do not cover: per day, or for the whole period.
	want := map[string]usagefile.Totals{"": res.Total}
	if q.Has(Day) {
		want = days
	}
	var missing usagefile.Totals
	var inconsistent []string
	for day, total := range want {
		rest := sub(total, covered[day])
		if rest.Tokens < 0 || rest.Calls < 0 || rest.Cost.Sign() < 0 {
			inconsistent = append(inconsistent, cmp.Or(day, "the period"))
			continue
		}
		if negative(rest) {
			// The total has tokens without kinds (the original tool writes
			// kinds in sessions, not in totals): what the sessions do not
			// cover has no kinds either.
			rest = usagefile.Totals{Tokens: rest.Tokens, Cost: rest.Cost, Calls: rest.Calls}
		}
		if !rest.IsZero() {
			res.Rows = append(res.Rows, Row{Day: day, Unattributed: true, Totals: rest})
			missing.Add(rest)
		}
	}
	for day := range covered {
		if _, ok := want[day]; !ok {
			inconsistent = append(inconsistent, day) // sessions on a day daily_totals lacks
		}
	}
	sortRows(res.Rows)
	// The rows add up to the period's total; where sessions carry token
	// kinds the total lacks, the total gains them.
	var sum usagefile.Totals
	for _, r := range res.Rows {
		sum.Add(r.Totals)
	}
	if !missing.IsZero() {
		oldest := "none"
		if len(doc.Sessions) > 0 {
			oldest = "the oldest from " + doc.Sessions[0].Timestamp
		}
		res.Notes = append(res.Notes, fmt.Sprintf(
			"grouped from the %d sessions the file keeps (%s): %d of the period's %d calls (%s of %s USD) are not among them and are shown as (unattributed); totals are exact",
			len(doc.Sessions), oldest, missing.Calls, res.Total.Calls, missing.Cost, res.Total.Cost))
	}
	if len(inconsistent) > 0 {
		slices.Sort(inconsistent)
		res.Notes = append(res.Notes, fmt.Sprintf("the file's sessions count more than its daily_totals for %s: they disagree; there the rows are the sessions' and the total their sum", strings.Join(inconsistent, ", ")))
	}
	res.Total = sum
	if bad > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d sessions have a timestamp that is not YYYY-MM-DDThh:mm:ss…: counted as unattributed", bad))
	}
	return res
}

// sessionDay returns the "YYYY-MM-DD" a session's timestamp starts with,
// or "" if it does not.
func sessionDay(ts string) string {
	if len(ts) < len(usagefile.DayLayout) || !ValidDay(ts[:len(usagefile.DayLayout)]) {
		return ""
	}
	if len(ts) > len(usagefile.DayLayout) && ts[len(usagefile.DayLayout)] != 'T' && ts[len(usagefile.DayLayout)] != ' ' {
		return ""
	}
	return ts[:len(usagefile.DayLayout)]
}

// tagValue returns metadata[key]: a string as it is, another value as its
// compact JSON text, "" when absent or when metadata is not an object.
func tagValue(metadata []byte, key string) string {
	if len(metadata) == 0 {
		return ""
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(metadata, &m); err != nil {
		return ""
	}
	v, ok := m[key]
	if !ok {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return string(v)
	}
	return b.String()
}
