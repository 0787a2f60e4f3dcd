package tracker

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

// TestMetadataEncoding: session metadata is a compact JSON object with
// sorted keys; invalid UTF-8 becomes U+FFFD; no metadata is {}.
func TestMetadataEncoding(t *testing.T) {
	got := string(encodeMetadata(map[string]string{"z": "1", "a": "x\"y", "m": "ok\xffend"}))
	want := `{"a":"x\"y","m":"ok\ufffdend","z":"1"}`
	var gotTree, wantTree map[string]string
	if err := json.Unmarshal([]byte(got), &gotTree); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	json.Unmarshal([]byte(want), &wantTree)
	if len(gotTree) != 3 || gotTree["a"] != wantTree["a"] || gotTree["m"] != wantTree["m"] || gotTree["z"] != "1" {
		t.Fatalf("metadata %s, want %s", got, want)
	}
	if strings.Index(got, `"a"`) > strings.Index(got, `"m"`) || strings.Index(got, `"m"`) > strings.Index(got, `"z"`) {
		t.Fatalf("keys not sorted: %s", got)
	}
	if got := string(encodeMetadata(nil)); got != "{}" {
		t.Fatalf("nil metadata encodes as %s, want {}", got)
	}
}

// Bucket costs read back to exactly the written nano-dollars for every
// |CostNanos| < 2^51, and the text is the float64 Cost().
func TestTotalsCostRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(n int64) {
		b, err := Totals{CostNanos: n}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Totals
		if err := json.Unmarshal(b, &back); err != nil || back.CostNanos != n {
			t.Fatalf("cost %d nanos written as %s reads back as %d (%v)", n, b, back.CostNanos, err)
		}
		var w struct{ Cost float64 }
		if err := json.Unmarshal(b, &w); err != nil || w.Cost != float64(n)/1e9 {
			t.Fatalf("cost %d nanos written as %s parses to float %v, want %v", n, b, w.Cost, float64(n)/1e9)
		}
	}
	const bound = 1 << 51
	for _, n := range []int64{0, 1, -1, 999, 13500000, 1e9, 12e9, bound - 1, -(bound - 1)} {
		check(n)
	}
	for i := 0; i < 200000; i++ {
		n := r.Int64N(1 << (1 + i%51))
		if i%2 == 1 {
			n = -n
		}
		check(n)
	}
	for n, want := range map[int64]string{10000: "0.00001", 12e9: "12", 1: "0.000000001", 13500000: "0.0135"} {
		if b, _ := (Totals{CostNanos: n}).MarshalJSON(); string(b) != `{"tokens":0,"cost":`+want+`,"calls":0}` {
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
		var f floatNumber
		if err := f.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("floatNumber(%s) = %v, want an error", bad, f.v)
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
				CostUSD: 0.001, LatencyMS: 50, Operation: "chat",
				Metadata: json.RawMessage(`{"k":"v, \"x\": {y}","n":[1,2.50,true], "e": { } }`)},
			{Timestamp: "t1", CostUSD: 1e-7, LatencyMS: 1e21},
		},
		ModelBreakdown: map[string]Totals{"b": {1, 2, 3}, "a": {4, 13500000, 6}},
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
      }
    },
    {
      "timestamp": "t1",
      "model": "",
      "provider": "",
      "input_tokens": 0,
      "output_tokens": 0,
      "total_tokens": 0,
      "cost_usd": 1e-7,
      "latency_ms": 1e+21,
      "operation": "",
      "metadata": {}
    }
  ],
  "daily_totals": {},
  "model_breakdown": {
    "a": {
      "tokens": 4,
      "cost": 0.0135,
      "calls": 6
    },
    "b": {
      "tokens": 1,
      "cost": 0.000000002,
      "calls": 3
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
