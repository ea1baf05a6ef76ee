package reservation

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// PaymentUpdated moves a reservation on what its payment became, in the
// payment's transaction: an authorisation confirms a pending booking; a
// failed or cancelled one lets the hold go.
func (s *Service) PaymentUpdated(ctx context.Context, tx *sqlx.Tx, p payment.Payment) error {
	if p.Purpose.Kind != PaymentPurpose || p.Kind != payment.KindAuthorization {
		return nil
	}
	var st string
	err := tx.GetContext(ctx, &st, `SELECT status FROM reservations WHERE id = $1 AND payment_id = $2`, p.Purpose.ID, p.ID)
	if err != nil || Status(st) != PendingPayment {
		return nil // not this reservation's payment, or already past paying
	}
	switch p.Status {
	case payment.StatusAuthorized:
		return s.transition(ctx, tx, p.Purpose.ID, []Status{PendingPayment}, Confirmed, nil, "payment authorised", "")
	case payment.StatusFailed, payment.StatusCanceled:
		if err := s.transition(ctx, tx, p.Purpose.ID, []Status{PendingPayment}, Expired, nil,
			"payment "+string(p.Status)+": "+p.FailureMessage, ""); err != nil {
			return err
		}
		return s.free(ctx, tx, p.Purpose.ID, uuid.Nil)
	}
	return nil
}

// CancellationPreview says what cancelling now would cost and until when it
// is free, so the app can show it before the resident confirms.
func (s *Service) CancellationPreview(ctx context.Context, r Reservation) (Price, time.Time, error) {
	plan, err := s.o.Plans.Version(ctx, r.PlanID, r.PlanVersion)
	if err != nil {
		return Price{}, time.Time{}, err
	}
	freeUntil := r.Start.Add(-time.Duration(plan.CancelFreeHours) * time.Hour)
	if r.Status == PendingPayment {
		return Price{Currency: r.Quote.Currency, Lines: nil}, freeUntil, nil
	}
	q, err := pricing.CancellationCharge(plan, pricing.CancelInput{Start: r.Start, CancelledAt: s.o.Now(), QuoteSubtotal: r.Quote.Subtotal})
	if err != nil {
		return Price{}, time.Time{}, err
	}
	return priceOf(q), freeUntil, nil
}

// CancelRequest is who cancels and why.
type CancelRequest struct {
	By         uuid.UUID
	ByOperator bool
	Reason     string
}

// Cancel ends a booking before its trip. A resident pays the plan's fee when
// cancelling after the free window (captured from the hold, the rest
// released); an operator cancels free for the resident, with a reason.
func (s *Service) Cancel(ctx context.Context, v Viewer, id uuid.UUID, c CancelRequest) (Reservation, error) {
	c.Reason = strings.TrimSpace(c.Reason)
	if c.ByOperator && c.Reason == "" || len(c.Reason) > 500 {
		return Reservation{}, apperr.Invalid("reason: an operator cancellation needs a reason of up to 500 characters",
			apperr.FieldError{Field: "reason", Reason: "an operator cancellation needs a reason of up to 500 characters"})
	}
	if _, err := s.Get(ctx, v, id); err != nil {
		return Reservation{}, err
	}
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		r, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if r.Status != PendingPayment && r.Status != Confirmed {
			return invalidState(r.Status, Cancelled)
		}
		var fee Price
		if r.Status == Confirmed && !c.ByOperator {
			if fee, _, err = s.CancellationPreview(ctx, r); err != nil {
				return err
			}
		}
		set := `, cancelled_at = now(), cancelled_by = $4, cancel_reason = NULLIF($5, '')`
		args := []any{c.By, c.Reason}
		if fee.Total > 0 {
			lines, err := linesJSON(fee)
			if err != nil {
				return err
			}
			set += `, final_lines = $6, final_subtotal = $7, final_vat = $8, final_total = $9`
			args = append(args, lines, fee.Subtotal, fee.VAT, fee.Total)
		}
		note := "cancelled by the resident"
		if c.ByOperator {
			note = "cancelled by an operator, free for the resident"
		}
		if err := s.transition(ctx, tx, id, []Status{r.Status}, Cancelled, &c.By, note, set, args...); err != nil {
			return err
		}
		if err := s.free(ctx, tx, id, c.By); err != nil {
			return err
		}
		return s.settle(ctx, tx, r, fee.Total)
	})
	if err != nil {
		return Reservation{}, err
	}
	s.process(ctx, id)
	return s.get(ctx, s.db, id, false)
}

// settle takes amount from the reservation's hold (capture) — or releases
// the hold when nothing is owed — and charges any amount over the hold to
// the resident's default card off-session.
func (s *Service) settle(ctx context.Context, tx *sqlx.Tx, r Reservation, amount int64) error {
	if r.PaymentID == nil {
		return nil
	}
	p, err := s.o.Payments.Get(ctx, *r.PaymentID)
	if err != nil {
		return err
	}
	if p.Status != payment.StatusAuthorized {
		// Nothing is held (never authorised, or already released): let the
		// PaymentIntent go; a fee is then charged off-session.
		if p.Status == payment.StatusPending || p.Status == payment.StatusRequiresAction || p.Status == payment.StatusProcessing {
			if _, err := s.o.Payments.ReleaseTx(ctx, tx, p.ID); err != nil {
				return err
			}
		}
		return s.chargeRest(ctx, tx, r, amount)
	}
	if amount == 0 {
		_, err := s.o.Payments.ReleaseTx(ctx, tx, p.ID)
		return err
	}
	capture := min(amount, p.AmountAuthorized)
	if _, err := s.o.Payments.CaptureTx(ctx, tx, p.ID, capture); err != nil {
		return err
	}
	return s.chargeRest(ctx, tx, r, amount-capture)
}

func (s *Service) chargeRest(ctx context.Context, tx *sqlx.Tx, r Reservation, amount int64) error {
	if amount <= 0 {
		return nil
	}
	_, err := s.o.Payments.ChargeOffSessionTx(ctx, tx, payment.ChargeRequest{
		Purpose: payment.Purpose{Kind: PaymentPurpose, ID: r.ID}, UserID: r.UserID, Amount: amount,
		Currency: r.Quote.Currency, Description: "Hongqi Mobility: amount over the hold for reservation " + r.ID.String(),
	})
	return err
}

// process makes the Stripe calls a transition queued, now rather than at the
// worker's next poll; failures stay queued for the worker.
func (s *Service) process(ctx context.Context, id uuid.UUID) {
	r, err := s.get(ctx, s.db, id, false)
	if err != nil || r.PaymentID == nil {
		return
	}
	if _, err := s.o.Payments.Process(ctx, *r.PaymentID); err != nil && !apperr.Is(err, apperr.KindPaymentFailed) {
		s.o.Log.WarnContext(ctx, "payment step deferred to the worker", "reservation_id", id, "err", err)
	}
}

// ChangeRequest moves a booking's end (extend or shorten).
type ChangeRequest struct {
	End time.Time
}

// Change extends or shortens a confirmed booking or an active trip: the car
// must be free for the new window (checked by the database), the price is
// quoted again under the booking's own plan version, and a higher price
// raises the card's hold (raiseHold).
func (s *Service) Change(ctx context.Context, v Viewer, id uuid.UUID, c ChangeRequest) (Reservation, error) {
	if _, err := s.Get(ctx, v, id); err != nil {
		return Reservation{}, err
	}
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		r, err := s.get(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if r.Status != Confirmed && r.Status != Active {
			return invalidState(r.Status, r.Status)
		}
		rules, err := s.ZoneRules(ctx, r.ZoneID)
		if err != nil {
			return err
		}
		var f apperr.Fields
		now := s.o.Now()
		switch length := c.End.Sub(r.Start); {
		case c.End.IsZero():
			f.Add("end", "is required")
		case c.End.Truncate(time.Minute) != c.End:
			f.Add("end", "must be on a whole minute")
		case !c.End.After(now):
			f.Add("end", "must be in the future")
		case length < rules.MinLength:
			f.Add("end", fmt.Sprintf("a booking here lasts at least %s", rules.MinLength))
		case length > rules.MaxLength:
			f.Add("end", fmt.Sprintf("a booking here lasts at most %s", rules.MaxLength))
		}
		if err := f.Err(); err != nil {
			return err
		}
		hid, ok, err := s.holding(ctx, tx, id)
		if err != nil {
			return err
		}
		if !ok {
			return invalidState(r.Status, r.Status)
		}
		if _, err := s.o.Fleet.Reschedule(ctx, tx, hid, r.Start, c.End, "vehicle_unavailable"); err != nil {
			return err
		}
		plan, err := s.o.Plans.Version(ctx, r.PlanID, r.PlanVersion)
		if err != nil {
			return err
		}
		q, err := pricing.QuoteRental(plan, pricing.QuoteInput{Start: r.Start, End: c.End, Loc: s.o.Location, EstimatedKm: r.EstimatedKm})
		if err != nil {
			return err
		}
		p := priceOf(q)
		lines, err := linesJSON(p)
		if err != nil {
			return err
		}
		const upd = `
			UPDATE reservations SET end_at = $3, quote_lines = $4, quote_subtotal = $5, quote_vat = $6, quote_total = $7,
			       updated_at = now()
			WHERE id = $1 AND status = $2`
		if _, err := tx.ExecContext(ctx, upd, id, string(r.Status), c.End, lines, p.Subtotal, p.VAT, p.Total); err != nil {
			return fmt.Errorf("change reservation: %w", err)
		}
		note := fmt.Sprintf("end moved from %s to %s", r.End.Format(time.RFC3339), c.End.Format(time.RFC3339))
		const ev = `INSERT INTO reservation_events (reservation_id, from_status, to_status, actor, note) VALUES ($1, $2, $2, $3, $4)`
		if _, err = tx.ExecContext(ctx, ev, id, string(r.Status), v.UserID, note); err != nil {
			return err
		}
		return s.raiseHold(ctx, tx, r, p.Total)
	})
	if err != nil {
		return Reservation{}, err
	}
	s.process(ctx, id)
	return s.get(ctx, s.db, id, false)
}

// raiseHold asks for the booking's hold to cover a new, higher total (an
// extension). A hold that covers it already is left as it is (a shorter
// booking captures less at the end), and so is one that is not simply held
// now; what the hold does not cover is charged off-session after the trip.
func (s *Service) raiseHold(ctx context.Context, tx *sqlx.Tx, r Reservation, total int64) error {
	if r.PaymentID == nil {
		return nil
	}
	_, err := s.o.Payments.IncrementTx(ctx, tx, *r.PaymentID, total)
	if apperr.Is(err, apperr.KindConflict) {
		// Not held as it stands (being captured or released, or not
		// authorised); the extension stands and the end settles the rest.
		return nil
	}
	return err
}
