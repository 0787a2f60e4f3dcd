package usagefile_test

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	goccy "github.com/goccy/go-json"
	"pgregory.net/rapid"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

const goldenExamplePath = "testdata/usage.example.json"

// decodeGeneric decodes JSON with encoding/json into a generic tree; with
// useNumber, numbers keep their text (so 50.0 ≠ 50).
func decodeGeneric(t testing.TB, data []byte, useNumber bool) any {
	t.Helper()
	dec := stdjson.NewDecoder(bytes.NewReader(data))
	if useNumber {
		dec.UseNumber()
	}
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json cannot decode: %v\n%s", err, data)
	}
	if dec.More() {
		t.Fatalf("trailing data after the document")
	}
	return v
}

func encodeDoc(t testing.TB, d *usagefile.Document) []byte {
	t.Helper()
	b, err := d.AppendJSON(nil)
	if err != nil {
		t.Fatalf("AppendJSON: %v", err)
	}
	return b
}

func TestGoldenExampleParses(t *testing.T) {
	data, err := os.ReadFile(goldenExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := usagefile.ParseDocument(data)
	if err != nil {
		t.Fatalf("ParseDocument(example): %v", err)
	}
	if len(d.Sessions) != 2 {
		t.Fatalf("got %d sessions, want 2", len(d.Sessions))
	}
	want0 := usagefile.Session{
		Timestamp: "2026-11-26T14:03:07.512334", Model: "claude-3-5-sonnet-20241022", Provider: "anthropic",
		InputTokens: 500, OutputTokens: 37, TotalTokens: 537, CostUSD: mustAmount(t, "0.001"), LatencyMS: 50, Operation: "chat",
		Metadata: stdjson.RawMessage("{}"),
	}
	if !reflect.DeepEqual(d.Sessions[0], want0) {
		t.Errorf("sessions[0] = %+v\nwant %+v", d.Sessions[0], want0)
	}
	if got := string(d.Sessions[1].Metadata); got != `{"request_id": "req-42"}` {
		t.Errorf("sessions[1].metadata = %s", got)
	}
	wantBuckets := map[string]map[string]usagefile.Totals{
		"daily":    {"2026-11-25": {Tokens: 1200, Cost: usd.FromNanos(12500000), Calls: 3}, "2026-11-26": {Tokens: 687, Cost: usd.FromNanos(7000000), Calls: 2}},
		"model":    {"claude-3-5-sonnet-20241022": {Tokens: 1737, Cost: usd.FromNanos(13500000), Calls: 4}, "gpt-4": {Tokens: 150, Cost: usd.FromNanos(6000000), Calls: 1}},
		"provider": {"anthropic": {Tokens: 1737, Cost: usd.FromNanos(13500000), Calls: 4}, "openai": {Tokens: 150, Cost: usd.FromNanos(6000000), Calls: 1}},
	}
	gotBuckets := map[string]map[string]usagefile.Totals{"daily": d.DailyTotals, "model": d.ModelBreakdown, "provider": d.ProviderBreakdown}
	if !reflect.DeepEqual(gotBuckets, wantBuckets) {
		t.Errorf("buckets = %v\nwant %v", gotBuckets, wantBuckets)
	}
	if d.LastUpdated != "2026-11-26T14:03:07.521004" {
		t.Errorf("last_updated = %q", d.LastUpdated)
	}
	if d.Extra != nil {
		t.Errorf("Extra = %v, want nil", d.Extra)
	}
}

// withoutZeroAdditiveKeys removes from a decoded usage file usagering's
// additive keys of sessions and buckets, checking that each is present and
// 0 (a file written from the original's data has nothing to say in them).
func withoutZeroAdditiveKeys(t *testing.T, tree any) any {
	t.Helper()
	top := tree.(map[string]any)
	strip := func(where string, obj map[string]any, keys []string) {
		for _, k := range keys {
			v, ok := obj[k]
			if !ok || v != float64(0) {
				t.Errorf("%s: %q = %v (present %v), want 0", where, k, v, ok)
			}
			delete(obj, k)
		}
	}
	for i, s := range top["sessions"].([]any) {
		strip(fmt.Sprintf("sessions[%d]", i), s.(map[string]any), []string{"cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "ttft_ms"})
	}
	for _, b := range []string{"daily_totals", "model_breakdown", "provider_breakdown"} {
		for k, v := range top[b].(map[string]any) {
			strip(b+"."+k, v.(map[string]any), []string{"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"})
		}
	}
	return tree
}

// Re-encoding the example preserves every key, type and value: the generic
// trees (numbers as float64, as encoding/json decodes them) are equal once
// usagering's additive keys, all 0, are set aside. The number text may
// change (50.0 is written as 50), not the number.
func TestGoldenExampleRoundTrip(t *testing.T) {
	data, err := os.ReadFile(goldenExamplePath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := usagefile.ParseDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	out := encodeDoc(t, d)
	if want, got := decodeGeneric(t, data, false), withoutZeroAdditiveKeys(t, decodeGeneric(t, out, false)); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip changed the document\ngot:\n%s", out)
	}
	// And our output is a fixed point.
	d2, err := usagefile.ParseDocument(out)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	if out2 := encodeDoc(t, d2); !bytes.Equal(out2, out) {
		t.Errorf("second encoding differs:\n%s\n---\n%s", out, out2)
	}
}

func sampleDocumentForTest() *usagefile.Document {
	d := usagefile.NewDocument()
	for _, x := range []struct {
		s   usagefile.Session
		day string
	}{
		{usagefile.Session{Timestamp: "2026-11-25T23:30:00.000000", Model: "claude-3-5-sonnet-20241022", Provider: "anthropic",
			InputTokens: 500, OutputTokens: 37, TotalTokens: 537, CostUSD: usd.FromNanos(1_000_000), LatencyMS: 50, Operation: "chat",
			Metadata: stdjson.RawMessage(`{}`), CacheReadTokens: 400, CacheWriteTokens: 50, ReasoningTokens: 7, TTFTMS: 12.5}, "2026-11-25"},
		{usagefile.Session{Timestamp: "2026-11-26T00:30:00.000000", Model: "gpt-4", Provider: "openai",
			InputTokens: 100, OutputTokens: 50, TotalTokens: 150, CostUSD: usd.FromNanos(6_000_000), LatencyMS: 200.25, Operation: "chat",
			Metadata: stdjson.RawMessage(`{"emoji":"😀","request_id":"req-42","user":"zoë \"quoted\"\n"}`)}, "2026-11-26"},
		{usagefile.Session{Timestamp: "2026-11-26T01:30:00.000000", Model: "Gemini-Pro", Provider: "google",
			InputTokens: 7, TotalTokens: 7, CostUSD: usd.FromNanos(10_000), LatencyMS: 0.5, Operation: "embed",
			Metadata: stdjson.RawMessage(`{}`)}, "2026-11-26"},
		{usagefile.Session{Timestamp: "2026-11-26T02:30:00.000000", Model: "modèle-测试", Provider: "unknown",
			InputTokens: 1, OutputTokens: 1, TotalTokens: 2, CostUSD: usd.FromNanos(12_000_000_000), LatencyMS: 1e16, Operation: "chat",
			Metadata: stdjson.RawMessage(`{}`)}, "2026-11-26"},
	} {
		d.AddSession(x.s, x.day, 1000)
	}
	d.LastUpdated = "2026-11-26T02:30:00.000000"
	d.Extra = map[string]stdjson.RawMessage{"zz_note": stdjson.RawMessage(`{"by":"python","n":[1,2.5]}`), "aa_version": stdjson.RawMessage(`3`)}
	return d
}

// A document we write has the five required keys with the right JSON types,
// in the original's order, then the extra keys sorted.
func TestWrittenDocumentShape(t *testing.T) {
	for name, d := range map[string]*usagefile.Document{"new": usagefile.NewDocument(), "zero value": {}, "sample": sampleDocumentForTest()} {
		out := encodeDoc(t, d)
		top, ok := decodeGeneric(t, out, false).(map[string]any)
		if !ok {
			t.Fatalf("%s: top level is not an object:\n%s", name, out)
		}
		checks := map[string]func(any) bool{
			"sessions":           func(v any) bool { _, ok := v.([]any); return ok },
			"daily_totals":       func(v any) bool { _, ok := v.(map[string]any); return ok },
			"model_breakdown":    func(v any) bool { _, ok := v.(map[string]any); return ok },
			"provider_breakdown": func(v any) bool { _, ok := v.(map[string]any); return ok },
			"last_updated":       func(v any) bool { _, ok := v.(string); return ok },
		}
		for k, check := range checks {
			if v, ok := top[k]; !ok || !check(v) {
				t.Errorf("%s: key %q missing or of the wrong type (%T)", name, k, v)
			}
		}
		wantKeys := 5 + len(d.Extra)
		if len(top) != wantKeys {
			t.Errorf("%s: %d keys, want %d", name, len(top), wantKeys)
		}
	}
	out := string(encodeDoc(t, usagefile.NewDocument()))
	want := "{\n  \"sessions\": [],\n  \"daily_totals\": {},\n  \"model_breakdown\": {},\n  \"provider_breakdown\": {},\n  \"last_updated\": \"\"\n}"
	if out != want {
		t.Errorf("empty document:\n%s\nwant\n%s", out, want)
	}
	out = string(encodeDoc(t, sampleDocumentForTest()))
	order := []string{`"sessions"`, `"daily_totals"`, `"model_breakdown"`, `"provider_breakdown"`, `"last_updated"`, `"aa_version"`, `"zz_note"`}
	last := -1
	for _, k := range order {
		i := strings.Index(out, "\n  "+k+": ")
		if i <= last {
			t.Fatalf("key %s out of order in\n%s", k, out)
		}
		last = i
	}
}

func TestParseDocumentErrors(t *testing.T) {
	good := `"sessions": [], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""`
	corrupt := []struct{ name, data, mention string }{
		{"empty", "", "empty"},
		{"white space", " \n\t", "empty"},
		{"NUL bytes", "\x00\x00\x00", "not valid JSON"},
		{"truncated", `{"sessions": [{"timestamp": "2026-11-26T14:0`, "not valid JSON"},
		{"truncated after object", `{` + good, "not valid JSON"},
		{"trailing garbage", `{` + good + `} x`, "not valid JSON"},
		{"garbage", "hello", "not valid JSON"},
		{"sessions not a list", `{"sessions": {}, "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"sessions" is an object, want a list`},
		{"sessions null", `{"sessions": null, "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"sessions" is null`},
		{"daily_totals a list", `{"sessions": [], "daily_totals": [], "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"daily_totals" is a list, want an object`},
		{"model_breakdown a string", `{"sessions": [], "daily_totals": {}, "model_breakdown": "x", "provider_breakdown": {}, "last_updated": ""}`, `"model_breakdown" is a string`},
		{"provider_breakdown a number", `{"sessions": [], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": 3, "last_updated": ""}`, `"provider_breakdown" is a number`},
		{"last_updated a number", `{"sessions": [], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": 1}`, `"last_updated" is a number, want a string`},
		{"missing key", `{"sessions": [], "daily_totals": {}, "model_breakdown": {}, "last_updated": ""}`, `missing key(s) "provider_breakdown"`},
		{"missing keys", `{"sessions": []}`, `"daily_totals", "model_breakdown"`},
		{"session not an object", `{"sessions": [1], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"sessions"`},
		{"session tokens a string", `{"sessions": [{"input_tokens": "5"}], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"sessions"`},
		{"session tokens fractional", `{"sessions": [{}, {"output_tokens": 2.5}], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `sessions[1].output_tokens: not an integer`},
		{"bucket missing cost", `{"sessions": [], "daily_totals": {"2026-11-26": {"tokens": 1, "calls": 1}}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `daily_totals["2026-11-26"]: missing "cost"`},
		{"bucket cost a string", `{"sessions": [], "daily_totals": {}, "model_breakdown": {"m": {"tokens": 1, "cost": "0.1", "calls": 1}}, "provider_breakdown": {}, "last_updated": ""}`, `"model_breakdown"`},
		{"bucket cost null", `{"sessions": [], "daily_totals": {}, "model_breakdown": {}, "provider_breakdown": {"p": {"tokens": 1, "cost": null, "calls": 1}}, "last_updated": ""}`, `"provider_breakdown"`},
		{"bucket calls fractional", `{"sessions": [], "daily_totals": {}, "model_breakdown": {"m": {"tokens": 1, "cost": 0.1, "calls": 1.5}}, "provider_breakdown": {}, "last_updated": ""}`, "not an integer"},
		{"bucket not an object", `{"sessions": [], "daily_totals": {"d": 3}, "model_breakdown": {}, "provider_breakdown": {}, "last_updated": ""}`, `"daily_totals"`},
	}
	for _, tc := range corrupt {
		d, err := usagefile.ParseDocument([]byte(tc.data))
		if !errors.Is(err, usagefile.ErrCorrupt) || errors.Is(err, usagefile.ErrForeignFile) || d != nil {
			t.Errorf("%s: ParseDocument = %v, %v; want ErrCorrupt", tc.name, d, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: error %q does not mention %q", tc.name, err, tc.mention)
		}
	}
	foreign := []struct{ name, data string }{
		{"list", `[1,2]`},
		{"object of other keys", `{"name":"x"}`},
		{"empty object", `{}`},
		{"string", `"usage"`},
		{"number", ` 42 `},
		{"null", `null`},
	}
	for _, tc := range foreign {
		d, err := usagefile.ParseDocument([]byte(tc.data))
		if !errors.Is(err, usagefile.ErrForeignFile) || errors.Is(err, usagefile.ErrCorrupt) || d != nil {
			t.Errorf("%s: ParseDocument = %v, %v; want ErrForeignFile", tc.name, d, err)
		}
	}
}

func TestParseDocumentLenient(t *testing.T) {
	// As Python may write it: no microseconds, tokens as floats, metadata of
	// any JSON, extra top-level keys, extra bucket keys, unusual spacing.
	data := `{"sessions":[{"timestamp":"2026-11-26T14:03:07","model":"gpt-4","provider":"openai","input_tokens":100.0,
	"output_tokens":5e1,"total_tokens":150,"cost_usd":0.006,"latency_ms":200,"operation":"chat","metadata":{"n":[1,{"x":null}],"ok":true}}],
	"daily_totals":{"2026-11-26":{"tokens":150.0,"cost":0.006,"calls":1,"note":"ignored"}},
	"model_breakdown":{"gpt-4":{"calls":1,"cost":6e-3,"tokens":150}},"provider_breakdown":{},
	"last_updated":"2026-11-26T14:03:07","schema":{"v":2},"owner":"ops"}`
	d, err := usagefile.ParseDocument([]byte(data))
	if err != nil {
		t.Fatalf("ParseDocument: %v", err)
	}
	s := d.Sessions[0]
	if s.Timestamp != "2026-11-26T14:03:07" || s.InputTokens != 100 || s.OutputTokens != 50 || s.TotalTokens != 150 {
		t.Errorf("session = %+v", s)
	}
	if got := d.DailyTotals["2026-11-26"]; got != (usagefile.Totals{Tokens: 150, Cost: usd.FromNanos(6000000), Calls: 1}) {
		t.Errorf("daily total = %+v", got)
	}
	if got := d.ModelBreakdown["gpt-4"]; got != (usagefile.Totals{Tokens: 150, Cost: usd.FromNanos(6000000), Calls: 1}) {
		t.Errorf("model total = %+v", got)
	}
	if len(d.Extra) != 2 || string(d.Extra["owner"]) != `"ops"` {
		t.Errorf("Extra = %q", d.Extra)
	}
	out := encodeDoc(t, d)
	back := decodeGeneric(t, out, false).(map[string]any)
	orig := decodeGeneric(t, []byte(data), false).(map[string]any)
	for _, k := range []string{"schema", "owner", "last_updated"} {
		if !reflect.DeepEqual(back[k], orig[k]) {
			t.Errorf("key %q: %v, want %v", k, back[k], orig[k])
		}
	}
	gotMeta := back["sessions"].([]any)[0].(map[string]any)["metadata"]
	wantMeta := orig["sessions"].([]any)[0].(map[string]any)["metadata"]
	if !reflect.DeepEqual(gotMeta, wantMeta) {
		t.Errorf("metadata = %v, want %v", gotMeta, wantMeta)
	}
}

func TestAppendJSONErrorsLeaveDstUnchanged(t *testing.T) {
	bad := []struct {
		name    string
		mutate  func(d *usagefile.Document)
		mention string
	}{
		{"NaN latency", func(d *usagefile.Document) { d.Sessions[1].LatencyMS = math.NaN() }, "sessions[1].latency_ms"},
		{"Inf latency", func(d *usagefile.Document) { d.Sessions[2].LatencyMS = math.Inf(1) }, "sessions[2].latency_ms"},
		{"-Inf time to first token", func(d *usagefile.Document) { d.Sessions[0].TTFTMS = math.Inf(-1) }, "sessions[0].ttft_ms"},
		{"invalid metadata", func(d *usagefile.Document) { d.Sessions[0].Metadata = stdjson.RawMessage(`{"a":`) }, "sessions[0].metadata"},
		{"trailing metadata", func(d *usagefile.Document) { d.Sessions[3].Metadata = stdjson.RawMessage(`{}x`) }, "sessions[3].metadata"},
		{"invalid extra", func(d *usagefile.Document) { d.Extra["x"] = stdjson.RawMessage(`nope`) }, `"x"`},
	}
	for _, tc := range bad {
		d := sampleDocumentForTest()
		tc.mutate(d)
		dst := make([]byte, 0, 1<<16)
		dst = append(dst, "prefix"...)
		got, err := d.AppendJSON(dst)
		if err == nil || string(got) != "prefix" {
			t.Errorf("%s: AppendJSON = %q…, %v; want an error and dst unchanged", tc.name, got[:min(len(got), 20)], err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "usagefile: encode: ") || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("%s: error %q does not mention %s", tc.name, err, tc.mention)
		}
	}
}

// 10,000,000 records of $0.001 add up to exactly $10,000, in memory and in
// the written file's bucket.
func TestExactCostSum(t *testing.T) {
	var total usagefile.Totals
	one := usagefile.Totals{Tokens: 1, Cost: usd.FromNanos(1_000_000), Calls: 1}
	var floatSum float64
	for i := 0; i < 10_000_000; i++ {
		total.Add(one)
		floatSum += 0.001
	}
	if total.Cost.String() != "10000" || total.Calls != 10_000_000 {
		t.Fatalf("total = %+v; want exactly 10000", total)
	}
	t.Logf("a float64 sum of the same gives %v", floatSum)

	d := usagefile.NewDocument()
	d.DailyTotals["2026-11-26"] = total
	out := encodeDoc(t, d)
	bucket := decodeGeneric(t, out, true).(map[string]any)["daily_totals"].(map[string]any)["2026-11-26"].(map[string]any)
	if c := bucket["cost"].(stdjson.Number); c != "10000" {
		t.Errorf("written cost %s, want 10000", c)
	}
	back, err := usagefile.ParseDocument(out)
	if err != nil || back.DailyTotals["2026-11-26"] != total {
		t.Errorf("read back %+v, %v; want %+v", back.DailyTotals, err, total)
	}
}

func TestTotalsJSONRoundTripThroughADocument(t *testing.T) {
	for _, cost := range []string{"0", "0.0135", "0.001", "0.0125", "0.000006749999999999999", "12", "123456.789123456", "0.30000000000000004"} {
		in := usagefile.Totals{Tokens: 1737, Cost: mustAmount(t, cost), Calls: 4, InputTokens: 1700, OutputTokens: 37, CacheReadTokens: 1000, ReasoningTokens: 30}
		d := usagefile.NewDocument()
		d.ModelBreakdown["m"] = in
		d2, err := usagefile.ParseDocument(encodeDoc(t, d))
		if err != nil || d2.ModelBreakdown["m"] != in {
			t.Fatalf("%s: document round trip: %v, %+v, want %+v", cost, err, d2.ModelBreakdown["m"], in)
		}
	}
}

// providerOf is the provider the sessions of these tests name.
var providerOf = map[string]string{"claude-3": "anthropic", "gpt-4": "openai", "gemini-pro": "google", "x": "unknown"}

func sessionForTest(i int, model string, cost usd.Amount) usagefile.Session {
	return usagefile.Session{Timestamp: fmt.Sprintf("2026-11-26T00:00:00.%06d", i), Model: model, Provider: providerOf[model],
		InputTokens: int64(i), OutputTokens: 1, TotalTokens: int64(i) + 1, CostUSD: cost, Operation: "chat"}
}

func TestAddSessionTrimsInOrder(t *testing.T) {
	for _, max := range []int{1, 2, 3, 7, 1000} {
		d := usagefile.NewDocument()
		n := 5*max + 3
		for i := 0; i < n; i++ {
			d.AddSession(sessionForTest(i, "gpt-4", usd.FromNanos(1_000_000)), "2026-11-26", max)
			want := min(i+1, max)
			if len(d.Sessions) != want {
				t.Fatalf("max %d: after %d adds, %d sessions, want %d", max, i+1, len(d.Sessions), want)
			}
			for j, s := range d.Sessions {
				if wantIn := int64(i + 1 - want + j); s.InputTokens != wantIn {
					t.Fatalf("max %d: after %d adds, sessions[%d] is #%d, want #%d", max, i+1, j, s.InputTokens, wantIn)
				}
			}
		}
		if got := d.DailyTotals["2026-11-26"]; got.Calls != int64(n) || got.Cost != usd.FromNanos(int64(n)*1_000_000) {
			t.Fatalf("max %d: daily total %+v", max, got)
		}
	}
	d := usagefile.NewDocument()
	for i := 0; i < 10; i++ {
		d.AddSession(sessionForTest(i, "m", usd.Amount{}), "d", 0)
	}
	if len(d.Sessions) != 10 {
		t.Fatalf("maxSessions 0 kept %d of 10", len(d.Sessions))
	}
}

func TestAddSessionSteadyStateDoesNotAllocate(t *testing.T) {
	d := usagefile.NewDocument()
	s := sessionForTest(1, "claude-3-5-sonnet", usd.FromNanos(1_000_000))
	for i := 0; i < 3000; i++ {
		d.AddSession(s, "2026-11-26", 1000)
	}
	allocs := testing.AllocsPerRun(5000, func() { d.AddSession(s, "2026-11-26", 1000) })
	if allocs != 0 {
		t.Fatalf("AddSession allocates %v times per call once full, want 0", allocs)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	d := sampleDocumentForTest()
	before := encodeDoc(t, d)
	c := d.Clone()
	if !bytes.Equal(encodeDoc(t, c), before) {
		t.Fatal("clone encodes differently")
	}
	for i := 0; i < 50; i++ {
		c.AddSession(sessionForTest(i, "other", usd.FromNanos(1e9)), "2030-01-01", 3)
	}
	c.Extra["new"] = stdjson.RawMessage("1")
	c.LastUpdated = "x"
	if !bytes.Equal(encodeDoc(t, d), before) {
		t.Fatal("changing the clone changed the original")
	}
}

// Folding sessions one by one into a document gives the same document as
// folding them into an empty delta and merging that.
func TestMergeEqualsFoldProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		max := rapid.IntRange(1, 12).Draw(t, "max")
		models := []string{"claude-3", "gpt-4", "gemini-pro", "x"}
		days := []string{"2026-11-25", "2026-11-26", "2026-11-27"}
		genSession := func(label string, i int) (usagefile.Session, string) {
			m := rapid.SampledFrom(models).Draw(t, label+"model")
			cost := usd.FromUnits(rapid.Int64Range(0, 1e18).Draw(t, label+"cost"))
			s := sessionForTest(i, m, cost)
			return s, rapid.SampledFrom(days).Draw(t, label+"day")
		}
		var all []usagefile.Session // every session added, in order
		base := usagefile.NewDocument()
		for i, n := 0, rapid.IntRange(0, 20).Draw(t, "nbase"); i < n; i++ {
			s, day := genSession("base", i)
			base.AddSession(s, day, max)
			all = append(all, s)
		}
		base.LastUpdated = "base"
		base.Extra = map[string]stdjson.RawMessage{"k": stdjson.RawMessage(`"v"`)}

		folded := base.Clone()
		merged := base.Clone()
		delta := usagefile.NewDocument()
		// The delta may keep every session (0: no limit): Merge trims.
		deltaMax := rapid.SampledFrom([]int{max, 0}).Draw(t, "deltaMax")
		n := rapid.IntRange(0, 40).Draw(t, "n")
		for i := 0; i < n; i++ {
			s, day := genSession("new", 1000+i)
			folded.AddSession(s, day, max)
			delta.AddSession(s, day, deltaMax)
			all = append(all, s)
		}
		wantLast := "base"
		if rapid.Bool().Draw(t, "stamp") {
			folded.LastUpdated = "delta"
			delta.LastUpdated = "delta"
			wantLast = "delta"
		}
		merged.Merge(delta, max)
		a, errA := folded.AppendJSON(nil)
		b, errB := merged.AppendJSON(nil)
		if errA != nil || errB != nil {
			t.Fatalf("encode: %v %v", errA, errB)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("fold and merge differ\nfold:\n%s\nmerge:\n%s", a, b)
		}
		if want := all[len(all)-min(len(all), max):]; !reflect.DeepEqual(merged.Sessions, want) && len(want) > 0 {
			t.Fatalf("sessions %v, want the last %d added: %v", merged.Sessions, max, want)
		}
		var calls int64
		var cost, wantCost usd.Amount
		for _, tot := range merged.DailyTotals {
			calls += tot.Calls
			cost = cost.Add(tot.Cost)
		}
		for _, s := range all {
			wantCost = wantCost.Add(s.CostUSD)
		}
		if calls != int64(len(all)) || cost != wantCost {
			t.Fatalf("calls %d, cost %s; want %d, %s", calls, cost, len(all), wantCost)
		}
		if merged.LastUpdated != wantLast || string(merged.Extra["k"]) != `"v"` {
			t.Fatalf("last_updated %q, extra %q", merged.LastUpdated, merged.Extra)
		}
	})
}

func documentOfSessions(n int) *usagefile.Document {
	d := usagefile.NewDocument()
	models := []string{"claude-3-5-sonnet-20241022", "gpt-4o-mini", "gemini-1.5-pro", "llama-3-70b"}
	providers := []string{"anthropic", "openai", "google", "unknown"}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * 37 * time.Minute)
		in, out := int64(100+i), int64(20+i%50)
		s := usagefile.Session{Timestamp: ts.Format(usagefile.TimestampLayout), Model: models[i%len(models)], Provider: providers[i%len(models)],
			InputTokens: in, OutputTokens: out, TotalTokens: in + out, CostUSD: usd.FromNanos(int64(i%97) * 370_000),
			LatencyMS: float64(i%500) + 0.25, Operation: "chat", Metadata: stdjson.RawMessage(`{}`), CacheReadTokens: in / 2}
		if i%3 == 0 {
			s.Metadata = stdjson.RawMessage(fmt.Sprintf(`{"request_id":"req-%d","user":"u1"}`, i))
		}
		d.AddSession(s, ts.Format(usagefile.DayLayout), 1000)
	}
	d.LastUpdated = "2026-11-30T00:00:00.000000"
	return d
}

func BenchmarkAppendJSON(b *testing.B) {
	d := documentOfSessions(1000)
	buf, err := d.AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(len(buf)), "doc-bytes")
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendJSON(buf[:0])
	}
}

func BenchmarkParseDocument(b *testing.B) {
	data, err := documentOfSessions(1000).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := usagefile.ParseDocument(data); err != nil {
			b.Fatal(err)
		}
	}
}

// For scale: what writing a file-sized document to disk costs beside
// encoding it.
func BenchmarkWriteFile1000Sessions(b *testing.B) {
	data, err := documentOfSessions(1000).AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "usage.json")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// Reference point for BenchmarkAppendJSON: goccy/go-json's MarshalIndent of
// the same data as plain structs and maps (HTML escaping, no Extra, buckets
// without MarshalJSON, a new buffer per call).
func BenchmarkAppendJSONGoccyReference(b *testing.B) {
	d := documentOfSessions(1000)
	type bucket struct {
		Tokens int64   `json:"tokens"`
		Cost   float64 `json:"cost"`
		Calls  int64   `json:"calls"`
	}
	conv := func(m map[string]usagefile.Totals) map[string]bucket {
		out := make(map[string]bucket, len(m))
		for k, t := range m {
			out[k] = bucket{t.Tokens, t.Cost.Float64(), t.Calls}
		}
		return out
	}
	v := struct {
		Sessions          []usagefile.Session `json:"sessions"`
		DailyTotals       map[string]bucket   `json:"daily_totals"`
		ModelBreakdown    map[string]bucket   `json:"model_breakdown"`
		ProviderBreakdown map[string]bucket   `json:"provider_breakdown"`
		LastUpdated       string              `json:"last_updated"`
	}{d.Sessions, conv(d.DailyTotals), conv(d.ModelBreakdown), conv(d.ProviderBreakdown), d.LastUpdated}
	out, err := goccy.MarshalIndent(v, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := goccy.MarshalIndent(v, "", "  "); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendJSONMergesInvalidUTF8Keys(t *testing.T) {
	d := usagefile.NewDocument()
	d.ModelBreakdown["gpt\xff"] = usagefile.Totals{Tokens: 1, Cost: usd.FromNanos(10), Calls: 1}
	d.ModelBreakdown["gpt\xfe"] = usagefile.Totals{Tokens: 2, Cost: usd.FromNanos(20), Calls: 2}
	d.ModelBreakdown["gpt\uFFFD"] = usagefile.Totals{Tokens: 4, Cost: usd.FromNanos(40), Calls: 4}
	d.ModelBreakdown["ok"] = usagefile.Totals{Tokens: 8, Cost: usd.FromNanos(80), Calls: 8}
	out := encodeDoc(t, d)
	if n := bytes.Count(out, []byte("\"gpt\uFFFD\": ")); n != 1 {
		t.Fatalf("key written %d times:\n%s", n, out)
	}
	back, err := usagefile.ParseDocument(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]usagefile.Totals{"gpt\uFFFD": {Tokens: 7, Cost: usd.FromNanos(70), Calls: 7}, "ok": {Tokens: 8, Cost: usd.FromNanos(80), Calls: 8}}
	if !reflect.DeepEqual(back.ModelBreakdown, want) {
		t.Fatalf("model_breakdown = %v, want %v", back.ModelBreakdown, want)
	}
	if len(d.ModelBreakdown) != 4 {
		t.Fatal("AppendJSON changed the document")
	}
}
