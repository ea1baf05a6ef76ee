package payment

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// RefundRequest asks to give back Amount of a captured payment.
type RefundRequest struct {
	PaymentID uuid.UUID
	Amount    int64
	Reason    RefundReason
	Note      string
	// IdempotencyKey, when set, makes the request safe to repeat: the same
	// key for the same payment returns the first refund.
	IdempotencyKey string
	By             *uuid.UUID // who asked; nil for the system
}

type refundRow struct {
	ID             uuid.UUID      `db:"id"`
	PaymentID      uuid.UUID      `db:"payment_id"`
	Amount         int64          `db:"amount"`
	Currency       string         `db:"currency"`
	Reason         string         `db:"reason"`
	Note           string         `db:"note"`
	Status         string         `db:"status"`
	StripeRefundID sql.NullString `db:"stripe_refund_id"`
	FailureReason  sql.NullString `db:"failure_reason"`
	RequestedBy    *uuid.UUID     `db:"requested_by"`
	IdempotencyKey sql.NullString `db:"idempotency_key"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const refundColumns = `id, payment_id, amount, currency, reason, note, status, stripe_refund_id, failure_reason,
	requested_by, idempotency_key, created_at, updated_at`

func (r refundRow) refund() Refund {
	return Refund{ID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount, Currency: r.Currency,
		Reason: RefundReason(r.Reason), Note: r.Note, Status: RefundStatus(r.Status),
		StripeRefundID: r.StripeRefundID.String, FailureReason: r.FailureReason.String,
		RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

func (s store) refund(ctx context.Context, q sqlx.QueryerContext, where string, args ...any) (refundRow, error) {
	var r refundRow
	if err := db.Get(ctx, q, &r, "refund", `SELECT `+refundColumns+` FROM refunds WHERE `+where, args...); err != nil {
		return r, err
	}
	return r, nil
}

// Refunds returns a payment's refunds, oldest first.
func (s *Service) Refunds(ctx context.Context, paymentID uuid.UUID) ([]Refund, error) {
	var rows []refundRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+refundColumns+` FROM refunds WHERE payment_id = $1 ORDER BY created_at, id`, paymentID); err != nil {
		return nil, fmt.Errorf("refunds of %s: %w", paymentID, err)
	}
	out := make([]Refund, len(rows))
	for i, r := range rows {
		out[i] = r.refund()
	}
	return out, nil
}

// RefundTx records a refund in tx and queues its Stripe call. The amount is
// counted as refunded at once, by a guarded update backed by a CHECK
// constraint, so refunds never add up past the captured amount, however
// many run at the same time.
func (s *Service) RefundTx(ctx context.Context, tx *sqlx.Tx, r RefundRequest) (Refund, error) {
	var f apperr.Fields
	if r.Amount < 1 || r.Amount > MaxAmount {
		f.Add("amount", "must be from 1 to "+strconv.FormatInt(MaxAmount, 10)+" minor units")
	}
	if !slices.Contains(RefundReasons, r.Reason) {
		f.Add("reason", "must be requested_by_customer, duplicate, fraudulent or service_issue")
	}
	if utf8.RuneCountInString(r.Note) > 500 {
		f.Add("note", "must be at most 500 characters")
	}
	if len(r.IdempotencyKey) > 255 {
		f.Add("idempotency_key", "must be at most 255 characters")
	}
	if err := f.Err(); err != nil {
		return Refund{}, err
	}
	// Lock the payment first: refunds of one payment are decided one at a time.
	p, err := s.store.lockPayment(ctx, tx, r.PaymentID)
	if err != nil {
		return Refund{}, err
	}
	if r.IdempotencyKey != "" {
		old, err := s.store.refund(ctx, tx, `payment_id = $1 AND idempotency_key = $2`, p.ID, r.IdempotencyKey)
		if err == nil {
			if old.Amount != r.Amount || old.Reason != string(r.Reason) {
				return Refund{}, apperr.New(apperr.KindUnprocessable, "idempotency_key_reused", "this idempotency key was used for another refund of this payment")
			}
			return old.refund(), nil
		}
		if !apperr.Is(err, apperr.KindNotFound) {
			return Refund{}, err
		}
	}
	// Count the refund against the captured amount, only while it fits.
	const reserve = `
		UPDATE payments SET amount_refunded = amount_refunded + $2, updated_at = now()
		WHERE id = $1 AND status = 'succeeded' AND amount_refunded + $2 <= amount_captured`
	res, err := tx.ExecContext(ctx, reserve, p.ID, r.Amount)
	if err != nil {
		return Refund{}, fmt.Errorf("reserve refund: %w", db.Translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		switch p.Status {
		case StatusDisputed:
			return Refund{}, stateConflict("payment_disputed", "the payment is disputed; the dispute decides what is given back", p)
		case StatusSucceeded:
			e := stateConflict("refund_exceeds_captured", fmt.Sprintf("at most %d %s can still be refunded", p.AmountCaptured-p.AmountRefunded, p.Currency), p)
			e.(*apperr.Error).Meta["refundable"] = p.AmountCaptured - p.AmountRefunded
			return Refund{}, e
		}
		return Refund{}, stateConflict("payment_not_captured", "only a captured payment can be refunded; it is "+string(p.Status), p)
	}
	ref := refundRow{ID: uuid.New(), PaymentID: p.ID, Amount: r.Amount, Currency: p.Currency, Reason: string(r.Reason),
		Note: r.Note, Status: string(RefundPending), RequestedBy: r.By, IdempotencyKey: nullString(r.IdempotencyKey)}
	const insert = `
		INSERT INTO refunds (id, payment_id, amount, currency, reason, note, status, requested_by, idempotency_key)
		VALUES (:id, :payment_id, :amount, :currency, :reason, :note, :status, :requested_by, :idempotency_key)
		RETURNING created_at, updated_at`
	rows, err := sqlx.NamedQueryContext(ctx, tx, insert, ref)
	if err != nil {
		return Refund{}, fmt.Errorf("insert refund: %w", db.Translate(err))
	}
	for rows.Next() {
		err = rows.Scan(&ref.CreatedAt, &ref.UpdatedAt)
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Refund{}, fmt.Errorf("insert refund: %w", err)
	}
	amount := r.Amount
	if err := s.note(ctx, tx, p, "refund_requested", &amount, string(r.Reason)+" "+ref.ID.String()); err != nil {
		return Refund{}, err
	}
	if err := s.moneyMoved(ctx, tx, Movement{Kind: MovementRefunded, PaymentID: p.ID, RefundID: ref.ID,
		Amount: r.Amount, Currency: p.Currency, Ref: "refund:" + ref.ID.String()}); err != nil {
		return Refund{}, err
	}
	if _, err := s.outbox.Enqueue(ctx, tx, jobRefund, refundKey(ref.ID), jobPayload{PaymentID: p.ID, RefundID: ref.ID}); err != nil {
		return Refund{}, err
	}
	return ref.refund(), nil
}

// Refund gives back part or all of a captured payment now; see RefundTx.
// The refund is pending until Stripe answers; if Stripe cannot be reached
// the worker retries.
func (s *Service) Refund(ctx context.Context, r RefundRequest) (Refund, error) {
	var ref Refund
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		ref, err = s.RefundTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Refund{}, err
	}
	if err := s.outbox.RunNow(ctx, refundKey(ref.ID)); err != nil {
		s.opts.Log.WarnContext(ctx, "payment: refund call failed; the worker will retry", "refund_id", ref.ID, "err", err)
	}
	row, err := s.store.refund(ctx, s.db, `id = $1`, ref.ID)
	return row.refund(), err
}

// runRefund makes a refund's Stripe call and records the answer.
func (s *Service) runRefund(ctx context.Context, raw json.RawMessage) error {
	j, err := decodeJob(raw)
	if err != nil {
		return err
	}
	ref, err := s.store.refund(ctx, s.db, `id = $1`, j.RefundID)
	if err != nil {
		return err
	}
	if ref.StripeRefundID.Valid || ref.Status != string(RefundPending) {
		return nil
	}
	p, err := s.store.payment(ctx, s.db, ref.PaymentID)
	if err != nil {
		return err
	}
	params := &stripe.RefundParams{
		PaymentIntent: stripe.String(p.PaymentIntentID),
		Amount:        stripe.Int64(ref.Amount),
		Metadata:      map[string]string{"refund_id": ref.ID.String(), "payment_id": p.ID.String(), "reason": ref.Reason},
	}
	if ref.Reason != string(ReasonServiceIssue) {
		params.Reason = stripe.String(ref.Reason)
	}
	params.SetIdempotencyKey(refundKey(ref.ID))
	sr, callErr := s.stripe.API.Refunds.New(params)
	status, stripeID, failure := RefundFailed, "", ""
	if callErr != nil {
		se, permanent := stripeError(callErr)
		if !permanent {
			return callErr
		}
		_, failure = failureOf(se)
	} else {
		status, stripeID, failure = RefundStatus(sr.Status), sr.ID, string(sr.FailureReason)
	}
	var after Payment
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		after, err = s.settleRefund(ctx, tx, ref.ID, status, stripeID, failure, "", "response")
		return err
	})
	if err != nil {
		return err
	}
	if callErr == nil && s.opts.Relay != nil && (status == RefundSucceeded || status == RefundPending) {
		s.opts.Relay.chargeRefunded(ctx, after)
	}
	return nil
}

// settleRefund records Stripe's answer about a refund: its id and status.
// A refund that fails or is canceled stops counting against the captured
// amount. Statuses only move forward from pending.
func (s *Service) settleRefund(ctx context.Context, tx *sqlx.Tx, refundID uuid.UUID, status RefundStatus,
	stripeID, failure, eventID, source string) (Payment, error) {
	ref, err := s.store.refund(ctx, tx, `id = $1 FOR UPDATE`, refundID)
	if err != nil {
		return Payment{}, err
	}
	p, err := s.store.lockPayment(ctx, tx, ref.PaymentID)
	if err != nil {
		return Payment{}, err
	}
	final := func(st string) bool {
		return st == string(RefundSucceeded) || st == string(RefundFailed) || st == string(RefundCanceled)
	}
	if final(ref.Status) || (ref.Status == string(status) && (stripeID == "" || ref.StripeRefundID.Valid)) {
		return p, nil
	}
	const update = `
		UPDATE refunds SET status = $2, stripe_refund_id = COALESCE(stripe_refund_id, NULLIF($3, '')),
			failure_reason = NULLIF($4, ''), updated_at = now()
		WHERE id = $1`
	if _, err := tx.ExecContext(ctx, update, ref.ID, string(status), stripeID, failure); err != nil {
		return Payment{}, fmt.Errorf("update refund: %w", db.Translate(err))
	}
	amount := ref.Amount
	if status == RefundFailed || status == RefundCanceled {
		p.AmountRefunded = max(0, p.AmountRefunded-ref.Amount)
		if err := s.store.updatePayment(ctx, tx, p); err != nil {
			return Payment{}, err
		}
		if err := s.moneyMoved(ctx, tx, Movement{Kind: MovementRefundReversed, PaymentID: p.ID, RefundID: ref.ID,
			Amount: ref.Amount, Currency: p.Currency, Ref: "refund_reversed:" + ref.ID.String()}); err != nil {
			return Payment{}, err
		}
	}
	return p, s.store.addHistory(ctx, tx, p.ID, HistoryEntry{Status: p.Status, Event: "refund_" + string(status),
		Amount: &amount, Detail: (ref.ID.String() + " " + failure), Source: source, StripeEventID: eventID})
}
