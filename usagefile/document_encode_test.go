package usagefile

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/usagering/usagering/usd"

	json "github.com/goccy/go-json"
)

// Bucket costs read back exactly, whatever their digits, and the text is
// what a float reader parses to the nearest float of the exact value.
func TestTotalsCostRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(a usd.Amount) {
		b, err := Totals{Cost: a}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Totals
		if err := json.Unmarshal(b, &back); err != nil || back.Cost != a {
			t.Fatalf("cost %s written as %s reads back as %s (%v)", a, b, back.Cost, err)
		}
		var w struct{ Cost float64 }
		if err := json.Unmarshal(b, &w); err != nil || w.Cost != a.Float64() {
			t.Fatalf("cost %s written as %s parses to float %v, want %v", a, b, w.Cost, a.Float64())
		}
	}
	for _, s := range []string{"0", "0.000000000000000000000001", "-1", "13.5", "0.0000000020345052083", "170141183460469.231731687303715884105727"} {
		a, err := usd.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		check(a)
	}
	for i := 0; i < 100000; i++ {
		a := usd.FromUnits(r.Int64())
		if i%3 == 0 {
			var ok bool
			if a, ok = a.Mul(r.Int64N(1 << 40)); !ok {
				continue
			}
		}
		check(a)
	}
	for n, want := range map[int64]string{10000: "0.00001", 12e9: "12", 1: "0.000000001", 13500000: "0.0135"} {
		if b, _ := (Totals{Cost: usd.FromNanos(n)}).MarshalJSON(); !strings.HasPrefix(string(b), `{"tokens":0,"cost":`+want+`,"calls":0,`) {
			t.Errorf("%d nanos written as %s, want cost %s", n, b, want)
		}
	}
}

func TestTotalsIntegerFields(t *testing.T) {
	for text, want := range map[string]int64{"500": 500, "500.0": 500, "5e2": 500, "-3": -3, "0.000": 0,
		"9223372036854775807": math.MaxInt64, "-9223372036854775808": math.MinInt64} {
		var n intNumber
		if err := n.UnmarshalJSON([]byte(text)); err != nil || n.v != want || !n.set {
			t.Errorf("intNumber(%s) = %d, %v, %v; want %d", text, n.v, n.set, err, want)
		}
	}
	for _, bad := range []string{"500.5", "1e-3", "1e400", "9223372036854775808", `"5"`, "null", "true", "[]", "{}"} {
		var n intNumber
		if err := n.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("intNumber(%s) = %d, want an error", bad, n.v)
		}
	}
	for _, bad := range []string{`"0.1"`, "null", "true", "[]", "1e400"} {
		var c costNumber
		if err := c.UnmarshalJSON([]byte(bad)); err == nil || c.set {
			t.Errorf("costNumber(%s) = %v, %v; want an error", bad, c.v, c.set)
		}
	}
}

// The whole layout of a small document: two-space indentation, the five
// keys then Extra sorted (a document key in Extra skipped), Metadata and
// Extra re-indented with their content unchanged (2.50 stays 2.50), nil
// Metadata as {}, nil maps as {}, Go floats, no HTML escaping, U+FFFD for
// invalid UTF-8.
func TestAppendJSONLayout(t *testing.T) {
	d := &Document{
		Sessions: []Session{
			{Timestamp: "t0", Model: "m<&>\xff", Provider: "p", InputTokens: 1, OutputTokens: 2, TotalTokens: 3,
				CostUSD: amount(t, "0.001"), LatencyMS: 50, Operation: "chat", CacheReadTokens: 1, ReasoningTokens: 2, TTFTMS: 12.5,
				Metadata: json.RawMessage(`{"k":"v, \"x\": {y}","n":[1,2.50,true], "e": { } }`)},
			{Timestamp: "t1", CostUSD: amount(t, "1e-7"), LatencyMS: 1e21},
		},
		ModelBreakdown: map[string]Totals{"b": {Tokens: 1, Cost: usd.FromNanos(2), Calls: 3}, "a": {Tokens: 4, Cost: usd.FromNanos(13500000), Calls: 6, InputTokens: 3, OutputTokens: 1}},
		LastUpdated:    "now",
		Extra: map[string]json.RawMessage{"zz": json.RawMessage(` [ 1, {"a" : null} ] `), "aa": json.RawMessage(`3`),
			"sessions": json.RawMessage(`"skipped"`)},
	}
	want := `{
  "sessions": [
    {
      "timestamp": "t0",
      "model": "m<&>\ufffd",
      "provider": "p",
      "input_tokens": 1,
      "output_tokens": 2,
      "total_tokens": 3,
      "cost_usd": 0.001,
      "latency_ms": 50,
      "operation": "chat",
      "metadata": {
        "k": "v, \"x\": {y}",
        "n": [
          1,
          2.50,
          true
        ],
        "e": {}
      },
      "cache_read_tokens": 1,
      "cache_write_tokens": 0,
      "reasoning_tokens": 2,
      "ttft_ms": 12.5
    },
    {
      "timestamp": "t1",
      "model": "",
      "provider": "",
      "input_tokens": 0,
      "output_tokens": 0,
      "total_tokens": 0,
      "cost_usd": 0.0000001,
      "latency_ms": 1e+21,
      "operation": "",
      "metadata": {},
      "cache_read_tokens": 0,
      "cache_write_tokens": 0,
      "reasoning_tokens": 0,
      "ttft_ms": 0
    }
  ],
  "daily_totals": {},
  "model_breakdown": {
    "a": {
      "tokens": 4,
      "cost": 0.0135,
      "calls": 6,
      "input_tokens": 3,
      "output_tokens": 1,
      "cache_read_tokens": 0,
      "cache_write_tokens": 0,
      "reasoning_tokens": 0
    },
    "b": {
      "tokens": 1,
      "cost": 0.000000002,
      "calls": 3,
      "input_tokens": 0,
      "output_tokens": 0,
      "cache_read_tokens": 0,
      "cache_write_tokens": 0,
      "reasoning_tokens": 0
    }
  },
  "provider_breakdown": {},
  "last_updated": "now",
  "aa": 3,
  "zz": [
    1,
    {
      "a": null
    }
  ]
}`
	got, err := d.AppendJSON([]byte("prefix"))
	if err != nil || string(got) != "prefix"+want {
		t.Fatalf("AppendJSON = %v\n%s\nwant\n%s", err, got, want)
	}
	if d.Sessions[1].Metadata != nil {
		t.Error("AppendJSON changed the document")
	}
	if d2, err := ParseDocument(got[len("prefix"):]); err != nil {
		t.Errorf("ParseDocument(output): %v", err)
	} else if out, _ := d2.AppendJSON(nil); string(out) != strings.Replace(want, `\ufffd`, "\uFFFD", 1) {
		t.Errorf("not a fixed point:\n%s", out) // but for the U+FFFD now read, written as UTF-8
	}
}

// With capacity to spare, AppendJSON writes into dst's array.
func TestAppendJSONReusesDst(t *testing.T) {
	d := &Document{Sessions: []Session{{Timestamp: "t", Metadata: emptyMetadata}}, Extra: map[string]json.RawMessage{"x": json.RawMessage(`1`)}}
	dst := make([]byte, 3, 1<<12)
	got, err := d.AppendJSON(dst)
	if err != nil || &got[0] != &dst[0] {
		t.Fatalf("AppendJSON did not append in place (%v)", err)
	}
	if !strings.HasSuffix(string(got), "\"last_updated\": \"\",\n  \"x\": 1\n}") {
		t.Errorf("got %q", got)
	}
}

func amount(t testing.TB, s string) usd.Amount {
	t.Helper()
	a, err := usd.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
