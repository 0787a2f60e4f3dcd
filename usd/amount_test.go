package usd_test

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/usagering/usagering/usd"
)

// unit is 10^24 as a big.Int: units per dollar.
var unit = new(big.Int).Exp(big.NewInt(10), big.NewInt(usd.Decimals), nil)

// bounds of an Amount in units, for the reference model.
var (
	maxUnits = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	minUnits = new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
)

// ref is the reference model: the exact value of a decimal text in units,
// rounded half to even, computed with math/big.
func ref(t interface{ Fatalf(string, ...any) }, s string) *big.Int {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("big.Rat cannot read %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt(unit))
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	// Round half to even on |m|/den.
	twice := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2))
	switch c := twice.Cmp(den); {
	case c > 0 || c == 0 && q.Bit(0) == 1:
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// units returns a's value in units, through its decimal text.
func units(t interface{ Fatalf(string, ...any) }, a usd.Amount) *big.Int {
	return ref(t, a.String())
}

func TestParseFormat(t *testing.T) {
	cases := []struct{ in, out string }{
		{"0", "0"},
		{"-0", "0"},
		{"0.0054", "0.0054"},
		{"12", "12"},
		{"12.50", "12.5"},
		{"-1.5", "-1.5"},
		{"2.0345052083e-09", "0.0000000020345052083"},
		{"3.0001999999999996E-7", "0.00000030001999999999996"},
		{"1e-24", "0.000000000000000000000001"},
		{"1E+3", "1000"},
		{"5e-25", "0"},                            // half to even: 0
		{"1.5e-24", "0.000000000000000000000002"}, // 1.5 units → 2
		{"2.5e-24", "0.000000000000000000000002"}, // 2.5 units → 2
		{"2.5000001e-24", "0.000000000000000000000003"},
		{"9e-30", "0"}, // far below the unit: no round-up
		{"0.0000000000000000000000015", "0.000000000000000000000002"},
		{"170141183460469.231731687303715884105727", "170141183460469.231731687303715884105727"},   // max
		{"-170141183460469.231731687303715884105728", "-170141183460469.231731687303715884105728"}, // min
		{"0.000006749999999999999", "0.000006749999999999999"},
	}
	for _, c := range cases {
		a, err := usd.Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := a.String(); got != c.out {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, got, c.out)
		}
		if got, want := units(t, a), ref(t, c.in); got.Cmp(want) != 0 {
			t.Errorf("Parse(%q) = %v units, want %v", c.in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]error{
		"": usd.ErrSyntax, "-": usd.ErrSyntax, "abc": usd.ErrSyntax, "1.": usd.ErrSyntax,
		".5": usd.ErrSyntax, "01": usd.ErrSyntax, "1e": usd.ErrSyntax, "1e+": usd.ErrSyntax,
		"+1": usd.ErrSyntax, "1 ": usd.ErrSyntax, " 1": usd.ErrSyntax, "null": usd.ErrSyntax,
		`"1"`: usd.ErrSyntax, "NaN": usd.ErrSyntax, "1,5": usd.ErrSyntax, "--1": usd.ErrSyntax,
		"170141183460469.231731687303715884105728":  usd.ErrRange, // max + 1 unit
		"-170141183460469.231731687303715884105729": usd.ErrRange,
		"1e15":       usd.ErrRange,
		"1e100000":   usd.ErrRange,
		"1e99999999": usd.ErrRange,
	}
	for in, want := range cases {
		_, err := usd.Parse(in)
		if !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %v, want %v", in, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("Parse(%q) error %q does not quote the input", in, err)
		}
	}
	for _, in := range []string{"1e-100000", "0e99999999", "0.0e5"} {
		a, err := usd.Parse(in)
		if err != nil || !a.IsZero() {
			t.Errorf("Parse(%q) = %v, %v; want 0", in, a, err)
		}
	}
}

// decimalText draws JSON number texts of every shape: short and long
// mantissas, fractions, exponents, values near the bounds and beyond.
func decimalText() *rapid.Generator[string] {
	return rapid.Custom(func(t *rapid.T) string {
		var b strings.Builder
		if rapid.Bool().Draw(t, "neg") {
			b.WriteByte('-')
		}
		intPart := rapid.StringMatching(`0|[1-9][0-9]{0,20}`).Draw(t, "int")
		b.WriteString(intPart)
		if rapid.Bool().Draw(t, "frac?") {
			b.WriteByte('.')
			b.WriteString(rapid.StringMatching(`[0-9]{1,40}`).Draw(t, "frac"))
		}
		if rapid.Bool().Draw(t, "exp?") {
			b.WriteString(rapid.SampledFrom([]string{"e", "E", "e-", "e+", "E-"}).Draw(t, "e"))
			b.WriteString(strconv.Itoa(rapid.IntRange(0, 40).Draw(t, "exp")))
		}
		return b.String()
	})
}

func TestParseMatchesBigRat(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := decimalText().Draw(rt, "s")
		want := ref(rt, s)
		a, err := usd.Parse(s)
		if want.Cmp(maxUnits) > 0 || want.Cmp(minUnits) < 0 {
			if !errors.Is(err, usd.ErrRange) {
				rt.Fatalf("Parse(%q) = %v, %v; want ErrRange", s, a, err)
			}
			return
		}
		if err != nil {
			rt.Fatalf("Parse(%q): %v", s, err)
		}
		if got := units(rt, a); got.Cmp(want) != 0 {
			rt.Fatalf("Parse(%q) = %s (%v units), want %v units", s, a, got, want)
		}
		// The text round-trips.
		b, err := usd.Parse(a.String())
		if err != nil || b != a {
			rt.Fatalf("Parse(%q) = %v, %v; want %v", a.String(), b, err, a)
		}
	})
}

// amount draws an Amount anywhere in range, often small.
func amount() *rapid.Generator[usd.Amount] {
	return rapid.Custom(func(t *rapid.T) usd.Amount {
		s := decimalText().Draw(t, "s")
		a, err := usd.Parse(s)
		if err != nil {
			return usd.FromUnits(rapid.Int64().Draw(t, "units"))
		}
		return a
	})
}

func clamp(v *big.Int) *big.Int {
	switch {
	case v.Cmp(maxUnits) > 0:
		return maxUnits
	case v.Cmp(minUnits) < 0:
		return minUnits
	}
	return v
}

func TestArithmeticMatchesBigInt(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		a, b := amount().Draw(rt, "a"), amount().Draw(rt, "b")
		n := rapid.OneOf(rapid.Int64Range(-1000, 1000), rapid.Int64()).Draw(rt, "n")
		ua, ub := units(rt, a), units(rt, b)
		check := func(op string, got usd.Amount, want *big.Int) {
			if g := units(rt, got); g.Cmp(want) != 0 {
				rt.Fatalf("%s: %s = %v units, want %v", op, got, g, want)
			}
		}
		check("a+b", a.Add(b), clamp(new(big.Int).Add(ua, ub)))
		check("a-b", a.Sub(b), clamp(new(big.Int).Sub(ua, ub)))
		check("-a", a.Neg(), clamp(new(big.Int).Neg(ua)))
		prod := new(big.Int).Mul(ua, big.NewInt(n))
		p, ok := a.Mul(n)
		check("a*n", p, clamp(prod))
		if inRange := prod.Cmp(maxUnits) <= 0 && prod.Cmp(minUnits) >= 0; ok != inRange {
			rt.Fatalf("Mul(%s, %d) ok = %v, want %v", a, n, ok, inRange)
		}
		if got, want := a.Cmp(b), ua.Cmp(ub); got != want {
			rt.Fatalf("Cmp(%s, %s) = %d, want %d", a, b, got, want)
		}
		if got, want := a.Sign(), ua.Sign(); got != want {
			rt.Fatalf("Sign(%s) = %d, want %d", a, got, want)
		}
	})
}

func TestFromFloatIsShortestDecimal(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := rapid.OneOf(
			rapid.Float64Range(0, 10),
			rapid.Float64Range(-1e6, 1e6),
			rapid.Float64(),
			rapid.Map(rapid.Int64Range(-1e15, 1e15), func(n int64) float64 { return float64(n) / 1e9 }),
		).Draw(rt, "f")
		a, err := usd.FromFloat(f)
		want := ref(rt, strconv.FormatFloat(f, 'g', -1, 64))
		if want.Cmp(maxUnits) > 0 || want.Cmp(minUnits) < 0 {
			if !errors.Is(err, usd.ErrRange) {
				rt.Fatalf("FromFloat(%v) = %v, %v; want ErrRange", f, a, err)
			}
			return
		}
		if err != nil {
			rt.Fatalf("FromFloat(%v): %v", f, err)
		}
		if got := units(rt, a); got.Cmp(want) != 0 {
			rt.Fatalf("FromFloat(%v) = %s, want %v units", f, a, want)
		}
		// Where the shortest form fits 24 places, the float comes back.
		exact, _ := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
		if exact.Mul(exact, new(big.Rat).SetInt(unit)).IsInt() && a.Float64() != f {
			rt.Fatalf("FromFloat(%v).Float64() = %v", f, a.Float64())
		}
	})
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := usd.FromFloat(f); !errors.Is(err, usd.ErrNotFinite) {
			t.Errorf("FromFloat(%v) = %v, want ErrNotFinite", f, err)
		}
	}
}

func TestFromNanos(t *testing.T) {
	for _, n := range []int64{0, 1, -1, 5_400_000, math.MaxInt64, math.MinInt64} {
		want := new(big.Int).Mul(big.NewInt(n), big.NewInt(1e15))
		if got := units(t, usd.FromNanos(n)); got.Cmp(want) != 0 {
			t.Errorf("FromNanos(%d) = %v units, want %v", n, got, want)
		}
	}
}

// A float sum drifts; an Amount sum does not.
func TestMillionCallsSumExactly(t *testing.T) {
	price, err := usd.Parse("2.0345052083e-09") // USD per token
	if err != nil {
		t.Fatal(err)
	}
	var total usd.Amount
	var floatTotal float64
	for range 1_000_000 {
		c, ok := price.Mul(1) // one token per call
		if !ok {
			t.Fatal("overflow")
		}
		total = total.Add(c)
		floatTotal += 2.0345052083e-09
	}
	if got, want := total.String(), "0.0020345052083"; got != want {
		t.Fatalf("sum of a million calls = %s, want %s", got, want)
	}
	if strconv.FormatFloat(floatTotal, 'f', -1, 64) == "0.0020345052083" {
		t.Log("the float sum happened to be exact too")
	}
}

func TestJSON(t *testing.T) {
	var a usd.Amount
	if err := a.UnmarshalJSON([]byte("0.000006749999999999999")); err != nil {
		t.Fatal(err)
	}
	b, _ := a.MarshalJSON()
	if string(b) != "0.000006749999999999999" {
		t.Fatalf("MarshalJSON = %s", b)
	}
	if err := a.UnmarshalJSON([]byte("null")); err != nil || a.String() != "0.000006749999999999999" {
		t.Errorf("UnmarshalJSON(null) = %v, changed the value to %s; want a no-op", err, a)
	}
	for _, bad := range []string{`"0.1"`, "true", "{}"} {
		before := a
		if err := a.UnmarshalJSON([]byte(bad)); !errors.Is(err, usd.ErrSyntax) {
			t.Errorf("UnmarshalJSON(%s) = %v, want ErrSyntax", bad, err)
		}
		if a != before {
			t.Errorf("UnmarshalJSON(%s) changed the value", bad)
		}
	}
}

func TestHotOperationsDoNotAllocate(t *testing.T) {
	a, _ := usd.Parse("0.0054")
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		b := a.Add(a)
		b, _ = b.Mul(1000)
		_, _ = usd.FromFloat(0.0054)
		_, _ = usd.FromFloat(2.0345052083e-09) // slow path
		buf = b.AppendDecimal(buf[:0])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

func ExampleParse() {
	price, _ := usd.Parse("3e-06") // USD per input token
	cost, _ := price.Mul(1_200)
	total := cost.Add(usd.FromNanos(300))
	fmt.Println(cost, total)
	// Output: 0.0036 0.0036003
}
