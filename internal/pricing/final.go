package pricing

import "time"

// FinalInput is what the final price of a trip depends on besides the plan:
// the booking, when the car was returned, and its state at return.
type FinalInput struct {
	BookedStart time.Time
	BookedEnd   time.Time
	// ActualEnd is when the trip ended (the car locked in a zone). An early
	// unlock (allowed from 15 minutes before the start) is not charged: time
	// always runs from BookedStart.
	ActualEnd     time.Time
	Loc           *time.Location
	Km            int64 // driven, from the odometer
	EV            bool  // battery-electric or plug-in: the low-battery fee applies
	EndBatteryPct int   // battery at return, 0–100
	OutOfZone     bool  // returned outside every allowed zone
	Cleaning      bool  // the car needed cleaning
	Member        bool
}

// FinalPrice prices a finished trip: the amount captured by payment. Time is
// charged for [BookedStart, max(BookedEnd, ActualEnd)) by the same cheapest
// cover as the quote, so the booked window is the minimum and an early return
// refunds nothing; a late return adds the extra minutes to that window plus
// LateFeePer15Min for each started 15 minutes past BookedEnd. Distance beyond
// the allowance of the booked window, low battery (EVs below the threshold),
// a return outside the zones and cleaning are charged as their own lines.
func FinalPrice(p Plan, in FinalInput) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, err
	}
	pr := problems{subject: "final input"}
	booked := windowMinutes(&pr, "booked_start", "booked_end", in.BookedStart, in.BookedEnd)
	charged := booked
	if in.ActualEnd.IsZero() {
		pr.add("actual_end", "is required")
	} else if booked > 0 && in.ActualEnd.After(in.BookedEnd) {
		charged = windowMinutes(&pr, "booked_start", "actual_end", in.BookedStart, in.ActualEnd)
	}
	checkLoc(&pr, in.Loc)
	checkRange(&pr, "km", in.Km, 0, MaxKm)
	checkRange(&pr, "end_battery_pct", int64(in.EndBatteryPct), 0, 100)
	if err := pr.err(); err != nil {
		return Quote{}, err
	}

	var b builder
	r := ratesFor(&p, in.Member)
	b.fee(CodeUnlockFee, "解锁费", "Unlock fee", p.UnlockFee)
	tc := chargeTime(&p, &r, in.Loc, in.BookedStart, charged)
	b.addTime(&p, &r, &tc)
	included := includedKm(&p, booked)
	b.addKm(&p, in.Km, included)
	if late := in.ActualEnd.Round(0).Sub(in.BookedEnd.Round(0)); late > 0 {
		periods := ceilDiv(int64(late), int64(15*time.Minute))
		b.add(CodeLateFee, "超时还车费（每开始的15分钟）", "Late return fee (per started 15 min)", periods, UnitQuarterHr, p.LateFeePer15Min)
	}
	if in.EV && in.EndBatteryPct < p.LowBatteryThresholdPct {
		var bz, be [64]byte
		z := append(appendInt(append(bz[:0], "低电量还车费（低于"...), int64(p.LowBatteryThresholdPct)), "%）"...)
		e := append(appendInt(append(be[:0], "Low battery at return (below "...), int64(p.LowBatteryThresholdPct)), "%)"...)
		b.fee(CodeLowBatteryFee, string(z), string(e), p.LowBatteryFee)
	}
	if in.OutOfZone {
		b.fee(CodeOutOfZoneFee, "区域外还车费", "Returned outside an allowed zone", p.OutOfZoneFee)
	}
	if in.Cleaning {
		b.fee(CodeCleaningFee, "清洁费", "Cleaning fee", p.CleaningFee)
	}
	q := b.quote(&p)
	q.Minutes = int64(charged)
	q.IncludedKm = included
	return q, nil
}
