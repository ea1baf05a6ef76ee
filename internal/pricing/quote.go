package pricing

import "time"

// QuoteInput is what a booking quote depends on besides the plan.
type QuoteInput struct {
	Start       time.Time
	End         time.Time
	Loc         *time.Location // the business time zone (Asia/Shanghai) that decides nights and peaks
	EstimatedKm int64          // the distance the resident expects to drive
	Member      bool
}

// QuoteRental prices a booking of p for the window [Start, End): unlock fee,
// the time charge (charged per started minute, see the package comment), the
// distance beyond the included km, and VAT. It is the amount authorised at
// booking and the minimum of the final price for the same window and km.
func QuoteRental(p Plan, in QuoteInput) (Quote, error) {
	if err := p.Validate(); err != nil {
		return Quote{}, err
	}
	pr := problems{subject: "quote input"}
	minutes := windowMinutes(&pr, "start", "end", in.Start, in.End)
	checkLoc(&pr, in.Loc)
	checkRange(&pr, "estimated_km", in.EstimatedKm, 0, MaxKm)
	if err := pr.err(); err != nil {
		return Quote{}, err
	}
	var b builder
	r := ratesFor(&p, in.Member)
	b.fee(CodeUnlockFee, "解锁费", "Unlock fee", p.UnlockFee)
	tc := chargeTime(&p, &r, in.Loc, in.Start, minutes)
	b.addTime(&p, &r, &tc)
	included := includedKm(&p, minutes)
	b.addKm(&p, in.EstimatedKm, included)
	q := b.quote(&p)
	q.Minutes = int64(minutes)
	q.IncludedKm = included
	return q, nil
}

// windowMinutes returns the number of started minutes in [start, end), or 0
// after recording why the window is unusable. Monotonic clock readings are
// stripped so that durations agree with the wall-clock windows.
func windowMinutes(pr *problems, startField, endField string, start, end time.Time) int {
	switch {
	case start.IsZero():
		pr.add(startField, "is required")
	case end.IsZero():
		pr.add(endField, "is required")
	case !end.After(start):
		pr.add(endField, "must be after "+startField)
	case end.Round(0).Sub(start.Round(0)) > MaxRental:
		pr.add(endField, "must be at most 366 days after "+startField)
	default:
		return int(ceilDiv(int64(end.Round(0).Sub(start.Round(0))), int64(time.Minute)))
	}
	return 0
}

func checkLoc(pr *problems, loc *time.Location) {
	if loc == nil {
		pr.add("loc", "is required (the business time zone, e.g. Asia/Shanghai)")
	}
}

// includedKm is IncludedKmPerDay for each started 24 hours of the booked
// window, at least one day. It is not monotone in the window (a longer
// booking includes more km), which is the point of a daily allowance.
func includedKm(p *Plan, bookedMinutes int) int64 {
	days := max(ceilDiv(int64(bookedMinutes), minutesPerDay), 1)
	return p.IncludedKmPerDay * days
}

// addKm appends the distance beyond the allowance at PerKm.
func (b *builder) addKm(p *Plan, km, included int64) {
	if p.PerKm == 0 || km <= included {
		return
	}
	var bz, be [96]byte
	z := append(appendInt(append(bz[:0], "超出里程（含"...), included), "公里）"...)
	e := append(appendInt(append(be[:0], "Distance beyond the included "...), included), " km"...)
	b.add(CodeKmOverage, string(z), string(e), km-included, UnitKm, p.PerKm)
}
