package reservation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// jobBatch bounds how many reservations one run of a job moves.
const jobBatch = 100

// sweep moves the reservations query picks (locked with SKIP LOCKED, so that
// several workers share the work without doing any twice), in one
// transaction: move records each one's new state and returns the amount to
// settle from its hold, then the car is freed and the hold settled. The
// Stripe calls this queued are made after the commit. It returns how many
// moved.
func (s *Service) sweep(ctx context.Context, query string, args []any, move func(tx *sqlx.Tx, r Reservation) (int64, error)) (int, error) {
	var moved []uuid.UUID
	defer func() { s.processAll(ctx, moved) }()
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		moved = nil
		var ids []uuid.UUID
		if err := tx.SelectContext(ctx, &ids, query, args...); err != nil {
			return fmt.Errorf("due reservations: %w", err)
		}
		for _, id := range ids {
			r, err := s.get(ctx, tx, id, false)
			if err != nil {
				return err
			}
			amount, err := move(tx, r)
			if err != nil {
				return err
			}
			if err := s.free(ctx, tx, id, uuid.Nil); err != nil {
				return err
			}
			if err := s.settle(ctx, tx, r, amount); err != nil {
				return err
			}
			moved = append(moved, id)
		}
		return nil
	})
	if err != nil {
		moved = nil
	}
	return len(moved), err
}

// ExpireHolds lets unpaid holds go after their time: the reservation
// expires, the car is freed and the authorisation released. It returns how
// many expired.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	const q = `
		SELECT id FROM reservations WHERE status = 'pending_payment' AND hold_expires_at <= $1
		ORDER BY hold_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`
	return s.sweep(ctx, q, []any{s.o.Now(), jobBatch}, func(tx *sqlx.Tx, r Reservation) (int64, error) {
		return 0, s.transition(ctx, tx, r.ID, []Status{PendingPayment}, Expired, nil, "not paid in time", "")
	})
}

// processAll makes the Stripe calls queued for the moved reservations now;
// what fails stays queued for the worker.
func (s *Service) processAll(ctx context.Context, ids []uuid.UUID) {
	for _, id := range ids {
		s.process(ctx, id)
	}
}

// MarkNoShows ends confirmed bookings not unlocked by start + grace: the
// no-show fee is captured from the hold and the car freed.
func (s *Service) MarkNoShows(ctx context.Context) (int, error) {
	// The cut-off is computed here so that start_at stands alone and the
	// partial index on confirmed bookings' start finds the due ones
	// (start_at + grace <= now read every confirmed booking: 243 ms at 1M
	// reservations, against 0.1 ms).
	const q = `
		SELECT id FROM reservations WHERE status = 'confirmed' AND start_at <= $1
		ORDER BY start_at LIMIT $2 FOR UPDATE SKIP LOCKED`
	args := []any{s.o.Now().Add(-s.o.Rules.Grace), jobBatch}
	return s.sweep(ctx, q, args, func(tx *sqlx.Tx, r Reservation) (int64, error) {
		plan, err := s.o.Plans.Version(ctx, r.PlanID, r.PlanVersion)
		if err != nil {
			return 0, err
		}
		q, err := pricing.NoShowCharge(plan)
		if err != nil {
			return 0, err
		}
		fee := priceOf(q)
		lines, err := linesJSON(fee)
		if err != nil {
			return 0, err
		}
		return fee.Total, s.transition(ctx, tx, r.ID, []Status{Confirmed}, NoShow, nil, "not unlocked in time",
			`, final_lines = $4, final_subtotal = $5, final_vat = $6, final_total = $7`,
			lines, fee.Subtotal, fee.VAT, fee.Total)
	})
}

// FlagOverruns raises an alert for every active trip past its booked end
// (or about to pass it) whose car is booked next within the lookahead: the
// next resident may find no car.
func (s *Service) FlagOverruns(ctx context.Context) (int, error) {
	now := s.o.Now()
	var rows []struct {
		ID        uuid.UUID `db:"id"`
		VehicleID uuid.UUID `db:"vehicle_id"`
		End       time.Time `db:"end_at"`
		NextStart time.Time `db:"next_start"`
	}
	// Active trips ending within the lookahead (or already late), each with
	// the next live booking of the same car, if it starts soon after.
	const q = `
		SELECT r.id, r.vehicle_id, r.end_at, lower(nx.period) AS next_start
		FROM reservations r
		JOIN LATERAL (
			SELECT o.period FROM occupancy o
			WHERE o.vehicle_id = r.vehicle_id AND o.live AND o.kind = 'reservation'
			  AND o.reservation_id <> r.id AND lower(o.period) >= r.start_at
			ORDER BY lower(o.period) LIMIT 1) nx ON true
		WHERE r.status = 'active' AND r.end_at <= $1::timestamptz + $2::interval
		  AND lower(nx.period) <= GREATEST(r.end_at, $1::timestamptz) + $2::interval`
	look := fmt.Sprintf("%d seconds", int(s.o.Rules.OverrunLookahead.Seconds()))
	if err := s.db.SelectContext(ctx, &rows, q, now, look); err != nil {
		return 0, fmt.Errorf("find overruns: %w", err)
	}
	for _, r := range rows {
		detail := fmt.Sprintf("trip due back at %s is still active; the car's next booking starts at %s",
			r.End.In(s.o.Location).Format("01-02 15:04"), r.NextStart.In(s.o.Location).Format("01-02 15:04"))
		if err := s.alert(ctx, s.db, "overrun", r.VehicleID, r.ID, detail); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// RunJobs runs every lifecycle job once; the worker calls it periodically.
func (s *Service) RunJobs(ctx context.Context) error {
	var errs []error
	if _, err := s.ExpireHolds(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.MarkNoShows(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := s.FlagOverruns(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
