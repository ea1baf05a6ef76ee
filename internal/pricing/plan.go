package pricing

import (
	"strconv"
	"time"
)

// Limits on plans and inputs. They are far above any real tariff or trip and
// exist so that no product of a rate, a count and a multiplier can overflow.
const (
	// MaxAmount bounds every rate and fee of a plan: ¥1,000,000 in fen.
	MaxAmount = 100_000_000
	// MaxKm bounds distances (included per day and driven or estimated).
	MaxKm = 1_000_000
	// MaxMultiplierBP bounds the night and peak multipliers (×10).
	MaxMultiplierBP = 100_000
	// MaxPeakWindows bounds a plan's peak windows, which keeps a block's
	// window bookkeeping in fixed-size arrays on the stack.
	MaxPeakWindows = 8
	// MaxRental bounds a charged window; longer rentals are contracts, not trips.
	MaxRental = 366 * 24 * time.Hour
	// MaxCancelFreeHours bounds the free-cancellation lead time (a year).
	MaxCancelFreeHours = 366 * 24
)

// minutesPerDay is the length of a day unit and of a cap block.
const minutesPerDay = 24 * 60

// Weekdays is a set of weekdays as a bit mask, bit i standing for
// time.Weekday(i) (Sunday = bit 0), so a peak window can be limited to
// working days.
type Weekdays uint8

// The weekday sets most plans need.
const (
	MondayToFriday Weekdays = 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday
	Weekend        Weekdays = 1<<time.Saturday | 1<<time.Sunday
	EveryDay       Weekdays = MondayToFriday | Weekend
)

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

// PeakWindow is a daily peak period [Start, End) in minutes after local
// midnight, on the given weekdays of the local calendar. Peak windows do not
// wrap past midnight: peak hours are daytime, and night has its own window.
type PeakWindow struct {
	Start int
	End   int
	Days  Weekdays
}

// Plan is one version of a pricing plan. Amounts are net fen (VAT is added on
// top), rates of 0 mean "unit not offered", multipliers and percentages are
// basis points. A plan version is immutable once used for a quote, which is
// why quotes carry PlanID and PlanVersion.
type Plan struct {
	ID       string
	Version  int
	Currency string // ISO 4217, e.g. "CNY"

	UnlockFee int64
	PerMinute int64
	PerHour   int64
	PerDay    int64
	DailyCap  int64 // per 24 h block from the start, surcharges included; 0 = no cap

	IncludedKmPerDay int64 // per started rental day of the booked window
	PerKm            int64 // beyond the included km; 0 = distance not charged

	// NightStart and NightEnd are minutes after local midnight; the window
	// wraps past midnight when NightStart > NightEnd (22:00–06:00) and is
	// absent when they are equal.
	NightStart        int
	NightEnd          int
	NightMultiplierBP int64 // 15000 = ×1.5; 0 or 10000 = no surcharge

	Peaks            []PeakWindow
	PeakMultiplierBP int64 // one multiplier for all peak windows; 0 or 10000 = none

	MemberDiscountBP int64 // off the time charge for members; 1000 = 10 % off

	LateFeePer15Min        int64 // per started 15 minutes past the booked end
	LowBatteryThresholdPct int   // EVs returned below this battery % pay LowBatteryFee
	LowBatteryFee          int64
	OutOfZoneFee           int64
	CleaningFee            int64

	CancelFreeHours int   // cancellation is free this many hours or more before start
	CancelFee       int64 // fixed late-cancellation fee; when 0, CancelPctBP applies
	CancelPctBP     int64 // of the booking's net subtotal
	NoShowFee       int64

	VATRateBP int64 // 1300 = 13 %
}

// Validate reports every field out of range as an *InvalidError, so stores
// and handlers can reject a bad plan before it prices anything; the pricing
// functions call it too, because a negative rate would yield a negative line.
func (p *Plan) Validate() error {
	pr := problems{subject: "plan"}
	if p.Version < 0 {
		pr.add("version", "must not be negative")
	}
	if !isCurrencyCode(p.Currency) {
		pr.add("currency", "must be a three-letter ISO 4217 code such as CNY")
	}
	amounts := [...]struct {
		field string
		v     int64
	}{
		{"unlock_fee", p.UnlockFee}, {"per_minute", p.PerMinute}, {"per_hour", p.PerHour},
		{"per_day", p.PerDay}, {"daily_cap", p.DailyCap}, {"per_km", p.PerKm},
		{"late_fee_per_15_min", p.LateFeePer15Min}, {"low_battery_fee", p.LowBatteryFee},
		{"out_of_zone_fee", p.OutOfZoneFee}, {"cleaning_fee", p.CleaningFee},
		{"cancel_fee", p.CancelFee}, {"no_show_fee", p.NoShowFee},
	}
	for _, a := range amounts {
		checkRange(&pr, a.field, a.v, 0, MaxAmount)
	}
	if p.PerMinute == 0 && p.PerHour == 0 && p.PerDay == 0 {
		pr.add("per_minute", "at least one of per_minute, per_hour and per_day must be positive")
	}
	checkRange(&pr, "included_km_per_day", p.IncludedKmPerDay, 0, MaxKm)
	checkRange(&pr, "night_start", int64(p.NightStart), 0, minutesPerDay-1)
	checkRange(&pr, "night_end", int64(p.NightEnd), 0, minutesPerDay-1)
	checkMultiplier(&pr, "night_multiplier_bp", p.NightMultiplierBP)
	checkMultiplier(&pr, "peak_multiplier_bp", p.PeakMultiplierBP)
	checkRange(&pr, "member_discount_bp", p.MemberDiscountBP, 0, BasisPoints)
	checkRange(&pr, "low_battery_threshold_pct", int64(p.LowBatteryThresholdPct), 0, 100)
	checkRange(&pr, "cancel_free_hours", int64(p.CancelFreeHours), 0, MaxCancelFreeHours)
	checkRange(&pr, "cancel_pct_bp", p.CancelPctBP, 0, BasisPoints)
	checkRange(&pr, "vat_rate_bp", p.VATRateBP, 0, BasisPoints)
	p.validatePeaks(&pr)
	return pr.err()
}

// validatePeaks rejects peak windows that overlap each other or the night
// window on a shared weekday: a minute is surcharged at most once, and
// refusing overlaps is clearer than a stacking rule nobody expects.
func (p *Plan) validatePeaks(pr *problems) {
	if len(p.Peaks) > MaxPeakWindows {
		pr.add("peaks", "must have at most "+strconv.Itoa(MaxPeakWindows)+" windows")
		return
	}
	for i, w := range p.Peaks {
		if w.Start < 0 || w.End > minutesPerDay || w.Start >= w.End {
			pr.add(peakField(i, "start"), "must satisfy 0 ≤ start < end ≤ 1440 (peak windows do not wrap past midnight)")
			continue
		}
		if w.Days&EveryDay == 0 || w.Days&^EveryDay != 0 {
			pr.add(peakField(i, "days"), "must name at least one weekday and only weekdays (bits 0–6)")
			continue
		}
		if p.nightOverlaps(w.Start, w.End) {
			pr.add(peakField(i, "start"), "must not overlap the night window")
		}
		for j := range i {
			o := p.Peaks[j]
			if o.Days&w.Days != 0 && o.Start < w.End && w.Start < o.End {
				pr.add(peakField(i, "start"), "must not overlap peaks["+strconv.Itoa(j)+"] on a shared weekday")
			}
		}
	}
}

// nightOverlaps reports whether [start, end) of a day meets the night window.
func (p *Plan) nightOverlaps(start, end int) bool {
	ns, ne := p.NightStart, p.NightEnd
	switch {
	case ns == ne:
		return false
	case ns < ne:
		return start < ne && ns < end
	default: // wraps: [ns, 1440) ∪ [0, ne)
		return end > ns || start < ne
	}
}

func peakField(i int, name string) string {
	return "peaks[" + strconv.Itoa(i) + "]." + name
}

func checkRange(pr *problems, field string, v, lo, hi int64) {
	if v < lo {
		if lo == 0 {
			pr.add(field, "must not be negative")
		} else {
			pr.add(field, "must be at least "+strconv.FormatInt(lo, 10))
		}
	} else if v > hi {
		pr.add(field, "must be at most "+strconv.FormatInt(hi, 10))
	}
}

// checkMultiplier accepts 0 (the zero value, meaning none) or ×1 to ×10; a
// multiplier below ×1 would be a negative surcharge line.
func checkMultiplier(pr *problems, field string, v int64) {
	if v != 0 && (v < BasisPoints || v > MaxMultiplierBP) {
		pr.add(field, "must be 0 (none) or between 10000 (×1) and "+strconv.Itoa(MaxMultiplierBP)+" (×10)")
	}
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
