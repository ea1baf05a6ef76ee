package ledger

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// The sources of a reconciliation.
const (
	SourceStripeAPI = "stripe_api"
	SourceCSV       = "csv"
)

// The statuses of a reconciliation item.
const (
	ItemMatched          = "matched"
	ItemMissingInStripe  = "missing_in_stripe"
	ItemMissingInLedger  = "missing_in_ledger"
	ItemAmountMismatch   = "amount_mismatch"
	ItemFeeMismatch      = "fee_mismatch"
	ItemCurrencyMismatch = "currency_mismatch"
)

// ItemStatuses lists every item status.
var ItemStatuses = []string{ItemMatched, ItemMissingInStripe, ItemMissingInLedger, ItemAmountMismatch, ItemFeeMismatch, ItemCurrencyMismatch}

// Run is one reconciliation of a period against Stripe.
type Run struct {
	ID          uuid.UUID
	Source      string
	Period      Period
	Status      string // running, completed or failed
	FileName    string
	SkippedRows int // CSV rows outside the period
	Error       string
	CreatedBy   *uuid.UUID
	CreatedAt   time.Time
	CompletedAt *time.Time
	Counts      map[string]int64 // items per status, every status present
	Totals      []RunTotal
	Recorded    map[string]int64 // entries the run booked: stripe_fee, payout
}

// RunTotal sums a run's items in one currency.
type RunTotal struct {
	Currency     string `db:"currency"`
	Items        int64  `db:"items"`
	StripeAmount int64  `db:"stripe_amount"`
	StripeFee    int64  `db:"stripe_fee"`
	StripeNet    int64  `db:"stripe_net"`
	LedgerAmount int64  `db:"ledger_amount"`
}

// Item is one line of a run: a Stripe balance transaction and what our
// books say of it, or one of our movements Stripe does not show.
type Item struct {
	ID                   uuid.UUID  `db:"id"`
	Status               string     `db:"status"`
	Kind                 string     `db:"kind"`
	BalanceTransactionID *string    `db:"balance_transaction_id"`
	StripeType           *string    `db:"stripe_type"`
	SourceID             *string    `db:"source_id"`
	ChargeID             *string    `db:"charge_id"`
	PaymentIntentID      *string    `db:"payment_intent_id"`
	RefundStripeID       *string    `db:"refund_stripe_id"`
	Amount               *int64     `db:"amount"`
	Fee                  *int64     `db:"fee"`
	Net                  *int64     `db:"net"`
	Currency             *string    `db:"currency"`
	Created              time.Time  `db:"created"`
	Description          *string    `db:"description"`
	PaymentID            *uuid.UUID `db:"payment_id"`
	RefundID             *uuid.UUID `db:"refund_id"`
	LedgerAmount         *int64     `db:"ledger_amount"`
	LedgerFee            *int64     `db:"ledger_fee"`
	LedgerCurrency       *string    `db:"ledger_currency"`
	Recorded             []string   `db:"-"`
	Note                 string     `db:"note"`
}

// ReconcileRequest asks for a reconciliation of a period.
type ReconcileRequest struct {
	Period   Period
	Source   string    // stripe_api or csv
	CSV      io.Reader // the balance CSV, for source csv
	FileName string
	By       uuid.UUID // who asked; uuid.Nil for the system
}

// Reconcile runs a reconciliation: it reads Stripe's balance transactions
// created in the period (from the API, or from the uploaded CSV, whose rows
// outside the period are skipped), matches each with our payments, refunds
// and ledger by charge, PaymentIntent and refund ids, books the Stripe fees
// and payouts the ledger lacks, lists our movements of the period Stripe
// does not show, and classifies every item. The run is recorded even when
// it fails (with the error). Running a period again makes a new run and
// books nothing twice.
func (s *Service) Reconcile(ctx context.Context, r ReconcileRequest) (Run, error) {
	var rows []BalanceTransaction
	skipped := 0
	switch r.Source {
	case SourceStripeAPI:
		if s.opts.Stripe == nil {
			return Run{}, apperr.New(apperr.KindDependency, "stripe_unavailable", "this deployment has no Stripe API to reconcile against; upload a balance CSV")
		}
	case SourceCSV:
		if r.CSV == nil {
			return Run{}, apperr.Invalid("file: upload the Stripe balance CSV as the file part", apperr.FieldError{Field: "file", Reason: "is required"})
		}
		all, err := ParseBalanceCSV(r.CSV)
		if err != nil {
			return Run{}, err
		}
		for _, bt := range all {
			if bt.Created.Before(r.Period.Start) || !bt.Created.Before(r.Period.End) {
				skipped++
				continue
			}
			rows = append(rows, bt)
		}
	default:
		return Run{}, apperr.Invalid("source: must be stripe_api or csv", apperr.FieldError{Field: "source", Reason: "must be stripe_api or csv"})
	}
	id := uuid.New()
	if err := s.startRun(ctx, id, r, skipped); err != nil {
		return Run{}, err
	}
	began := time.Now()
	var worked time.Duration
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		defer func() { worked = time.Since(began) }()
		st, err := newStager(ctx, tx)
		if err != nil {
			return err
		}
		if r.Source == SourceCSV {
			for _, bt := range rows {
				if err := st.add(bt); err != nil {
					return err
				}
			}
		} else if err := s.opts.Stripe(ctx, r.Period.Start, r.Period.End, st.add); err != nil {
			_ = st.close()
			return err
		}
		if err := st.close(); err != nil {
			return err
		}
		s.opts.Log.DebugContext(ctx, "reconciliation staged", "run_id", id, "transactions", len(st.seen),
			"ms", time.Since(began).Milliseconds())
		return s.reconcile(ctx, tx, id, r.Period)
	})
	s.opts.Log.DebugContext(ctx, "reconciliation committed", "run_id", id, "ms", (time.Since(began) - worked).Milliseconds())
	if err != nil {
		s.failRun(id, err)
		return Run{}, fmt.Errorf("reconciliation %s: %w", id, err)
	}
	return s.Run(ctx, id)
}

// failRun records why a run failed; it uses its own context, as the
// request's may be what ended.
func (s *Service) failRun(id uuid.UUID, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := cause.Error()
	if e, ok := apperr.As(cause); ok {
		msg = e.Detail
	}
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	const q = `UPDATE reconciliation_runs SET status = 'failed', error = $2, completed_at = now() WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, id, msg); err != nil {
		s.opts.Log.Error("ledger: record a failed reconciliation", "run_id", id, "err", err)
	}
}

// kindOf classifies a balance transaction by what it moved.
func kindOf(bt BalanceTransaction) string {
	dispute := strings.HasPrefix(bt.SourceID, "dp_") || strings.HasPrefix(bt.SourceID, "du_") ||
		strings.HasPrefix(bt.ReportingCategory, "dispute")
	switch bt.Type {
	case "charge", "payment":
		return "charge"
	case "refund", "payment_refund":
		return "refund"
	case "refund_failure", "payment_failure_refund":
		return "refund_failure"
	case "payout", "payout_cancel", "payout_failure", "payout_reversal":
		return "payout"
	case "stripe_fee", "stripe_fx_fee", "tax_fee", "fee":
		return "stripe_fee"
	case "dispute", "dispute_reversal", "adjustment":
		if bt.Type != "adjustment" || dispute {
			if bt.Amount > 0 {
				return "dispute_reversal"
			}
			return "dispute"
		}
	}
	return "other"
}
