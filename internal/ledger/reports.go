package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// The reports finance can export. Period reports group by business day in
// the business time zone; the last two are as of now.
const (
	ReportRevenue                   = "revenue"
	ReportFees                      = "fees"
	ReportRefunds                   = "refunds"
	ReportVAT                       = "vat"
	ReportOutstandingAuthorizations = "outstanding-authorizations"
	ReportFailedCaptures            = "failed-captures"
)

// Revenue reports, per business day, pickup zone, vehicle model and
// currency, what captures and charges earned (rental and fee revenue, VAT)
// less refunds, and the money collected into the Stripe balance
// (net_revenue + vat). Payments not for a reservation have no zone or model.
func (s *Service) Revenue(ctx context.Context, p Period) (Table, error) {
	// Revenue lines of the period's captures, charges and refunds, grouped
	// by local day, the reservation's zone and its car's model.
	const q = `
		SELECT to_char(e.occurred_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day,
			z.code AS zone_code, z.name_zh AS zone_name_zh, z.name_en AS zone_name_en,
			CASE WHEN m.id IS NULL THEN NULL ELSE m.make || ' ' || m.model END AS vehicle_model,
			l.currency,
			count(DISTINCT e.id) FILTER (WHERE e.event IN ('capture', 'charge')) AS payments,
			COALESCE(sum(l.credit - l.debit) FILTER (WHERE l.account = 'rental_revenue'), 0) AS rental,
			COALESCE(sum(l.credit - l.debit) FILTER (WHERE l.account LIKE 'fee\_revenue.%'), 0) AS fees,
			COALESCE(sum(l.debit - l.credit) FILTER (WHERE l.account = 'refunds'), 0) AS refunds,
			COALESCE(sum(l.credit - l.debit) FILTER (WHERE l.account = 'vat_payable'), 0) AS vat,
			COALESCE(sum(l.debit - l.credit) FILTER (WHERE l.account = 'stripe_clearing'), 0) AS collected
		FROM journal_entries e
		JOIN journal_lines l ON l.entry_id = e.id
		LEFT JOIN reservations r ON r.id = e.reservation_id
		LEFT JOIN zones z ON z.id = r.zone_id
		LEFT JOIN vehicles v ON v.id = r.vehicle_id
		LEFT JOIN vehicle_models m ON m.id = v.model_id
		WHERE e.event IN ('capture', 'charge', 'refund', 'refund_reversed')
		  AND e.occurred_at >= $1 AND e.occurred_at < $2
		GROUP BY 1, 2, 3, 4, 5, 6
		ORDER BY 1, 2 NULLS LAST, 5 NULLS LAST, 6`
	var rows []struct {
		Day          string  `db:"day"`
		ZoneCode     *string `db:"zone_code"`
		ZoneNameZH   *string `db:"zone_name_zh"`
		ZoneNameEN   *string `db:"zone_name_en"`
		VehicleModel *string `db:"vehicle_model"`
		Currency     string  `db:"currency"`
		Payments     int64   `db:"payments"`
		Rental       int64   `db:"rental"`
		Fees         int64   `db:"fees"`
		Refunds      int64   `db:"refunds"`
		VAT          int64   `db:"vat"`
		Collected    int64   `db:"collected"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, p.Start, p.End, s.opts.Location.String()); err != nil {
		return Table{}, fmt.Errorf("revenue report: %w", err)
	}
	t := Table{Name: ReportRevenue, Columns: []Column{{"day", Date}, {"zone_code", Text}, {"zone_name_zh", Text},
		{"zone_name_en", Text}, {"vehicle_model", Text}, {"currency", Text}, {"payments", Count}, {"rental", Money},
		{"fees", Money}, {"refunds", Money}, {"net_revenue", Money}, {"vat", Money}, {"collected", Money}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.Day, r.ZoneCode, r.ZoneNameZH, r.ZoneNameEN, r.VehicleModel, r.Currency,
			r.Payments, r.Rental, r.Fees, r.Refunds, r.Rental + r.Fees - r.Refunds, r.VAT, r.Collected})
	}
	return t, nil
}

// Fees reports fee revenue per business day and fee kind.
func (s *Service) Fees(ctx context.Context, p Period) (Table, error) {
	// Lines on the fee revenue accounts, by local day and fee kind.
	const q = `
		SELECT to_char(e.occurred_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, a.fee_kind, l.currency,
			count(DISTINCT e.id) AS payments, sum(l.credit - l.debit) AS amount
		FROM journal_entries e
		JOIN journal_lines l ON l.entry_id = e.id
		JOIN ledger_accounts a ON a.code = l.account
		WHERE a.fee_kind IS NOT NULL AND e.occurred_at >= $1 AND e.occurred_at < $2
		GROUP BY 1, 2, 3, a.position
		ORDER BY 1, a.position, 3`
	var rows []struct {
		Day      string `db:"day"`
		FeeKind  string `db:"fee_kind"`
		Currency string `db:"currency"`
		Payments int64  `db:"payments"`
		Amount   int64  `db:"amount"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, p.Start, p.End, s.opts.Location.String()); err != nil {
		return Table{}, fmt.Errorf("fees report: %w", err)
	}
	t := Table{Name: ReportFees, Columns: []Column{{"day", Date}, {"fee_kind", Text}, {"currency", Text},
		{"payments", Count}, {"amount", Money}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.Day, r.FeeKind, r.Currency, r.Payments, r.Amount})
	}
	return t, nil
}

// Refunds lists every refund and refund reversal of the period (a
// reversal's amounts negative), with the VAT given back and the refund's
// reason and current status.
func (s *Service) Refunds(ctx context.Context, p Period) (Table, error) {
	// The period's refund entries with their VAT line and the refund row.
	const q = `
		SELECT e.occurred_at, to_char(e.occurred_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, e.event, e.payment_id,
			e.refund_id, e.reservation_id, r.stripe_refund_id, r.reason, r.status AS refund_status, e.currency,
			CASE e.event WHEN 'refund' THEN e.amount ELSE -e.amount END AS amount,
			COALESCE(sum(l.debit - l.credit) FILTER (WHERE l.account = 'vat_payable'), 0) AS vat
		FROM journal_entries e
		JOIN journal_lines l ON l.entry_id = e.id
		LEFT JOIN refunds r ON r.id = e.refund_id
		WHERE e.event IN ('refund', 'refund_reversed') AND e.occurred_at >= $1 AND e.occurred_at < $2
		GROUP BY e.id, r.id
		ORDER BY e.occurred_at, e.id`
	var rows []struct {
		OccurredAt     time.Time  `db:"occurred_at"`
		Day            string     `db:"day"`
		Event          string     `db:"event"`
		PaymentID      *uuid.UUID `db:"payment_id"`
		RefundID       *uuid.UUID `db:"refund_id"`
		ReservationID  *uuid.UUID `db:"reservation_id"`
		StripeRefundID *string    `db:"stripe_refund_id"`
		Reason         *string    `db:"reason"`
		RefundStatus   *string    `db:"refund_status"`
		Currency       string     `db:"currency"`
		Amount         int64      `db:"amount"`
		VAT            int64      `db:"vat"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, p.Start, p.End, s.opts.Location.String()); err != nil {
		return Table{}, fmt.Errorf("refunds report: %w", err)
	}
	t := Table{Name: ReportRefunds, Columns: []Column{{"occurred_at", Time}, {"day", Date}, {"event", Text},
		{"payment_id", ID}, {"refund_id", ID}, {"reservation_id", ID}, {"stripe_refund_id", Text}, {"reason", Text},
		{"refund_status", Text}, {"currency", Text}, {"amount", Money}, {"vat", Money}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.OccurredAt, r.Day, r.Event, r.PaymentID, r.RefundID, r.ReservationID,
			r.StripeRefundID, r.Reason, r.RefundStatus, r.Currency, r.Amount, r.VAT})
	}
	return t, nil
}

// VAT reports per business day the sales VAT is charged on (revenue of
// captures and charges), the VAT charged, the VAT given back with refunds,
// and the VAT owed.
func (s *Service) VAT(ctx context.Context, p Period) (Table, error) {
	// VAT and revenue lines of the period's money events, by local day.
	const q = `
		SELECT to_char(e.occurred_at AT TIME ZONE $3, 'YYYY-MM-DD') AS day, l.currency,
			COALESCE(sum(l.credit - l.debit) FILTER (WHERE a.type = 'revenue' AND e.event IN ('capture', 'charge')), 0) AS taxable_sales,
			COALESCE(sum(l.credit - l.debit) FILTER (WHERE l.account = 'vat_payable' AND e.event IN ('capture', 'charge')), 0) AS output_vat,
			COALESCE(sum(l.debit - l.credit) FILTER (WHERE l.account = 'vat_payable' AND e.event IN ('refund', 'refund_reversed')), 0) AS refunded_vat
		FROM journal_entries e
		JOIN journal_lines l ON l.entry_id = e.id
		JOIN ledger_accounts a ON a.code = l.account
		WHERE e.event IN ('capture', 'charge', 'refund', 'refund_reversed') AND e.occurred_at >= $1 AND e.occurred_at < $2
		GROUP BY 1, 2
		ORDER BY 1, 2`
	var rows []struct {
		Day          string `db:"day"`
		Currency     string `db:"currency"`
		TaxableSales int64  `db:"taxable_sales"`
		OutputVAT    int64  `db:"output_vat"`
		RefundedVAT  int64  `db:"refunded_vat"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, p.Start, p.End, s.opts.Location.String()); err != nil {
		return Table{}, fmt.Errorf("VAT report: %w", err)
	}
	t := Table{Name: ReportVAT, Columns: []Column{{"day", Date}, {"currency", Text}, {"taxable_sales", Money},
		{"output_vat", Money}, {"refunded_vat", Money}, {"net_vat", Money}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.Day, r.Currency, r.TaxableSales, r.OutputVAT, r.RefundedVAT, r.OutputVAT - r.RefundedVAT})
	}
	return t, nil
}

// ageMinutes is how long ago at was, in whole minutes.
func (s *Service) ageMinutes(at time.Time) int64 {
	return int64(s.opts.Now().Sub(at) / time.Minute)
}

// OutstandingAuthorizations lists the holds on residents' cards not yet
// captured or released, oldest first, with their age.
func (s *Service) OutstandingAuthorizations(ctx context.Context) (Table, error) {
	// Authorised holds (the payment capability's table) and when each was
	// placed.
	const q = `
		SELECT p.id, p.purpose_kind, p.purpose_id, p.user_id, p.currency, p.amount_authorized,
			COALESCE((SELECT max(h.at) FROM payment_history h WHERE h.payment_id = p.id AND h.status = 'authorized'
				AND h.from_status IS DISTINCT FROM 'authorized'), p.created_at) AS authorized_at,
			COALESCE(p.pending_action, '') AS pending_action
		FROM payments p
		WHERE p.kind = 'authorization' AND p.status = 'authorized'
		ORDER BY authorized_at, p.id`
	var rows []struct {
		ID            uuid.UUID `db:"id"`
		PurposeKind   string    `db:"purpose_kind"`
		PurposeID     uuid.UUID `db:"purpose_id"`
		UserID        uuid.UUID `db:"user_id"`
		Currency      string    `db:"currency"`
		Amount        int64     `db:"amount_authorized"`
		AuthorizedAt  time.Time `db:"authorized_at"`
		PendingAction string    `db:"pending_action"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return Table{}, fmt.Errorf("outstanding authorisations: %w", err)
	}
	t := Table{Name: ReportOutstandingAuthorizations, Columns: []Column{{"payment_id", ID}, {"purpose_kind", Text},
		{"purpose_id", ID}, {"user_id", ID}, {"currency", Text}, {"amount", Money}, {"authorized_at", Time},
		{"age_minutes", Int}, {"pending_action", Text}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.ID, r.PurposeKind, r.PurposeID, r.UserID, r.Currency, r.Amount,
			r.AuthorizedAt.UTC(), s.ageMinutes(r.AuthorizedAt), r.PendingAction})
	}
	return t, nil
}

// FailedCaptures lists the captures Stripe declined that still await
// action: no later payment of the same purpose succeeded, so the resident
// still owes the amount.
func (s *Service) FailedCaptures(ctx context.Context) (Table, error) {
	// Declined captures with no later successful payment of their purpose.
	const q = `
		SELECT p.id, p.purpose_kind, p.purpose_id, p.user_id, p.currency,
			COALESCE(p.capture_requested, p.amount_authorized) AS amount,
			COALESCE(p.failure_code, '') AS failure_code, COALESCE(p.failure_message, '') AS failure_message,
			COALESCE((SELECT max(h.at) FROM payment_history h WHERE h.payment_id = p.id AND h.status = 'failed'), p.updated_at) AS failed_at
		FROM payments p
		WHERE p.kind = 'authorization' AND p.status = 'failed' AND p.capture_tried
		  AND NOT EXISTS (SELECT 1 FROM payments q WHERE q.purpose_kind = p.purpose_kind AND q.purpose_id = p.purpose_id
			AND q.id <> p.id AND q.status = 'succeeded' AND q.created_at > p.created_at)
		ORDER BY failed_at, p.id`
	var rows []struct {
		ID             uuid.UUID `db:"id"`
		PurposeKind    string    `db:"purpose_kind"`
		PurposeID      uuid.UUID `db:"purpose_id"`
		UserID         uuid.UUID `db:"user_id"`
		Currency       string    `db:"currency"`
		Amount         int64     `db:"amount"`
		FailureCode    string    `db:"failure_code"`
		FailureMessage string    `db:"failure_message"`
		FailedAt       time.Time `db:"failed_at"`
	}
	if err := s.db.SelectContext(ctx, &rows, q); err != nil {
		return Table{}, fmt.Errorf("failed captures: %w", err)
	}
	t := Table{Name: ReportFailedCaptures, Columns: []Column{{"payment_id", ID}, {"purpose_kind", Text},
		{"purpose_id", ID}, {"user_id", ID}, {"currency", Text}, {"amount", Money}, {"failure_code", Text},
		{"failure_message", Text}, {"failed_at", Time}, {"age_minutes", Int}}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []any{r.ID, r.PurposeKind, r.PurposeID, r.UserID, r.Currency, r.Amount,
			r.FailureCode, r.FailureMessage, r.FailedAt.UTC(), s.ageMinutes(r.FailedAt)})
	}
	return t, nil
}
