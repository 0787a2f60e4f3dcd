package usd

import "math/bits"

// uint128 is an unsigned 128-bit integer, the magnitude of an Amount.
type uint128 struct{ hi, lo uint64 }

func (u uint128) isZero() bool { return u.hi == 0 && u.lo == 0 }

func (u uint128) cmp(v uint128) int {
	switch {
	case u.hi < v.hi:
		return -1
	case u.hi > v.hi:
		return 1
	case u.lo < v.lo:
		return -1
	case u.lo > v.lo:
		return 1
	}
	return 0
}

// add64 returns u + n, and false on overflow.
func (u uint128) add64(n uint64) (uint128, bool) {
	lo, carry := bits.Add64(u.lo, n, 0)
	hi, c2 := bits.Add64(u.hi, 0, carry)
	return uint128{hi: hi, lo: lo}, c2 == 0
}

// mul64 returns u × n, ignoring overflow (callers keep it in range).
func (u uint128) mul64(n uint64) uint128 {
	p, _ := u.mul128x64(n)
	return p
}

// mul128x64 returns u × n, and false on overflow.
func (u uint128) mul128x64(n uint64) (uint128, bool) {
	hiHi, hiLo := bits.Mul64(u.hi, n)
	loHi, loLo := bits.Mul64(u.lo, n)
	hi, carry := bits.Add64(hiLo, loHi, 0)
	return uint128{hi: hi, lo: loLo}, hiHi == 0 && carry == 0
}

// pow10 holds 10^0 … 10^19, the powers that fit a uint64.
var pow10 = [...]uint64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

// mulPow10 returns u × 10^k for k ≥ 0, and false on overflow.
func (u uint128) mulPow10(k int) (uint128, bool) {
	for k > 0 {
		if u.isZero() {
			return u, true
		}
		step := min(k, len(pow10)-1)
		var ok bool
		if u, ok = u.mul128x64(pow10[step]); !ok {
			return u, false
		}
		k -= step
	}
	return u, true
}

// divmod64 returns u / d and u % d for d > 0.
func (u uint128) divmod64(d uint64) (uint128, uint64) {
	qhi, r := bits.Div64(0, u.hi, d)
	qlo, r := bits.Div64(r, u.lo, d)
	return uint128{hi: qhi, lo: qlo}, r
}
