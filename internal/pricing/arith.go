package pricing

import (
	"math"
	"math/bits"
)

// BasisPoints is 100 % in basis points, the unit of every rate, multiplier
// and discount in a plan.
const BasisPoints = 10000

// mulDivRound returns a × b / c rounded half up, for a, b ≥ 0 and c > 0. The
// product is formed in 128 bits, so it is exact for any int64 inputs; a
// quotient above MaxInt64 saturates, which the plan and input limits make
// unreachable.
func mulDivRound(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	lo, carry := bits.Add64(lo, uint64(c/2), 0)
	hi += carry
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// ceilDiv returns ⌈a / b⌉ for a ≥ 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return (a + b - 1) / b
}

// floorDiv and floorMod round towards −∞, for dates before 1970.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
