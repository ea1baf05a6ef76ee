package pricing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hongqi-mobility/mobility/internal/pricing"
)

func TestPlanValidate(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*pricing.Plan)
		fields []string // nil: valid
	}{
		{name: "the test plan", edit: func(*pricing.Plan) {}},
		{name: "zero multipliers mean none", edit: func(p *pricing.Plan) { p.NightMultiplierBP, p.PeakMultiplierBP = 0, 0 }},
		{name: "no night window", edit: func(p *pricing.Plan) { p.NightStart, p.NightEnd = 0, 0 }},
		{name: "peaks on different days may share hours", edit: func(p *pricing.Plan) {
			p.Peaks = append(p.Peaks, pricing.PeakWindow{Start: 8 * 60, End: 11 * 60, Days: pricing.Weekend})
		}},
		{name: "negative unlock fee", edit: func(p *pricing.Plan) { p.UnlockFee = -1 }, fields: []string{"unlock_fee"}},
		{name: "negative rates, all named", edit: func(p *pricing.Plan) { p.PerMinute, p.PerKm, p.CleaningFee = -1, -2, -3 },
			fields: []string{"per_minute", "per_km", "cleaning_fee"}},
		{name: "amount over the limit", edit: func(p *pricing.Plan) { p.DailyCap = pricing.MaxAmount + 1 }, fields: []string{"daily_cap"}},
		{name: "no time unit offered", edit: func(p *pricing.Plan) { p.PerMinute, p.PerHour, p.PerDay = 0, 0, 0 }, fields: []string{"per_minute"}},
		{name: "bad currency", edit: func(p *pricing.Plan) { p.Currency = "rmb" }, fields: []string{"currency"}},
		{name: "negative version", edit: func(p *pricing.Plan) { p.Version = -1 }, fields: []string{"version"}},
		{name: "night start past midnight", edit: func(p *pricing.Plan) { p.NightStart = 1440 }, fields: []string{"night_start"}},
		{name: "negative night end", edit: func(p *pricing.Plan) { p.NightEnd = -1 }, fields: []string{"night_end"}},
		{name: "night multiplier below ×1", edit: func(p *pricing.Plan) { p.NightMultiplierBP = 9000 }, fields: []string{"night_multiplier_bp"}},
		{name: "peak multiplier above ×10", edit: func(p *pricing.Plan) { p.PeakMultiplierBP = 100001 }, fields: []string{"peak_multiplier_bp"}},
		{name: "discount over 100 %", edit: func(p *pricing.Plan) { p.MemberDiscountBP = 10001 }, fields: []string{"member_discount_bp"}},
		{name: "negative VAT", edit: func(p *pricing.Plan) { p.VATRateBP = -1 }, fields: []string{"vat_rate_bp"}},
		{name: "battery threshold over 100", edit: func(p *pricing.Plan) { p.LowBatteryThresholdPct = 101 }, fields: []string{"low_battery_threshold_pct"}},
		{name: "negative free hours", edit: func(p *pricing.Plan) { p.CancelFreeHours = -1 }, fields: []string{"cancel_free_hours"}},
		{name: "cancel percentage over 100 %", edit: func(p *pricing.Plan) { p.CancelPctBP = 10001 }, fields: []string{"cancel_pct_bp"}},
		{name: "negative included km", edit: func(p *pricing.Plan) { p.IncludedKmPerDay = -1 }, fields: []string{"included_km_per_day"}},
		{name: "peak wrapping midnight", edit: func(p *pricing.Plan) {
			p.Peaks[1] = pricing.PeakWindow{Start: 23 * 60, End: 60, Days: pricing.EveryDay}
		},
			fields: []string{"peaks[1].start"}},
		{name: "peak without days", edit: func(p *pricing.Plan) { p.Peaks[0].Days = 0 }, fields: []string{"peaks[0].days"}},
		{name: "peak overlapping the night", edit: func(p *pricing.Plan) { p.Peaks[0].Start = 5 * 60 }, fields: []string{"peaks[0].start"}},
		{name: "overlapping peaks on shared days", edit: func(p *pricing.Plan) {
			p.Peaks = append(p.Peaks, pricing.PeakWindow{Start: 8 * 60, End: 10 * 60, Days: 1 << 1}) // Monday
		}, fields: []string{"peaks[2].start"}},
		{name: "too many peaks", edit: func(p *pricing.Plan) {
			for i := range pricing.MaxPeakWindows {
				p.Peaks = append(p.Peaks, pricing.PeakWindow{Start: 600 + 10*i, End: 605 + 10*i, Days: pricing.Weekend})
			}
		}, fields: []string{"peaks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPlan()
			tt.edit(&p)
			err := p.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, pricing.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an error matching ErrInvalid", err)
			}
			var inv *pricing.InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Validate() = %T, want *InvalidError", err)
			}
			var got []string
			for _, f := range inv.Fields {
				got = append(got, f.Field)
				if !strings.Contains(err.Error(), f.Field+" ") {
					t.Errorf("Error() = %q, want it to name %q", err, f.Field)
				}
			}
			if diff := cmp.Diff(tt.fields, got); diff != "" {
				t.Errorf("Validate() fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
