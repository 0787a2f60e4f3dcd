package litellm_test

import (
	"bytes"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/usagering/usagering/pricing/internal/litellm"
	"github.com/usagering/usagering/usd"
)

const fixturePath = "../../testdata/litellm_fixture.json"

func decodeFixture(t *testing.T) *litellm.File {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := litellm.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDecodeFixture(t *testing.T) {
	f := decodeFixture(t)
	if f.LastUpdated != "2026-07-24T18:23:43.215560+00:00" {
		t.Errorf("LastUpdated = %q", f.LastUpdated)
	}
	var keys []string
	for _, e := range f.Entries {
		keys = append(keys, e.Key)
	}
	if !slices.IsSorted(keys) {
		t.Errorf("entries not sorted: %v", keys)
	}
	for _, skipped := range []string{"sample_spec", "text-embedding-x", "1024-x-1024/dall-e-x", "video-in", "subscription/model", "no-mode"} {
		if slices.Contains(keys, skipped) {
			t.Errorf("%q kept", skipped)
		}
	}
	if len(keys) != 18 {
		t.Errorf("%d entries kept: %v", len(keys), keys)
	}

	e := find(t, f, "claude-sonnet-4-5")
	if e.Provider != "anthropic" || e.Mode != "chat" || e.Rates.CacheWrite.Text != "3.75e-06" || e.Rates.Reasoning.Set() {
		t.Errorf("claude-sonnet-4-5: %+v", e)
	}
	if len(e.Above) != 1 || e.Above[0].Name != "200k" || e.Above[0].Tokens != 200_000 ||
		e.Above[0].Rates.Input.Text != "6e-06" || e.Above[0].Rates.Output.Text != "2.25e-05" ||
		e.Above[0].Rates.CacheRead.Text != "6e-07" || e.Above[0].Rates.CacheWrite.Text != "7.5e-06" {
		t.Errorf("claude-sonnet-4-5 tiers: %+v", e.Above)
	}

	q := find(t, f, "qwen-tiered")
	if len(q.Tiered) != 3 || q.Tiered[0].Start != 0 || q.Tiered[1].StartText != "32000.0" || q.Tiered[1].Start != 32_000 ||
		q.Tiered[2].End != 256_000 || q.Tiered[0].Rates.Reasoning.Text != "8e-06" || q.Rates.Input.Set() {
		t.Errorf("qwen-tiered: %+v", q)
	}

	x := find(t, f, "exact-model")
	want, _ := usd.Parse("0.0000000020345052083")
	if x.Rates.Input.Amount != want || x.Rates.Input.Text != "2.0345052083e-09" {
		t.Errorf("exact-model input %+v", x.Rates.Input)
	}
	if n := find(t, f, "null-cache"); n.Rates.CacheRead.Set() {
		t.Error("a null price is set")
	}
}

func find(t *testing.T, f *litellm.File, key string) litellm.Entry {
	t.Helper()
	for _, e := range f.Entries {
		if e.Key == key {
			return e
		}
	}
	t.Fatalf("%q not decoded", key)
	return litellm.Entry{}
}

// TestEncodeRoundTrip: Encode writes what Decode reads back, and its
// output depends only on the entries.
func TestEncodeRoundTrip(t *testing.T) {
	f := decodeFixture(t)
	var a, b bytes.Buffer
	if err := litellm.Encode(&a, f); err != nil {
		t.Fatal(err)
	}
	back, err := litellm.Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatalf("Decode(Encode(f)): %v\n%s", err, a.Bytes())
	}
	if !reflect.DeepEqual(back, f) {
		t.Errorf("Decode(Encode(f)) differs from f")
	}
	if err := litellm.Encode(&b, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("Encode is not deterministic")
	}
	// One entry per line, fields in a fixed order, prices as written.
	want := `"claude-sonnet-4-5":{"litellm_provider":"anthropic","mode":"chat","input_cost_per_token":3e-06,"output_cost_per_token":1.5e-05,"cache_read_input_token_cost":3e-07,"cache_creation_input_token_cost":3.75e-06,"input_cost_per_token_above_200k_tokens":6e-06,"output_cost_per_token_above_200k_tokens":2.25e-05,"cache_read_input_token_cost_above_200k_tokens":6e-07,"cache_creation_input_token_cost_above_200k_tokens":7.5e-06},` + "\n"
	if !strings.Contains(a.String(), want) {
		t.Errorf("Encode output lacks the line\n%s\n%s", want, a.String())
	}
	wantTiered := `"qwen-tiered":{"litellm_provider":"dashscope","mode":"chat","tiered_pricing":[{"range":[0,32000.0],"input_cost_per_token":1e-06,"output_cost_per_token":5e-06,"cache_read_input_token_cost":1e-07,"output_cost_per_reasoning_token":8e-06},{"range":[32000.0,128000.0],"input_cost_per_token":1.8e-06,"output_cost_per_token":9e-06},{"range":[128000.0,256000.0],"input_cost_per_token":3e-06}]}`
	if !strings.Contains(a.String(), wantTiered) {
		t.Errorf("Encode output lacks the line\n%s", wantTiered)
	}
}

func TestEncodeEscapes(t *testing.T) {
	f := &litellm.File{Entries: []litellm.Entry{{Key: "a<b>\"&\n", Provider: "p\\", Mode: "chat",
		Rates: litellm.Rates{Input: litellm.Price{Text: "1"}, Output: litellm.Price{Text: "2"}}}}}
	f.Entries[0].Rates.Input.Amount, _ = usd.Parse("1")
	f.Entries[0].Rates.Output.Amount, _ = usd.Parse("2")
	var buf bytes.Buffer
	if err := litellm.Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	back, err := litellm.Decode(&buf)
	if err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("round trip of %q: %+v, %v", f.Entries[0].Key, back, err)
	}
}

func TestThresholdNames(t *testing.T) {
	in := `{"m": {"mode": "chat", "litellm_provider": "x",
	  "input_cost_per_token": 1, "output_cost_per_token": 2,
	  "input_cost_per_token_above_272k_tokens": 5, "input_cost_per_token_above_128k_tokens": 3,
	  "output_cost_per_token_above_128k_tokens": 4, "input_cost_per_token_above_500_tokens": 6,
	  "cache_read_input_token_cost_above_200k_tokens": 7,
	  "cache_creation_input_token_cost_above_1hr": 8,
	  "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 9,
	  "input_cost_per_token_above_272k_tokens_priority": 10,
	  "input_cost_per_token_above_k_tokens": 11,
	  "input_cost_per_token_above_1m_tokens": 12,
	  "input_cost_per_token_above_64k_tokens": null}}`
	f, err := litellm.Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, th := range f.Entries[0].Above {
		got = append(got, th.Name+":"+th.Rates.Input.Text+"/"+th.Rates.Output.Text)
	}
	// 200k has only a cache-read price: no input price, no tier (as LiteLLM).
	want := []string{"500:6/", "128k:3/4", "272k:5/"}
	if !slices.Equal(got, want) {
		t.Errorf("thresholds %v, want %v", got, want)
	}
}

func TestTieredPricingHidesThresholds(t *testing.T) {
	in := `{"m": {"mode": "chat", "input_cost_per_token_above_128k_tokens": 3,
	  "tiered_pricing": [{"range": [0, 1e6], "input_cost_per_token": 1, "output_cost_per_token": 2}]}}`
	f, err := litellm.Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Entries[0]; len(e.Above) != 0 || len(e.Tiered) != 1 || e.Tiered[0].End != 1_000_000 {
		t.Errorf("entry %+v", e)
	}
}
