package pricing_test

import (
	"testing"
	"time"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// The test plan's prices, named so that expectations read as arithmetic.
const (
	unlock    = 500   // ¥5.00
	perMinute = 50    // ¥0.50
	perHour   = 2400  // ¥24: cheaper than minutes from 48 minutes on
	perDay    = 16800 // ¥168: cheaper than hours from 7 hours on
	dailyCap  = 19800 // ¥198 per 24 h, surcharges included
	kmPerDay  = 200
	perKm     = 100
	lateFee   = 1000
	lowBatFee = 3000
	zoneFee   = 5000
	cleanFee  = 8000
	noShowFee = 5000
	vatBP     = 1300 // 13 %

	nightExtraBP = 5000 // night ×1.5, 22:00–06:00
	peakExtraBP  = 2000 // peak ×1.2, Mon–Fri 07:00–09:00 and 17:00–19:00
	memberKeepBP = 9000 // members pay 90 % of time
)

func testPlan() pricing.Plan {
	return pricing.Plan{
		ID: "hs9-standard", Version: 3, Currency: "CNY",
		UnlockFee: unlock, PerMinute: perMinute, PerHour: perHour, PerDay: perDay, DailyCap: dailyCap,
		IncludedKmPerDay: kmPerDay, PerKm: perKm,
		NightStart: 22 * 60, NightEnd: 6 * 60, NightMultiplierBP: 10000 + nightExtraBP,
		Peaks: []pricing.PeakWindow{
			{Start: 7 * 60, End: 9 * 60, Days: pricing.MondayToFriday},
			{Start: 17 * 60, End: 19 * 60, Days: pricing.MondayToFriday},
		},
		PeakMultiplierBP:       10000 + peakExtraBP,
		MemberDiscountBP:       10000 - memberKeepBP,
		LateFeePer15Min:        lateFee,
		LowBatteryThresholdPct: 20, LowBatteryFee: lowBatFee,
		OutOfZoneFee: zoneFee, CleaningFee: cleanFee,
		CancelFreeHours: 2, CancelPctBP: 2000, NoShowFee: noShowFee,
		VATRateBP: vatBP,
	}
}

func shanghai(tb testing.TB) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		tb.Fatalf("load Asia/Shanghai: %v", err)
	}
	return loc
}

// at parses a local time in Shanghai. 2025-03-10 is a Monday, 03-12 a
// Wednesday, 03-15 a Saturday.
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout = "2006-01-02 15:04:05"
	}
	t, err := time.ParseInLocation(layout, s, shanghai(tb))
	if err != nil {
		tb.Fatalf("parse %q: %v", s, err)
	}
	return t
}

// roundHalfUp is num/den rounded half up, written independently of the
// package so tests do not check the code against itself.
func roundHalfUp(num, den int64) int64 { return (2*num + den) / (2 * den) }

func per(code, unit string, qty, price int64) pricing.Line {
	return pricing.Line{Code: code, Quantity: qty, Unit: unit, UnitAmount: price, Amount: qty * price}
}

func fee(code string, amount int64) pricing.Line {
	return pricing.Line{Code: code, Quantity: 1, Unit: pricing.UnitFee, UnitAmount: amount, Amount: amount}
}

func unlockLine() pricing.Line { return fee(pricing.CodeUnlockFee, unlock) }

// expect builds the quote a case expects from its lines: the subtotal, VAT
// rounded half up at the plan's rate and the total.
func expect(p pricing.Plan, minutes, includedKm int64, lines ...pricing.Line) pricing.Quote {
	q := pricing.Quote{PlanID: p.ID, PlanVersion: p.Version, Currency: p.Currency,
		Minutes: minutes, IncludedKm: includedKm, Lines: []pricing.Line{}}
	for _, l := range lines {
		q.Subtotal += l.Amount
	}
	q.VAT = roundHalfUp(q.Subtotal*p.VATRateBP, 10000)
	q.Total = q.Subtotal + q.VAT
	if len(lines) > 0 {
		q.Lines = append(append(q.Lines, lines...), fee(pricing.CodeVAT, q.VAT))
	}
	return q
}
