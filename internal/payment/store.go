package payment

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// paymentRow is a payments row as the queries read and write it.
type paymentRow struct {
	ID               uuid.UUID      `db:"id"`
	PurposeKind      string         `db:"purpose_kind"`
	PurposeID        uuid.UUID      `db:"purpose_id"`
	UserID           uuid.UUID      `db:"user_id"`
	Kind             string         `db:"kind"`
	Status           string         `db:"status"`
	Currency         string         `db:"currency"`
	AmountAuthorized int64          `db:"amount_authorized"`
	AmountCaptured   int64          `db:"amount_captured"`
	AmountRefunded   int64          `db:"amount_refunded"`
	CaptureRequested sql.NullInt64  `db:"capture_requested"`
	IncrementReq     sql.NullInt64  `db:"increment_requested"`
	PendingAction    sql.NullString `db:"pending_action"`
	CaptureTried     bool           `db:"capture_tried"`
	Description      string         `db:"description"`
	OffSession       bool           `db:"off_session"`
	PaymentMethod    sql.NullString `db:"payment_method"`
	StripeCustomerID sql.NullString `db:"stripe_customer_id"`
	PaymentIntentID  sql.NullString `db:"stripe_payment_intent_id"`
	ChargeID         sql.NullString `db:"stripe_charge_id"`
	ClientSecret     sql.NullString `db:"client_secret"`
	FailureCode      sql.NullString `db:"failure_code"`
	FailureMessage   sql.NullString `db:"failure_message"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
}

const paymentColumns = `
	id, purpose_kind, purpose_id, user_id, kind, status, currency,
	amount_authorized, amount_captured, amount_refunded, capture_requested, increment_requested, pending_action,
	capture_tried, description, off_session, payment_method, stripe_customer_id, stripe_payment_intent_id,
	stripe_charge_id, client_secret, failure_code, failure_message, created_at, updated_at`

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func (r paymentRow) payment() Payment {
	p := Payment{
		ID: r.ID, Purpose: Purpose{Kind: r.PurposeKind, ID: r.PurposeID}, UserID: r.UserID,
		Kind: Kind(r.Kind), Status: Status(r.Status), Currency: r.Currency,
		AmountAuthorized: r.AmountAuthorized, AmountCaptured: r.AmountCaptured, AmountRefunded: r.AmountRefunded,
		PendingAction: r.PendingAction.String, Description: r.Description, OffSession: r.OffSession,
		PaymentMethod: r.PaymentMethod.String, StripeCustomerID: r.StripeCustomerID.String,
		PaymentIntentID: r.PaymentIntentID.String, ChargeID: r.ChargeID.String,
		ClientSecret: r.ClientSecret.String, FailureCode: r.FailureCode.String,
		FailureMessage: r.FailureMessage.String, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		captureTried: r.CaptureTried,
	}
	if r.CaptureRequested.Valid {
		v := r.CaptureRequested.Int64
		p.CaptureRequested = &v
	}
	if r.IncrementReq.Valid {
		v := r.IncrementReq.Int64
		p.IncrementRequested = &v
	}
	return p
}

func rowOf(p Payment) paymentRow {
	r := paymentRow{
		ID: p.ID, PurposeKind: p.Purpose.Kind, PurposeID: p.Purpose.ID, UserID: p.UserID,
		Kind: string(p.Kind), Status: string(p.Status), Currency: p.Currency,
		AmountAuthorized: p.AmountAuthorized, AmountCaptured: p.AmountCaptured, AmountRefunded: p.AmountRefunded,
		PendingAction: nullString(p.PendingAction), CaptureTried: p.captureTried, Description: p.Description,
		OffSession: p.OffSession, PaymentMethod: nullString(p.PaymentMethod),
		StripeCustomerID: nullString(p.StripeCustomerID), PaymentIntentID: nullString(p.PaymentIntentID),
		ChargeID: nullString(p.ChargeID), ClientSecret: nullString(p.ClientSecret),
		FailureCode: nullString(p.FailureCode), FailureMessage: nullString(p.FailureMessage),
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if p.CaptureRequested != nil {
		r.CaptureRequested = sql.NullInt64{Int64: *p.CaptureRequested, Valid: true}
	}
	if p.IncrementRequested != nil {
		r.IncrementReq = sql.NullInt64{Int64: *p.IncrementRequested, Valid: true}
	}
	return r
}

// store runs the payment queries.
type store struct{ db *sqlx.DB }

// insertPayment records a new payment. For an authorisation whose purpose
// has a live one already it inserts nothing and reports false, without
// aborting the caller's transaction.
func (s store) insertPayment(ctx context.Context, tx *sqlx.Tx, p Payment) (bool, error) {
	const q = `
		INSERT INTO payments (id, purpose_kind, purpose_id, user_id, kind, status, currency, amount_authorized,
			description, off_session, payment_method, created_at, updated_at)
		VALUES (:id, :purpose_kind, :purpose_id, :user_id, :kind, :status, :currency, :amount_authorized,
			:description, :off_session, :payment_method, :created_at, :created_at)
		ON CONFLICT (purpose_kind, purpose_id) WHERE kind = 'authorization' AND status NOT IN ('canceled', 'failed')
		DO NOTHING`
	res, err := tx.NamedExecContext(ctx, q, rowOf(p))
	if err != nil {
		return false, fmt.Errorf("insert payment: %w", db.Translate(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s store) payment(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID) (Payment, error) {
	var r paymentRow
	if err := db.Get(ctx, q, &r, "payment", `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id); err != nil {
		return Payment{}, err
	}
	return r.payment(), nil
}

// lockPayment reads a payment and locks its row until tx ends: every change
// to a payment goes through here, so changes to one payment are serial.
func (s store) lockPayment(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (Payment, error) {
	var r paymentRow
	const q = `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1 FOR UPDATE`
	if err := db.Get(ctx, tx, &r, "payment", q, id); err != nil {
		return Payment{}, err
	}
	return r.payment(), nil
}

// liveAuthorization finds the authorisation of a purpose that is neither
// canceled nor failed.
func (s store) liveAuthorization(ctx context.Context, tx *sqlx.Tx, p Purpose) (Payment, error) {
	const q = `SELECT ` + paymentColumns + ` FROM payments
		WHERE purpose_kind = $1 AND purpose_id = $2 AND kind = 'authorization' AND status NOT IN ('canceled', 'failed')
		FOR UPDATE`
	var r paymentRow
	if err := tx.GetContext(ctx, &r, q, p.Kind, p.ID); err != nil {
		return Payment{}, fmt.Errorf("live authorization of %s %s: %w", p.Kind, p.ID, err)
	}
	return r.payment(), nil
}

// paymentByIntent finds the payment of a Stripe PaymentIntent and locks it.
func (s store) paymentByIntent(ctx context.Context, tx *sqlx.Tx, intentID string) (Payment, error) {
	var r paymentRow
	const q = `SELECT ` + paymentColumns + ` FROM payments WHERE stripe_payment_intent_id = $1 FOR UPDATE`
	if err := db.Get(ctx, tx, &r, "payment", q, intentID); err != nil {
		return Payment{}, err
	}
	return r.payment(), nil
}

// updatePayment writes the changeable fields of a locked payment.
func (s store) updatePayment(ctx context.Context, tx *sqlx.Tx, p Payment) error {
	const q = `
		UPDATE payments SET status = :status, amount_authorized = :amount_authorized, amount_captured = :amount_captured,
			amount_refunded = :amount_refunded, capture_requested = :capture_requested,
			increment_requested = :increment_requested, pending_action = :pending_action, capture_tried = :capture_tried,
			payment_method = :payment_method, stripe_customer_id = :stripe_customer_id,
			stripe_payment_intent_id = :stripe_payment_intent_id, stripe_charge_id = :stripe_charge_id,
			client_secret = :client_secret, failure_code = :failure_code, failure_message = :failure_message,
			updated_at = now()
		WHERE id = :id`
	if _, err := tx.NamedExecContext(ctx, q, rowOf(p)); err != nil {
		return fmt.Errorf("update payment %s: %w", p.ID, db.Translate(err))
	}
	return nil
}

// addHistory appends one line to a payment's history.
func (s store) addHistory(ctx context.Context, tx *sqlx.Tx, paymentID uuid.UUID, h HistoryEntry) error {
	const q = `
		INSERT INTO payment_history (payment_id, from_status, status, event, amount, detail, source, stripe_event_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, NULLIF($8, ''))`
	detail := h.Detail
	if len(detail) > 1000 {
		detail = detail[:1000]
	}
	_, err := tx.ExecContext(ctx, q, paymentID, h.FromStatus, string(h.Status), h.Event, h.Amount, detail, h.Source, h.StripeEventID)
	if err != nil {
		return fmt.Errorf("payment history: %w", err)
	}
	return nil
}

func (s store) history(ctx context.Context, paymentID uuid.UUID) ([]HistoryEntry, error) {
	// The history of one payment, oldest first.
	const q = `
		SELECT from_status, status, event, amount, detail, source, COALESCE(stripe_event_id, '') AS stripe_event_id, at
		FROM payment_history WHERE payment_id = $1 ORDER BY id`
	var rows []struct {
		FromStatus    *string   `db:"from_status"`
		Status        string    `db:"status"`
		Event         string    `db:"event"`
		Amount        *int64    `db:"amount"`
		Detail        string    `db:"detail"`
		Source        string    `db:"source"`
		StripeEventID string    `db:"stripe_event_id"`
		At            time.Time `db:"at"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, paymentID); err != nil {
		return nil, fmt.Errorf("payment history: %w", err)
	}
	out := make([]HistoryEntry, len(rows))
	for i, r := range rows {
		out[i] = HistoryEntry{Status: Status(r.Status), Event: r.Event, Amount: r.Amount, Detail: r.Detail,
			Source: r.Source, StripeEventID: r.StripeEventID, At: r.At.UTC()}
		if r.FromStatus != nil {
			st := Status(*r.FromStatus)
			out[i].FromStatus = &st
		}
	}
	return out, nil
}

// Filter narrows a list of payments; zero fields do not filter.
type Filter struct {
	UserID      *uuid.UUID
	Status      *Status
	PurposeKind string
	PurposeID   *uuid.UUID
}

func (s store) list(ctx context.Context, f Filter, p page.Request) ([]Payment, error) {
	// Payments newest first, after the cursor; each filter applies only
	// when set.
	const q = `
		SELECT ` + paymentColumns + ` FROM payments
		WHERE ($1::uuid IS NULL OR user_id = $1)
		  AND ($2::text IS NULL OR status = $2)
		  AND ($3 = '' OR purpose_kind = $3)
		  AND ($4::uuid IS NULL OR purpose_id = $4)
		  AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
		ORDER BY created_at DESC, id DESC
		LIMIT $7`
	after, afterID := p.Bounds()
	var rows []paymentRow
	if err := s.db.SelectContext(ctx, &rows, q, f.UserID, f.Status, f.PurposeKind, f.PurposeID, after, afterID, p.Limit); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	out := make([]Payment, len(rows))
	for i, r := range rows {
		out[i] = r.payment()
	}
	return out, nil
}
