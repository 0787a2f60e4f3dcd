package usagefile

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/usagering/usagering/usd"
)

// The five top-level keys of a usage document, in the original's order.
const (
	keySessions          = "sessions"
	keyDailyTotals       = "daily_totals"
	keyModelBreakdown    = "model_breakdown"
	keyProviderBreakdown = "provider_breakdown"
	keyLastUpdated       = "last_updated"
)

var documentKeys = [...]string{keySessions, keyDailyTotals, keyModelBreakdown, keyProviderBreakdown, keyLastUpdated}

// Session is one entry of "sessions": the original tool's fields, JSON
// names and order, then usagering's (cache_read_tokens, cache_write_tokens,
// reasoning_tokens, ttft_ms), which the original ignores and which read as
// 0 in a session written without them.
type Session struct {
	// Timestamp is ISO 8601 local time, "2006-01-02T15:04:05.000000"
	// (TimestampLayout). It is kept as the string read, so files written by
	// others (say, without microseconds) round-trip unchanged.
	Timestamp    string     `json:"timestamp"`
	Model        string     `json:"model"`
	Provider     string     `json:"provider"`
	InputTokens  int64      `json:"input_tokens"`  // every prompt token, cache reads and writes included
	OutputTokens int64      `json:"output_tokens"` // every generated token, reasoning included
	TotalTokens  int64      `json:"total_tokens"`  // input + output
	CostUSD      usd.Amount `json:"cost_usd"`      // exact; written with every digit
	LatencyMS    float64    `json:"latency_ms"`
	Operation    string     `json:"operation"`
	// Metadata is preserved as read (the original allows any JSON value).
	// Nil or empty encodes as {}. The bytes are shared by Clone and Merge:
	// treat them as immutable.
	Metadata         json.RawMessage `json:"metadata"`
	CacheReadTokens  int64           `json:"cache_read_tokens"`
	CacheWriteTokens int64           `json:"cache_write_tokens"`
	ReasoningTokens  int64           `json:"reasoning_tokens"`
	TTFTMS           float64         `json:"ttft_ms"` // time to first token; 0 = unknown
}

// Totals returns what the session adds to each breakdown: one call, its
// tokens by kind and its cost.
func (s *Session) Totals() Totals {
	return Totals{
		Tokens: s.TotalTokens, Cost: s.CostUSD, Calls: 1,
		InputTokens: s.InputTokens, OutputTokens: s.OutputTokens,
		CacheReadTokens: s.CacheReadTokens, CacheWriteTokens: s.CacheWriteTokens,
		ReasoningTokens: s.ReasoningTokens,
	}
}

// Document is the content of a usage file.
//
// Sessions holds the last N sessions, oldest first. The three breakdowns map
// a "YYYY-MM-DD" local date, a model name and a provider name to their
// totals. Extra holds top-level keys of a file that are not the five of the
// format; they are written back (re-indented, content unchanged), so a
// document read and written by usagering keeps what other tools put in it.
// ParseDocument reads a document and AppendJSON writes it, with
// goccy/go-json; see AppendJSON for the layout.
//
// A Document is not safe for concurrent use. AddSession and Merge reuse the
// backing array of Sessions once it is full: a slice of Sessions taken
// earlier may change; take a Clone for a snapshot.
type Document struct {
	Sessions          []Session
	DailyTotals       map[string]Totals
	ModelBreakdown    map[string]Totals
	ProviderBreakdown map[string]Totals
	LastUpdated       string
	// State is usagering's own state in the file (the "usagering" key).
	State State
	Extra map[string]json.RawMessage
}

// NewDocument returns an empty document: it encodes as the five keys with
// [], {}, {}, {} and "".
func NewDocument() *Document {
	return &Document{
		Sessions:          []Session{},
		DailyTotals:       map[string]Totals{},
		ModelBreakdown:    map[string]Totals{},
		ProviderBreakdown: map[string]Totals{},
	}
}

// AddSession appends s to Sessions, keeping only the last maxSessions
// (maxSessions ≤ 0: no limit), and adds s.Totals() to DailyTotals[day],
// ModelBreakdown[s.Model] and ProviderBreakdown[s.Provider].
//
// Once Sessions is full, AddSession reuses its memory: it does not allocate
// for keys already present in the maps.
func (d *Document) AddSession(s Session, day string, maxSessions int) {
	d.appendSessions([]Session{s}, maxSessions)
	t := s.Totals()
	addBucket(&d.DailyTotals, day, t)
	addBucket(&d.ModelBreakdown, s.Model, t)
	addBucket(&d.ProviderBreakdown, s.Provider, t)
}

// Merge adds every bucket of delta into d, appends delta.Sessions (keeping
// the last maxSessions; ≤ 0: no limit) and sets LastUpdated to
// delta.LastUpdated if that is not empty. d.Extra is kept; delta.Extra is
// ignored. Folding sessions into an empty delta and merging it gives the
// same document as adding them to d one by one.
func (d *Document) Merge(delta *Document, maxSessions int) {
	for k, t := range delta.DailyTotals {
		addBucket(&d.DailyTotals, k, t)
	}
	for k, t := range delta.ModelBreakdown {
		addBucket(&d.ModelBreakdown, k, t)
	}
	for k, t := range delta.ProviderBreakdown {
		addBucket(&d.ProviderBreakdown, k, t)
	}
	d.appendSessions(delta.Sessions, maxSessions)
	if delta.LastUpdated != "" {
		d.LastUpdated = delta.LastUpdated
	}
}

// Clone returns a deep copy of d, except that Metadata and Extra values
// (immutable bytes) are shared.
func (d *Document) Clone() *Document {
	c := &Document{
		Sessions:          slices.Clone(d.Sessions),
		DailyTotals:       cloneBuckets(d.DailyTotals),
		ModelBreakdown:    cloneBuckets(d.ModelBreakdown),
		ProviderBreakdown: cloneBuckets(d.ProviderBreakdown),
		LastUpdated:       d.LastUpdated,
		State:             d.State.clone(),
	}
	if c.Sessions == nil {
		c.Sessions = []Session{}
	}
	if d.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(d.Extra))
		for k, v := range d.Extra {
			c.Extra[k] = v
		}
	}
	return c
}

func cloneBuckets(m map[string]Totals) map[string]Totals {
	c := make(map[string]Totals, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func addBucket(m *map[string]Totals, key string, t Totals) {
	if *m == nil {
		*m = make(map[string]Totals)
	}
	b := (*m)[key]
	b.Add(t)
	(*m)[key] = b
}

// appendSessions appends ss to Sessions and keeps the last max (max ≤ 0:
// all). Trimming moves the kept sessions to the front of the backing array
// and clears the rest, so once Sessions has reached max it grows no more
// and appending allocates nothing.
func (d *Document) appendSessions(ss []Session, max int) {
	if max > 0 && len(ss) > max {
		ss = ss[len(ss)-max:]
	}
	d.Sessions = append(d.Sessions, ss...)
	if n := len(d.Sessions); max > 0 && n > max {
		m := copy(d.Sessions, d.Sessions[n-max:])
		clear(d.Sessions[m:n]) // drop references held by trimmed sessions
		d.Sessions = d.Sessions[:m]
	}
}

// ParseDocument decodes a usage file. It checks what the original checks and
// a little more: the five keys must be present; sessions must be a list of
// objects, the three breakdowns objects of {tokens, cost, calls} buckets with
// numeric values, last_updated a string. Token counts and calls must be
// integers (500.0 is accepted as 500); costs are read exactly from their
// text (usd.Amount). usagering's keys inside sessions and buckets are
// optional (0 when absent). Unknown top-level keys go to Extra; unknown keys
// inside sessions and buckets are dropped.
//
// Errors wrap ErrCorrupt (empty, truncated or unparsable data, a required key
// missing or of the wrong type) or ErrForeignFile (valid JSON that is not an
// object, or an object with none of the five keys) and say what is wrong.
func ParseDocument(data []byte) (*Document, error) {
	first, ok := firstNonSpace(data)
	if !ok {
		return nil, fmt.Errorf("%w: empty (%d bytes of white space)", ErrCorrupt, len(data))
	}
	if first != '{' {
		if json.Valid(data) {
			return nil, fmt.Errorf("%w: top level is %s, not an object", ErrForeignFile, jsonKind(first))
		}
		return nil, fmt.Errorf("%w: not valid JSON (starts with %q)", ErrCorrupt, first)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrCorrupt, err)
	}
	present := 0
	var missing []string
	for _, k := range documentKeys {
		if _, ok := top[k]; ok {
			present++
		} else {
			missing = append(missing, strconv.Quote(k))
		}
	}
	if present == 0 {
		return nil, fmt.Errorf("%w: an object with none of the keys %q", ErrForeignFile, documentKeys)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing key(s) %s", ErrCorrupt, strings.Join(missing, ", "))
	}
	want := [...]byte{'[', '{', '{', '{', '"'}
	for i, k := range documentKeys {
		if c, _ := firstNonSpace(top[k]); c != want[i] {
			return nil, fmt.Errorf("%w: %q is %s, want %s", ErrCorrupt, k, jsonKind(c), jsonKind(want[i]))
		}
	}

	d := &Document{}
	var err error
	if d.Sessions, err = parseSessions(top[keySessions]); err != nil {
		return nil, err
	}
	if d.DailyTotals, err = parseBuckets(keyDailyTotals, top[keyDailyTotals]); err != nil {
		return nil, err
	}
	if d.ModelBreakdown, err = parseBuckets(keyModelBreakdown, top[keyModelBreakdown]); err != nil {
		return nil, err
	}
	if d.ProviderBreakdown, err = parseBuckets(keyProviderBreakdown, top[keyProviderBreakdown]); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(top[keyLastUpdated], &d.LastUpdated); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrCorrupt, keyLastUpdated, err)
	}
	for k, v := range top {
		if isDocumentKey(k) {
			continue
		}
		if k == keyState {
			if d.State, err = parseState(v); err != nil {
				return nil, err
			}
			continue
		}
		if d.Extra == nil {
			d.Extra = make(map[string]json.RawMessage)
		}
		d.Extra[k] = v
	}
	return d, nil
}

func parseSessions(raw []byte) ([]Session, error) {
	// Fast path: every number where Session wants an int64 is written as an
	// integer, as the original and usagering write them.
	var ss []Session
	if err := json.Unmarshal(raw, &ss); err == nil {
		if ss == nil {
			ss = []Session{}
		}
		return ss, nil
	}
	// Slow path: token counts written as floats (500.0), or a real error to
	// locate.
	var ws []sessionWire
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrCorrupt, keySessions, err)
	}
	ss = make([]Session, len(ws))
	for i := range ws {
		w := &ws[i]
		s := &ss[i]
		*s = Session{Timestamp: w.Timestamp, Model: w.Model, Provider: w.Provider,
			CostUSD: w.CostUSD, LatencyMS: w.LatencyMS, Operation: w.Operation, Metadata: w.Metadata,
			TTFTMS: w.TTFTMS}
		for _, f := range [...]struct {
			name string
			in   float64
			out  *int64
		}{
			{"input_tokens", w.InputTokens, &s.InputTokens}, {"output_tokens", w.OutputTokens, &s.OutputTokens},
			{"total_tokens", w.TotalTokens, &s.TotalTokens}, {"cache_read_tokens", w.CacheReadTokens, &s.CacheReadTokens},
			{"cache_write_tokens", w.CacheWriteTokens, &s.CacheWriteTokens}, {"reasoning_tokens", w.ReasoningTokens, &s.ReasoningTokens},
		} {
			if f.in != math.Trunc(f.in) || math.Abs(f.in) > 1<<53 {
				return nil, fmt.Errorf("%w: %s[%d].%s: not an integer (%v)", ErrCorrupt, keySessions, i, f.name, f.in)
			}
			*f.out = int64(f.in)
		}
	}
	return ss, nil
}

// sessionWire is a session whose token counts may be written as floats.
type sessionWire struct {
	Timestamp    string          `json:"timestamp"`
	Model        string          `json:"model"`
	Provider     string          `json:"provider"`
	InputTokens  float64         `json:"input_tokens"`
	OutputTokens float64         `json:"output_tokens"`
	TotalTokens  float64         `json:"total_tokens"`
	CostUSD      usd.Amount      `json:"cost_usd"`
	LatencyMS    float64         `json:"latency_ms"`
	Operation    string          `json:"operation"`
	Metadata     json.RawMessage `json:"metadata"`
	// usagering's.
	CacheReadTokens  float64 `json:"cache_read_tokens"`
	CacheWriteTokens float64 `json:"cache_write_tokens"`
	ReasoningTokens  float64 `json:"reasoning_tokens"`
	TTFTMS           float64 `json:"ttft_ms"`
}

func parseBuckets(key string, raw []byte) (map[string]Totals, error) {
	var ws map[string]totalsWire
	if err := json.Unmarshal(raw, &ws); err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrCorrupt, key, err)
	}
	m := make(map[string]Totals, len(ws))
	for k, w := range ws {
		t, err := w.totals()
		if err != nil {
			return nil, fmt.Errorf("%w: %s[%q]: %v", ErrCorrupt, key, k, err)
		}
		m[k] = t
	}
	return m, nil
}

func isDocumentKey(k string) bool {
	for _, dk := range documentKeys {
		if k == dk {
			return true
		}
	}
	return false
}

func firstNonSpace(b []byte) (byte, bool) {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c, true
	}
	return 0, false
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	return "a number"
}

// AppendJSON appends the document to dst, encoded with goccy/go-json,
// indented with two spaces, without a trailing newline:
//
//   - the five keys in the original's order (sessions, daily_totals,
//     model_breakdown, provider_breakdown, last_updated), then the Extra
//     keys sorted (an Extra key named like one of the five is skipped);
//   - session fields in the original's order, then usagering's; costs as
//     decimals with every digit (0.00000675, never 6.749999999999999e-06);
//     other floats in Go's shortest round-trip form (50, 0.001, 1e-7), so
//     50.0 read from a file is written back as 50, the same JSON number;
//   - breakdown keys sorted (dates, so, in chronological order); keys that
//     are not valid UTF-8 get U+FFFD for their bad bytes, and buckets whose
//     keys then coincide are added together (no key is written twice);
//     buckets as Totals.MarshalJSON writes them;
//   - strings as UTF-8, with no HTML escaping; invalid UTF-8 becomes U+FFFD;
//   - Metadata (nil or empty: {}) and Extra values (nil: null) validated
//     and re-indented, their content unchanged.
//
// It returns an error, and dst unchanged, for a NaN or infinite float (the
// error names the session and field), or for Metadata or Extra bytes that
// are not valid JSON. It appends to dst in place: with enough capacity, the
// document costs no allocation of its size.
func (d *Document) AppendJSON(dst []byte) ([]byte, error) {
	orig := len(dst)
	w := &appendWriter{b: dst}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	err := enc.Encode(&documentWire{
		Sessions:          sessionsForJSON(d.Sessions),
		DailyTotals:       bucketsForJSON(d.DailyTotals),
		ModelBreakdown:    bucketsForJSON(d.ModelBreakdown),
		ProviderBreakdown: bucketsForJSON(d.ProviderBreakdown),
		LastUpdated:       d.LastUpdated,
	})
	if err != nil {
		return dst[:orig], d.encodeError(err)
	}
	w.b = w.b[:len(w.b)-1] // Encode's newline
	if extra := d.extraForJSON(); len(extra) > 0 {
		// Continue the object: drop its "\n}", encode extra (an object at
		// the same depth) and turn extra's '{' into a ','.
		w.b = w.b[:len(w.b)-2]
		at := len(w.b)
		if err := enc.Encode(extra); err != nil {
			return dst[:orig], extraError(extra, err)
		}
		w.b[at] = ','
		w.b = w.b[:len(w.b)-1]
	}
	return w.b, nil
}

// documentWire is the ordered part of a usage file.
type documentWire struct {
	Sessions          []Session         `json:"sessions"`
	DailyTotals       map[string]Totals `json:"daily_totals"`
	ModelBreakdown    map[string]Totals `json:"model_breakdown"`
	ProviderBreakdown map[string]Totals `json:"provider_breakdown"`
	LastUpdated       string            `json:"last_updated"`
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// emptyMetadata is what a session without metadata is written with. It is
// shared: Session.Metadata bytes are never written to.
var emptyMetadata = json.RawMessage("{}")

// sessionsForJSON returns ss, non-nil (to encode as []), with nil or empty
// Metadata replaced by {}: in a copy, made only if there is any.
func sessionsForJSON(ss []Session) []Session {
	if ss == nil {
		return []Session{}
	}
	for i := range ss {
		if len(ss[i].Metadata) == 0 {
			c := slices.Clone(ss)
			for j := i; j < len(c); j++ {
				if len(c[j].Metadata) == 0 {
					c[j].Metadata = emptyMetadata
				}
			}
			return c
		}
	}
	return ss
}

// noBuckets encodes a nil breakdown as {}. It is never written to.
var noBuckets = map[string]Totals{}

// bucketsForJSON returns m, non-nil, with keys that are not valid UTF-8
// given U+FFFD for their bad bytes and buckets whose keys then coincide
// added together: in a copy, made only if there is any such key.
func bucketsForJSON(m map[string]Totals) map[string]Totals {
	if m == nil {
		return noBuckets
	}
	for k := range m {
		if !utf8.ValidString(k) {
			fixed := make(map[string]Totals, len(m))
			for k, t := range m {
				addBucket(&fixed, strings.ToValidUTF8(k, "\uFFFD"), t)
			}
			return fixed
		}
	}
	return m
}

// extraForJSON returns d.Extra without the keys named like the five, and
// with State under its key unless it is empty.
func (d *Document) extraForJSON() map[string]json.RawMessage {
	if !d.State.IsZero() {
		state, err := json.Marshal(&d.State)
		if err != nil {
			state = nil // a State of strings and ints always encodes
		}
		m := make(map[string]json.RawMessage, len(d.Extra)+1)
		for k, v := range d.Extra {
			if !isDocumentKey(k) {
				m[k] = v
			}
		}
		m[keyState] = state
		return m
	}
	for k := range d.Extra {
		if isDocumentKey(k) || k == keyState {
			m := make(map[string]json.RawMessage, len(d.Extra))
			for k, v := range d.Extra {
				if !isDocumentKey(k) && k != keyState {
					m[k] = v
				}
			}
			return m
		}
	}
	return d.Extra
}

// encodeError wraps the encoder's error, naming the first session field it
// could not write.
func (d *Document) encodeError(err error) error {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	for i := range d.Sessions {
		s := &d.Sessions[i]
		switch {
		case !finite(s.LatencyMS):
			return fmt.Errorf("usagefile: encode: sessions[%d].latency_ms: %w", i, err)
		case !finite(s.TTFTMS):
			return fmt.Errorf("usagefile: encode: sessions[%d].ttft_ms: %w", i, err)
		case len(s.Metadata) > 0 && !json.Valid(s.Metadata):
			return fmt.Errorf("usagefile: encode: sessions[%d].metadata: %w", i, err)
		}
	}
	return fmt.Errorf("usagefile: encode: %w", err)
}

// extraError wraps the encoder's error, naming the first Extra key whose
// value is not valid JSON.
func extraError(extra map[string]json.RawMessage, err error) error {
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if v := extra[k]; v != nil && !json.Valid(v) {
			return fmt.Errorf("usagefile: encode: %q: %w", k, err)
		}
	}
	return fmt.Errorf("usagefile: encode: %w", err)
}
