package usd

import (
	"errors"
	"math"
	"math/bits"
	"strconv"
)

// Decimals is the number of decimal places an Amount holds: its unit is
// 10^-Decimals USD.
const Decimals = 24

// Errors of Parse, FromFloat and UnmarshalJSON.
var (
	// ErrSyntax: the text is not a decimal number (JSON number syntax).
	ErrSyntax = errors.New("usd: not a decimal number")
	// ErrRange: the value is beyond what an Amount holds (about ±1.7e14).
	ErrRange = errors.New("usd: amount out of range")
	// ErrNotFinite: FromFloat was given NaN or an infinity.
	ErrNotFinite = errors.New("usd: not a finite number")
)

// Amount is an exact amount of US dollars: a signed 128-bit two's
// complement count of 10^-24 USD. The zero value is $0. Amounts compare
// with == and Cmp. Arithmetic saturates at the bounds (MaxAmount,
// MinAmount) rather than wrapping.
type Amount struct {
	hi uint64 // high 64 bits of the two's complement value
	lo uint64
}

// Bounds of an Amount.
var (
	MaxAmount = Amount{hi: math.MaxInt64, lo: math.MaxUint64}
	MinAmount = Amount{hi: 1 << 63}
)

// unitsPerNano is 10^15: nano-dollars to units.
const unitsPerNano = 1_000_000_000_000_000

// FromNanos returns n nano-dollars (10^-9 USD).
func FromNanos(n int64) Amount {
	a := fromUint(uint128{lo: uint64(abs64(n))}.mul64(unitsPerNano))
	if n < 0 {
		return a.Neg()
	}
	return a
}

// FromUnits returns the Amount of n units of 10^-24 USD.
func FromUnits(n int64) Amount {
	return Amount{hi: uint64(n >> 63), lo: uint64(n)}
}

// FromFloat returns the decimal that f is written as in its shortest form
// (strconv.FormatFloat(f, 'g', -1, 64): 0.1 is exactly 0.1, not the binary
// fraction nearest to it), rounded to 24 places half to even. It returns
// ErrNotFinite for NaN and infinities and ErrRange beyond the bounds. It
// does not allocate.
func FromFloat(f float64) (Amount, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Amount{}, ErrNotFinite
	}
	// Fast path: a whole number of nano-dollars below 1e6 USD. There the
	// gap between floats is below 1e-9, so at most one 9-place decimal
	// rounds to f, and if one does it is f's shortest form.
	if n := math.Round(f * 1e9); math.Abs(f) < 1e6 && n/1e9 == f {
		return FromNanos(int64(n)), nil
	}
	var buf [32]byte
	return parse(strconv.AppendFloat(buf[:0], f, 'e', -1, 64))
}

// Parse reads a decimal number in JSON number syntax: an optional '-',
// digits, an optional fraction and an optional exponent ("12", "-0.5",
// "2.0345052083e-09"). The value is exact; digits beyond the 24th decimal
// place are rounded half to even. It returns an error wrapping ErrSyntax or
// ErrRange.
func Parse(s string) (Amount, error) { return parse(s) }

// parse implements Parse for text held in a string or a byte slice.
func parse[S string | []byte](s S) (Amount, error) {
	i, n := 0, len(s)
	neg := false
	if i < n && s[i] == '-' {
		neg = true
		i++
	}
	// Mantissa: digits with an optional point; remember where each digit
	// sits. The first significant digit's position fixes the rest.
	var (
		intDigits  int // digits before the point
		fracDigits int // digits after it
	)
	start := i
	for i < n && isDigit(s[i]) {
		i++
		intDigits++
	}
	if intDigits == 0 {
		return Amount{}, syntaxError(s)
	}
	if intDigits > 1 && s[start] == '0' {
		return Amount{}, syntaxError(s) // JSON forbids leading zeros
	}
	mantEnd := i
	if i < n && s[i] == '.' {
		i++
		for i < n && isDigit(s[i]) {
			i++
			fracDigits++
		}
		if fracDigits == 0 {
			return Amount{}, syntaxError(s)
		}
		mantEnd = i
	}
	exp := 0
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < n && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		ed := 0
		for i < n && isDigit(s[i]) {
			if exp < 100000 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
			ed++
		}
		if ed == 0 {
			return Amount{}, syntaxError(s)
		}
		if eneg {
			exp = -exp
		}
	}
	if i != n {
		return Amount{}, syntaxError(s)
	}

	// Walk the digits from the most significant. A digit k places after
	// the point (k ≤ 0 before it) is worth 10^(exp-k) USD; it counts in
	// the units if k-exp ≤ Decimals, else it only rounds.
	var (
		v      uint128      // the digits that count, in units of 10^(exp-last) USD
		last   = -intDigits // place of the last digit taken into v
		place  = last + 1   // place of the current digit
		round  byte         // the digit at place Decimals+1 (after exp), for rounding
		sticky bool         // any non-zero digit below it
	)
	for j := start; j < mantEnd; j++ {
		c := s[j]
		if c == '.' {
			continue
		}
		d := c - '0'
		if place-exp <= Decimals {
			if d != 0 || !v.isZero() {
				// Bring v to this digit's place, then add it.
				var ok bool
				if v, ok = v.mulPow10(place - last); !ok {
					return Amount{}, rangeError(s)
				}
				if v, ok = v.add64(uint64(d)); !ok {
					return Amount{}, rangeError(s)
				}
			}
			last = place
		} else if place-exp == Decimals+1 {
			round = d
		} else if d != 0 {
			sticky = true
		}
		place++
	}
	// Scale the accumulated digits up to the unit.
	if !v.isZero() {
		var ok bool
		if v, ok = v.mulPow10(Decimals + exp - last); !ok {
			return Amount{}, rangeError(s)
		}
	}
	if round > 5 || round == 5 && (sticky || v.lo&1 == 1) {
		var ok bool
		if v, ok = v.add64(1); !ok {
			return Amount{}, rangeError(s)
		}
	}
	return signed(v, neg, s)
}

// signed turns a magnitude and a sign into an Amount, checking the range.
func signed[S string | []byte](v uint128, neg bool, s S) (Amount, error) {
	limit := uint128{hi: 1 << 63} // |MinAmount|
	if !neg {
		limit = uint128{hi: math.MaxInt64, lo: math.MaxUint64}
	}
	if v.cmp(limit) > 0 {
		return Amount{}, rangeError(s)
	}
	a := fromUint(v)
	if neg && a != MinAmount { // -2^127 has the bits of its magnitude
		a = a.Neg()
	}
	return a, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func syntaxError[S string | []byte](s S) error {
	return &NumError{Text: string(s), Err: ErrSyntax}
}

func rangeError[S string | []byte](s S) error {
	return &NumError{Text: string(s), Err: ErrRange}
}

// NumError is the error of Parse and UnmarshalJSON: which text, and why.
type NumError struct {
	Text string
	Err  error // ErrSyntax or ErrRange
}

func (e *NumError) Error() string { return e.Err.Error() + ": " + strconv.Quote(e.Text) }
func (e *NumError) Unwrap() error { return e.Err }

// IsZero reports whether a is $0.
func (a Amount) IsZero() bool { return a.hi == 0 && a.lo == 0 }

// Sign returns -1, 0 or +1.
func (a Amount) Sign() int {
	switch {
	case int64(a.hi) < 0:
		return -1
	case a.IsZero():
		return 0
	}
	return 1
}

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Amount) Cmp(b Amount) int {
	switch {
	case int64(a.hi) < int64(b.hi):
		return -1
	case int64(a.hi) > int64(b.hi):
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// Neg returns -a (MaxAmount for MinAmount).
func (a Amount) Neg() Amount {
	if a == MinAmount {
		return MaxAmount
	}
	lo, borrow := bits.Sub64(0, a.lo, 0)
	hi, _ := bits.Sub64(0, a.hi, borrow)
	return Amount{hi: hi, lo: lo}
}

// Add returns a + b, saturating at MaxAmount and MinAmount.
func (a Amount) Add(b Amount) Amount {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, carry)
	// Overflow: both operands have the sign the result lacks.
	if sa, sb, sr := int64(a.hi) < 0, int64(b.hi) < 0, int64(hi) < 0; sa == sb && sr != sa {
		if sa {
			return MinAmount
		}
		return MaxAmount
	}
	return Amount{hi: hi, lo: lo}
}

// Sub returns a - b, saturating.
func (a Amount) Sub(b Amount) Amount {
	if b == MinAmount {
		if a.Sign() >= 0 {
			return MaxAmount
		}
		return a.Add(MaxAmount).Add(FromUnits(1))
	}
	return a.Add(b.Neg())
}

// Mul returns a × n exactly, and false (with a saturated result) if the
// product is out of range.
func (a Amount) Mul(n int64) (Amount, bool) {
	neg := (a.Sign() < 0) != (n < 0)
	p, ok := a.magnitude().mul128x64(uint64(abs64(n)))
	if !ok {
		if neg {
			return MinAmount, false
		}
		return MaxAmount, false
	}
	r, err := signed(p, neg, "")
	if err != nil {
		if neg {
			return MinAmount, false
		}
		return MaxAmount, false
	}
	return r, true
}

// Float64 returns the float64 nearest to a.
func (a Amount) Float64() float64 {
	var buf [64]byte
	f, _ := strconv.ParseFloat(string(a.AppendDecimal(buf[:0])), 64)
	return f
}

// String returns a as a plain decimal (see AppendDecimal).
func (a Amount) String() string {
	var buf [64]byte
	return string(a.AppendDecimal(buf[:0]))
}

// AppendDecimal appends a as a plain decimal without exponent and without
// trailing zeros after the point: "0", "12", "0.0054", "-1.5",
// "0.000000000000000000000001". It is valid JSON number syntax and what
// Parse reads back to a.
func (a Amount) AppendDecimal(dst []byte) []byte {
	if a.Sign() < 0 {
		dst = append(dst, '-')
	}
	// |a| = whole·10^24 + frac; split through 10^12 twice to stay within
	// 128/64-bit divisions.
	const e12 = 1_000_000_000_000
	m := a.magnitude()
	q1, r1 := m.divmod64(e12)                // m = q1·10^12 + r1
	q2, r2 := q1.divmod64(e12)               // q1 = q2·10^12 + r2
	dst = strconv.AppendUint(dst, q2.lo, 10) // q2 < 2^128/10^24 < 2^64
	if r1 == 0 && r2 == 0 {
		return dst
	}
	var frac [Decimals]byte
	putDigits(frac[:12], r2)
	putDigits(frac[12:], r1)
	end := Decimals
	for frac[end-1] == '0' {
		end--
	}
	dst = append(dst, '.')
	return append(dst, frac[:end]...)
}

// putDigits writes v as len(dst) decimal digits, with leading zeros.
func putDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// MarshalJSON writes a as a JSON number with every digit (AppendDecimal).
func (a Amount) MarshalJSON() ([]byte, error) { return a.AppendDecimal(nil), nil }

// UnmarshalJSON reads a JSON number exactly (see Parse). null leaves a
// unchanged, as encoding/json does for numbers; other JSON values are
// errors wrapping ErrSyntax.
func (a *Amount) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := parse(b)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// MarshalText writes a as a plain decimal (AppendDecimal).
func (a Amount) MarshalText() ([]byte, error) { return a.AppendDecimal(nil), nil }

// UnmarshalText reads a decimal (see Parse).
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := parse(b)
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// magnitude returns |a| (2^127 for MinAmount).
func (a Amount) magnitude() uint128 {
	if int64(a.hi) >= 0 {
		return uint128(a)
	}
	lo, borrow := bits.Sub64(0, a.lo, 0)
	hi, _ := bits.Sub64(0, a.hi, borrow)
	return uint128{hi: hi, lo: lo}
}

// fromUint returns the Amount whose two's complement bits are v's.
func fromUint(v uint128) Amount { return Amount(v) }

func abs64(n int64) uint64 {
	if n < 0 {
		return uint64(-n) // MinInt64 gives 2^63, as uint64
	}
	return uint64(n)
}
