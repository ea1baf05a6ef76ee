package reservation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

// ZoneRules returns the booking rules in force in a zone: its overrides
// over the configured defaults.
func (s *Service) ZoneRules(ctx context.Context, zoneID uuid.UUID) (Rules, error) {
	r := s.o.Rules
	var z struct {
		Min     sql.NullInt64 `db:"min_minutes"`
		Max     sql.NullInt64 `db:"max_minutes"`
		Notice  sql.NullInt64 `db:"min_notice_minutes"`
		Horizon sql.NullInt64 `db:"horizon_days"`
	}
	const q = `SELECT min_minutes, max_minutes, min_notice_minutes, horizon_days FROM zone_booking_rules WHERE zone_id = $1`
	err := s.db.GetContext(ctx, &z, q, zoneID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("zone rules: %w", err)
	}
	if z.Min.Valid {
		r.MinLength = time.Duration(z.Min.Int64) * time.Minute
	}
	if z.Max.Valid {
		r.MaxLength = time.Duration(z.Max.Int64) * time.Minute
	}
	if z.Notice.Valid {
		r.MinNotice = time.Duration(z.Notice.Int64) * time.Minute
	}
	if z.Horizon.Valid {
		r.Horizon = time.Duration(z.Horizon.Int64) * 24 * time.Hour
	}
	return r, nil
}

// ZoneRuleChange sets a zone's overrides; nil clears one back to the default.
type ZoneRuleChange struct {
	MinMinutes, MaxMinutes, MinNoticeMinutes, HorizonDays *int
}

// SetZoneRules replaces a zone's booking-rule overrides.
func (s *Service) SetZoneRules(ctx context.Context, zoneID uuid.UUID, c ZoneRuleChange) (Rules, error) {
	var f apperr.Fields
	check := func(field string, v *int, lo, hi int) {
		if v != nil && (*v < lo || *v > hi) {
			f.Add(field, fmt.Sprintf("must be from %d to %d", lo, hi))
		}
	}
	check("min_minutes", c.MinMinutes, 15, 1440)
	check("max_minutes", c.MaxMinutes, 60, 43200)
	check("min_notice_minutes", c.MinNoticeMinutes, 0, 1440)
	check("horizon_days", c.HorizonDays, 1, 365)
	if c.MinMinutes != nil && c.MaxMinutes != nil && *c.MinMinutes > *c.MaxMinutes {
		f.Add("max_minutes", "must not be below min_minutes")
	}
	if err := f.Err(); err != nil {
		return Rules{}, err
	}
	if _, err := s.o.Fleet.Zone(ctx, zoneID); err != nil {
		return Rules{}, err
	}
	const q = `
		INSERT INTO zone_booking_rules (zone_id, min_minutes, max_minutes, min_notice_minutes, horizon_days, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (zone_id) DO UPDATE SET min_minutes = $2, max_minutes = $3, min_notice_minutes = $4,
		       horizon_days = $5, updated_at = now()`
	if _, err := s.db.ExecContext(ctx, q, zoneID, c.MinMinutes, c.MaxMinutes, c.MinNoticeMinutes, c.HorizonDays); err != nil {
		return Rules{}, fmt.Errorf("set zone rules: %w", err)
	}
	return s.ZoneRules(ctx, zoneID)
}

// checkWindow applies the zone's rules to a booking window; each refusal has
// its own code so the app can explain it.
func (s *Service) checkWindow(r Rules, start, end time.Time) error {
	var f apperr.Fields
	plans.CheckWindow(&f, s.o.Now(), start, end)
	if err := f.Err(); err != nil {
		return err
	}
	now := s.o.Now()
	refuse := func(code, field, detail string) error {
		e := apperr.Invalid(field+": "+detail, apperr.FieldError{Field: field, Reason: detail})
		e.Code = code
		return e
	}
	switch length := end.Sub(start); {
	case length < r.MinLength:
		return refuse("booking_too_short", "end", fmt.Sprintf("a booking here lasts at least %s", r.MinLength))
	case length > r.MaxLength:
		return refuse("booking_too_long", "end", fmt.Sprintf("a booking here lasts at most %s", r.MaxLength))
	case start.Before(now.Add(r.MinNotice - plans.ClockSkew)):
		return refuse("notice_too_short", "start", fmt.Sprintf("book at least %s ahead here", r.MinNotice))
	case start.After(now.Add(r.Horizon)):
		return refuse("beyond_horizon", "start", fmt.Sprintf("bookings open %s ahead", r.Horizon))
	}
	return nil
}

// BookRequest is a resident's booking.
type BookRequest struct {
	VehicleID   uuid.UUID
	Start, End  time.Time
	EstimatedKm int64
}

// Booking is a new reservation and the payment the app must confirm.
type Booking struct {
	Reservation Reservation
	Payment     payment.Payment
}

// Book holds the car for the window and authorises the quoted price. The
// exclusion constraint decides races: of any number of concurrent bookings
// of one car for overlapping windows, one wins and the others are told the
// car is taken.
func (s *Service) Book(ctx context.Context, userID uuid.UUID, r BookRequest) (Booking, error) {
	if r.EstimatedKm < 0 || r.EstimatedKm > 10000 {
		return Booking{}, apperr.Invalid("estimated_km: must be from 0 to 10000", apperr.FieldError{Field: "estimated_km", Reason: "must be from 0 to 10000"})
	}
	v, err := s.o.Fleet.Vehicle(ctx, r.VehicleID)
	if apperr.Is(err, apperr.KindNotFound) {
		return Booking{}, apperr.Invalid("vehicle_id: no such vehicle", apperr.FieldError{Field: "vehicle_id", Reason: "no such vehicle"})
	}
	if err != nil {
		return Booking{}, err
	}
	rules, err := s.ZoneRules(ctx, v.HomeZoneID)
	if err != nil {
		return Booking{}, err
	}
	if err := s.checkWindow(rules, r.Start, r.End); err != nil {
		return Booking{}, err
	}
	if err := s.o.Identity.CanBook(ctx, userID, r.Start); err != nil {
		return Booking{}, err
	}
	if v.Status != fleet.Available {
		return Booking{}, apperr.New(apperr.KindUnavailable, "vehicle_unavailable", "this car is not in service ("+string(v.Status)+")")
	}
	q, err := s.o.Plans.Price(ctx, v.ModelID, &v.HomeZoneID, pricing.QuoteInput{Start: r.Start, End: r.End, EstimatedKm: r.EstimatedKm})
	if err != nil {
		return Booking{}, err
	}
	planID, err := uuid.Parse(q.PlanID)
	if err != nil {
		return Booking{}, fmt.Errorf("plan id: %w", err)
	}
	cards, err := s.o.Payments.Cards(ctx, userID)
	if err != nil {
		return Booking{}, err
	}
	offSession := false
	for _, c := range cards {
		offSession = offSession || c.IsDefault
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Booking{}, err
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	quote := priceOf(q)
	var pay payment.Payment
	// Holdings of one car are written one at a time (fleet.Hold locks the
	// car), so concurrent bookings do not deadlock in the exclusion check;
	// should PostgreSQL still abort one as a deadlock or serialisation
	// failure, a retry sees the winner and is told the car is taken.
	for attempt := 1; ; attempt++ {
		err = s.book(ctx, id, userID, v, r, rules, q, planID, quote, offSession, now, &pay)
		if attempt == 3 || !apperr.HasCode(err, "concurrent_update") {
			break
		}
	}
	if err != nil {
		return Booking{}, err
	}
	if offSession {
		// With a saved card nobody waits on the PaymentIntent: the answer
		// goes out with the car held, and the worker makes and confirms it
		// off-session; the reservation is confirmed (or expires, declined)
		// when Stripe reports the authorisation. This keeps Stripe's round
		// trips (seconds, at worst) out of the resident's tap on Book.
		s.o.Payments.ProcessSoon()
	} else {
		// The app confirms the PaymentIntent itself: make it now, so this
		// answer carries its client secret; the outbox retries if not.
		p, err := s.o.Payments.Process(ctx, pay.ID)
		switch {
		case err == nil:
			pay = p
		case apperr.Is(err, apperr.KindPaymentFailed):
			// Declined: the payment's failure has already let the car go.
			return Booking{}, err
		default:
			s.o.Log.WarnContext(ctx, "booking: payment deferred to the worker", "reservation_id", id, "err", err)
		}
	}
	res, err := s.get(ctx, s.db, id, false)
	if err != nil {
		return Booking{}, err
	}
	return Booking{Reservation: res, Payment: pay}, nil
}

// book writes the reservation, holds the car and records the authorisation
// in one transaction.
func (s *Service) book(ctx context.Context, id, userID uuid.UUID, v fleet.Vehicle, r BookRequest, rules Rules,
	q pricing.Quote, planID uuid.UUID, quote Price, offSession bool, now time.Time, pay *payment.Payment) error {
	return db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// Serialise one resident's bookings so the upcoming limit holds.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('reservation.user:' || $1::text))`, userID); err != nil {
			return fmt.Errorf("lock resident: %w", err)
		}
		// Counted up to the limit only: reaching it is all that matters.
		var upcoming int
		const count = `
			SELECT count(*) FROM (
				SELECT 1 FROM reservations WHERE user_id = $1 AND status IN ('pending_payment', 'confirmed') LIMIT $2) u`
		if err := tx.GetContext(ctx, &upcoming, count, userID, rules.MaxUpcoming); err != nil {
			return fmt.Errorf("count bookings: %w", err)
		}
		if upcoming >= rules.MaxUpcoming {
			return apperr.New(apperr.KindConflict, "too_many_reservations",
				fmt.Sprintf("you already have %d upcoming bookings, the most allowed; cancel one first", upcoming))
		}
		lines, err := linesJSON(quote)
		if err != nil {
			return err
		}
		const ins = `
			INSERT INTO reservations (id, user_id, vehicle_id, zone_id, status, start_at, end_at, estimated_km,
			                          plan_id, plan_version, currency, quote_lines, quote_subtotal, quote_vat, quote_total,
			                          hold_expires_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 'pending_payment', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)`
		if _, err := tx.ExecContext(ctx, ins, id, userID, v.ID, v.HomeZoneID, r.Start, r.End, r.EstimatedKm, planID,
			q.PlanVersion, q.Currency, lines, q.Subtotal, q.VAT, q.Total, now.Add(rules.HoldFor), now); err != nil {
			return fmt.Errorf("insert reservation: %w", db.Translate(err))
		}
		if _, err := s.o.Fleet.Hold(ctx, tx, fleet.HoldRequest{VehicleID: v.ID, Kind: fleet.HoldReservation, Start: r.Start,
			End: r.End, ReservationID: &id, By: userID, ConflictCode: "vehicle_unavailable"}); err != nil {
			return err
		}
		*pay, err = s.o.Payments.AuthorizeTx(ctx, tx, payment.AuthorizeRequest{
			Purpose: payment.Purpose{Kind: PaymentPurpose, ID: id}, UserID: userID, Amount: q.Total, Currency: q.Currency,
			Description: fmt.Sprintf("Hongqi Mobility booking %s, %s", v.Plate, r.Start.In(s.o.Location).Format("2006-01-02 15:04")),
			OffSession:  offSession,
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET payment_id = $2 WHERE id = $1`, id, pay.ID); err != nil {
			return fmt.Errorf("link payment: %w", err)
		}
		const ev = `INSERT INTO reservation_events (reservation_id, to_status, actor, note) VALUES ($1, 'pending_payment', $2, 'booked')`
		_, err = tx.ExecContext(ctx, ev, id, userID)
		return err
	})
}
