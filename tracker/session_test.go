package tracker_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usagering/usagering/tracker"
	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func TestNewSession(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	r := tracker.Record{
		Timestamp:    time.Date(2026, 11, 26, 20, 3, 7, 512334999, time.UTC), // 05:03 next day in JST
		Model:        "Claude-3-Opus",
		InputTokens:  500,
		OutputTokens: 37,
		CostUSD:      0.00000675, // a float whose nearest double is 6.749999999999999e-06
		LatencyMS:    50,
		Metadata:     map[string]string{"z": "last", "a": "first", "é": "\"q\""},

		CacheReadTokens: 300, CacheWriteTokens: 100, ReasoningTokens: 20, TimeToFirstTokenMS: 12.5,
	}
	s, day := tracker.NewSession(&r, tokyo)
	want := usagefile.Session{
		Timestamp: "2026-11-27T05:03:07.512334", Model: "Claude-3-Opus", Provider: "anthropic",
		InputTokens: 500, OutputTokens: 37, TotalTokens: 537, CostUSD: usd.FromNanos(6750), LatencyMS: 50, Operation: "chat",
		CacheReadTokens: 300, CacheWriteTokens: 100, ReasoningTokens: 20, TTFTMS: 12.5,
	}
	gotMeta := string(s.Metadata)
	s.Metadata = nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("NewSession = %+v\nwant %+v", s, want)
	}
	if day != "2026-11-27" {
		t.Errorf("day = %q, want the local date 2026-11-27", day)
	}
	if wantMeta := `{"a":"first","z":"last","é":"\"q\""}`; gotMeta != wantMeta {
		t.Errorf("metadata = %s, want %s", gotMeta, wantMeta)
	}

	r2 := tracker.Record{Timestamp: r.Timestamp, Model: "x", Provider: "acme", Operation: "embed"}
	s2, day2 := tracker.NewSession(&r2, time.UTC)
	if s2.Provider != "acme" || s2.Operation != "embed" || string(s2.Metadata) != "{}" || day2 != "2026-11-26" {
		t.Errorf("NewSession = %+v, day %q", s2, day2)
	}
	if s2.Timestamp != "2026-11-26T20:03:07.512334" {
		t.Errorf("timestamp %q: want microseconds truncated, as Python's isoformat", s2.Timestamp)
	}
}

func TestNewSessionRepairsInvalidUTF8(t *testing.T) {
	r := tracker.Record{Model: "gpt\xff-4", Provider: "a\xc3", Operation: "op\xfe"}
	s, _ := tracker.NewSession(&r, time.UTC)
	if s.Model != "gpt\uFFFD-4" || s.Provider != "a\uFFFD" || s.Operation != "op\uFFFD" {
		t.Fatalf("NewSession = %q, %q, %q", s.Model, s.Provider, s.Operation)
	}
	r.Provider = ""
	if s, _ := tracker.NewSession(&r, time.UTC); s.Provider != "openai" {
		t.Fatalf("provider %q", s.Provider)
	}
}

func TestNewSessionZeroTimestampIsNow(t *testing.T) {
	before := time.Now().Truncate(time.Microsecond)
	s, day := tracker.NewSession(&tracker.Record{Model: "gpt-4"}, time.UTC)
	after := time.Now()
	ts, err := time.ParseInLocation(usagefile.TimestampLayout, s.Timestamp, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Before(before) || ts.After(after) {
		t.Errorf("timestamp %v not within [%v, %v]", ts, before, after)
	}
	if !strings.HasPrefix(s.Timestamp, day+"T") || len(day) != len(usagefile.DayLayout) {
		t.Errorf("day %q does not match timestamp %q", day, s.Timestamp)
	}
}

func TestNewSessionNilLocationIsLocal(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	s, _ := tracker.NewSession(&tracker.Record{Timestamp: ts, Model: "m"}, nil)
	if want := ts.In(time.Local).Format(usagefile.TimestampLayout); s.Timestamp != want {
		t.Errorf("timestamp %q, want %q", s.Timestamp, want)
	}
}
