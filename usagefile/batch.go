package usagefile

import (
	"cmp"
	"net/url"
	"slices"
	"strings"

	json "github.com/goccy/go-json"
)

// Key is what one aggregate row is about: a local day, a model, a
// provider, and the record's tags.
type Key struct {
	Day      string // "YYYY-MM-DD", the record's local date (DayLayout)
	Model    string
	Provider string
	// Tags is the record's tag set in canonical form (see EncodeTags):
	// "" when it has none.
	Tags string
}

// Compare orders keys by day, model, provider, then tags. Shippers apply
// rows in this order, so two writers never lock the same rows in
// opposite orders.
func (k Key) Compare(o Key) int {
	if c := cmp.Compare(k.Day, o.Day); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Model, o.Model); c != 0 {
		return c
	}
	if c := cmp.Compare(k.Provider, o.Provider); c != 0 {
		return c
	}
	return cmp.Compare(k.Tags, o.Tags)
}

// Row is one aggregate of a batch: everything recorded under Key since
// the previous batch.
type Row struct {
	Key
	Totals
}

// MarshalJSON writes the row as one object: day, model, provider, tags
// (if any), then the totals' keys.
func (r Row) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	for _, f := range []struct{ k, v string }{{"day", r.Day}, {"model", r.Model}, {"provider", r.Provider}, {"tags", r.Tags}} {
		if f.k == "tags" && f.v == "" {
			continue
		}
		kv, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b = append(b, '"')
		b = append(b, f.k...)
		b = append(b, `":`...)
		b = append(b, kv...)
		b = append(b, ',')
	}
	t := r.Totals.AppendJSON(nil)
	return append(b, t[1:]...), nil // the totals' object without its '{'
}

// UnmarshalJSON reads a row as MarshalJSON writes it.
func (r *Row) UnmarshalJSON(b []byte) error {
	var k struct {
		Day      string `json:"day"`
		Model    string `json:"model"`
		Provider string `json:"provider"`
		Tags     string `json:"tags"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	var t Totals
	if err := t.UnmarshalJSON(b); err != nil {
		return err
	}
	*r = Row{Key: Key{Day: k.Day, Model: k.Model, Provider: k.Provider, Tags: k.Tags}, Totals: t}
	return nil
}

// Batch is what a writer ships: the aggregates folded since its previous
// batch, sealed under the next number of its sequence.
//
// A writer is one usage file (processes sharing the file share its writer
// id and sequence). Sequence numbers start at 1 and go up by one per
// batch; a batch is recorded in the usage file before it is sent and
// resent with the same Seq and Rows until its shipment is known, so a
// receiver applies each (Writer, Seq) at most once and ignores a resent
// one.
type Batch struct {
	Writer string // the writer's id: stable for the life of the usage file
	Seq    uint64 // ≥ 1
	Rows   []Row  // sorted by Key.Compare, keys unique
}

// SortRows sorts rows by key (Key.Compare).
func SortRows(rows []Row) {
	slices.SortFunc(rows, func(a, b Row) int { return a.Key.Compare(b.Key) })
}

// EncodeTags returns the canonical form of a tag set: "k1=v1&k2=v2" with
// keys sorted and both sides query-escaped (url.QueryEscape), "" for none.
// Equal sets give equal strings, so the form can be a key.
func EncodeTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(tags[k]))
	}
	return b.String()
}

// DecodeTags is EncodeTags' inverse. It returns nil for "".
func DecodeTags(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	v, err := url.ParseQuery(s)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(v))
	for k, vs := range v {
		m[k] = vs[len(vs)-1]
	}
	return m, nil
}
