package pricing_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

func TestFinalPrice(t *testing.T) {
	loc := shanghai(t)
	late := func(periods int64) pricing.Line {
		return per(pricing.CodeLateFee, pricing.UnitQuarterHr, periods, lateFee)
	}
	member := func(price int64) int64 { return roundHalfUp(price*memberKeepBP, 10000) }
	tests := []struct {
		name        string
		bookedStart string // default Wednesday 10:00
		bookedEnd   string // default Wednesday 12:00
		actualEnd   string
		km          int64
		ev          bool
		battery     int
		outOfZone   bool
		cleaning    bool
		member      bool
		minutes     int64
		includedKm  int64
		lines       []pricing.Line
	}{
		{name: "on time", actualEnd: "2025-03-12 12:00", battery: 80,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "early return refunds no time", actualEnd: "2025-03-12 11:00", battery: 80,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "late by 30 s: a started minute and a started quarter", actualEnd: "2025-03-12 12:00:30", battery: 80,
			minutes: 2*60 + 1, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(1, perMinute), late(1)}},
		{name: "late by 1 min", actualEnd: "2025-03-12 12:01", battery: 80,
			minutes: 2*60 + 1, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(1, perMinute), late(1)}},
		{name: "late by exactly 15 min", actualEnd: "2025-03-12 12:15", battery: 80,
			minutes: 2*60 + 15, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(15, perMinute), late(1)}},
		{name: "late by 16 min", actualEnd: "2025-03-12 12:16", battery: 80,
			minutes: 2*60 + 16, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), minutes(16, perMinute), late(2)}}, // 4800+800 < 3*2400
		{name: "late into the night", bookedStart: "2025-03-12 20:00", bookedEnd: "2025-03-12 22:00",
			actualEnd: "2025-03-12 23:10", battery: 80,
			minutes: 3*60 + 10, includedKm: kmPerDay,
			// 3 h over 20:00–23:00 hold 60 night minutes, the 10 single minutes are all night:
			// 7200 + 500 + (60*2400 + 10*50*60)*5000/600000 = 9150 < 4 h (9600 + 1400)
			lines: []pricing.Line{unlockLine(), hours(3, perHour), minutes(10, perMinute),
				night(roundHalfUp((60*perHour+10*perMinute*60)*nightExtraBP, 60*10000)), late(5)}}, // 70 min = 5 started quarters
		{name: "km beyond the included km", actualEnd: "2025-03-12 12:00", km: 260, battery: 80,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), km(260 - kmPerDay)}},
		{name: "low battery EV", actualEnd: "2025-03-12 12:00", ev: true, battery: 15,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour), fee(pricing.CodeLowBatteryFee, lowBatFee)}},
		{name: "EV at the threshold pays no low-battery fee", actualEnd: "2025-03-12 12:00", ev: true, battery: 20,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "no low-battery fee for a combustion car", actualEnd: "2025-03-12 12:00", battery: 5,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour)}},
		{name: "out of zone and cleaning", actualEnd: "2025-03-12 12:00", battery: 80, outOfZone: true, cleaning: true,
			minutes: 2 * 60, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, perHour),
				fee(pricing.CodeOutOfZoneFee, zoneFee), fee(pricing.CodeCleaningFee, cleanFee)}},
		{name: "member: time discounted, late fee not", actualEnd: "2025-03-12 12:16", battery: 80, member: true,
			minutes: 2*60 + 16, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), hours(2, member(perHour)), minutes(16, member(perMinute)), late(2)}},
		{name: "everything at once after a capped day", bookedStart: "2025-03-10 10:00", bookedEnd: "2025-03-11 10:00",
			actualEnd: "2025-03-11 10:20", km: 500, ev: true, battery: 10, outOfZone: true, cleaning: true,
			minutes: 24*60 + 20, includedKm: kmPerDay,
			lines: []pricing.Line{unlockLine(), minutes(20, perMinute), capped(1, dailyCap), km(500 - kmPerDay), late(2),
				fee(pricing.CodeLowBatteryFee, lowBatFee), fee(pricing.CodeOutOfZoneFee, zoneFee), fee(pricing.CodeCleaningFee, cleanFee)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bs, be := "2025-03-12 10:00", "2025-03-12 12:00"
			if tt.bookedStart != "" {
				bs, be = tt.bookedStart, tt.bookedEnd
			}
			p := testPlan()
			got, err := pricing.FinalPrice(p, pricing.FinalInput{
				BookedStart: at(t, bs), BookedEnd: at(t, be), ActualEnd: at(t, tt.actualEnd), Loc: loc,
				Km: tt.km, EV: tt.ev, EndBatteryPct: tt.battery, OutOfZone: tt.outOfZone, Cleaning: tt.cleaning, Member: tt.member,
			})
			if err != nil {
				t.Fatalf("FinalPrice() error = %v", err)
			}
			want := expect(p, tt.minutes, tt.includedKm, tt.lines...)
			if diff := cmp.Diff(want, got, ignoreText); diff != "" {
				t.Errorf("FinalPrice() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFinalPriceRejectsBadInput(t *testing.T) {
	loc := shanghai(t)
	start := at(t, "2025-03-12 10:00")
	ok := pricing.FinalInput{BookedStart: start, BookedEnd: start.Add(2 * time.Hour), ActualEnd: start.Add(2 * time.Hour), Loc: loc}
	tests := []struct {
		name  string
		edit  func(*pricing.FinalInput)
		field string
	}{
		{"booked end before start", func(in *pricing.FinalInput) { in.BookedEnd = start }, "booked_end"},
		{"no actual end", func(in *pricing.FinalInput) { in.ActualEnd = time.Time{} }, "actual_end"},
		{"trip far too long", func(in *pricing.FinalInput) { in.ActualEnd = start.Add(pricing.MaxRental + time.Minute) }, "actual_end"},
		{"no time zone", func(in *pricing.FinalInput) { in.Loc = nil }, "loc"},
		{"negative km", func(in *pricing.FinalInput) { in.Km = -5 }, "km"},
		{"battery over 100 %", func(in *pricing.FinalInput) { in.EndBatteryPct = 101 }, "end_battery_pct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.edit(&in)
			_, err := pricing.FinalPrice(testPlan(), in)
			assertInvalid(t, err, tt.field)
		})
	}
}

func TestCancellationCharge(t *testing.T) {
	start := at(t, "2025-03-12 10:00")
	const subtotal = 5300 // unlock + 2 h on a weekday
	tests := []struct {
		name        string
		plan        func(*pricing.Plan)
		cancelledAt time.Time
		subtotal    int64
		byOperator  bool
		lines       []pricing.Line
	}{
		{name: "3 h before: free", cancelledAt: start.Add(-3 * time.Hour), subtotal: subtotal},
		{name: "exactly at the 2 h cut-off: free", cancelledAt: start.Add(-2 * time.Hour), subtotal: subtotal},
		{name: "1 h before: 20 % of the net booking", cancelledAt: start.Add(-time.Hour), subtotal: subtotal,
			lines: []pricing.Line{fee(pricing.CodeCancellationFee, subtotal*2000/10000)}},
		{name: "1 min inside the cut-off", cancelledAt: start.Add(-2*time.Hour + time.Minute), subtotal: subtotal,
			lines: []pricing.Line{fee(pricing.CodeCancellationFee, subtotal*2000/10000)}},
		{name: "percentage rounds half up", cancelledAt: start.Add(-time.Hour), subtotal: 5303,
			lines: []pricing.Line{fee(pricing.CodeCancellationFee, roundHalfUp(5303*2000, 10000))}}, // 1060.6 → 1061
		{name: "after the start", cancelledAt: start.Add(10 * time.Minute), subtotal: subtotal,
			lines: []pricing.Line{fee(pricing.CodeCancellationFee, subtotal*2000/10000)}},
		{name: "by an operator inside the window: free", cancelledAt: start.Add(-time.Hour), subtotal: subtotal, byOperator: true},
		{name: "fixed fee wins over the percentage", plan: func(p *pricing.Plan) { p.CancelFee = 3000 },
			cancelledAt: start.Add(-time.Hour), subtotal: subtotal,
			lines: []pricing.Line{fee(pricing.CodeCancellationFee, 3000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			if tt.plan != nil {
				tt.plan(&p)
			}
			got, err := pricing.CancellationCharge(p, pricing.CancelInput{
				Start: start, CancelledAt: tt.cancelledAt, QuoteSubtotal: tt.subtotal, ByOperator: tt.byOperator,
			})
			if err != nil {
				t.Fatalf("CancellationCharge() error = %v", err)
			}
			want := expect(p, 0, 0, tt.lines...)
			if diff := cmp.Diff(want, got, ignoreText); diff != "" {
				t.Errorf("CancellationCharge() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	_, err := pricing.CancellationCharge(testPlan(), pricing.CancelInput{Start: start, QuoteSubtotal: -1})
	assertInvalid(t, err, "quote_subtotal")
}

func TestNoShowCharge(t *testing.T) {
	p := testPlan()
	got, err := pricing.NoShowCharge(p)
	if err != nil {
		t.Fatal(err)
	}
	want := expect(p, 0, 0, fee(pricing.CodeNoShowFee, noShowFee)) // 5000 + 650 VAT
	if diff := cmp.Diff(want, got, ignoreText); diff != "" {
		t.Errorf("NoShowCharge() mismatch (-want +got):\n%s", diff)
	}
	if got.Total != noShowFee+noShowFee*vatBP/10000 {
		t.Errorf("NoShowCharge().Total = %d, want %d", got.Total, noShowFee+noShowFee*vatBP/10000)
	}
}
