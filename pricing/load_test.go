package pricing_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/usagering/usagering/pricing"
)

func TestLoadErrors(t *testing.T) {
	const ok = `"ok": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}`
	cases := []struct {
		name, in string
		want     error
		key      string // for an *EntryError
		field    string
	}{
		{"empty input", ``, pricing.ErrFormat, "", ""},
		{"not JSON", `hello`, pricing.ErrFormat, "", ""},
		{"a list", `[{"mode": "chat"}]`, pricing.ErrFormat, "", ""},
		{"a number", `3`, pricing.ErrFormat, "", ""},
		{"truncated", `{` + ok, pricing.ErrFormat, "", ""},
		{"syntax error in an entry", `{"x": {"mode": "chat",}}`, pricing.ErrFormat, "", ""},
		{"trailing data", `{` + ok + `} {}`, pricing.ErrFormat, "", ""},
		{"duplicate key", `{` + ok + `, ` + ok + `}`, pricing.ErrFormat, "", ""},
		{"no entries", `{}`, pricing.ErrNoModels, "", ""},
		{"only other modes", `{"e": {"mode": "embedding", "input_cost_per_token": 1e-06, "output_cost_per_token": 0}}`, pricing.ErrNoModels, "", ""},
		{"only sample_spec", `{"sample_spec": {"mode": "chat", "input_cost_per_token": 0, "output_cost_per_token": 0}}`, pricing.ErrNoModels, "", ""},
		{"price is a string", `{` + ok + `, "m": {"mode": "chat", "input_cost_per_token": "3e-07", "output_cost_per_token": 1}}`,
			pricing.ErrBadPrice, "m", "input_cost_per_token"},
		{"price is an object", `{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": {}}}`,
			pricing.ErrBadPrice, "m", "output_cost_per_token"},
		{"price is negative", `{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 1, "cache_read_input_token_cost": -1e-07}}`,
			pricing.ErrBadPrice, "m", "cache_read_input_token_cost"},
		{"price out of range", `{"m": {"mode": "responses", "input_cost_per_token": 1e15, "output_cost_per_token": 1}}`,
			pricing.ErrBadPrice, "m", "input_cost_per_token"},
		{"tier price malformed", `{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 1, "input_cost_per_token_above_128k_tokens": true}}`,
			pricing.ErrBadPrice, "m", "input_cost_per_token_above_128k_tokens"},
		{"threshold out of range", `{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 1, "input_cost_per_token_above_99999999999999999999k_tokens": 2}}`,
			pricing.ErrFormat, "m", "input_cost_per_token_above_99999999999999999999k_tokens"},
		{"threshold written twice", `{"m": {"mode": "chat", "input_cost_per_token": 1, "output_cost_per_token": 1, "input_cost_per_token_above_128k_tokens": 2, "output_cost_per_token_above_128000_tokens": 2}}`,
			pricing.ErrFormat, "m", ""},
		{"mode not a string", `{"m": {"mode": 1, "input_cost_per_token": 1, "output_cost_per_token": 1}}`,
			pricing.ErrFormat, "m", "mode"},
		{"provider not a string", `{"m": {"mode": "chat", "litellm_provider": ["openai"], "input_cost_per_token": 1, "output_cost_per_token": 1}}`,
			pricing.ErrFormat, "m", "litellm_provider"},
		{"tiered_pricing not a list", `{"m": {"mode": "chat", "tiered_pricing": {}}}`,
			pricing.ErrFormat, "m", "tiered_pricing"},
		{"tier not an object", `{"m": {"mode": "chat", "tiered_pricing": [1]}}`,
			pricing.ErrFormat, "m", "tiered_pricing[0]"},
		{"range missing", `{"m": {"mode": "chat", "tiered_pricing": [{"input_cost_per_token": 1, "output_cost_per_token": 1}]}}`,
			pricing.ErrFormat, "m", "tiered_pricing[0].range"},
		{"range not whole", `{"m": {"mode": "chat", "tiered_pricing": [{"range": [0.5, 10], "input_cost_per_token": 1, "output_cost_per_token": 1}]}}`,
			pricing.ErrFormat, "m", "tiered_pricing[0].range"},
		{"range reversed", `{"m": {"mode": "chat", "tiered_pricing": [{"range": [10, 0], "input_cost_per_token": 1, "output_cost_per_token": 1}]}}`,
			pricing.ErrFormat, "m", "tiered_pricing[0].range"},
		{"range negative", `{"m": {"mode": "chat", "tiered_pricing": [{"range": [-1, 0], "input_cost_per_token": 1, "output_cost_per_token": 1}]}}`,
			pricing.ErrFormat, "m", "tiered_pricing[0].range"},
		{"two tiers start together", `{"m": {"mode": "chat", "tiered_pricing": [{"range": [0, 10], "input_cost_per_token": 1, "output_cost_per_token": 1}, {"range": [0, 20], "input_cost_per_token": 1}]}}`,
			pricing.ErrFormat, "m", "tiered_pricing"},
		{"tier price malformed", `{"m": {"mode": "chat", "tiered_pricing": [{"range": [0, 10], "input_cost_per_token": "1", "output_cost_per_token": 1}]}}`,
			pricing.ErrBadPrice, "m", "tiered_pricing[0].input_cost_per_token"},
	}
	for _, tc := range cases {
		tb, err := pricing.Load(strings.NewReader(tc.in))
		if tb != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: Load = %v, %v; want %v", tc.name, tb, err, tc.want)
			continue
		}
		var ee *pricing.EntryError
		isEntry := errors.As(err, &ee)
		if isEntry != (tc.key != "") {
			t.Errorf("%s: %v: an *EntryError: %v, want %v", tc.name, err, isEntry, tc.key != "")
			continue
		}
		if isEntry && (ee.Key != tc.key || tc.field != "" && ee.Field != tc.field) {
			t.Errorf("%s: entry %q field %q, want %q %q", tc.name, ee.Key, ee.Field, tc.key, tc.field)
		}
		if isEntry && !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("%s: the message does not name the entry: %v", tc.name, err)
		}
	}
}

// TestLoadSkips checks what Load leaves out without an error: entries it
// cannot price, and shapes it does not read.
func TestLoadSkips(t *testing.T) {
	in := `{
	  "last_updated": "2026-07-24",
	  "other_meta": [1, 2],
	  "kept": {"mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06, "input_cost_per_token_above_1m_tokens": 5, "output_cost_per_token_above_200k_tokens": 9},
	  "tier-without-input": {"mode": "chat", "tiered_pricing": [{"range": [0, 10], "output_cost_per_token": 1}]},
	  "only-output": {"mode": "chat", "output_cost_per_token": 1e-06},
	  "image": {"mode": "image_generation", "input_cost_per_token": "not even a number"},
	  "no-mode": {"input_cost_per_token": 1, "output_cost_per_token": 1}
	}`
	tb, err := pricing.Load(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for e := range tb.All() {
		keys = append(keys, e.Key)
	}
	if len(keys) != 1 || keys[0] != "kept" {
		t.Fatalf("kept %v, want [kept]", keys)
	}
	e, _ := tb.Lookup("kept")
	// "_above_1m_tokens" is no threshold LiteLLM reads; an output tier
	// without an input tier is ignored, as LiteLLM does.
	if len(e.Tiers()) != 0 {
		t.Errorf("tiers %+v, want none", e.Tiers())
	}
}

func TestLoadTooLarge(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"x": "`), &repeat{b: 'a', n: pricing.MaxLoadSize})
	if _, err := pricing.Load(r); !errors.Is(err, pricing.ErrTooLarge) {
		t.Fatalf("Load of %d bytes: %v, want ErrTooLarge", pricing.MaxLoadSize+7, err)
	}
}

// repeat reads n copies of b.
type repeat struct {
	b byte
	n int
}

func (r *repeat) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

func TestLoadReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := pricing.Load(io.MultiReader(strings.NewReader("{"), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Fatalf("Load: %v, want the read error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestLoadPricesFromText checks that a price is the decimal the file
// writes, digit for digit: none of these survives a float64 round trip
// at 24 places.
func TestLoadPricesFromText(t *testing.T) {
	for _, p := range []string{"2.0345052083e-09", "4.5003000000000007e-07", "0.000000000000000000000001", "1.23456789012345678901234e-1", "0", "5"} {
		in := `{"m": {"mode": "chat", "input_cost_per_token": ` + p + `, "output_cost_per_token": 0}}`
		tb, err := pricing.Load(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		e, _ := tb.Lookup("m")
		if want := amount(t, p); e.Rates.Input.PerToken != want || !e.Rates.Input.Set {
			t.Errorf("price %s read as %s", p, e.Rates.Input.PerToken)
		}
	}
}
