package figures

import (
	"math/big"
	"strconv"
	"strings"

	"github.com/usagering/usagering/usagefile"
	"github.com/usagering/usagering/usd"
)

// KindsKnown reports whether every token of t has its kind (input or
// output): a file written by the original tool counts tokens without them.
func KindsKnown(t usagefile.Totals) bool { return t.InputTokens+t.OutputTokens == t.Tokens }

// Unclassified returns the tokens of t without a kind.
func Unclassified(t usagefile.Totals) int64 { return t.Tokens - t.InputTokens - t.OutputTokens }

// CacheReadShare returns the share of input tokens read from the cache, and
// false when it is unknown: tokens without kinds, or no input.
func CacheReadShare(t usagefile.Totals) (float64, bool) {
	if !KindsKnown(t) || t.InputTokens == 0 {
		return 0, false
	}
	return float64(t.CacheReadTokens) / float64(t.InputTokens), true
}

// CostPer1kCalls returns cost × 1000 / calls rounded half away from zero
// to the unit of an amount (10^-24 USD), and false without calls.
func CostPer1kCalls(t usagefile.Totals) (usd.Amount, bool) {
	if t.Calls <= 0 {
		return usd.Amount{}, false
	}
	r := Rat(t.Cost)
	r.Mul(r, big.NewRat(1000, t.Calls))
	a, err := usd.Parse(r.FloatString(usd.Decimals))
	if err != nil {
		return usd.Amount{}, false
	}
	return a, true
}

// Rat returns a as an exact rational.
func Rat(a usd.Amount) *big.Rat {
	r, _ := new(big.Rat).SetString(a.String()) // an amount's decimal always parses
	return r
}

// Round returns a rounded to places decimal places, half away from zero.
func Round(a usd.Amount, places int) string { return Rat(a).FloatString(places) }

// Dollars returns a for people: "$12.35" from $100 up, else four decimal
// places ("$0.0125"), rounded half away from zero.
func Dollars(a usd.Amount) string {
	if Rat(a).Cmp(big.NewRat(100, 1)) >= 0 {
		return "$" + Thousands(Round(a, 2))
	}
	return "$" + Round(a, 4)
}

// Percent returns a share as "83.3%".
func Percent(share float64) string { return strconv.FormatFloat(100*share, 'f', 1, 64) + "%" }

// Int returns n with commas between groups of three digits.
func Int(n int64) string { return Thousands(strconv.FormatInt(n, 10)) }

// Thousands puts commas between groups of three digits of the integer
// part of a decimal ("-1234567.5" → "-1,234,567.5").
func Thousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String()
}
