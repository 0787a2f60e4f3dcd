package tracker_test

// Fuzz targets for what the tracker takes from outside: the bytes of the
// usage file (FuzzLoadDocument) and the records callers pass
// (FuzzRecord). Plain `go test ./tracker` runs their seeds (f.Add below and
// testdata/fuzz/<FuzzName>/); .ci/fuzz runs the fuzzing engine on them.

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goccy "github.com/goccy/go-json"

	"github.com/usagering/usagering/tracker"
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
	exampleDoc, err := tracker.ParseDocument(example)
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
		doc, perr := tracker.ParseDocument(data)
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
func fuzzCheckVerdict(t *testing.T, data []byte, doc *tracker.Document, perr error) {
	t.Helper()
	corrupt, foreign := errors.Is(perr, tracker.ErrCorrupt), errors.Is(perr, tracker.ErrForeignFile)
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
// to bytes that parse back to doc and, unless a bucket cost is beyond the
// exact range of Totals (2^51 nano-dollars), re-encode to the same bytes.
func fuzzCheckRoundTrip(t *testing.T, doc *tracker.Document) {
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
	doc2, err := tracker.ParseDocument(enc)
	if err != nil {
		t.Fatalf("ParseDocument of AppendJSON's output: %v\n%s", err, enc)
	}
	exact := fuzzCostsExact(doc)
	if diff := fuzzDocDiff(fuzzNormalized(doc), doc2, exact); diff != "" {
		t.Fatalf("document changed by encode+parse: %s\nencoded:\n%s", diff, enc)
	}
	enc2, err := doc2.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON of the re-parsed document: %v", err)
	}
	if exact && !bytes.Equal(enc, enc2) {
		t.Fatalf("encode is not a fixed point:\n%s\nthen\n%s", enc, enc2)
	}
}

// fuzzCheckLoad writes data as a usage file (and a backup, per mode) in a
// fresh directory, loads it, and checks the outcome and the files left
// against ParseDocument's verdict on data.
func fuzzCheckLoad(t *testing.T, data []byte, doc *tracker.Document, perr error, mode uint8, goodBackup []byte, goodDoc *tracker.Document) {
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

	res, err := tracker.LoadDocument(path, fuzzNow)
	after := fuzzDirFiles(t, dir)
	want := before // what the directory must hold after the load
	switch {
	case perr == nil:
		if err != nil || res.Source != tracker.SourcePrimary || res.Recoveries != 0 || res.Archived != "" {
			t.Fatalf("parsable file: LoadDocument = %+v, %v; want the primary", res, err)
		}
		if diff := fuzzDocDiff(doc, res.Doc, true); diff != "" {
			t.Fatalf("LoadDocument's document differs from ParseDocument's: %s", diff)
		}
	case errors.Is(perr, tracker.ErrForeignFile):
		if err == nil || !errors.Is(err, tracker.ErrForeignFile) || res.Doc != nil {
			t.Fatalf("foreign file: LoadDocument = %+v, %v; want an ErrForeignFile error", res, err)
		}
	case mode == fuzzGoodBackup: // and the primary is corrupt
		if err != nil || res.Source != tracker.SourceBackup || res.Recoveries != 1 || res.Archived != "" {
			t.Fatalf("corrupt file, good backup: LoadDocument = %+v, %v; want the backup", res, err)
		}
		if diff := fuzzDocDiff(goodDoc, res.Doc, true); diff != "" {
			t.Fatalf("LoadDocument's document differs from the backup's: %s", diff)
		}
	default: // corrupt, no usable backup: archived, and a fresh document
		wantArchived := tracker.CorruptedPath(path, fuzzNow.Unix())
		if err != nil || res.Source != tracker.SourceFreshAfterCorruption || res.Recoveries != 1 || res.Archived != wantArchived {
			t.Fatalf("corrupt file (%v), no good backup: LoadDocument = %+v, %v; want fresh after archiving to %s", perr, res, err, wantArchived)
		}
		if diff := fuzzDocDiff(tracker.NewDocument(), res.Doc, true); diff != "" {
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

// fuzzCostsExact reports whether every bucket cost of d is in the range
// where Totals reads back its own output exactly: |CostNanos| < 2^51.
func fuzzCostsExact(d *tracker.Document) bool {
	for _, m := range []map[string]tracker.Totals{d.DailyTotals, d.ModelBreakdown, d.ProviderBreakdown} {
		for _, b := range m {
			if b.CostNanos >= 1<<51 || b.CostNanos <= -(1<<51) {
				return false
			}
		}
	}
	return true
}

// fuzzNormalized returns what d must read back as after AppendJSON, by the
// encoder's documentation: strings and breakdown keys with U+FFFD for
// invalid UTF-8 (buckets whose keys then coincide added together), empty
// Metadata as {}, nil Extra values as null.
func fuzzNormalized(d *tracker.Document) *tracker.Document {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	n := &tracker.Document{
		Sessions:          make([]tracker.Session, len(d.Sessions)),
		DailyTotals:       map[string]tracker.Totals{},
		ModelBreakdown:    map[string]tracker.Totals{},
		ProviderBreakdown: map[string]tracker.Totals{},
		LastUpdated:       fix(d.LastUpdated),
	}
	for i, s := range d.Sessions {
		s.Timestamp, s.Model, s.Provider, s.Operation = fix(s.Timestamp), fix(s.Model), fix(s.Provider), fix(s.Operation)
		if len(s.Metadata) == 0 {
			s.Metadata = []byte("{}")
		}
		n.Sessions[i] = s
	}
	for _, p := range []struct{ from, to map[string]tracker.Totals }{
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
// compacted; bucket costs exactly if exact is set, else within the few
// nano-dollars Totals may lose beyond 2^51.
func fuzzDocDiff(want, got *tracker.Document, exact bool) string {
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
		want, got map[string]tracker.Totals
	}{
		{"daily_totals", want.DailyTotals, got.DailyTotals},
		{"model_breakdown", want.ModelBreakdown, got.ModelBreakdown},
		{"provider_breakdown", want.ProviderBreakdown, got.ProviderBreakdown},
	} {
		if d := fuzzBucketsDiff(b.want, b.got, exact); d != "" {
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

func fuzzSessionDiff(w, g tracker.Session) string {
	switch {
	case w.Timestamp != g.Timestamp, w.Model != g.Model, w.Provider != g.Provider, w.Operation != g.Operation,
		w.InputTokens != g.InputTokens, w.OutputTokens != g.OutputTokens, w.TotalTokens != g.TotalTokens,
		math.Float64bits(w.CostUSD) != math.Float64bits(g.CostUSD),
		math.Float64bits(w.LatencyMS) != math.Float64bits(g.LatencyMS):
		return fmt.Sprintf("%+v, want %+v", g, w)
	case !fuzzSameJSON(w.Metadata, g.Metadata):
		return fmt.Sprintf("metadata %q, want %q", g.Metadata, w.Metadata)
	}
	return ""
}

func fuzzBucketsDiff(want, got map[string]tracker.Totals, exact bool) string {
	if len(want) != len(got) {
		return fmt.Sprintf("keys %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return fmt.Sprintf("no key %q", k)
		}
		costOK := g.CostNanos == w.CostNanos
		if !exact {
			// Cost() and NanosFromUSD each round once or twice: a relative
			// error of a few 2^-53.
			d := new(big.Int).Sub(big.NewInt(g.CostNanos), big.NewInt(w.CostNanos))
			costOK = d.CmpAbs(big.NewInt(1+fuzzAbs(w.CostNanos)>>50)) <= 0
		}
		if g.Tokens != w.Tokens || g.Calls != w.Calls || !costOK {
			return fmt.Sprintf("%q = %+v, want %+v", k, g, w)
		}
	}
	return ""
}

// fuzzAbs is |n|, with MinInt64 as MaxInt64.
func fuzzAbs(n int64) int64 {
	switch {
	case n == math.MinInt64:
		return math.MaxInt64
	case n < 0:
		return -n
	}
	return n
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

// FuzzRecord feeds arbitrary field values to Record. A record is rejected
// with an error wrapping ErrInvalidRecord, or accepted, and then, once the
// tracker is closed, the usage file holds exactly it: one session with its
// fields (as encoding/json reads them) and one call with its tokens and cost
// in each breakdown (cost as the tracker's exact nano-dollars,
// NanosFromUSD). The synchronous and the asynchronous tracker must agree on
// the verdict and write the same bytes. A zero sec and nsec mean a zero
// Timestamp (stamped with the clock); zone%15 is the trackers' time zone,
// in hours east of UTC (fixed: no daylight saving time); metaKey and
// metaVal, unless both empty, and metaExtra more keys make Metadata.
func FuzzRecord(f *testing.F) {
	f.Add("claude-3-5-sonnet-20241022", "", "", int64(500), int64(37), 0.001, 50.0, int64(1_790_000_000), int64(0), int8(0), "request_id", "req-42", uint8(0))
	f.Add("gpt-4", "openai", "chat", int64(100), int64(50), 0.006, 200.0, int64(0), int64(0), int8(1), "", "", uint8(0))
	f.Add("模型-🚀", "", "embed", int64(0), int64(0), 0.0, 0.0, int64(-62135596800), int64(0), int8(-14), "ключ", "значение", uint8(3))
	f.Add("m\xff\xfe", "p\xc0", "o\xed\xa0\x80", int64(1), int64(2), 1e6, math.MaxFloat64, int64(253402214400), int64(-1), int8(14), "k\xff", "v\xfe", uint8(1))
	f.Add("", "", "", int64(-1), int64(0), math.NaN(), math.Inf(1), int64(-62135596800), int64(-1), int8(-12), "", "", uint8(65))
	f.Add("gemini", "", "", int64(math.MaxInt64), int64(1), math.Nextafter(1e6, 2e6), math.Copysign(0, -1), int64(math.MaxInt64), int64(math.MaxInt64), int8(127), "a", "", uint8(64))
	f.Fuzz(func(t *testing.T, model, provider, operation string, in, out int64, cost, latency float64, sec, nsec int64, zone int8, metaKey, metaVal string, metaExtra uint8) {
		r := tracker.Record{Model: model, Provider: provider, Operation: operation, InputTokens: in, OutputTokens: out, CostUSD: cost, LatencyMS: latency}
		if sec != 0 || nsec != 0 {
			r.Timestamp = time.Unix(sec, nsec)
		}
		if metaKey != "" || metaVal != "" || metaExtra > 0 {
			r.Metadata = map[string]string{}
			if metaKey != "" || metaVal != "" {
				r.Metadata[metaKey] = metaVal
			}
			for i := range int(metaExtra) {
				r.Metadata["k"+strconv.Itoa(i)] = metaVal
			}
		}
		loc := time.UTC
		if h := int(zone) % 15; h != 0 {
			loc = time.FixedZone(fmt.Sprintf("UTC%+d", h), h*3600)
		}
		fuzzCheckRecord(t, r, loc)
	})
}

// Verdicts of fuzzExpectValid.
const (
	fuzzMustReject = iota
	fuzzMustAccept
	fuzzEither // a timestamp within a day of the year 1..9999 bounds
)

// fuzzExpectValid is Record.Validate's documented contract, written
// independently: the rules of its doc comment. Timestamps near the ends of
// the years 1..9999 may go either way (Validate keeps a day of margin so
// that any time zone formats them in those years).
func fuzzExpectValid(r tracker.Record) int {
	tokensOverflow := !new(big.Int).Add(big.NewInt(r.InputTokens), big.NewInt(r.OutputTokens)).IsInt64()
	badAmount := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }
	if r.Model == "" || len(r.Model) > tracker.MaxModelLen || len(r.Provider) > tracker.MaxProviderLen ||
		len(r.Operation) > tracker.MaxOperationLen || r.InputTokens < 0 || r.OutputTokens < 0 || tokensOverflow ||
		badAmount(r.CostUSD) || r.CostUSD > tracker.MaxCostUSD || badAmount(r.LatencyMS) ||
		len(r.Metadata) > tracker.MaxMetadataKeys {
		return fuzzMustReject
	}
	if r.Timestamp.IsZero() {
		return fuzzMustAccept
	}
	switch y := r.Timestamp.UTC().Year(); {
	case y < 1 || y > 9999:
		return fuzzMustReject
	case y == 1 || y == 9999:
		return fuzzEither
	}
	return fuzzMustAccept
}

// fuzzCheckRecord records r with a synchronous and an asynchronous tracker,
// each on its own file, closes them and checks the verdicts and the files.
func fuzzCheckRecord(t *testing.T, r tracker.Record, loc *time.Location) {
	t.Helper()
	dir := t.TempDir()
	opts := []tracker.Option{tracker.WithNoSync(), tracker.WithLocation(loc), tracker.WithClock(func() time.Time { return fuzzNow })}
	syncPath, asyncPath := filepath.Join(dir, "sync.json"), filepath.Join(dir, "async.json")
	st, err := tracker.NewSync(syncPath, opts...)
	if err != nil {
		t.Fatal(err)
	}
	at, err := tracker.New(asyncPath, append(opts, tracker.WithCapacity(2))...)
	if err != nil {
		t.Fatal(err)
	}
	serr := st.Record(r)
	aerr := at.Record(r)
	if err := st.Close(); err != nil {
		t.Fatalf("SyncTracker.Close: %v", err)
	}
	if err := at.Close(); err != nil {
		t.Fatalf("Tracker.Close: %v", err)
	}
	verr := r.Validate()
	for _, e := range []error{serr, aerr} {
		if (e == nil) != (verr == nil) || (e != nil && e.Error() != verr.Error()) {
			t.Fatalf("Record errors: sync %v, async %v; Validate %v", serr, aerr, verr)
		}
	}
	expect := fuzzExpectValid(r)
	switch {
	case verr != nil && !errors.Is(verr, tracker.ErrInvalidRecord):
		t.Fatalf("Validate error does not wrap ErrInvalidRecord: %v", verr)
	case verr != nil && expect == fuzzMustAccept:
		t.Fatalf("valid record %+v rejected: %v", r, verr)
	case verr == nil && expect == fuzzMustReject:
		t.Fatalf("invalid record %+v accepted", r)
	}

	if verr != nil {
		// Nothing recorded: no file, or an empty document.
		for _, path := range []string{syncPath, asyncPath} {
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			doc, err := tracker.ParseDocument(data)
			if err != nil || len(doc.Sessions) != 0 || len(doc.DailyTotals) != 0 || len(doc.ModelBreakdown) != 0 || len(doc.ProviderBreakdown) != 0 {
				t.Fatalf("%s after a rejected record: %v\n%s", path, err, data)
			}
		}
		return
	}

	syncData, err := os.ReadFile(syncPath)
	if err != nil {
		t.Fatal(err)
	}
	asyncData, err := os.ReadFile(asyncPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(syncData, asyncData) {
		t.Fatalf("the trackers wrote different files:\nsync:\n%s\nasync:\n%s", syncData, asyncData)
	}
	fuzzCheckRecordFile(t, r, loc, syncData)
}

// fuzzFile is a usage file as encoding/json reads it, unknown keys
// refused.
type fuzzFile struct {
	Sessions []struct {
		Timestamp    string            `json:"timestamp"`
		Model        string            `json:"model"`
		Provider     string            `json:"provider"`
		InputTokens  int64             `json:"input_tokens"`
		OutputTokens int64             `json:"output_tokens"`
		TotalTokens  int64             `json:"total_tokens"`
		CostUSD      float64           `json:"cost_usd"`
		LatencyMS    float64           `json:"latency_ms"`
		Operation    string            `json:"operation"`
		Metadata     map[string]string `json:"metadata"`
	} `json:"sessions"`
	DailyTotals       map[string]fuzzBucket `json:"daily_totals"`
	ModelBreakdown    map[string]fuzzBucket `json:"model_breakdown"`
	ProviderBreakdown map[string]fuzzBucket `json:"provider_breakdown"`
	LastUpdated       string                `json:"last_updated"`
}

type fuzzBucket struct {
	Tokens int64   `json:"tokens"`
	Cost   float64 `json:"cost"`
	Calls  int64   `json:"calls"`
}

// fuzzCheckRecordFile checks that data, the usage file after recording the
// valid r alone, holds exactly r.
func fuzzCheckRecordFile(t *testing.T, r tracker.Record, loc *time.Location, data []byte) {
	t.Helper()
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	ts := r.Timestamp
	if ts.IsZero() {
		ts = fuzzNow
	}
	ts = ts.In(loc)
	if !r.Timestamp.IsZero() {
		// Accepted: its day is in the years 1..9999 in every time zone.
		for _, off := range []int{-15, 15} {
			if y := r.Timestamp.In(time.FixedZone("", off*3600)).Year(); y < 1 || y > 9999 {
				t.Fatalf("accepted timestamp %v is in the year %d at UTC%+d", r.Timestamp, y, off)
			}
		}
	}
	model := fix(r.Model)
	provider := fix(r.Provider)
	if provider == "" {
		provider = tracker.DetectProvider(model)
	}
	operation := fix(r.Operation)
	if operation == "" {
		operation = "chat"
	}
	// Metadata is encoded as JSON by the encoder, which replaces each
	// invalid byte with U+FFFD (as encoding/json does; ranging over a string
	// decodes each to U+FFFD), not each run as fix does.
	fixEach := func(s string) string { return string([]rune(s)) }
	meta := map[string]string{}
	for k, v := range r.Metadata {
		meta[fixEach(k)] = fixEach(v)
	}
	day := ts.Format(tracker.DayLayout)

	var file fuzzFile
	dec := stdjson.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("encoding/json cannot read the file: %v\n%s", err, data)
	}
	if len(file.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1:\n%s", len(file.Sessions), data)
	}
	s := file.Sessions[0]
	if s.Timestamp != ts.Format(tracker.TimestampLayout) || s.Model != model || s.Provider != provider ||
		s.Operation != operation || s.InputTokens != r.InputTokens || s.OutputTokens != r.OutputTokens ||
		s.TotalTokens != r.InputTokens+r.OutputTokens || s.CostUSD != r.CostUSD || s.LatencyMS != r.LatencyMS ||
		!maps.Equal(s.Metadata, meta) || len(s.Timestamp) != len(tracker.TimestampLayout) {
		t.Fatalf("session %+v does not hold record %+v:\n%s", s, r, data)
	}
	if want := fuzzNow.In(loc).Format(tracker.TimestampLayout); file.LastUpdated != want {
		t.Fatalf("last_updated %q, want %q", file.LastUpdated, want)
	}
	tokens := r.InputTokens + r.OutputTokens
	for _, b := range []struct {
		name string
		m    map[string]fuzzBucket
		key  string
	}{{"daily_totals", file.DailyTotals, day}, {"model_breakdown", file.ModelBreakdown, model}, {"provider_breakdown", file.ProviderBreakdown, provider}} {
		got, ok := b.m[b.key]
		// The cost, in dollars, is within half a nano-dollar of CostUSD
		// (plus float rounding).
		if len(b.m) != 1 || !ok || got.Tokens != tokens || got.Calls != 1 ||
			math.Abs(got.Cost-r.CostUSD) > 0.5e-9+r.CostUSD*0x1p-50 {
			t.Fatalf("%s = %+v, want only %q with %d tokens, 1 call, cost %v:\n%s", b.name, b.m, b.key, tokens, r.CostUSD, data)
		}
	}

	// The tracker's own exact accounting reads the same file back.
	doc, err := tracker.ParseDocument(data)
	if err != nil {
		t.Fatalf("ParseDocument of the tracker's file: %v\n%s", err, data)
	}
	want := tracker.Totals{Tokens: tokens, CostNanos: tracker.NanosFromUSD(r.CostUSD), Calls: 1}
	for name, m := range map[string]map[string]tracker.Totals{"daily_totals": doc.DailyTotals, "model_breakdown": doc.ModelBreakdown, "provider_breakdown": doc.ProviderBreakdown} {
		for k, got := range m {
			if got != want {
				t.Fatalf("%s[%q] reads back as %+v, want %+v", name, k, got, want)
			}
		}
	}
}
