package pricing

import (
	"math"
	"time"
)

// span is a run of minutes [a, b) counted from the start of a 24-hour block.
// Minute i of a block is the minute starting at blockStart + i min; it is in a
// local-time window when that instant is, so a window's minutes are found by
// rounding both of its ends up to the block's minute grid.
type span struct{ a, b int }

// maxDaysPerBlock bounds the local dates a 24-hour block can touch: two
// normally, three when the middle one is a short daylight-saving day.
const maxDaysPerBlock = 4

// blockWindows holds the night and peak minutes of one block. The fixed-size
// arrays keep the walk free of heap allocations.
type blockWindows struct {
	night  [2 * maxDaysPerBlock]span
	peak   [MaxPeakWindows * maxDaysPerBlock]span
	nn, np int
}

// collect finds the night and peak minutes of the block of n minutes starting
// at start, walking it one local date at a time (never minute by minute).
// Each date contributes its own part of the night window: [00:00, end) and
// [start, 24:00) when the window wraps past midnight, so a night spanning
// two dates or two blocks is split without special cases.
func (bw *blockWindows) collect(p *Plan, loc *time.Location, start time.Time, n int) {
	bw.nn, bw.np = 0, 0
	hasNight := p.NightStart != p.NightEnd && p.NightMultiplierBP > BasisPoints
	hasPeak := len(p.Peaks) > 0 && p.PeakMultiplierBP > BasisPoints
	if !hasNight && !hasPeak {
		return
	}
	end := time.Duration(n) * time.Minute
	c := newLocalClock(loc, start)
	for date, i := c.firstDate(), 0; i < maxDaysPerBlock; date, i = date+1, i+1 {
		mid := c.at(date, 0)
		if mid >= end {
			break
		}
		next := c.at(date+1, 0)
		if hasNight {
			if p.NightStart < p.NightEnd {
				bw.addNight(n, c.at(date, p.NightStart), c.at(date, p.NightEnd))
			} else {
				bw.addNight(n, mid, c.at(date, p.NightEnd))
				bw.addNight(n, c.at(date, p.NightStart), next)
			}
		}
		if hasPeak {
			wd := time.Weekday(floorMod(date+4, 7)) // 1970-01-01 was a Thursday
			for _, w := range p.Peaks {
				if w.Days.Has(wd) {
					if s, ok := toSpan(n, c.at(date, w.Start), c.at(date, w.End)); ok {
						bw.peak[bw.np] = s
						bw.np++
					}
				}
			}
		}
	}
}

func (bw *blockWindows) addNight(n int, from, to time.Duration) {
	if s, ok := toSpan(n, from, to); ok {
		bw.night[bw.nn] = s
		bw.nn++
	}
}

// toSpan maps the offsets [from, to) from the block start to the block's
// minutes, clipped to the block.
func toSpan(n int, from, to time.Duration) (span, bool) {
	a, b := minuteIndex(n, from), minuteIndex(n, to)
	return span{a, b}, a < b
}

// minuteIndex is the index of the first block minute starting at or after
// the offset d, clamped to [0, n].
func minuteIndex(n int, d time.Duration) int {
	if d <= 0 {
		return 0
	}
	i := ceilDiv(int64(d), int64(time.Minute))
	if i > int64(n) {
		return n
	}
	return int(i)
}

// localClock maps wall-clock readings of loc to offsets from a block start.
// Dates are counted in days since 1970-01-01 of the wall clock. A wall time
// t stands for the first instant whose wall clock reads t or later, so a
// window starting inside a spring-forward gap begins at the transition, and
// a repeated autumn hour inside a window is counted in full; local date D
// runs from wall time D 00:00 to D+1 00:00 by that rule.
//
// When one UTC offset holds from two days before the block to three days
// after it (always, in Asia/Shanghai) the mapping is plain arithmetic;
// otherwise each reading asks the time zone database.
type localClock struct {
	loc    *time.Location
	unix   int64 // the block start in Unix seconds
	nanos  int64 // and its sub-second part
	fixed  bool
	offset int64 // seconds east of UTC, when fixed
}

func newLocalClock(loc *time.Location, start time.Time) localClock {
	local := start.In(loc)
	_, off := local.Zone()
	c := localClock{loc: loc, unix: start.Unix(), nanos: int64(start.Nanosecond()), offset: int64(off)}
	// ZoneBounds can return a period that does not even contain the instant
	// in years computed from a zone's rule string; such answers only send
	// the block down the slow path.
	from, to := local.ZoneBounds()
	c.fixed = (from.IsZero() || from.Unix() <= c.unix-2*secondsPerDay) &&
		(to.IsZero() || to.Unix() >= c.unix+3*secondsPerDay)
	return c
}

const secondsPerDay = 24 * 60 * 60

// firstDate is the local date the block start belongs to.
func (c *localClock) firstDate() int64 {
	date := floorDiv(c.unix+c.offset, secondsPerDay)
	if !c.fixed {
		if c.at(date, 0) > 0 {
			date--
		} else if c.at(date+1, 0) <= 0 {
			date++
		}
	}
	return date
}

// at is the offset from the block start of minute-of-day mod of date.
func (c *localClock) at(date int64, mod int) time.Duration {
	wall := date*secondsPerDay + int64(mod)*60
	u := wall - c.offset
	if !c.fixed {
		u = firstAtOrAfter(c.loc, wall)
	}
	return time.Duration(u-c.unix)*time.Second - time.Duration(c.nanos)
}

// firstAtOrAfter returns the first instant, in Unix seconds, at which the
// wall clock of loc reads wall (seconds of local time since 1970) or later.
// It relies only on offset lookups (ZoneBounds is unreliable in the years
// computed from a zone's rule string) and assumes at most one transition
// within 15 hours of the reading, as transitions are months apart. The
// reading happens at wall − offset for whichever offset, before or after the
// transition, maps back to it (the earlier when both do, in a repeated hour);
// when none does, the reading falls in a skipped hour and the answer is the
// transition itself, found by bisection.
func firstAtOrAfter(loc *time.Location, wall int64) int64 {
	const reach = 15 * 3600 // beyond any UTC offset
	offAt := func(u int64) int64 {
		_, off := time.Unix(u, 0).In(loc).Zone()
		return int64(off)
	}
	lo, hi := wall-reach, wall+reach
	best := int64(math.MaxInt64)
	for _, off := range [2]int64{offAt(lo), offAt(hi)} {
		if u := wall - off; offAt(u) == off {
			best = min(best, u)
		}
	}
	if best != math.MaxInt64 {
		return best
	}
	for lo+1 < hi { // invariant: lo reads before wall, hi reads at or after it
		mid := lo + (hi-lo)/2
		if mid+offAt(mid) >= wall {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi
}

// count is the number of window minutes of spans inside [a, b).
func count(spans []span, a, b int) int64 {
	var c int
	for _, s := range spans {
		lo, hi := max(s.a, a), min(s.b, b)
		if hi > lo {
			c += hi - lo
		}
	}
	return int64(c)
}
