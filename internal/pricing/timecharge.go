package pricing

import "time"

// rates are the time prices one customer pays: the plan's list prices, or
// the member prices (each discounted and rounded half up), with which units
// the plan offers at all.
type rates struct {
	minute, hour, day, cap     int64
	hasMinute, hasHour, hasDay bool
	nightExtraBP, peakExtraBP  int64 // multiplier − 100 %, never negative
	memberBP                   int64 // the discount folded in, 0 for non-members
}

func ratesFor(p *Plan, member bool) rates {
	r := rates{
		minute: p.PerMinute, hour: p.PerHour, day: p.PerDay, cap: p.DailyCap,
		hasMinute: p.PerMinute > 0, hasHour: p.PerHour > 0, hasDay: p.PerDay > 0,
		nightExtraBP: max(p.NightMultiplierBP-BasisPoints, 0),
		peakExtraBP:  max(p.PeakMultiplierBP-BasisPoints, 0),
	}
	if member && p.MemberDiscountBP > 0 {
		keep := int64(BasisPoints) - p.MemberDiscountBP
		r.memberBP = p.MemberDiscountBP
		r.minute = mulDivRound(r.minute, keep, BasisPoints)
		r.hour = mulDivRound(r.hour, keep, BasisPoints)
		r.day = mulDivRound(r.day, keep, BasisPoints)
		r.cap = mulDivRound(r.cap, keep, BasisPoints)
	}
	return r
}

// cover is one way to pay for a block: days, then hours, then single minutes,
// each unit covering a run of minutes from the block start in that order.
type cover struct {
	days, hours, minutes int64
	base, night, peak    int64
}

func (c cover) cost() int64 { return c.base + c.night + c.peak }

// hourMinuteCover prices h hours from the block start plus the single minutes
// still uncovered. A window minute under an hour costs hour/60 × extra, under
// a single minute it costs minute × extra, so over a denominator of
// 60 × 10000 the surcharge is (hour × wH + minute × wM × 60) × extraBP.
func (r *rates) hourMinuteCover(n int, h int64, bw *blockWindows) cover {
	split := min(int(h)*60, n)
	c := cover{hours: h, minutes: int64(n - split)}
	c.base = c.hours*r.hour + c.minutes*r.minute
	night, peak := bw.night[:bw.nn], bw.peak[:bw.np]
	surcharge := func(spans []span, extra int64) int64 {
		if extra == 0 || len(spans) == 0 {
			return 0
		}
		wh, wm := count(spans, 0, split), count(spans, split, n)
		return mulDivRound(r.hour*wh+r.minute*wm*60, extra, 60*BasisPoints)
	}
	c.night = surcharge(night, r.nightExtraBP)
	c.peak = surcharge(peak, r.peakExtraBP)
	return c
}

// dayCover prices the block as one day: a window minute costs day/1440 × extra.
func (r *rates) dayCover(n int, bw *blockWindows) cover {
	c := cover{days: 1, base: r.day}
	if r.nightExtraBP > 0 && bw.nn > 0 {
		c.night = mulDivRound(r.day*count(bw.night[:bw.nn], 0, n), r.nightExtraBP, minutesPerDay*BasisPoints)
	}
	if r.peakExtraBP > 0 && bw.np > 0 {
		c.peak = mulDivRound(r.day*count(bw.peak[:bw.np], 0, n), r.peakExtraBP, minutesPerDay*BasisPoints)
	}
	return c
}

// best returns the cheapest cover of a block of n ≤ 1440 minutes, surcharges
// included. Only four candidates can win: one day; ⌈n/60⌉ hours; ⌊n/60⌋ hours
// plus minutes; all minutes. Between the last two, the base charge and both
// surcharges move in the same direction as the number of hours grows
// (towards hours when an hour is cheaper than 60 minutes, away otherwise), so
// an interior mix is never strictly cheaper; a test checks this against the
// full search. Ties go to the candidate with fewer units.
func (r *rates) best(n int, bw *blockWindows) cover {
	var c cover
	found := false
	try := func(k cover) {
		if !found || k.cost() < c.cost() {
			c, found = k, true
		}
	}
	if r.hasDay {
		try(r.dayCover(n, bw))
	}
	full := ceilDiv(int64(n), 60)
	if r.hasHour {
		try(r.hourMinuteCover(n, full, bw))
	}
	if r.hasMinute {
		if r.hasHour && n/60 > 0 && int64(n/60) != full {
			try(r.hourMinuteCover(n, int64(n/60), bw))
		}
		try(r.hourMinuteCover(n, 0, bw))
	}
	return c
}

// timeCharge is the time charge of a window, summed over its blocks: the
// units of uncapped blocks with their surcharges, and the capped blocks.
type timeCharge struct {
	days, hours, minutes, capped int64
	nightMinutes, peakMinutes    int64 // window minutes in uncapped blocks
	night, peak                  int64
}

// chargeTime prices minutes whole minutes from start, block by block. The
// cap replaces a block's whole charge, surcharges included, only when the
// cheapest cover exceeds it, so the time charge never exceeds
// ⌈minutes / 1440⌉ × cap.
func chargeTime(p *Plan, r *rates, loc *time.Location, start time.Time, minutes int) timeCharge {
	var tc timeCharge
	var bw blockWindows
	start = start.Round(0)
	for off := 0; off < minutes; off += minutesPerDay {
		n := min(minutesPerDay, minutes-off)
		bw.collect(p, loc, start.Add(time.Duration(off)*time.Minute), n)
		c := r.best(n, &bw)
		if r.cap > 0 && c.cost() > r.cap {
			tc.capped++
			continue
		}
		tc.days += c.days
		tc.hours += c.hours
		tc.minutes += c.minutes
		tc.night += c.night
		tc.peak += c.peak
		tc.nightMinutes += count(bw.night[:bw.nn], 0, n)
		tc.peakMinutes += count(bw.peak[:bw.np], 0, n)
	}
	return tc
}
