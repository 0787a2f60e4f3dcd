package usagefile_test

// FuzzLoadDocument feeds the loader arbitrary bytes as the usage file.
// Plain `go test ./usagefile` runs its seeds (f.Add below and
// testdata/fuzz/FuzzLoadDocument/); .ci/fuzz runs the fuzzing engine on them.

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	goccy "github.com/goccy/go-json"

	"github.com/usagering/usagering/usagefile"
)

// fuzzNow is the fixed "now" of the fuzz targets: the clock of the trackers
// and the time LoadDocument names an archived file after.
var fuzzNow = time.Date(2026, 11, 26, 14, 3, 7, 512334000, time.UTC)

// Backup modes of FuzzLoadDocument: what is written beside the usage file
// (modulo fuzzBackupModes).
const (
	fuzzNoBackup    = 0 // no backup file
	fuzzGoodBackup  = 1 // a valid usage document (the example file)
	fuzzSameBackup  = 2 // the fuzzed bytes themselves
	fuzzBackupModes = 3
)

// FuzzLoadDocument feeds arbitrary bytes to the loader as the usage file.
// ParseDocument must never panic and must classify the bytes as a document,
// ErrCorrupt or ErrForeignFile, in agreement with encoding/json on whether
// they are JSON at all. A document that parses must round-trip: encode,
// parse again, get the same document (up to the encoder's documented
// normalizations), and encode the same bytes each time. LoadDocument on the
// bytes written as a file must take the path ParseDocument's verdict
// implies: the primary, the backup, or archive-and-start-fresh with the
// corrupt bytes kept byte for byte; a foreign file is an error and is left
// untouched.
func FuzzLoadDocument(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("testdata", "usage.example.json"))
	if err != nil {
		f.Fatal(err)
	}
	exampleDoc, err := usagefile.ParseDocument(example)
	if err != nil {
		f.Fatalf("the example file does not parse: %v", err)
	}
	base := `"sessions":[],"daily_totals":{},"model_breakdown":{},"provider_breakdown":{},"last_updated":""`
	seeds := [][]byte{
		example,
		example[:len(example)/2], // torn write
		nil,                      // empty file
		[]byte(" \n\t"),
		[]byte(`{"foo":1}`),
		[]byte(`[1,2,3]`),
		[]byte(`null`),
		[]byte("{" + base + "}"),
		[]byte("{" + base + "}garbage"),
		[]byte(`{"sessions":[],"daily_totals":{}}`), // missing keys
		[]byte(strings.Replace("{"+base+"}", `"last_updated":""`, `"last_updated":5`, 1)),
		// Deeper nesting, to the decoders' limit of 10000 levels, is in
		// testdata/fuzz.
		[]byte(strings.Replace("{"+base+"}", `"sessions":[]`, `"sessions":[{"metadata":`+strings.Repeat(`{"a":`, 250)+"1"+strings.Repeat("}", 250)+"}]", 1)),
		[]byte(strings.Replace("{"+base+"}", `"daily_totals":{}`,
			`"daily_totals":{"2026-11-26":{"tokens":9223372036854775807,"cost":1e300,"calls":-1}}`, 1)),
		[]byte(strings.Replace("{"+base+"}", `"sessions":[]`,
			`"sessions":[{"model":"模型-🚀","input_tokens":-5,"output_tokens":500.0,"total_tokens":495,"cost_usd":-0,"metadata":null}]`, 1)),
	}
	for i, s := range seeds {
		f.Add(s, uint8(i%fuzzBackupModes))
	}
	f.Fuzz(func(t *testing.T, data []byte, backupMode uint8) {
		doc, perr := usagefile.ParseDocument(data)
		fuzzCheckVerdict(t, data, doc, perr)
		// Indented output is quadratic in the nesting depth (a line per
		// level, indented by the level): a 20 KB file nested 9999 deep
		// encodes to 200 MB. Round-trip only what encodes quickly.
		if perr == nil && fuzzMaxDepth(data) <= fuzzMaxRoundTripDepth {
			fuzzCheckRoundTrip(t, doc)
		}
		fuzzCheckLoad(t, data, doc, perr, backupMode%fuzzBackupModes, example, exampleDoc)
	})
}

// fuzzMaxRoundTripDepth is the deepest nesting FuzzLoadDocument
// round-trips.
const fuzzMaxRoundTripDepth = 256

// fuzzMaxDepth returns the deepest nesting of objects and lists in data,
// read as JSON (strings skipped).
func fuzzMaxDepth(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// fuzzCheckVerdict checks that ParseDocument's verdict is exactly one of a
// document, ErrCorrupt and ErrForeignFile, and agrees with what
// encoding/json reads: bytes that are not JSON are corrupt; JSON that is
// not an object, or an object with none of the five keys, is foreign; an
// object with some of them is a document or corrupt.
func fuzzCheckVerdict(t *testing.T, data []byte, doc *usagefile.Document, perr error) {
	t.Helper()
	corrupt, foreign := errors.Is(perr, usagefile.ErrCorrupt), errors.Is(perr, usagefile.ErrForeignFile)
	switch {
	case perr == nil && doc == nil:
		t.Fatal("ParseDocument returned neither a document nor an error")
	case perr != nil && doc != nil:
		t.Fatalf("ParseDocument returned a document and the error %v", perr)
	case perr != nil && corrupt == foreign:
		t.Fatalf("ParseDocument error wraps ErrCorrupt %v and ErrForeignFile %v: %v", corrupt, foreign, perr)
	}
	var top map[string]stdjson.RawMessage
	switch first, _ := fuzzFirstNonSpace(data); {
	case !stdjson.Valid(data):
		if !corrupt {
			t.Fatalf("ParseDocument verdict %v, want ErrCorrupt, on bytes encoding/json rejects as JSON", perr)
		}
	case first != '{' || stdjson.Unmarshal(data, &top) != nil:
		if !foreign {
			t.Fatalf("ParseDocument verdict %v, want ErrForeignFile, on JSON that is not an object", perr)
		}
	default:
		ours := false
		for _, k := range []string{"sessions", "daily_totals", "model_breakdown", "provider_breakdown", "last_updated"} {
			_, ok := top[k]
			ours = ours || ok
		}
		if ours == foreign {
			t.Fatalf("ParseDocument verdict %v on an object with keys %q", perr, slices.Sorted(maps.Keys(top)))
		}
	}
	if doc != nil && (doc.Sessions == nil || doc.DailyTotals == nil || doc.ModelBreakdown == nil || doc.ProviderBreakdown == nil) {
		t.Fatalf("parsed document has a nil field: %+v", doc)
	}
}

func fuzzFirstNonSpace(b []byte) (byte, bool) {
	i := bytes.IndexFunc(b, func(r rune) bool { return r != ' ' && r != '\t' && r != '\n' && r != '\r' })
	if i < 0 {
		return 0, false
	}
	return b[i], true
}

// fuzzCheckRoundTrip checks that doc (parsed) encodes, deterministically,
// to bytes that parse back to doc and re-encode to the same bytes.
func fuzzCheckRoundTrip(t *testing.T, doc *usagefile.Document) {
	t.Helper()
	enc, err := doc.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON of a parsed document: %v", err)
	}
	prefix := []byte("prefix")
	again, err := doc.AppendJSON(prefix)
	if err != nil || !bytes.HasPrefix(again, prefix) || !bytes.Equal(again[len(prefix):], enc) {
		t.Fatalf("second AppendJSON differs (err %v):\n%s\nthen\n%s", err, enc, again)
	}
	if !stdjson.Valid(enc) {
		t.Fatalf("AppendJSON wrote bytes encoding/json rejects:\n%s", enc)
	}
	doc2, err := usagefile.ParseDocument(enc)
	if err != nil {
		t.Fatalf("ParseDocument of AppendJSON's output: %v\n%s", err, enc)
	}
	if diff := fuzzDocDiff(fuzzNormalized(doc), doc2); diff != "" {
		t.Fatalf("document changed by encode+parse: %s\nencoded:\n%s", diff, enc)
	}
	enc2, err := doc2.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON of the re-parsed document: %v", err)
	}
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("encode is not a fixed point:\n%s\nthen\n%s", enc, enc2)
	}
}

// fuzzCheckLoad writes data as a usage file (and a backup, per mode) in a
// fresh directory, loads it, and checks the outcome and the files left
// against ParseDocument's verdict on data.
func fuzzCheckLoad(t *testing.T, data []byte, doc *usagefile.Document, perr error, mode uint8, goodBackup []byte, goodDoc *usagefile.Document) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "usage.json")
	fuzzWriteFile(t, path, data)
	switch mode {
	case fuzzGoodBackup:
		fuzzWriteFile(t, usagefile.BackupPath(path), goodBackup)
	case fuzzSameBackup:
		fuzzWriteFile(t, usagefile.BackupPath(path), data)
	}
	before := fuzzDirFiles(t, dir)

	res, err := usagefile.Load(path, fuzzNow)
	after := fuzzDirFiles(t, dir)
	want := before // what the directory must hold after the load
	switch {
	case perr == nil:
		if err != nil || res.Source != usagefile.SourcePrimary || res.Recoveries != 0 || res.Archived != "" {
			t.Fatalf("parsable file: LoadDocument = %+v, %v; want the primary", res, err)
		}
		if diff := fuzzDocDiff(doc, res.Doc); diff != "" {
			t.Fatalf("LoadDocument's document differs from ParseDocument's: %s", diff)
		}
	case errors.Is(perr, usagefile.ErrForeignFile):
		if err == nil || !errors.Is(err, usagefile.ErrForeignFile) || res.Doc != nil {
			t.Fatalf("foreign file: LoadDocument = %+v, %v; want an ErrForeignFile error", res, err)
		}
	case mode == fuzzGoodBackup: // and the primary is corrupt
		if err != nil || res.Source != usagefile.SourceBackup || res.Recoveries != 1 || res.Archived != "" {
			t.Fatalf("corrupt file, good backup: LoadDocument = %+v, %v; want the backup", res, err)
		}
		if diff := fuzzDocDiff(goodDoc, res.Doc); diff != "" {
			t.Fatalf("LoadDocument's document differs from the backup's: %s", diff)
		}
	default: // corrupt, no usable backup: archived, and a fresh document
		wantArchived := usagefile.CorruptedPath(path, fuzzNow.Unix())
		if err != nil || res.Source != usagefile.SourceFreshAfterCorruption || res.Recoveries != 1 || res.Archived != wantArchived {
			t.Fatalf("corrupt file (%v), no good backup: LoadDocument = %+v, %v; want fresh after archiving to %s", perr, res, err, wantArchived)
		}
		if diff := fuzzDocDiff(usagefile.NewDocument(), res.Doc); diff != "" {
			t.Fatalf("the fresh document is not empty: %s", diff)
		}
		want = maps.Clone(before)
		delete(want, filepath.Base(path))
		want[filepath.Base(wantArchived)] = string(data)
	}
	if diff := fuzzFilesDiff(want, after); diff != "" {
		t.Fatalf("LoadDocument (%s, %v) left the directory wrong: %s", res.Source, err, diff)
	}
}

// fuzzNormalized returns what d must read back as after AppendJSON, by the
// encoder's documentation: strings and breakdown keys with U+FFFD for
// invalid UTF-8 (buckets whose keys then coincide added together), empty
// Metadata as {}, nil Extra values as null.
func fuzzNormalized(d *usagefile.Document) *usagefile.Document {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	n := &usagefile.Document{
		Sessions:          make([]usagefile.Session, len(d.Sessions)),
		DailyTotals:       map[string]usagefile.Totals{},
		ModelBreakdown:    map[string]usagefile.Totals{},
		ProviderBreakdown: map[string]usagefile.Totals{},
		LastUpdated:       fix(d.LastUpdated),
	}
	for i, s := range d.Sessions {
		s.Timestamp, s.Model, s.Provider, s.Operation = fix(s.Timestamp), fix(s.Model), fix(s.Provider), fix(s.Operation)
		if len(s.Metadata) == 0 {
			s.Metadata = []byte("{}")
		}
		n.Sessions[i] = s
	}
	for _, p := range []struct{ from, to map[string]usagefile.Totals }{
		{d.DailyTotals, n.DailyTotals}, {d.ModelBreakdown, n.ModelBreakdown}, {d.ProviderBreakdown, n.ProviderBreakdown},
	} {
		for k, b := range p.from {
			sum := p.to[fix(k)]
			sum.Add(b)
			p.to[fix(k)] = sum
		}
	}
	for k, v := range d.Extra {
		if n.Extra == nil {
			n.Extra = map[string]goccy.RawMessage{}
		}
		if v == nil {
			v = []byte("null")
		}
		n.Extra[fix(k)] = v
	}
	return n
}

// fuzzDocDiff describes the first difference between want and got, or
// returns "". Floats compare bit for bit; JSON values (Metadata, Extra)
// compacted; amounts and counts exactly.
func fuzzDocDiff(want, got *usagefile.Document) string {
	if got == nil {
		return "nil document"
	}
	if len(want.Sessions) != len(got.Sessions) {
		return fmt.Sprintf("%d sessions, want %d", len(got.Sessions), len(want.Sessions))
	}
	for i := range want.Sessions {
		if d := fuzzSessionDiff(want.Sessions[i], got.Sessions[i]); d != "" {
			return fmt.Sprintf("sessions[%d]: %s", i, d)
		}
	}
	for _, b := range []struct {
		name      string
		want, got map[string]usagefile.Totals
	}{
		{"daily_totals", want.DailyTotals, got.DailyTotals},
		{"model_breakdown", want.ModelBreakdown, got.ModelBreakdown},
		{"provider_breakdown", want.ProviderBreakdown, got.ProviderBreakdown},
	} {
		if d := fuzzBucketsDiff(b.want, b.got); d != "" {
			return b.name + ": " + d
		}
	}
	if want.LastUpdated != got.LastUpdated {
		return fmt.Sprintf("last_updated %q, want %q", got.LastUpdated, want.LastUpdated)
	}
	if len(want.Extra) != len(got.Extra) {
		return fmt.Sprintf("extra keys %q, want %q", slices.Sorted(maps.Keys(got.Extra)), slices.Sorted(maps.Keys(want.Extra)))
	}
	for k, w := range want.Extra {
		g, ok := got.Extra[k]
		if !ok || !fuzzSameJSON(w, g) {
			return fmt.Sprintf("extra %q = %q (present %v), want %q", k, g, ok, w)
		}
	}
	return ""
}

func fuzzSessionDiff(w, g usagefile.Session) string {
	switch {
	case w.Timestamp != g.Timestamp, w.Model != g.Model, w.Provider != g.Provider, w.Operation != g.Operation,
		w.InputTokens != g.InputTokens, w.OutputTokens != g.OutputTokens, w.TotalTokens != g.TotalTokens,
		w.CostUSD != g.CostUSD, w.CacheReadTokens != g.CacheReadTokens, w.CacheWriteTokens != g.CacheWriteTokens,
		w.ReasoningTokens != g.ReasoningTokens, math.Float64bits(w.TTFTMS) != math.Float64bits(g.TTFTMS),
		math.Float64bits(w.LatencyMS) != math.Float64bits(g.LatencyMS):
		return fmt.Sprintf("%+v, want %+v", g, w)
	case !fuzzSameJSON(w.Metadata, g.Metadata):
		return fmt.Sprintf("metadata %q, want %q", g.Metadata, w.Metadata)
	}
	return ""
}

func fuzzBucketsDiff(want, got map[string]usagefile.Totals) string {
	if len(want) != len(got) {
		return fmt.Sprintf("keys %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Sprintf("no key %q", k)
		}
		if g != w {
			return fmt.Sprintf("%q = %+v, want %+v", k, g, w)
		}
	}
	return ""
}

// fuzzSameJSON reports whether a and b are the same JSON value up to white
// space (or the same bytes, if they are not JSON).
func fuzzSameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if stdjson.Compact(&ca, a) != nil || stdjson.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func fuzzWriteFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fuzzDirFiles returns the regular files of dir: name → content.
func fuzzDirFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := make(map[string]string, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

// fuzzFilesDiff describes how the files got differ from want, or returns
// "".
func fuzzFilesDiff(want, got map[string]string) string {
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
		return fmt.Sprintf("files %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if want[name] != got[name] {
			return fmt.Sprintf("%s holds %q, want %q", name, got[name], want[name])
		}
	}
	return ""
}
