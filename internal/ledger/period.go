package ledger

import (
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// MaxPeriodDays bounds a report or reconciliation period.
const MaxPeriodDays = 366

// Period is a span of whole business days, From to To inclusive, in the
// business time zone: [From 00:00, the day after To 00:00).
type Period struct {
	From, To string // YYYY-MM-DD
	Start    time.Time
	End      time.Time
}

// ParsePeriod reads a period from two dates (YYYY-MM-DD, inclusive) in the
// business time zone. Both are required; to may not be before from, and the
// period is at most MaxPeriodDays long.
func (s *Service) ParsePeriod(from, to string) (Period, error) {
	var f apperr.Fields
	day := func(field, v string) time.Time {
		if v == "" {
			f.Add(field, "is required (a date such as 2026-11-01)")
			return time.Time{}
		}
		d, err := time.ParseInLocation(time.DateOnly, v, s.opts.Location)
		if err != nil {
			f.Add(field, "must be a date such as 2026-11-01")
		}
		return d
	}
	a, b := day("from", from), day("to", to)
	if err := f.Err(); err != nil {
		return Period{}, err
	}
	end := b.AddDate(0, 0, 1)
	switch {
	case end.Before(a.AddDate(0, 0, 1)):
		f.Add("to", "must not be before from")
	case end.After(a.AddDate(0, 0, MaxPeriodDays)):
		f.Add("to", "the period may be at most 366 days")
	}
	if err := f.Err(); err != nil {
		return Period{}, err
	}
	return Period{From: a.Format(time.DateOnly), To: b.Format(time.DateOnly), Start: a.UTC(), End: end.UTC()}, nil
}
