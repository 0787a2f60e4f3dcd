package tracker

import (
	"strings"
	"time"
	"unicode/utf8"

	json "github.com/goccy/go-json"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// emptyMetadata is the metadata of a record without any. It is shared:
// Session.Metadata bytes are never written to.
var emptyMetadata = json.RawMessage("{}")

// NewSession turns a record into a session of the usage file and returns the
// day ("YYYY-MM-DD") whose daily total it counts in. The timestamp is
// formatted in loc (nil: time.Local); a zero timestamp means now. An empty
// provider is detected from the model, an empty operation is "chat";
// total_tokens is input + output. Invalid UTF-8 in Model, Provider or
// Operation is replaced by U+FFFD (Validate does not check them), so that the
// session and its breakdown keys are exactly what the file holds. Metadata is encoded as a JSON object of
// strings with sorted keys ({} when there is none).
//
// The session's cost is r.CostUSD (its shortest decimal, exactly): a
// session does not price a record; the trackers do, from their table.
//
// NewSession does not validate r: call r.Validate first.
func NewSession(r *Record, loc *time.Location) (s usagefile.Session, day string) {
	cost, _ := usd.FromFloat(r.CostUSD) // finite: validated
	s = session(r, cost, loc)
	return s, s.Timestamp[:strings.IndexByte(s.Timestamp, 'T')]
}

// session is NewSession with the record's cost given.
func session(r *Record, cost usd.Amount, loc *time.Location) usagefile.Session {
	if loc == nil {
		loc = time.Local
	}
	t := r.Timestamp
	if t.IsZero() {
		t = time.Now()
	}
	var buf [40]byte
	ts := string(t.In(loc).AppendFormat(buf[:0], usagefile.TimestampLayout))
	s := usagefile.Session{
		Timestamp:        ts,
		Model:            validUTF8(r.Model),
		Provider:         validUTF8(r.Provider),
		InputTokens:      r.InputTokens,
		OutputTokens:     r.OutputTokens,
		TotalTokens:      r.InputTokens + r.OutputTokens,
		CostUSD:          cost,
		LatencyMS:        r.LatencyMS,
		Operation:        validUTF8(r.Operation),
		Metadata:         encodeMetadata(r.Metadata),
		CacheReadTokens:  r.CacheReadTokens,
		CacheWriteTokens: r.CacheWriteTokens,
		ReasoningTokens:  r.ReasoningTokens,
		TTFTMS:           r.TimeToFirstTokenMS,
	}
	if s.Provider == "" {
		s.Provider = DetectProvider(s.Model)
	}
	if s.Operation == "" {
		s.Operation = "chat"
	}
	return s
}

// validUTF8 returns s with each run of invalid UTF-8 replaced by U+FFFD; it
// allocates only if there is any.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// encodeMetadata encodes m as a compact JSON object with sorted keys
// (goccy/go-json sorts map keys, as encoding/json does).
func encodeMetadata(m map[string]string) json.RawMessage {
	if len(m) == 0 {
		return emptyMetadata
	}
	b, err := json.Marshal(m)
	if err != nil {
		// A map of strings always encodes; invalid UTF-8 becomes U+FFFD.
		return emptyMetadata
	}
	return b
}
