package source

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/usagering/usagering/postgres"
	"github.com/usagering/usagering/usagefile"
)

// ErrInvalidQuery: a query that can never be answered (a malformed day, From
// after To, an unknown or repeated grouping, a tag without a key).
var ErrInvalidQuery = errors.New("invalid query")

// Dim is what a report groups by: the store's dimensions, so that a
// query reaches postgres.Store.Report as it is.
type Dim = postgres.Dimension

// The dimensions of a report.
const (
	Day      = postgres.Day      // the call's local day
	Model    = postgres.Model    // the model
	Provider = postgres.Provider // the provider
	Tag      = postgres.Tag      // the value of the tag Query.TagKey
)

// ParseBy reads a grouping as the command line gives it: a comma-separated
// list of day, model, provider and tag:KEY ("" for none). Errors wrap
// ErrInvalidQuery.
func ParseBy(s string) (by []Dim, tagKey string, err error) {
	if strings.TrimSpace(s) == "" {
		return nil, "", nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var d Dim
		switch {
		case f == "day":
			d = Day
		case f == "model":
			d = Model
		case f == "provider":
			d = Provider
		case strings.HasPrefix(f, "tag:") && len(f) > len("tag:"):
			d, tagKey = Tag, f[len("tag:"):]
		default:
			return nil, "", fmt.Errorf("%w: unknown grouping %q: want day, model, provider or tag:KEY", ErrInvalidQuery, f)
		}
		if slices.Contains(by, d) {
			return nil, "", fmt.Errorf("%w: grouping %q given twice", ErrInvalidQuery, d)
		}
		by = append(by, d)
	}
	return by, tagKey, nil
}

// Query selects a range of days and a grouping.
type Query struct {
	// From and To bound the days, both inclusive, as "YYYY-MM-DD" (the
	// calls' local days, as the writers wrote them); "" leaves that end
	// open.
	From, To string
	// By lists the dimensions to group by, each at most once, in the order
	// the rows' keys are shown. None: one row, the totals of the period.
	By []Dim
	// TagKey is the metadata key whose value groups the rows when By has
	// Tag.
	TagKey string
}

// Has reports whether q groups by d.
func (q *Query) Has(d Dim) bool { return slices.Contains(q.By, d) }

// AllTime reports whether q has no bound on its days.
func (q *Query) AllTime() bool { return q.From == "" && q.To == "" }

// Validate checks q. Errors wrap ErrInvalidQuery.
func (q *Query) Validate() error {
	for _, d := range []string{q.From, q.To} {
		if d != "" && !ValidDay(d) {
			return fmt.Errorf("%w: day %q is not a date YYYY-MM-DD", ErrInvalidQuery, d)
		}
	}
	if q.From != "" && q.To != "" && q.From > q.To {
		return fmt.Errorf("%w: from %s is after to %s", ErrInvalidQuery, q.From, q.To)
	}
	for i, d := range q.By {
		if d < Day || d > Tag {
			return fmt.Errorf("%w: unknown dimension %v", ErrInvalidQuery, d)
		}
		if slices.Contains(q.By[:i], d) {
			return fmt.Errorf("%w: dimension %v twice", ErrInvalidQuery, d)
		}
	}
	if q.Has(Tag) && q.TagKey == "" {
		return fmt.Errorf("%w: grouping by tag needs a key (tag:KEY)", ErrInvalidQuery)
	}
	return nil
}

// ValidDay reports whether s is a date in the layout YYYY-MM-DD.
func ValidDay(s string) bool {
	t, err := time.Parse(usagefile.DayLayout, s)
	return err == nil && t.Format(usagefile.DayLayout) == s
}

// Row is one group of a report: its key (each field "" unless the query
// groups by it) and its totals.
type Row struct {
	Day, Model, Provider, Tag string
	// Unattributed marks the part of a period (or of a day, when grouping
	// by day) that a file's kept sessions do not cover: its totals are
	// exact, but which model, provider or tag they belong to is not in the
	// file. Its key fields other than Day are "".
	Unattributed bool
	usagefile.Totals
}

// Result is a report.
type Result struct {
	// Rows are sorted by day, model, provider, then tag (bytewise), an
	// unattributed row after the others of its day. Without grouping,
	// exactly one row.
	Rows []Row
	// Total is the period's total: the sum of Rows, exactly.
	Total usagefile.Totals
	// Notes say how the figures were obtained where that is not plain:
	// the part that comes from kept sessions, say.
	Notes []string
}

// Source answers reports. Implementations are safe for concurrent use.
type Source interface {
	// Report returns the totals of q's period grouped by q.By. Errors wrap
	// ErrInvalidQuery for a bad query.
	Report(ctx context.Context, q Query) (*Result, error)
	// Health describes the source's state; it never fails, it says.
	Health(ctx context.Context) Health
	// Name says what the source reads: "file usage.json", "postgres …".
	Name() string
	// Close releases the source.
	Close() error
}

// Health is a source's state, for the dashboard and /metrics.
type Health struct {
	Kind string // "file" or "postgres"
	// Up: the source's latest read (the file's) or query (the database's)
	// succeeded. Err says why not.
	Up  bool
	Err string
	// LastUpdated: the file's last_updated; the latest shipment of any
	// writer. Zero when unknown.
	LastUpdated time.Time
	// Facts are what the dashboard lists, in order.
	Facts []Fact
	// File only.
	Sessions    int // sessions kept in the file
	RescueFiles int // rescue files waiting beside the file (records a writer could not write at close)
	// Postgres only.
	Writers int
}

// Fact is one line of a source's health.
type Fact struct {
	Name, Value string
	Warn        bool // something to look at
}

// sortRows sorts rows as Result.Rows promises.
func sortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int {
		if c := cmp.Compare(a.Day, b.Day); c != 0 {
			return c
		}
		if a.Unattributed != b.Unattributed {
			if a.Unattributed {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Model, b.Model), cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Tag, b.Tag))
	})
}

// sub returns a − b field by field, exactly.
func sub(a, b usagefile.Totals) usagefile.Totals {
	return usagefile.Totals{
		Tokens: a.Tokens - b.Tokens, Cost: a.Cost.Sub(b.Cost), Calls: a.Calls - b.Calls,
		InputTokens: a.InputTokens - b.InputTokens, OutputTokens: a.OutputTokens - b.OutputTokens,
		CacheReadTokens: a.CacheReadTokens - b.CacheReadTokens, CacheWriteTokens: a.CacheWriteTokens - b.CacheWriteTokens,
		ReasoningTokens: a.ReasoningTokens - b.ReasoningTokens,
	}
}

// negative reports whether any field of t is below zero.
func negative(t usagefile.Totals) bool {
	return t.Tokens < 0 || t.Cost.Sign() < 0 || t.Calls < 0 || t.InputTokens < 0 || t.OutputTokens < 0 ||
		t.CacheReadTokens < 0 || t.CacheWriteTokens < 0 || t.ReasoningTokens < 0
}
