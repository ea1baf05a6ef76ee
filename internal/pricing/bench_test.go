package pricing_test

import (
	"testing"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// BenchmarkQuote prices a three-day weekday window that crosses three nights
// and six peak windows, for a member driving beyond the included km: the
// worst common case of a booking quote (every block is searched in full
// before the cap applies, and the member and km lines format descriptions).
func BenchmarkQuote(b *testing.B) {
	p := testPlan()
	in := pricing.QuoteInput{
		Start: at(b, "2025-03-10 08:30"), End: at(b, "2025-03-13 08:30"),
		Loc: shanghai(b), EstimatedKm: 700, Member: true,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pricing.QuoteRental(p, in); err != nil {
			b.Fatal(err)
		}
	}
}
