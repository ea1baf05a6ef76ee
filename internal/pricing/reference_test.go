package pricing

import (
	"math"
	"time"
)

// refTimeCharge prices a window the slow way: every minute classified on its
// own by scanning the wall clock, and every covering of every block tried.
func refTimeCharge(p *Plan, r *rates, loc *time.Location, start time.Time, minutes int) int64 {
	ref := refClock{loc: loc, cache: map[[2]int64]int64{}}
	var total int64
	for off := 0; off < minutes; off += minutesPerDay {
		n := min(minutesPerDay, minutes-off)
		night := make([]bool, n)
		peak := make([]bool, n)
		for i := range n {
			u := start.Add(time.Duration(off+i) * time.Minute).Unix()
			d := ref.date(u)
			in := func(from, to int) bool { return u >= ref.first(d, from) && u < ref.first(d, to) }
			if p.NightStart < p.NightEnd {
				night[i] = in(p.NightStart, p.NightEnd)
			} else if p.NightStart > p.NightEnd {
				night[i] = in(0, p.NightEnd) || in(p.NightStart, minutesPerDay)
			}
			wd := time.Date(1970, 1, 1+int(d), 12, 0, 0, 0, time.UTC).Weekday()
			for _, w := range p.Peaks {
				peak[i] = peak[i] || (w.Days.Has(wd) && in(w.Start, w.End))
			}
		}
		countIn := func(flags []bool, from, to int) (c int64) {
			for i := from; i < to; i++ {
				if flags[i] {
					c++
				}
			}
			return c
		}
		best := int64(math.MaxInt64)
		if r.hasDay {
			c := r.day +
				roundHalfUp(r.day*countIn(night, 0, n)*r.nightExtraBP, minutesPerDay*BasisPoints) +
				roundHalfUp(r.day*countIn(peak, 0, n)*r.peakExtraBP, minutesPerDay*BasisPoints)
			best = min(best, c)
		}
		for h := 0; h <= (n+59)/60; h++ {
			split := min(60*h, n)
			m := int64(n - split)
			if (h > 0 && !r.hasHour) || (m > 0 && !r.hasMinute) {
				continue
			}
			sur := func(flags []bool, extra int64) int64 {
				return roundHalfUp((r.hour*countIn(flags, 0, split)+r.minute*countIn(flags, split, n)*60)*extra, 60*BasisPoints)
			}
			best = min(best, int64(h)*r.hour+m*r.minute+sur(night, r.nightExtraBP)+sur(peak, r.peakExtraBP))
		}
		if r.cap > 0 {
			best = min(best, r.cap)
		}
		total += best
	}
	return total
}

func roundHalfUp(num, den int64) int64 { return (2*num + den) / (2 * den) }

// refClock answers "the first instant whose wall clock reads at least this"
// by brute force: scanning a day and more of whole minutes around it.
type refClock struct {
	loc   *time.Location
	cache map[[2]int64]int64
}

// first is the first Unix second at which the wall clock reads minute mod of
// date (days since 1970-01-01) or later.
func (c *refClock) first(date int64, mod int) int64 {
	key := [2]int64{date, int64(mod)}
	if u, ok := c.cache[key]; ok {
		return u
	}
	wall := date*86400 + int64(mod)*60
	for v := wall - 15*3600; ; v += 60 {
		_, off := time.Unix(v, 0).In(c.loc).Zone()
		if v+int64(off) >= wall {
			c.cache[key] = v
			return v
		}
	}
}

// date is the local date the instant u belongs to.
func (c *refClock) date(u int64) int64 {
	_, off := time.Unix(u, 0).In(c.loc).Zone()
	d := (u + int64(off)) / 86400 // the tests stay after 1970
	for u < c.first(d, 0) {
		d--
	}
	for u >= c.first(d+1, 0) {
		d++
	}
	return d
}
