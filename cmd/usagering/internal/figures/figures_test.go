package figures

import (
	"testing"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

func amount(t *testing.T, s string) usd.Amount {
	t.Helper()
	a, err := usd.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDollars(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0", "$0.0000"}, {"0.00005", "$0.0001"}, {"0.000049999", "$0.0000"}, {"2.007790981", "$2.0078"},
		{"99.99995", "$100.0000"}, {"100", "$100.00"}, {"1234567.125", "$1,234,567.13"},
	} {
		if got := Dollars(amount(t, c.in)); got != c.want {
			t.Errorf("Dollars(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestCostPer1kCallsIsTheExactQuotientRounded(t *testing.T) {
	got, ok := CostPer1kCalls(usagefile.Totals{Calls: 3, Cost: amount(t, "0.0979")})
	if !ok || got.String() != "32.633333333333333333333333" {
		t.Fatalf("%s %v", got, ok)
	}
	got, _ = CostPer1kCalls(usagefile.Totals{Calls: 3, Cost: amount(t, "0.0002")})
	if got.String() != "0.066666666666666666666667" { // half away from zero at the 24th place
		t.Fatalf("%s", got)
	}
	if _, ok := CostPer1kCalls(usagefile.Totals{}); ok {
		t.Fatal("a cost per call without calls")
	}
}

func TestCacheReadShareNeedsKinds(t *testing.T) {
	if s, ok := CacheReadShare(usagefile.Totals{Tokens: 150, InputTokens: 100, OutputTokens: 50, CacheReadTokens: 25}); !ok || s != 0.25 {
		t.Errorf("%v %v", s, ok)
	}
	// The original tool's buckets: tokens without kinds.
	if _, ok := CacheReadShare(usagefile.Totals{Tokens: 150}); ok {
		t.Error("a share of tokens without kinds")
	}
	if Unclassified(usagefile.Totals{Tokens: 150, InputTokens: 60, OutputTokens: 40}) != 50 {
		t.Error("unclassified")
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "999": "999", "1000": "1,000", "-1234567.5": "-1,234,567.5", "123456": "123,456"} {
		if got := Thousands(in); got != want {
			t.Errorf("Thousands(%s) = %s, want %s", in, got, want)
		}
	}
}
