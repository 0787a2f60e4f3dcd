package tracker_test

// FuzzRecord feeds Record arbitrary field values. Plain `go test ./tracker`
// runs its seeds (f.Add below and testdata/fuzz/FuzzRecord/); .ci/fuzz runs
// the fuzzing engine on them.

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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// fuzzNow is the fixed "now" of the fuzz target: the trackers' clock.
var fuzzNow = time.Date(2026, 11, 26, 14, 3, 7, 512334000, time.UTC)

// FuzzRecord feeds arbitrary field values to Record. A record is rejected
// with an error wrapping ErrInvalidRecord, or accepted, and then, once the
// tracker is closed, the usage file holds exactly it: one session with its
// fields (as encoding/json reads them) and one call with its tokens and cost
// in each breakdown (cost as the tracker's exact amount: CostUSD's shortest
// decimal). The synchronous and the asynchronous tracker must agree on
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
			doc, err := usagefile.ParseDocument(data)
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
		CacheRead    int64             `json:"cache_read_tokens"`
		CacheWrite   int64             `json:"cache_write_tokens"`
		Reasoning    int64             `json:"reasoning_tokens"`
		TTFTMS       float64           `json:"ttft_ms"`
	} `json:"sessions"`
	DailyTotals       map[string]fuzzBucket `json:"daily_totals"`
	ModelBreakdown    map[string]fuzzBucket `json:"model_breakdown"`
	ProviderBreakdown map[string]fuzzBucket `json:"provider_breakdown"`
	LastUpdated       string                `json:"last_updated"`
}

type fuzzBucket struct {
	Tokens     int64   `json:"tokens"`
	Cost       float64 `json:"cost"`
	Calls      int64   `json:"calls"`
	Input      int64   `json:"input_tokens"`
	Output     int64   `json:"output_tokens"`
	CacheRead  int64   `json:"cache_read_tokens"`
	CacheWrite int64   `json:"cache_write_tokens"`
	Reasoning  int64   `json:"reasoning_tokens"`
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
	day := ts.Format(usagefile.DayLayout)
	// The cost is kept as CostUSD's shortest decimal, rounded to the
	// accounting unit (1e-24 USD): a float reader reads its nearest float.
	exactCost, err := usd.FromFloat(r.CostUSD)
	if err != nil {
		t.Fatal(err)
	}
	fileCost := exactCost.Float64()

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
	if s.Timestamp != ts.Format(usagefile.TimestampLayout) || s.Model != model || s.Provider != provider ||
		s.Operation != operation || s.InputTokens != r.InputTokens || s.OutputTokens != r.OutputTokens ||
		s.TotalTokens != r.InputTokens+r.OutputTokens || s.CostUSD != fileCost || s.LatencyMS != r.LatencyMS ||
		s.CacheRead != r.CacheReadTokens || s.CacheWrite != r.CacheWriteTokens || s.Reasoning != r.ReasoningTokens ||
		s.TTFTMS != r.TimeToFirstTokenMS ||
		!maps.Equal(s.Metadata, meta) || len(s.Timestamp) != len(usagefile.TimestampLayout) {
		t.Fatalf("session %+v does not hold record %+v:\n%s", s, r, data)
	}
	if want := fuzzNow.In(loc).Format(usagefile.TimestampLayout); file.LastUpdated != want {
		t.Fatalf("last_updated %q, want %q", file.LastUpdated, want)
	}
	tokens := r.InputTokens + r.OutputTokens
	for _, b := range []struct {
		name string
		m    map[string]fuzzBucket
		key  string
	}{{"daily_totals", file.DailyTotals, day}, {"model_breakdown", file.ModelBreakdown, model}, {"provider_breakdown", file.ProviderBreakdown, provider}} {
		got, ok := b.m[b.key]
		if len(b.m) != 1 || !ok || got.Tokens != tokens || got.Calls != 1 || got.Input != r.InputTokens || got.Output != r.OutputTokens ||
			got.CacheRead != r.CacheReadTokens || got.CacheWrite != r.CacheWriteTokens || got.Reasoning != r.ReasoningTokens ||
			got.Cost != fileCost {
			t.Fatalf("%s = %+v, want only %q with %d tokens, 1 call, cost %v:\n%s", b.name, b.m, b.key, tokens, r.CostUSD, data)
		}
	}

	// The tracker's own exact accounting reads the same file back.
	doc, err := usagefile.ParseDocument(data)
	if err != nil {
		t.Fatalf("ParseDocument of the tracker's file: %v\n%s", err, data)
	}
	want := tracker.Totals{Tokens: tokens, Cost: exactCost, Calls: 1, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens, ReasoningTokens: r.ReasoningTokens}
	for name, m := range map[string]map[string]tracker.Totals{"daily_totals": doc.DailyTotals, "model_breakdown": doc.ModelBreakdown, "provider_breakdown": doc.ProviderBreakdown} {
		for k, got := range m {
			if got != want {
				t.Fatalf("%s[%q] reads back as %+v, want %+v", name, k, got, want)
			}
		}
	}
}
