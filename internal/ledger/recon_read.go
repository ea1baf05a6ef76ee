package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

type runRow struct {
	ID          uuid.UUID      `db:"id"`
	Source      string         `db:"source"`
	From        string         `db:"from_date"`
	To          string         `db:"to_date"`
	Start       time.Time      `db:"period_start"`
	End         time.Time      `db:"period_end"`
	Status      string         `db:"status"`
	FileName    sql.NullString `db:"file_name"`
	SkippedRows int            `db:"skipped_rows"`
	Error       sql.NullString `db:"error"`
	CreatedBy   *uuid.UUID     `db:"created_by"`
	CreatedAt   time.Time      `db:"created_at"`
	CompletedAt *time.Time     `db:"completed_at"`
}

const runColumns = `id, source, to_char(from_date, 'YYYY-MM-DD') AS from_date, to_char(to_date, 'YYYY-MM-DD') AS to_date,
	period_start, period_end, status, file_name, skipped_rows, error, created_by, created_at, completed_at`

func (r runRow) run() Run {
	out := Run{ID: r.ID, Source: r.Source, Period: Period{From: r.From, To: r.To, Start: r.Start.UTC(), End: r.End.UTC()},
		Status: r.Status, FileName: r.FileName.String, SkippedRows: r.SkippedRows, Error: r.Error.String,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), CompletedAt: r.CompletedAt,
		Counts: map[string]int64{}, Totals: []RunTotal{}, Recorded: map[string]int64{"stripe_fee": 0, "payout": 0}}
	if out.CompletedAt != nil {
		t := out.CompletedAt.UTC()
		out.CompletedAt = &t
	}
	for _, st := range ItemStatuses {
		out.Counts[st] = 0
	}
	return out
}

// Run returns a run with its counts per status, totals per currency and
// what it booked.
func (s *Service) Run(ctx context.Context, id uuid.UUID) (Run, error) {
	var r runRow
	const q = `SELECT ` + runColumns + ` FROM reconciliation_runs WHERE id = $1`
	if err := db.Get(ctx, s.db, &r, "reconciliation", q, id); err != nil {
		return Run{}, err
	}
	out := r.run()
	// The items of the run per status.
	var counts []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &counts, `SELECT status, count(*) AS n FROM reconciliation_items
		WHERE run_id = $1 GROUP BY status`, id); err != nil {
		return Run{}, fmt.Errorf("reconciliation counts: %w", err)
	}
	for _, c := range counts {
		out.Counts[c.Status] = c.N
	}
	// Stripe's and our totals per currency.
	const totals = `
		SELECT COALESCE(currency, ledger_currency) AS currency, count(*) AS items,
			COALESCE(sum(amount), 0) AS stripe_amount, COALESCE(sum(fee), 0) AS stripe_fee,
			COALESCE(sum(net), 0) AS stripe_net, COALESCE(sum(ledger_amount), 0) AS ledger_amount
		FROM reconciliation_items WHERE run_id = $1
		GROUP BY 1 ORDER BY 1`
	if err := s.db.SelectContext(ctx, &out.Totals, totals, id); err != nil {
		return Run{}, fmt.Errorf("reconciliation totals: %w", err)
	}
	// The entries the run booked, by event.
	var booked []struct {
		Event string `db:"event"`
		N     int64  `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &booked, `SELECT e AS event, count(*) AS n FROM reconciliation_items, unnest(recorded) AS e
		WHERE run_id = $1 GROUP BY e`, id); err != nil {
		return Run{}, fmt.Errorf("reconciliation bookings: %w", err)
	}
	for _, b := range booked {
		out.Recorded[b.Event] = b.N
	}
	return out, nil
}

// Runs returns a page of runs, newest first, without their counts.
func (s *Service) Runs(ctx context.Context, p page.Request) ([]Run, *string, error) {
	// Runs newest first after the cursor.
	const q = `SELECT ` + runColumns + ` FROM reconciliation_runs
		WHERE ($1::timestamptz IS NULL OR (created_at, id) < ($1, $2))
		ORDER BY created_at DESC, id DESC LIMIT $3`
	after, afterID := p.Bounds()
	var rows []runRow
	if err := s.db.SelectContext(ctx, &rows, q, after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("reconciliations: %w", err)
	}
	out := make([]Run, len(rows))
	for i, r := range rows {
		out[i] = r.run()
	}
	return out, page.Next(out, p.Limit, func(r Run) (time.Time, uuid.UUID) { return r.CreatedAt, r.ID }), nil
}

const itemColumns = `id, status, kind, balance_transaction_id, stripe_type, source_id, charge_id,
	payment_intent_id, refund_stripe_id, amount, fee, net, currency, created, description, payment_id, refund_id,
	ledger_amount, ledger_fee, ledger_currency, recorded, note`

type itemRow struct {
	Item
	Recorded pq.StringArray `db:"recorded"`
}

// Items returns a page of a run's items (all, or those of one status) in
// the order of their time, and the next page's cursor. A limit of 0 returns
// every item, for exports.
func (s *Service) Items(ctx context.Context, runID uuid.UUID, status string, p page.Request) ([]Item, *string, error) {
	if status != "" && !slices.Contains(ItemStatuses, status) {
		return nil, nil, apperr.Invalid("status: must be one of the item statuses",
			apperr.FieldError{Field: "status", Reason: "must be matched, missing_in_stripe, missing_in_ledger, amount_mismatch, fee_mismatch or currency_mismatch"})
	}
	if _, err := s.runExists(ctx, runID); err != nil {
		return nil, nil, err
	}
	// A run's items by time after the cursor, of one status when asked.
	const q = `SELECT ` + itemColumns + ` FROM reconciliation_items
		WHERE run_id = $1 AND ($2 = '' OR status = $2)
		  AND ($3::timestamptz IS NULL OR (created, id) > ($3, $4))
		ORDER BY created, id
		LIMIT NULLIF($5, 0)`
	after, afterID := p.Bounds()
	var rows []itemRow
	if err := s.db.SelectContext(ctx, &rows, q, runID, status, after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("reconciliation items: %w", err)
	}
	out := make([]Item, len(rows))
	for i, r := range rows {
		out[i] = r.Item
		out[i].Created = r.Created.UTC()
		out[i].Recorded = []string(r.Recorded)
	}
	var next *string
	if p.Limit > 0 {
		next = page.Next(out, p.Limit, func(it Item) (time.Time, uuid.UUID) { return it.Created, it.ID })
	}
	return out, next, nil
}

func (s *Service) runExists(ctx context.Context, id uuid.UUID) (bool, error) {
	var ok bool
	if err := s.db.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM reconciliation_runs WHERE id = $1)`, id); err != nil {
		return false, fmt.Errorf("reconciliation %s: %w", id, err)
	}
	if !ok {
		return false, apperr.NotFound("reconciliation")
	}
	return true, nil
}

// ItemsTable returns every item of a run (or of one status) as a table, for
// the CSV export.
func (s *Service) ItemsTable(ctx context.Context, runID uuid.UUID, status string) (Table, error) {
	items, _, err := s.Items(ctx, runID, status, page.Request{})
	if err != nil {
		return Table{}, err
	}
	t := Table{Name: "reconciliation_" + runID.String(), Columns: []Column{
		{"status", Text}, {"kind", Text}, {"balance_transaction_id", Text}, {"stripe_type", Text}, {"source_id", Text},
		{"charge_id", Text}, {"payment_intent_id", Text}, {"refund_stripe_id", Text}, {"created", Time},
		{"currency", Text}, {"amount", Money}, {"fee", Money}, {"net", Money},
		{"ledger_currency", Text}, {"ledger_amount", Money}, {"ledger_fee", Money},
		{"payment_id", ID}, {"refund_id", ID}, {"recorded", List}, {"note", Text}, {"description", Text},
	}}
	t.Rows = make([][]any, len(items))
	for i, it := range items {
		cur := ""
		switch {
		case it.Currency != nil:
			cur = *it.Currency
		case it.LedgerCurrency != nil:
			cur = *it.LedgerCurrency
		}
		t.Rows[i] = []any{it.Status, it.Kind, it.BalanceTransactionID, it.StripeType, it.SourceID, it.ChargeID,
			it.PaymentIntentID, it.RefundStripeID, it.Created, cur, it.Amount, it.Fee, it.Net,
			it.LedgerCurrency, it.LedgerAmount, it.LedgerFee, it.PaymentID, it.RefundID, it.Recorded, it.Note, it.Description}
	}
	return t, nil
}
