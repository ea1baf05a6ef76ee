// Package plans stores pricing plans and their immutable versions, assigns
// them to vehicle models (optionally per zone), and makes quotes with the
// pure pricing core.
package plans

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// Rules are one version of a plan as the API and the database spell it:
// pricing.Plan with times of day as "HH:MM" and weekdays by name. Amounts are
// net fen; *_bp are basis points (10000 = 100 %).
type Rules struct {
	Currency               string `json:"currency"`
	UnlockFee              int64  `json:"unlock_fee"`
	PerMinute              int64  `json:"per_minute"`
	PerHour                int64  `json:"per_hour"`
	PerDay                 int64  `json:"per_day"`
	DailyCap               int64  `json:"daily_cap"`
	IncludedKmPerDay       int64  `json:"included_km_per_day"`
	PerKm                  int64  `json:"per_km"`
	NightStart             string `json:"night_start"`
	NightEnd               string `json:"night_end"`
	NightMultiplierBP      int64  `json:"night_multiplier_bp"`
	Peaks                  []Peak `json:"peaks"`
	PeakMultiplierBP       int64  `json:"peak_multiplier_bp"`
	MemberDiscountBP       int64  `json:"member_discount_bp"`
	LateFeePer15Min        int64  `json:"late_fee_per_15_min"`
	LowBatteryThresholdPct int    `json:"low_battery_threshold_pct"`
	LowBatteryFee          int64  `json:"low_battery_fee"`
	OutOfZoneFee           int64  `json:"out_of_zone_fee"`
	CleaningFee            int64  `json:"cleaning_fee"`
	CancelFreeHours        int    `json:"cancel_free_hours"`
	CancelFee              int64  `json:"cancel_fee"`
	CancelPctBP            int64  `json:"cancel_pct_bp"`
	NoShowFee              int64  `json:"no_show_fee"`
	VATRateBP              int64  `json:"vat_rate_bp"`
}

// Peak is a daily peak window on some weekdays.
type Peak struct {
	Start string   `json:"start"`
	End   string   `json:"end"`
	Days  []string `json:"days"` // mon … sun
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// clock reads "HH:MM" (and "24:00" where allowEnd) as minutes after midnight.
func clock(f *apperr.Fields, field, s string, allowEnd bool) int {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) != 2 || len(m) != 2 || mm < 0 || mm > 59 || hh < 0 ||
		hh > 24 || (hh == 24 && (mm != 0 || !allowEnd)) {
		f.Add(field, "must be a time of day as HH:MM")
		return 0
	}
	return hh*60 + mm
}

func hhmm(minutes int) string { return fmt.Sprintf("%02d:%02d", minutes/60, minutes%60) }

// Plan turns rules into the pricing core's plan, reporting every invalid
// field as rules.<field>.
func (r Rules) Plan(id string, version int) (pricing.Plan, error) {
	var f apperr.Fields
	p := pricing.Plan{
		ID: id, Version: version, Currency: r.Currency, UnlockFee: r.UnlockFee, PerMinute: r.PerMinute,
		PerHour: r.PerHour, PerDay: r.PerDay, DailyCap: r.DailyCap, IncludedKmPerDay: r.IncludedKmPerDay,
		PerKm: r.PerKm, NightMultiplierBP: r.NightMultiplierBP, PeakMultiplierBP: r.PeakMultiplierBP,
		MemberDiscountBP: r.MemberDiscountBP, LateFeePer15Min: r.LateFeePer15Min,
		LowBatteryThresholdPct: r.LowBatteryThresholdPct, LowBatteryFee: r.LowBatteryFee,
		OutOfZoneFee: r.OutOfZoneFee, CleaningFee: r.CleaningFee, CancelFreeHours: r.CancelFreeHours,
		CancelFee: r.CancelFee, CancelPctBP: r.CancelPctBP, NoShowFee: r.NoShowFee, VATRateBP: r.VATRateBP,
	}
	if r.NightStart != "" || r.NightEnd != "" {
		p.NightStart = clock(&f, "rules.night_start", r.NightStart, false)
		p.NightEnd = clock(&f, "rules.night_end", r.NightEnd, false)
	}
	for i, pk := range r.Peaks {
		field := fmt.Sprintf("rules.peaks[%d]", i)
		w := pricing.PeakWindow{Start: clock(&f, field+".start", pk.Start, false), End: clock(&f, field+".end", pk.End, true)}
		for _, d := range pk.Days {
			found := false
			for wd, name := range dayNames {
				if d == name {
					w.Days |= 1 << time.Weekday(wd)
					found = true
				}
			}
			if !found {
				f.Add(field+".days", "days are mon, tue, wed, thu, fri, sat, sun")
			}
		}
		p.Peaks = append(p.Peaks, w)
	}
	if err := f.Err(); err != nil {
		return pricing.Plan{}, err
	}
	if err := p.Validate(); err != nil {
		return pricing.Plan{}, fromPricing(err, "rules.")
	}
	return p, nil
}

// RulesOf is the inverse of Rules.Plan.
func RulesOf(p pricing.Plan) Rules {
	r := Rules{
		Currency: p.Currency, UnlockFee: p.UnlockFee, PerMinute: p.PerMinute, PerHour: p.PerHour, PerDay: p.PerDay,
		DailyCap: p.DailyCap, IncludedKmPerDay: p.IncludedKmPerDay, PerKm: p.PerKm,
		NightMultiplierBP: p.NightMultiplierBP, PeakMultiplierBP: p.PeakMultiplierBP, MemberDiscountBP: p.MemberDiscountBP,
		LateFeePer15Min: p.LateFeePer15Min, LowBatteryThresholdPct: p.LowBatteryThresholdPct, LowBatteryFee: p.LowBatteryFee,
		OutOfZoneFee: p.OutOfZoneFee, CleaningFee: p.CleaningFee, CancelFreeHours: p.CancelFreeHours,
		CancelFee: p.CancelFee, CancelPctBP: p.CancelPctBP, NoShowFee: p.NoShowFee, VATRateBP: p.VATRateBP,
		Peaks: []Peak{},
	}
	if p.NightStart != p.NightEnd {
		r.NightStart, r.NightEnd = hhmm(p.NightStart), hhmm(p.NightEnd)
	}
	for _, w := range p.Peaks {
		pk := Peak{Start: hhmm(w.Start), End: hhmm(w.End), Days: []string{}}
		for wd, name := range dayNames {
			if w.Days.Has(time.Weekday(wd)) {
				pk.Days = append(pk.Days, name)
			}
		}
		r.Peaks = append(r.Peaks, pk)
	}
	return r
}

// fromPricing turns the pricing core's invalid-input error into the
// service's, prefixing its field names.
func fromPricing(err error, prefix string) error {
	ie, ok := err.(*pricing.InvalidError)
	if !ok {
		return err
	}
	var f apperr.Fields
	for _, fe := range ie.Fields {
		f.Add(prefix+fe.Field, fe.Reason)
	}
	return f.Err()
}
