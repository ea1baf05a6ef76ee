package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/db"
)

// post records an entry and its lines in tx, unless an entry with the same
// (source, source_id, source_ref) exists: then nothing is posted and post
// reports false. The database checks at commit that the lines balance.
func post(ctx context.Context, tx *sqlx.Tx, e Entry) (bool, error) {
	// The entry, once per identity.
	const insert = `
		INSERT INTO journal_entries (id, event, memo, source, source_id, source_ref, payment_id, refund_id,
			purpose_kind, purpose_id, reservation_id, amount, currency, description, reverses, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, ''), $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (source, source_id, source_ref) DO NOTHING`
	if e.ID == uuid.Nil {
		e.ID = uuid.New()
	}
	res, err := tx.ExecContext(ctx, insert, e.ID, string(e.Event), e.Memo, e.Source, e.SourceID, e.SourceRef,
		e.PaymentID, e.RefundID, e.PurposeKind, e.PurposeID, e.ReservationID, e.Amount, e.Currency,
		e.Description, e.Reverses, e.OccurredAt)
	if err != nil {
		return false, fmt.Errorf("post %s entry: %w", e.Event, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	if len(e.Lines) == 0 {
		return true, nil
	}
	n := len(e.Lines)
	nos, accounts, debits, credits, currencies := make([]int64, n), make([]string, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, l := range e.Lines {
		nos[i], accounts[i], debits[i], credits[i], currencies[i] = int64(i+1), l.Account, l.Debit, l.Credit, l.Currency
	}
	// The lines of the entry, in one statement.
	const lines = `
		INSERT INTO journal_lines (entry_id, line_no, account, debit, credit, currency)
		SELECT $1, no, account, debit, credit, currency
		FROM unnest($2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::text[]) AS l(no, account, debit, credit, currency)`
	if _, err := tx.ExecContext(ctx, lines, e.ID, pq.Array(nos), pq.Array(accounts), pq.Array(debits),
		pq.Array(credits), pq.Array(currencies)); err != nil {
		return false, fmt.Errorf("post %s lines: %w", e.Event, err)
	}
	return true, nil
}

// paymentFacts is what the ledger reads of a payment to book it.
type paymentFacts struct {
	ID               uuid.UUID `db:"id"`
	PurposeKind      string    `db:"purpose_kind"`
	PurposeID        uuid.UUID `db:"purpose_id"`
	Kind             string    `db:"kind"`
	Status           string    `db:"status"`
	Currency         string    `db:"currency"`
	AmountAuthorized int64     `db:"amount_authorized"`
	AmountCaptured   int64     `db:"amount_captured"`
	AmountRefunded   int64     `db:"amount_refunded"`
	ChargeID         string    `db:"charge_id"`
	FailureMessage   string    `db:"failure_message"`
}

// payment reads a payment as its transaction sees it (the payment
// capability's table; the ledger only reads it).
func payment(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (paymentFacts, error) {
	const q = `
		SELECT id, purpose_kind, purpose_id, kind, status, currency, amount_authorized, amount_captured, amount_refunded,
			COALESCE(stripe_charge_id, '') AS charge_id, COALESCE(failure_message, '') AS failure_message
		FROM payments WHERE id = $1`
	var p paymentFacts
	if err := db.Get(ctx, tx, &p, "payment", q, id); err != nil {
		return p, err
	}
	return p, nil
}

// reservationPrice returns the price a reservation charges (its final price,
// cancellation or no-show fee, else its quote) as stored by the reservation
// capability, and how much of it earlier captures and charges received.
// It first takes a lock on the reservation's postings, so two payments of
// one reservation are split one after the other.
func reservationPrice(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) ([]PriceLine, int64, error) {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('ledger.reservation:' || $1::text))`, id); err != nil {
		return nil, 0, fmt.Errorf("lock reservation postings: %w", err)
	}
	// The reservation's lines; none when the purpose is not a reservation.
	const price = `SELECT COALESCE(final_lines, quote_lines) FROM reservations WHERE id = $1`
	var raw []byte
	err := tx.GetContext(ctx, &raw, price, id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("price of reservation %s: %w", id, err)
	}
	var lines []PriceLine
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &lines); err != nil {
			return nil, 0, fmt.Errorf("price lines of reservation %s: %w", id, err)
		}
	}
	// What the reservation's captures and charges received so far.
	const received = `
		SELECT COALESCE(sum(amount), 0) FROM journal_entries
		WHERE reservation_id = $1 AND event IN ('capture', 'charge')`
	var before int64
	if err := tx.GetContext(ctx, &before, received, id); err != nil {
		return nil, 0, fmt.Errorf("received for reservation %s: %w", id, err)
	}
	return lines, before, nil
}

// paymentTotals returns what the ledger booked for a payment: the amount
// received, the VAT in it, and the amount refunded (net of reversals).
func paymentTotals(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (received, vat, refunded int64, err error) {
	const q = `
		SELECT
			COALESCE(sum(e.amount) FILTER (WHERE e.event IN ('capture', 'charge')), 0) AS received,
			COALESCE(sum(e.amount) FILTER (WHERE e.event = 'refund'), 0)
				- COALESCE(sum(e.amount) FILTER (WHERE e.event = 'refund_reversed'), 0) AS refunded,
			COALESCE((SELECT sum(l.credit - l.debit) FROM journal_entries c JOIN journal_lines l ON l.entry_id = c.id
				WHERE c.payment_id = $1 AND c.event IN ('capture', 'charge') AND l.account = 'vat_payable'), 0) AS vat
		FROM journal_entries e WHERE e.payment_id = $1`
	var r struct {
		Received int64 `db:"received"`
		Refunded int64 `db:"refunded"`
		VAT      int64 `db:"vat"`
	}
	if err := tx.GetContext(ctx, &r, q, id); err != nil {
		return 0, 0, 0, fmt.Errorf("booked totals of payment %s: %w", id, err)
	}
	return r.Received, r.VAT, r.Refunded, nil
}

// refundEntry returns the refund entry of one of our refunds, with its
// lines, for reversing it.
func refundEntry(ctx context.Context, tx *sqlx.Tx, refundID uuid.UUID) (uuid.UUID, []Line, error) {
	const q = `SELECT id FROM journal_entries WHERE refund_id = $1 AND event = 'refund' ORDER BY posted_at LIMIT 1`
	var id uuid.UUID
	if err := tx.GetContext(ctx, &id, q, refundID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return uuid.Nil, nil, nil
		}
		return uuid.Nil, nil, fmt.Errorf("refund entry of %s: %w", refundID, err)
	}
	var lines []Line
	if err := tx.SelectContext(ctx, &lines, `SELECT account, debit, credit, currency FROM journal_lines WHERE entry_id = $1 ORDER BY line_no`, id); err != nil {
		return uuid.Nil, nil, fmt.Errorf("refund entry lines: %w", err)
	}
	return id, lines, nil
}
