package pricing

import (
	"math"
	"math/big"
	"testing"
	"testing/quick"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo

	"github.com/google/go-cmp/cmp"
)

// fuzzPlan turns fuzz arguments into a plan, or reports false when they do
// not make a valid one even without peaks.
type fuzzPlan struct {
	PerMinute, PerHour, PerDay, Cap    uint32
	NightStart, NightEnd, NightExtra   uint16
	PeakStart, PeakLen, PeakExtra      uint16
	PeakDays                           uint8
	Discount, VAT                      uint16
	Unlock, IncludedKm, PerKm, LateFee uint16
}

func (fp fuzzPlan) plan() (Plan, bool) {
	p := Plan{
		ID: "fuzz", Version: 1, Currency: "CNY",
		UnlockFee: int64(fp.Unlock), PerMinute: int64(fp.PerMinute % 2000), PerHour: int64(fp.PerHour % 100_000),
		PerDay: int64(fp.PerDay % 1_000_000), DailyCap: int64(fp.Cap % 1_500_000),
		IncludedKmPerDay: int64(fp.IncludedKm % 500), PerKm: int64(fp.PerKm % 500),
		NightStart: int(fp.NightStart % minutesPerDay), NightEnd: int(fp.NightEnd % minutesPerDay),
		NightMultiplierBP:      BasisPoints + int64(fp.NightExtra%30000),
		PeakMultiplierBP:       BasisPoints + int64(fp.PeakExtra%30000),
		MemberDiscountBP:       int64(fp.Discount % (BasisPoints + 1)),
		VATRateBP:              int64(fp.VAT % 3000),
		LateFeePer15Min:        int64(fp.LateFee),
		LowBatteryThresholdPct: 20, LowBatteryFee: 3000, OutOfZoneFee: 5000, CleaningFee: 8000,
	}
	if p.PerMinute == 0 && p.PerHour == 0 && p.PerDay == 0 {
		p.PerMinute = 1
	}
	start := int(fp.PeakStart % (minutesPerDay - 1))
	p.Peaks = []PeakWindow{
		{Start: start, End: start + 1 + int(fp.PeakLen)%(minutesPerDay-start), Days: Weekdays(fp.PeakDays)},
	}
	if p.Validate() != nil {
		p.Peaks = nil
	}
	return p, p.Validate() == nil
}

var seedPlan = fuzzPlan{
	PerMinute: 50, PerHour: 2400, PerDay: 16800, Cap: 19800,
	NightStart: 22 * 60, NightEnd: 6 * 60, NightExtra: 5000,
	PeakStart: 17 * 60, PeakLen: 120, PeakExtra: 2000, PeakDays: uint8(MondayToFriday),
	Discount: 1000, VAT: 1300, Unlock: 500, IncludedKm: 200, PerKm: 100, LateFee: 1000,
}

func zone(tb testing.TB, z uint8) *time.Location {
	name := "Asia/Shanghai"
	if z%4 == 3 { // a zone with daylight saving, for the slow path of the day walk
		name = "America/New_York"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// fuzzStart maps any int64 to a second between 2000 and 2100.
func fuzzStart(sec int64) time.Time {
	const span = 100 * 365 * 24 * 3600
	return time.Unix(946684800+((sec%span)+span)%span, 0)
}

// checkQuote asserts the invariants every quote keeps.
func checkQuote(t *testing.T, q Quote) {
	t.Helper()
	var sum int64
	for i, l := range q.Lines {
		if l.Amount < 0 || l.Quantity <= 0 || l.UnitAmount < 0 || l.Amount != l.Quantity*l.UnitAmount {
			t.Fatalf("line %d %+v: want 0 ≤ Amount = Quantity × UnitAmount, Quantity > 0", i, l)
		}
		if l.DescriptionZH == "" || l.DescriptionEN == "" {
			t.Fatalf("line %d %+v lacks a description", i, l)
		}
		if l.Code == CodeVAT {
			if i != len(q.Lines)-1 || l.Amount != q.VAT {
				t.Fatalf("VAT line %d = %+v, want the last line with Amount %d", i, l, q.VAT)
			}
			continue
		}
		sum += l.Amount
	}
	if sum != q.Subtotal || q.Subtotal+q.VAT != q.Total || q.Total < 0 {
		t.Fatalf("lines sum to %d, subtotal %d + VAT %d, total %d", sum, q.Subtotal, q.VAT, q.Total)
	}
	if len(q.Lines) > 0 && q.Lines[len(q.Lines)-1].Code != CodeVAT {
		t.Fatalf("quote with lines but no VAT line: %+v", q.Lines)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add(int64(1741572000), uint32(3*1440), uint16(30), uint16(450), false, uint8(0), seedPlan.PerMinute, seedPlan.PerHour, seedPlan.PerDay, seedPlan.Cap,
		seedPlan.NightStart, seedPlan.NightEnd, seedPlan.NightExtra, seedPlan.PeakStart, seedPlan.PeakLen, seedPlan.PeakExtra, seedPlan.PeakDays, seedPlan.Discount, seedPlan.VAT)
	f.Add(int64(1741572037), uint32(55), uint16(1), uint16(0), true, uint8(3), uint32(55), uint32(2400), uint32(0), uint32(0),
		uint16(60), uint16(300), uint16(10000), uint16(420), uint16(30), uint16(5000), uint8(0x7f), uint16(1500), uint16(600))
	// Regressions from testing/quick, both in New York: a night window
	// opening inside the 2005 spring-forward gap, and a window across the
	// 2060 year end, where ZoneBounds reports a period that ends too early.
	f.Add(int64(165750364), uint32(15095), uint16(0), uint16(0), true, uint8(3), uint32(909), uint32(9053), uint32(327972), uint32(1208112),
		uint16(128), uint16(1380), uint16(21622), uint16(0), uint16(0), uint16(0), uint8(0), uint16(44), uint16(537))
	f.Add(int64(1924883618), uint32(17267), uint16(0), uint16(0), true, uint8(3), uint32(1880), uint32(9426), uint32(28295), uint32(382166),
		uint16(426), uint16(978), uint16(9395), uint16(100), uint16(302), uint16(2950), uint8(17), uint16(9544), uint16(2055))
	f.Fuzz(func(t *testing.T, startSec int64, dur uint32, grow uint16, estKm uint16, member bool, z uint8,
		pm, ph, pd, cp uint32, ns, ne, nx, ps, pl, px uint16, pdays uint8, disc, vat uint16) {
		fp := seedPlan
		fp.PerMinute, fp.PerHour, fp.PerDay, fp.Cap = pm, ph, pd, cp
		fp.NightStart, fp.NightEnd, fp.NightExtra = ns, ne, nx
		fp.PeakStart, fp.PeakLen, fp.PeakExtra, fp.PeakDays = ps, pl, px, pdays
		fp.Discount, fp.VAT = disc, vat
		p, ok := fp.plan()
		if !ok {
			t.Skip()
		}
		loc := zone(t, z)
		start := fuzzStart(startSec)
		length := time.Duration(dur%(6*minutesPerDay*60)+1) * time.Second * 10 // up to 6 days, 10 s steps
		in := QuoteInput{Start: start, End: start.Add(length), Loc: loc, EstimatedKm: int64(estKm), Member: member}
		q, err := QuoteRental(p, in)
		if err != nil {
			t.Fatalf("QuoteRental(%+v) error = %v", in, err)
		}
		checkQuote(t, q)

		again, _ := QuoteRental(p, in)
		if diff := cmp.Diff(q, again); diff != "" {
			t.Fatalf("same inputs, different quotes (-first +second):\n%s", diff)
		}

		r := ratesFor(&p, member)
		blocks := ceilDiv(q.Minutes, minutesPerDay)
		if p.DailyCap > 0 && (q.TimeCharge() > blocks*r.cap || r.cap > p.DailyCap) {
			t.Fatalf("time charge %d over %d blocks × cap %d (list cap %d)", q.TimeCharge(), blocks, r.cap, p.DailyCap)
		}
		if ref := refTimeCharge(&p, &r, loc, start, int(q.Minutes)); ref != q.TimeCharge() {
			t.Fatalf("time charge %d, reference %d (lines %+v)", q.TimeCharge(), ref, q.Lines)
		}

		longer := in
		longer.End = in.End.Add(time.Duration(grow%3000) * time.Minute)
		q2, err := QuoteRental(p, longer)
		if err != nil {
			t.Fatal(err)
		}
		if q2.TimeCharge() < q.TimeCharge() {
			t.Fatalf("time charge fell from %d to %d when the window grew by %d min", q.TimeCharge(), q2.TimeCharge(), grow%3000)
		}
		in.EstimatedKm, longer.EstimatedKm = 0, 0 // a longer booking includes more km, by design
		short, _ := QuoteRental(p, in)
		long, _ := QuoteRental(p, longer)
		if long.Total < short.Total {
			t.Fatalf("total fell from %d to %d when the window grew by %d min", short.Total, long.Total, grow%3000)
		}
	})
}

func FuzzFinalPrice(f *testing.F) {
	f.Add(int64(1741572000), uint32(120), int32(16), uint16(260), true, uint8(15), true, false, false)
	f.Add(int64(1741630000), uint32(1440), int32(-500), uint16(0), false, uint8(90), false, true, true)
	f.Fuzz(func(t *testing.T, startSec int64, booked uint32, lateMin int32, driven uint16, ev bool, battery uint8, outOfZone, cleaning, member bool) {
		p, _ := seedPlan.plan()
		loc := zone(t, 0)
		start := fuzzStart(startSec)
		in := FinalInput{
			BookedStart: start, BookedEnd: start.Add(time.Duration(booked%(4*minutesPerDay)+1) * time.Minute),
			Loc: loc, Km: int64(driven), EV: ev, EndBatteryPct: int(battery % 101),
			OutOfZone: outOfZone, Cleaning: cleaning, Member: member,
		}
		in.ActualEnd = in.BookedEnd.Add(time.Duration(lateMin%(2*minutesPerDay)) * time.Minute)
		q, err := FinalPrice(p, in)
		if err != nil {
			t.Fatalf("FinalPrice(%+v) error = %v", in, err)
		}
		checkQuote(t, q)
		quote, err := QuoteRental(p, QuoteInput{Start: in.BookedStart, End: in.BookedEnd, Loc: loc, EstimatedKm: in.Km, Member: member})
		if err != nil {
			t.Fatal(err)
		}
		if q.Total < quote.Total || q.TimeCharge() < quote.TimeCharge() {
			t.Fatalf("final %d (time %d) below the quote %d (time %d) of the booked window", q.Total, q.TimeCharge(), quote.Total, quote.TimeCharge())
		}
		later := in
		later.ActualEnd = in.ActualEnd.Add(time.Minute)
		q2, _ := FinalPrice(p, later)
		if q2.Total < q.Total {
			t.Fatalf("returning a minute later lowered the price from %d to %d", q.Total, q2.Total)
		}
	})
}

// TestMonotoneMinuteByMinute grows a window one minute at a time over three
// weekdays and a weekend day: the total never falls and the cap always holds.
func TestMonotoneMinuteByMinute(t *testing.T) {
	p, _ := seedPlan.plan()
	loc := zone(t, 0)
	start := time.Date(2025, 3, 13, 16, 7, 0, 0, loc) // a Thursday afternoon
	for _, member := range []bool{false, true} {
		var prev int64
		for m := 1; m <= 4*minutesPerDay; m++ {
			q, err := QuoteRental(p, QuoteInput{Start: start, End: start.Add(time.Duration(m) * time.Minute), Loc: loc, Member: member})
			if err != nil {
				t.Fatal(err)
			}
			if q.Total < prev {
				t.Fatalf("member=%v: total fell from %d to %d at %d minutes", member, prev, q.Total, m)
			}
			if tc := q.TimeCharge(); tc > ceilDiv(int64(m), minutesPerDay)*p.DailyCap {
				t.Fatalf("member=%v: time charge %d over the cap at %d minutes", member, tc, m)
			}
			prev = q.Total
		}
	}
}

// TestMulDivRoundQuick checks the 128-bit rounding helper against math/big,
// including its saturation when the quotient leaves int64.
func TestMulDivRoundQuick(t *testing.T) {
	f := func(a, b int64, c uint32) bool {
		a, b = a&math.MaxInt64, (b&math.MaxInt64)>>(c%63) // vary the magnitude so both paths run
		div := int64(c) + 1
		num := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
		num.Add(num, big.NewInt(div/2))
		want := num.Quo(num, big.NewInt(div))
		if !want.IsInt64() { // out of range: saturates
			return mulDivRound(a, b, div) == math.MaxInt64
		}
		return mulDivRound(a, b, div) == want.Int64()
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 20000}); err != nil {
		t.Error(err)
	}
}

// TestQuoteInvariantsQuick draws random plans and windows with testing/quick
// and checks the quote invariants and the reference time charge.
func TestQuoteInvariantsQuick(t *testing.T) {
	f := func(fp fuzzPlan, startSec int64, dur uint16, member bool, z uint8) bool {
		p, ok := fp.plan()
		if !ok {
			return true
		}
		loc := zone(t, z)
		start := fuzzStart(startSec)
		in := QuoteInput{Start: start, End: start.Add(time.Duration(dur%(3*minutesPerDay)+1) * time.Minute), Loc: loc, Member: member}
		q, err := QuoteRental(p, in)
		if err != nil {
			t.Fatalf("QuoteRental error = %v", err)
		}
		checkQuote(t, q)
		r := ratesFor(&p, member)
		return q.TimeCharge() == refTimeCharge(&p, &r, loc, start, int(q.Minutes))
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Error(err)
	}
}

// TestDaylightSavingWindows pins the wall-clock rule on the two kinds of
// transition day, which Asia/Shanghai never has but a plan's zone might.
func TestDaylightSavingWindows(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		start      time.Time
		from, to   int
		wantMinute int64
	}{
		// 02:08 does not exist on 2005-04-03: the window opens at 03:00 EDT.
		{"spring forward", time.Date(2005, 4, 3, 0, 0, 0, 0, ny), 2*60 + 8, 23 * 60, (23 - 3) * 60},
		// 01:30 EDT (05:30 UTC) to 23:00 EST (04:00 UTC), the repeated hour counted in full.
		{"fall back", time.Date(2005, 10, 30, 0, 0, 0, 0, ny), 60 + 30, 23 * 60, 22*60 + 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Plan{NightStart: tt.from, NightEnd: tt.to, NightMultiplierBP: 15000}
			var bw blockWindows
			bw.collect(&p, ny, tt.start, minutesPerDay)
			if got := count(bw.night[:bw.nn], 0, minutesPerDay); got != tt.wantMinute {
				t.Errorf("night minutes = %d, want %d", got, tt.wantMinute)
			}
		})
	}
}
