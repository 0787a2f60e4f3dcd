package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// ErrInvalidQuery: a ReportQuery is invalid (a day that is not YYYY-MM-DD,
// From after To, Tag without a TagKey, an unknown or repeated Dimension).
var ErrInvalidQuery = errors.New("postgres: invalid report query")

// Dimension is what a report groups by.
type Dimension uint8

// Dimensions of a report.
const (
	Day      Dimension = iota + 1 // the record's local day
	Model                         // the model
	Provider                      // the provider
	Tag                           // the value of the tag ReportQuery.TagKey
)

var dimensionNames = [...]string{Day: "day", Model: "model", Provider: "provider", Tag: "tag"}

func (d Dimension) String() string {
	if d >= Day && d <= Tag {
		return dimensionNames[d]
	}
	return fmt.Sprintf("Dimension(%d)", uint8(d))
}

// ParseGroupBy reads a comma-separated grouping as a command line gives
// it: "day,model", "provider", "tag:team" (group by the tag "team"), "" for
// none. It returns the dimensions and the tag key.
func ParseGroupBy(s string) (by []Dimension, tagKey string, err error) {
	if s == "" {
		return nil, "", nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "day":
			by = append(by, Day)
		case f == "model":
			by = append(by, Model)
		case f == "provider":
			by = append(by, Provider)
		case strings.HasPrefix(f, "tag:") && len(f) > len("tag:"):
			by, tagKey = append(by, Tag), f[len("tag:"):]
		default:
			return nil, "", fmt.Errorf("%w: group by %q: want day, model, provider or tag:KEY", ErrInvalidQuery, f)
		}
	}
	return by, tagKey, nil
}

// ReportQuery selects and groups usage for Report.
type ReportQuery struct {
	// From and To bound the days, both inclusive, as "YYYY-MM-DD" (the
	// records' local days); "" leaves that end open.
	From, To string
	// By lists the dimensions to group by, each at most once; the order
	// does not matter. None: one row, the totals of everything selected.
	By []Dimension
	// TagKey is the tag whose value groups the rows when By has Tag. A
	// row without that tag (or with it empty) groups under "".
	TagKey string
	// Model and Provider, when not "", select only that model or provider.
	Model, Provider string
}

// ReportRow is one group of a report: its key (each field "" unless the
// report groups by it) and its totals, summed over every writer.
type ReportRow struct {
	Day      string // "YYYY-MM-DD"
	Model    string
	Provider string
	Tag      string // the value of ReportQuery.TagKey
	usagefile.Totals
}

// compare orders rows by day, model, provider, then tag, bytewise.
func (r *ReportRow) compare(o *ReportRow) int {
	return cmp.Or(cmp.Compare(r.Day, o.Day), cmp.Compare(r.Model, o.Model),
		cmp.Compare(r.Provider, o.Provider), cmp.Compare(r.Tag, o.Tag))
}

// Report returns the usage of every writer over a range of days, grouped
// by q.By, in a fixed order: by day, model, provider, then tag value,
// bytewise ascending. Counts and costs are exact sums. With no grouping it
// returns exactly one row (zero totals when nothing matched); with some, a
// row per group that has usage. Sum adds rows up to the grand total.
//
// What it reads: the per-writer daily rows of the selected days (an index
// on the day), so its cost grows with writers × models × providers × tag
// sets × days, never with the number of calls.
func (s *Store) Report(ctx context.Context, q ReportQuery) ([]ReportRow, error) {
	query, args, err := s.reportSQL(q)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.queryError("report", err)
	}
	defer rows.Close()
	groups := map[ReportRow]usagefile.Totals{} // keyed by the zero-totals row
	for rows.Next() {
		var (
			k    ReportRow
			t    usagefile.Totals
			cost string
		)
		err := rows.Scan(&k.Day, &k.Model, &k.Provider, &k.Tag,
			&t.Calls, &t.Tokens, &t.InputTokens, &t.OutputTokens,
			&t.CacheReadTokens, &t.CacheWriteTokens, &t.ReasoningTokens, &cost)
		if err != nil {
			return nil, s.queryError("report", err)
		}
		if t.Cost, err = usd.Parse(cost); err != nil {
			return nil, fmt.Errorf("postgres: report: cost %q: %w", cost, err)
		}
		// The tags column holds query-escaped values; the same value is
		// always escaped the same way, but add up after unescaping anyway.
		if k.Tag, err = url.QueryUnescape(k.Tag); err != nil {
			return nil, fmt.Errorf("postgres: report: tag value %q: %w", k.Tag, err)
		}
		sum := groups[k]
		sum.Add(t)
		groups[k] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, s.queryError("report", err)
	}
	out := make([]ReportRow, 0, len(groups))
	for k, t := range groups {
		k.Totals = t
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b ReportRow) int { return a.compare(&b) })
	return out, nil
}

// reportSQL builds Report's query.
func (s *Store) reportSQL(q ReportQuery) (string, []any, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidQuery}, args...)...)
	}
	from, to := "-infinity", "infinity"
	for _, d := range []struct {
		s   string
		out *string
	}{{q.From, &from}, {q.To, &to}} {
		if d.s == "" {
			continue
		}
		if t, err := time.Parse(time.DateOnly, d.s); err != nil || t.Format(time.DateOnly) != d.s || t.Year() < 1 {
			return "", nil, bad("day %q is not YYYY-MM-DD", d.s)
		}
		*d.out = d.s
	}
	if q.From != "" && q.To != "" && q.From > q.To {
		return "", nil, bad("From %s after To %s", q.From, q.To)
	}
	cols := [...]string{Day: "''", Model: "''", Provider: "''", Tag: "''"}
	var group []string
	for _, d := range q.By {
		if d < Day || d > Tag {
			return "", nil, bad("unknown dimension %v", d)
		}
		if cols[d] != "''" {
			return "", nil, bad("dimension %v twice", d)
		}
		switch d {
		case Day:
			cols[d] = "to_char(day, 'YYYY-MM-DD')"
		case Model:
			cols[d] = "model"
		case Provider:
			cols[d] = "provider"
		case Tag:
			if q.TagKey == "" {
				return "", nil, bad("grouping by tag needs a TagKey")
			}
			// tags is "k1=v1&k2=v2" with keys and values query-escaped, so
			// neither holds a raw '&' or '='. $5 is the escaped key.
			cols[d] = `coalesce((SELECT split_part(kv, '=', 2) FROM unnest(string_to_array(tags, '&')) AS kv
	WHERE split_part(kv, '=', 1) = $5 LIMIT 1), '')`
		}
		group = append(group, cols[d])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `SELECT %s, %s, %s, %s,
	coalesce(sum(calls), 0)::bigint, coalesce(sum(tokens), 0)::bigint,
	coalesce(sum(input_tokens), 0)::bigint, coalesce(sum(output_tokens), 0)::bigint,
	coalesce(sum(cache_read_tokens), 0)::bigint, coalesce(sum(cache_write_tokens), 0)::bigint,
	coalesce(sum(reasoning_tokens), 0)::bigint, coalesce(sum(cost), 0)::text
FROM %s
WHERE day >= $1::text::date AND day <= $2::text::date
	AND ($3::text = '' OR model = $3) AND ($4::text = '' OR provider = $4)`,
		cols[Day], cols[Model], cols[Provider], cols[Tag], s.sql.table)
	if len(group) > 0 {
		b.WriteString("\nGROUP BY " + strings.Join(group, ", "))
	}
	args := []any{from, to, q.Model, q.Provider}
	if cols[Tag] != "''" {
		args = append(args, url.QueryEscape(q.TagKey))
	}
	return b.String(), args, nil
}

// Sum adds report rows up: the grand total of a report.
func Sum(rows []ReportRow) usagefile.Totals {
	var t usagefile.Totals
	for i := range rows {
		t.Add(rows[i].Totals)
	}
	return t
}

// Writer is what the store knows of one writer.
type Writer struct {
	ID string
	// Seq is the writer's high-water mark: its last batch applied.
	Seq uint64
	// FirstShipped and LastShipped are when its first and its last batch
	// were applied, by the database's clock.
	FirstShipped, LastShipped time.Time
}

// Writers returns every writer the store has applied a batch of, ordered
// by id (bytewise). A writer whose LastShipped falls behind its flush
// interval is not shipping.
func (s *Store) Writers(ctx context.Context) ([]Writer, error) {
	rows, err := s.pool.Query(ctx, s.sql.writers)
	if err != nil {
		return nil, s.queryError("writers", err)
	}
	defer rows.Close()
	var out []Writer
	for rows.Next() {
		var (
			w   Writer
			seq int64
		)
		if err := rows.Scan(&w.ID, &seq, &w.FirstShipped, &w.LastShipped); err != nil {
			return nil, s.queryError("writers", err)
		}
		w.Seq = uint64(seq)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, s.queryError("writers", err)
	}
	return out, nil
}

// queryError wraps a failed read, marking the ones worth retrying.
func (s *Store) queryError(op string, err error) error {
	if permanent(err) || authError(err) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrTemporary, op, err)
}
