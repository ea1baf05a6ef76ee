package pricing_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// ignoreText leaves the bilingual descriptions to TestDescriptions, so the
// table cases state only the numbers.
var ignoreText = cmpopts.IgnoreFields(pricing.Line{}, "DescriptionZH", "DescriptionEN")

// Line shorthands for the table.
var (
	days    = func(n, price int64) pricing.Line { return per(pricing.CodeTimeDays, pricing.UnitDay, n, price) }
	hours   = func(n, price int64) pricing.Line { return per(pricing.CodeTimeHours, pricing.UnitHour, n, price) }
	minutes = func(n, price int64) pricing.Line { return per(pricing.CodeTimeMinutes, pricing.UnitMinute, n, price) }
	capped  = func(n, price int64) pricing.Line { return per(pricing.CodeTimeDailyCap, pricing.UnitDay, n, price) }
	night   = func(amount int64) pricing.Line { return fee(pricing.CodeNightSurcharge, amount) }
	peak    = func(amount int64) pricing.Line { return fee(pricing.CodePeakSurcharge, amount) }
	km      = func(n int64) pricing.Line { return per(pricing.CodeKmOverage, pricing.UnitKm, n, perKm) }
)

// Surcharge shares, as documented in the package: a window minute costs its
// unit's per-minute share × (multiplier − 1).
func onHours(windowMin, extraBP int64) int64 { return roundHalfUp(windowMin*perHour*extraBP, 60*10000) }
func onDay(windowMin, extraBP int64) int64   { return roundHalfUp(windowMin*perDay*extraBP, 1440*10000) }

func TestQuoteRental(t *testing.T) {
	loc := shanghai(t)
	member := func(price int64) int64 { return roundHalfUp(price*memberKeepBP, 10000) }
	tests := []struct {
		name       string
		plan       func(*pricing.Plan)
		start, end string
		km         int64
		member     bool
		minutes    int64
		includedKm int64
		lines      []pricing.Line
	}{
		{name: "2 h 15 min weekday daytime", start: "2025-03-12 10:00", end: "2025-03-12 12:15",
			minutes: 2*60 + 15, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(15, perMinute)}},
		{name: "47 min by the minute", start: "2025-03-12 10:00", end: "2025-03-12 10:47",
			minutes: 47, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), minutes(47, perMinute)}}, // 47*50 = 2350 < 2400
		{name: "48 min ties with an hour: fewer units win", start: "2025-03-12 10:00", end: "2025-03-12 10:48",
			minutes: 48, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(1, perHour)}}, // 48*50 = 2400
		{name: "49 min charged as one hour", start: "2025-03-12 10:00", end: "2025-03-12 10:49",
			minutes: 49, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(1, perHour)}}, // 49*50 = 2450 > 2400
		{name: "a started minute is charged", start: "2025-03-12 10:00:00", end: "2025-03-12 10:30:20",
			minutes: 31, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), minutes(31, perMinute)}},
		{name: "8 h on a Saturday: one day is cheaper than 8 hours", start: "2025-03-15 09:00", end: "2025-03-15 17:00",
			minutes: 8 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay)}}, // 8*2400 = 19200 > 16800
		{name: "into the night window", start: "2025-03-12 21:00", end: "2025-03-12 23:00",
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), night(onHours(60, nightExtraBP))}},
		{name: "across midnight, all night", start: "2025-03-12 23:00", end: "2025-03-13 01:00",
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), night(onHours(2*60, nightExtraBP))}},
		{name: "hours then minutes: night minutes under the minute rate", start: "2025-03-12 20:00", end: "2025-03-12 22:20",
			minutes: 2*60 + 20, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(20, perMinute),
				night(roundHalfUp(20*perMinute*nightExtraBP, 10000))}},
		{name: "7 night minutes under a day unit round half up", start: "2025-03-15 10:00", end: "2025-03-15 22:07",
			minutes: 12*60 + 7, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), night(onDay(7, nightExtraBP))}}, // 40.83 → 41
		{name: "day unit with four night hours", start: "2025-03-15 18:00", end: "2025-03-16 02:00",
			minutes: 8 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), night(onDay(4*60, nightExtraBP))}},
		{name: "weekday morning peak", start: "2025-03-10 08:00", end: "2025-03-10 10:00",
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), peak(onHours(60, peakExtraBP))}},
		{name: "no peak on Saturday", start: "2025-03-15 08:00", end: "2025-03-15 10:00",
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "night and peak in one window", start: "2025-03-10 05:00", end: "2025-03-10 08:00",
			minutes: 3 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(3, perHour),
				night(onHours(60, nightExtraBP)), peak(onHours(60, peakExtraBP))}},
		{name: "exactly 24 h on a weekend, under the cap", start: "2025-03-15 10:00", end: "2025-03-16 10:00",
			minutes: 24 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), night(onDay(8*60, nightExtraBP))}}, // 16800+2800 < 19800
		{name: "24 h + 1 min starts a second block", start: "2025-03-15 10:00", end: "2025-03-16 10:01",
			minutes: 24*60 + 1, includedKm: 2 * kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), minutes(1, perMinute), night(onDay(8*60, nightExtraBP))}},
		{name: "weekday 24 h hits the cap", start: "2025-03-10 10:00", end: "2025-03-11 10:00",
			minutes: 24 * 60, includedKm: kmPerDay,
			// 16800 + 2800 night + onDay(240 min peak) 560 = 20160 > 19800
			lines: []pricing.Line{unlockLine(), capped(1, dailyCap)}},
		{name: "3 days hitting the cap", start: "2025-03-10 10:00", end: "2025-03-13 10:00",
			minutes: 3 * 24 * 60, includedKm: 3 * kmPerDay,
			lines: []pricing.Line{unlockLine(), capped(3, dailyCap)}},
		{name: "3 days capped + 2 h", start: "2025-03-10 10:00", end: "2025-03-13 12:00",
			minutes: 3*24*60 + 2*60, includedKm: 4 * kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), capped(3, dailyCap)}},
		{name: "no daily cap", plan: func(p *pricing.Plan) { p.DailyCap = 0 },
			start: "2025-03-10 10:00", end: "2025-03-11 10:00",
			minutes: 24 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), night(onDay(8*60, nightExtraBP)), peak(onDay(4*60, peakExtraBP))}},
		{name: "member price + VAT", start: "2025-03-12 10:00", end: "2025-03-12 12:15", member: true,
			minutes: 2*60 + 15, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, member(perHour)), minutes(15, member(perMinute))}},
		{name: "member unit price rounds half up", plan: func(p *pricing.Plan) { p.PerMinute = 55 },
			start: "2025-03-12 10:00", end: "2025-03-12 10:10", member: true,
			minutes: 10, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), minutes(10, roundHalfUp(55*memberKeepBP, 10000))}}, // 49.5 → 50
		{name: "member daily cap", start: "2025-03-10 10:00", end: "2025-03-11 10:00", member: true,
			minutes: 24 * 60, includedKm: kmPerDay,
			// 15120 + 2520 night + 504 peak = 18144 > 17820
			lines: []pricing.Line{unlockLine(), capped(1, member(dailyCap))}},
		{name: "member surcharge follows the member base", start: "2025-03-12 21:00", end: "2025-03-12 23:00", member: true,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, member(perHour)),
				night(roundHalfUp(60*member(perHour)*nightExtraBP, 60*10000))}},
		{name: "estimated km within the allowance", start: "2025-03-12 10:00", end: "2025-03-12 12:15", km: kmPerDay,
			minutes: 2*60 + 15, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(15, perMinute)}},
		{name: "estimated km beyond the allowance", start: "2025-03-12 10:00", end: "2025-03-12 12:15", km: 250,
			minutes: 2*60 + 15, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(15, perMinute), km(250 - kmPerDay)}},
		{name: "allowance per started day", start: "2025-03-15 10:00", end: "2025-03-16 10:01", km: 450,
			minutes: 24*60 + 1, includedKm: 2 * kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay), minutes(1, perMinute),
				night(onDay(8*60, nightExtraBP)), km(450 - 2*kmPerDay)}},
		{name: "0 % VAT still shows the VAT line", plan: func(p *pricing.Plan) { p.VATRateBP = 0 },
			start: "2025-03-12 10:00", end: "2025-03-12 12:00",
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "day-only plan charges a started day", plan: func(p *pricing.Plan) { p.PerMinute, p.PerHour = 0, 0 },
			start: "2025-03-12 10:00", end: "2025-03-12 10:30",
			minutes: 30, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), days(1, perDay)}},
		{name: "hour-only plan charges started hours", plan: func(p *pricing.Plan) { p.PerMinute, p.PerDay = 0, 0 },
			start: "2025-03-12 10:00", end: "2025-03-12 11:05",
			minutes: 65, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "night window not wrapping midnight", plan: func(p *pricing.Plan) { p.NightStart, p.NightEnd = 1*60, 5*60 },
			start: "2025-03-15 00:00", end: "2025-03-15 06:00",
			minutes: 6 * 60, includedKm: kmPerDay,
			// 6 h = 14400 + onHours(240) 4800 = 19200 > one day 16800 + 1400
			lines: []pricing.Line{unlockLine(), days(1, perDay), night(onDay(4*60, nightExtraBP))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			if tt.plan != nil {
				tt.plan(&p)
			}
			got, err := pricing.QuoteRental(p, pricing.QuoteInput{
				Start: at(t, tt.start), End: at(t, tt.end), Loc: loc, EstimatedKm: tt.km, Member: tt.member,
			})
			if err != nil {
				t.Fatalf("QuoteRental() error = %v", err)
			}
			want := expect(p, tt.minutes, tt.includedKm, tt.lines...)
			if diff := cmp.Diff(want, got, ignoreText); diff != "" {
				t.Errorf("QuoteRental() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuoteRentalRejectsBadInput(t *testing.T) {
	loc := shanghai(t)
	start := at(t, "2025-03-12 10:00")
	tests := []struct {
		name  string
		in    pricing.QuoteInput
		field string
	}{
		{"end before start", pricing.QuoteInput{Start: start, End: start.Add(-1), Loc: loc}, "end"},
		{"empty window", pricing.QuoteInput{Start: start, End: start, Loc: loc}, "end"},
		{"no start", pricing.QuoteInput{End: start, Loc: loc}, "start"},
		{"no time zone", pricing.QuoteInput{Start: start, End: start.Add(pricing.MaxRental / 2)}, "loc"},
		{"too long", pricing.QuoteInput{Start: start, End: start.Add(pricing.MaxRental + 1), Loc: loc}, "end"},
		{"negative km", pricing.QuoteInput{Start: start, End: start.Add(60e9), Loc: loc, EstimatedKm: -1}, "estimated_km"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pricing.QuoteRental(testPlan(), tt.in)
			assertInvalid(t, err, tt.field)
		})
	}
	bad := testPlan()
	bad.PerHour = -1
	_, err := pricing.QuoteRental(bad, pricing.QuoteInput{Start: start, End: start.Add(60e9), Loc: loc})
	assertInvalid(t, err, "per_hour")
}

// assertInvalid checks that err is an *InvalidError naming field.
func assertInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !errors.Is(err, pricing.ErrInvalid) {
		t.Fatalf("error = %v, want one matching ErrInvalid", err)
	}
	var inv *pricing.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("error = %T, want *InvalidError", err)
	}
	for _, f := range inv.Fields {
		if f.Field == field {
			return
		}
	}
	t.Errorf("error = %v, want it to name %q", err, field)
}

func TestDescriptions(t *testing.T) {
	got, err := pricing.QuoteRental(testPlan(), pricing.QuoteInput{
		Start: at(t, "2025-03-12 21:00"), End: at(t, "2025-03-12 23:00"), Loc: shanghai(t), Member: true, EstimatedKm: 260,
	})
	if err != nil {
		t.Fatal(err)
	}
	type text struct{ Code, ZH, EN string }
	var texts []text
	for _, l := range got.Lines {
		texts = append(texts, text{l.Code, l.DescriptionZH, l.DescriptionEN})
	}
	want := []text{
		{"unlock_fee", "解锁费", "Unlock fee"},
		{"time_hours", "按小时计费（会员价，优惠10%）", "Hourly rate (member price, 10% off)"},
		{"night_surcharge", "夜间加价（22:00–06:00，×1.5，60分钟）", "Night surcharge (22:00–06:00, ×1.5, 60 min)"},
		{"km_overage", "超出里程（含200公里）", "Distance beyond the included 200 km"},
		{"vat", "增值税 13%", "VAT 13%"},
	}
	if diff := cmp.Diff(want, texts); diff != "" {
		t.Errorf("descriptions mismatch (-want +got):\n%s", diff)
	}
}
