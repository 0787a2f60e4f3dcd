package tracker_test

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usagering/usagering/tracker"
)

func validRecordForTest() tracker.Record {
	return tracker.Record{
		Timestamp:    time.Date(2026, 11, 26, 14, 3, 7, 512334000, time.UTC),
		Model:        "claude-3-5-sonnet-20241022",
		InputTokens:  500,
		OutputTokens: 37,
		CostUSD:      0.001,
		LatencyMS:    50,
		Metadata:     map[string]string{"request_id": "req-42"},
	}
}

func TestRecordValidateRejects(t *testing.T) {
	manyKeys := make(map[string]string, tracker.MaxMetadataKeys+1)
	for i := 0; i <= tracker.MaxMetadataKeys; i++ {
		manyKeys["k"+strconv.Itoa(i)] = "v"
	}
	cases := []struct {
		name   string
		mutate func(r *tracker.Record)
		field  string // must appear in the message
		detail string // must appear in the message too
	}{
		{"empty model", func(r *tracker.Record) { r.Model = "" }, "Model", "empty"},
		{"long model", func(r *tracker.Record) { r.Model = strings.Repeat("m", tracker.MaxModelLen+1) }, "Model", "257 bytes"},
		{"long provider", func(r *tracker.Record) { r.Provider = strings.Repeat("p", tracker.MaxProviderLen+1) }, "Provider", "257 bytes"},
		{"long operation", func(r *tracker.Record) { r.Operation = strings.Repeat("o", tracker.MaxOperationLen+1) }, "Operation", "257 bytes"},
		{"negative input", func(r *tracker.Record) { r.InputTokens = -5 }, "InputTokens", "negative (-5)"},
		{"negative output", func(r *tracker.Record) { r.OutputTokens = -1 }, "OutputTokens", "negative (-1)"},
		{"token overflow", func(r *tracker.Record) { r.InputTokens, r.OutputTokens = math.MaxInt64, 1 }, "OutputTokens", "overflows"},
		{"negative cache reads", func(r *tracker.Record) { r.CacheReadTokens = -1 }, "CacheReadTokens", "negative (-1)"},
		{"negative cache writes", func(r *tracker.Record) { r.CacheWriteTokens = -2 }, "CacheWriteTokens", "negative (-2)"},
		{"cache reads above input", func(r *tracker.Record) { r.CacheReadTokens = 501 }, "CacheReadTokens", "above InputTokens (500)"},
		{"cache reads+writes above input", func(r *tracker.Record) { r.CacheReadTokens, r.CacheWriteTokens = 300, 201 }, "CacheWriteTokens", "(300 + 201) above InputTokens (500)"},
		{"cache writes, huge reads", func(r *tracker.Record) { r.CacheReadTokens, r.CacheWriteTokens = 500, math.MaxInt64 }, "CacheWriteTokens", "above InputTokens"},
		{"negative reasoning", func(r *tracker.Record) { r.ReasoningTokens = -3 }, "ReasoningTokens", "negative (-3)"},
		{"reasoning above output", func(r *tracker.Record) { r.ReasoningTokens = 38 }, "ReasoningTokens", "above OutputTokens (37)"},
		{"NaN time to first token", func(r *tracker.Record) { r.TimeToFirstTokenMS = math.NaN() }, "TimeToFirstTokenMS", "NaN"},
		{"negative time to first token", func(r *tracker.Record) { r.TimeToFirstTokenMS = -1 }, "TimeToFirstTokenMS", "negative"},
		{"NaN cost", func(r *tracker.Record) { r.CostUSD = math.NaN() }, "CostUSD", "NaN"},
		{"+Inf cost", func(r *tracker.Record) { r.CostUSD = math.Inf(1) }, "CostUSD", "infinite"},
		{"-Inf cost", func(r *tracker.Record) { r.CostUSD = math.Inf(-1) }, "CostUSD", "infinite"},
		{"negative cost", func(r *tracker.Record) { r.CostUSD = -0.01 }, "CostUSD", "negative"},
		{"huge cost", func(r *tracker.Record) { r.CostUSD = 2e6 }, "CostUSD", "limit"},
		{"NaN cost, metadata present", func(r *tracker.Record) { r.CostUSD = math.NaN(); r.Metadata = map[string]string{"a": "b"} }, "CostUSD", "NaN"},
		{"NaN latency", func(r *tracker.Record) { r.LatencyMS = math.NaN() }, "LatencyMS", "NaN"},
		{"Inf latency", func(r *tracker.Record) { r.LatencyMS = math.Inf(1) }, "LatencyMS", "infinite"},
		{"negative latency", func(r *tracker.Record) { r.LatencyMS = -3 }, "LatencyMS", "negative"},
		{"too many metadata keys", func(r *tracker.Record) { r.Metadata = manyKeys }, "Metadata", "65 keys"},
		{"year 0", func(r *tracker.Record) { r.Timestamp = time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC) }, "Timestamp", "years"},
		{"year 0 with nanoseconds", func(r *tracker.Record) { r.Timestamp = time.Date(0, 12, 31, 23, 59, 59, 999, time.UTC) }, "Timestamp", "years"},
		{"year 10000", func(r *tracker.Record) { r.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "Timestamp", "years"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRecordForTest()
			tc.mutate(&r)
			err := r.Validate()
			if !errors.Is(err, tracker.ErrInvalidRecord) {
				t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidRecord", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "tracker: invalid record: "+tc.field+": ") {
				t.Errorf("message %q does not name the field %s", msg, tc.field)
			}
			if !strings.Contains(msg, tc.detail) {
				t.Errorf("message %q does not say %q", msg, tc.detail)
			}
		})
	}
}

func TestRecordValidateMessageExample(t *testing.T) {
	r := validRecordForTest()
	r.InputTokens = -5
	if got, want := r.Validate().Error(), "tracker: invalid record: InputTokens: negative (-5)"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestRecordValidateAccepts(t *testing.T) {
	full := make(map[string]string, tracker.MaxMetadataKeys)
	for i := 0; i < tracker.MaxMetadataKeys; i++ {
		full["k"+strconv.Itoa(i)] = strings.Repeat("v", 1024)
	}
	cases := map[string]func(r *tracker.Record){
		"as is":                  func(r *tracker.Record) {},
		"zero timestamp":         func(r *tracker.Record) { r.Timestamp = time.Time{} },
		"zero everything":        func(r *tracker.Record) { r.InputTokens, r.OutputTokens, r.CostUSD, r.LatencyMS = 0, 0, 0, 0 },
		"limits exactly":         func(r *tracker.Record) { r.Model = strings.Repeat("m", tracker.MaxModelLen); r.Metadata = full },
		"max cost":               func(r *tracker.Record) { r.CostUSD = tracker.MaxCostUSD },
		"max tokens":             func(r *tracker.Record) { r.InputTokens, r.OutputTokens = math.MaxInt64-1, 1 },
		"nil metadata":           func(r *tracker.Record) { r.Metadata = nil },
		"unicode model":          func(r *tracker.Record) { r.Model = "modèle-测试" },
		"year 1 and 9999":        func(r *tracker.Record) { r.Timestamp = time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC) },
		"provider+operation":     func(r *tracker.Record) { r.Provider, r.Operation = "acme", "embed" },
		"invalid UTF-8 model":    func(r *tracker.Record) { r.Model = "gpt\xff" },                             // NewSession repairs it
		"invalid UTF-8 metadata": func(r *tracker.Record) { r.Metadata = map[string]string{"k\xff": "\xfe"} }, // the encoder repairs it
		"max latency":            func(r *tracker.Record) { r.LatencyMS = math.MaxFloat64 },
		"all input cached":       func(r *tracker.Record) { r.CacheReadTokens, r.CacheWriteTokens = 400, 100 },
		"all output reasoning":   func(r *tracker.Record) { r.ReasoningTokens = 37 },
		"time to first token":    func(r *tracker.Record) { r.TimeToFirstTokenMS = 12.5 },
	}
	for name, mutate := range cases {
		r := validRecordForTest()
		mutate(&r)
		if err := r.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
		}
	}
}

func TestRecordValidateDoesNotAllocate(t *testing.T) {
	r := validRecordForTest()
	r.Metadata = map[string]string{"a": "1", "b": "2", "c": "3"}
	var err error
	allocs := testing.AllocsPerRun(1000, func() { err = r.Validate() })
	if err != nil {
		t.Fatal(err)
	}
	if allocs != 0 {
		t.Fatalf("Validate allocates %v times per call on the valid path, want 0", allocs)
	}
}

func TestDetectProvider(t *testing.T) {
	cases := map[string]string{
		"claude-3-5-sonnet-20241022":   "anthropic",
		"anthropic/CLAUDE-3-OPUS":      "anthropic",
		"Claude":                       "anthropic",
		"gpt-4":                        "openai",
		"openai/GPT-4o-mini":           "openai",
		"ft:gPt-3.5-turbo:acme":        "openai",
		"gemini-1.5-pro":               "google",
		"models/GEMINI-2.0-flash":      "google",
		"llama-3-70b":                  "unknown",
		"":                             "unknown",
		"clau de":                      "unknown",
		"gp":                           "unknown",
		"gemin":                        "unknown",
		"claude-vs-gpt":                "anthropic", // claude is checked first
		"gpt-on-gemini":                "openai",    // gpt before gemini
		"ＣＬＡＵＤＥ (fullwidth)":           "unknown",   // ASCII folding only, as Python's lower()
		"claudé":                       "unknown",
		"xxxxxxxxxxxxxxxxxxxxxxclaude": "anthropic",
	}
	for model, want := range cases {
		if got := tracker.DetectProvider(model); got != want {
			t.Errorf("DetectProvider(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestDetectProviderDoesNotAllocate(t *testing.T) {
	models := []string{"Claude-3-Opus", "GPT-4o", "Gemini-Pro", "Llama-3"}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, m := range models {
			_ = tracker.DetectProvider(m)
		}
	})
	if allocs != 0 {
		t.Fatalf("DetectProvider allocates %v times, want 0", allocs)
	}
}

func BenchmarkValidate(b *testing.B) {
	r := validRecordForTest()
	r.Metadata = nil
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectProvider(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = tracker.DetectProvider("models/Gemini-1.5-Pro-002")
	}
}
