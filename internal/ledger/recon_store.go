package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// startRun records a run as running, in its own transaction, so that a run
// that fails stays on record with its error.
func (s *Service) startRun(ctx context.Context, id uuid.UUID, r ReconcileRequest, skipped int) error {
	const q = `
		INSERT INTO reconciliation_runs (id, source, from_date, to_date, period_start, period_end, status, file_name,
			skipped_rows, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, 'running', NULLIF($7, ''), $8, $9)`
	var by *uuid.UUID
	if r.By != uuid.Nil {
		by = &r.By
	}
	if _, err := s.db.ExecContext(ctx, q, id, r.Source, r.Period.From, r.Period.To, r.Period.Start, r.Period.End,
		r.FileName, skipped, by); err != nil {
		return fmt.Errorf("start reconciliation: %w", err)
	}
	return nil
}

// stager copies balance transactions, as they arrive, into recon_stage, a
// temporary table of the transaction, with COPY; a transaction listed twice
// is kept once.
type stager struct {
	ctx    context.Context
	stmt   *sql.Stmt
	seen   map[string]struct{}
	closed bool
}

func newStager(ctx context.Context, tx *sqlx.Tx) (*stager, error) {
	// The run's balance transactions as read, dropped at commit.
	const stage = `
		CREATE TEMPORARY TABLE recon_stage (
			kind text NOT NULL, txn text NOT NULL, stripe_type text, source_id text, charge_id text,
			payment_intent_id text, refund_stripe_id text, amount bigint NOT NULL, fee bigint NOT NULL,
			net bigint NOT NULL, currency text NOT NULL, created timestamptz NOT NULL, description text
		) ON COMMIT DROP`
	if _, err := tx.ExecContext(ctx, stage); err != nil {
		return nil, fmt.Errorf("stage balance transactions: %w", err)
	}
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("recon_stage", "kind", "txn", "stripe_type", "source_id", "charge_id",
		"payment_intent_id", "refund_stripe_id", "amount", "fee", "net", "currency", "created", "description"))
	if err != nil {
		return nil, fmt.Errorf("stage balance transactions: %w", err)
	}
	return &stager{ctx: ctx, stmt: stmt, seen: map[string]struct{}{}}, nil
}

func orNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (st *stager) add(bt BalanceTransaction) error {
	if _, dup := st.seen[bt.ID]; dup {
		return nil
	}
	st.seen[bt.ID] = struct{}{}
	_, err := st.stmt.ExecContext(st.ctx, kindOf(bt), bt.ID, orNull(bt.Type), orNull(bt.SourceID), orNull(bt.ChargeID),
		orNull(bt.PaymentIntentID), orNull(bt.RefundID), bt.Amount, bt.Fee, bt.Net, bt.Currency, bt.Created,
		orNull(bt.Description))
	if err != nil {
		return fmt.Errorf("stage balance transaction %s: %w", bt.ID, err)
	}
	return nil
}

// close ends the COPY; the transaction can run queries again after it.
func (st *stager) close() error {
	if st.closed {
		return nil
	}
	st.closed = true
	_, err := st.stmt.ExecContext(st.ctx)
	if cerr := st.stmt.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("stage balance transactions: %w", err)
	}
	return nil
}

// The steps of a reconciliation after staging, in order, each one
// set-based statement ($1 the run; $2, $3 the period). Items are written
// once, classified, so 100,000 transactions cost one pass, not one per rule.
var reconcileSteps = []struct{ what, sql string }{
	// Fresh statistics, or the planner takes the stage for a few rows and
	// nests loops over thousands.
	{"analyze the stage", `ANALYZE recon_stage`},
	// Each transaction with our payment and refund: a refund by Stripe's
	// refund id; a charge, dispute or refund by its charge id, else its
	// PaymentIntent.
	{"link payments and refunds", `
		CREATE TEMPORARY TABLE recon_linked ON COMMIT DROP AS
		SELECT s.*, COALESCE(r.payment_id, pc.id, pp.id) AS payment_id, r.id AS refund_id
		FROM recon_stage s
		LEFT JOIN refunds r ON s.kind IN ('refund', 'refund_failure') AND r.stripe_refund_id = s.refund_stripe_id
		LEFT JOIN LATERAL (
			SELECT p.id FROM payments p
			WHERE s.kind IN ('charge', 'dispute', 'dispute_reversal', 'refund', 'refund_failure')
			  AND p.stripe_charge_id = s.charge_id
			LIMIT 1
		) pc ON true
		LEFT JOIN payments pp ON s.kind IN ('charge', 'dispute', 'dispute_reversal', 'refund', 'refund_failure')
			AND pp.stripe_payment_intent_id = s.payment_intent_id`},
	{"analyze the links", `ANALYZE recon_linked`},
	// What Stripe did on its own and the ledger lacks, one entry per
	// transaction and kind, keyed (stripe, transaction id, ref) so a re-run
	// books nothing twice: the fee of any transaction (ref fee), a charge by
	// Stripe itself (ref stripe_fee), both against stripe_fees, and a payout
	// (ref payout) against the bank. effect is the change of the Stripe
	// balance.
	{"book Stripe fees and payouts", `
		WITH todo AS MATERIALIZED (
			SELECT txn, 'fee' AS ref, 'stripe_fee' AS event, 'stripe_fees' AS account, -fee AS effect, payment_id,
				currency, created, 'Stripe fee of ' || COALESCE(source_id, txn) AS what
			FROM recon_linked WHERE fee <> 0
			UNION ALL
			SELECT txn, 'stripe_fee', 'stripe_fee', 'stripe_fees', amount, NULL, currency, created, 'Stripe charge ' || txn
			FROM recon_linked WHERE kind = 'stripe_fee' AND amount <> 0
			UNION ALL
			SELECT txn, 'payout', 'payout', 'bank', amount, NULL, currency, created, 'payout ' || COALESCE(source_id, txn)
			FROM recon_linked WHERE kind = 'payout' AND amount <> 0
		), entries AS (
			INSERT INTO journal_entries (id, event, memo, source, source_id, source_ref, payment_id, amount, currency,
				description, occurred_at)
			SELECT gen_random_uuid(), event, false, 'stripe', txn, ref, payment_id, abs(effect), currency,
				what || ' (' || txn || '), booked by reconciliation', created
			FROM todo
			ON CONFLICT (source, source_id, source_ref) DO NOTHING
			RETURNING id, source_id, source_ref
		)
		INSERT INTO journal_lines (entry_id, line_no, account, debit, credit, currency)
		SELECT e.id, l.no, l.account, l.debit, l.credit, t.currency
		FROM entries e
		JOIN todo t ON t.txn = e.source_id AND t.ref = e.source_ref
		CROSS JOIN LATERAL (VALUES
			(1, t.account, greatest(-t.effect, 0), greatest(t.effect, 0)),
			(2, 'stripe_clearing', greatest(t.effect, 0), greatest(-t.effect, 0))
		) AS l(no, account, debit, credit)`},
	// The entries just booked are not in the journal's statistics yet: the
	// planner would take the thousands of Stripe entries for a few and nest
	// loops over them. (This serialises concurrent runs at this point, which
	// is fine for a job finance starts by hand.)
	{"analyze the journal", `ANALYZE journal_entries, journal_lines`},
	// What the ledger holds of each transaction's own entries: its booked
	// fee, the clearing movement of a payout or a charge by Stripe, and what
	// this run booked.
	{"read the transactions' own entries", `
		CREATE TEMPORARY TABLE recon_own ON COMMIT DROP AS
		SELECT e.source_id AS txn,
			sum(l.debit - l.credit) FILTER (WHERE e.source_ref = 'fee' AND l.account = 'stripe_fees') AS fee,
			sum(l.debit - l.credit) FILTER (WHERE e.source_ref <> 'fee' AND l.account = 'stripe_clearing') AS side,
			max(l.currency) FILTER (WHERE e.source_ref <> 'fee') AS currency,
			array_agg(DISTINCT e.event) FILTER (WHERE e.posted_xact = pg_current_xact_id()) AS recorded
		FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
		WHERE e.source = 'stripe' AND e.source_id IN (SELECT txn FROM recon_linked)
		GROUP BY e.source_id`},
	{"analyze them", `ANALYZE recon_own`},
	// Every transaction with what our books say of it, classified: the
	// clearing movement of the payment's (or refund's) entries of its kind,
	// in Stripe's signs; for payouts and Stripe's own charges, that of their
	// own entry; the booked fee; and what this run booked.
	{"classify", `
		WITH by_payment AS (
			SELECT e.payment_id, CASE WHEN e.event IN ('capture', 'charge') THEN 'charge' ELSE e.event END AS kind,
				sum(l.debit - l.credit) AS amount, max(l.currency) AS currency
			FROM journal_entries e
			JOIN journal_lines l ON l.entry_id = e.id AND l.account = 'stripe_clearing'
			WHERE e.payment_id IN (SELECT payment_id FROM recon_linked)
			  AND (e.event IN ('capture', 'charge', 'dispute') OR (e.event = 'refund' AND e.refund_id IS NULL))
			GROUP BY 1, 2
		), by_refund AS (
			SELECT e.refund_id, CASE e.event WHEN 'refund' THEN 'refund' ELSE 'refund_failure' END AS kind,
				sum(l.debit - l.credit) AS amount, max(l.currency) AS currency
			FROM journal_entries e
			JOIN journal_lines l ON l.entry_id = e.id AND l.account = 'stripe_clearing'
			WHERE e.refund_id IN (SELECT refund_id FROM recon_linked) AND e.event IN ('refund', 'refund_reversed')
			GROUP BY 1, 2
		)
		INSERT INTO reconciliation_items (run_id, status, kind, balance_transaction_id, stripe_type, source_id, charge_id,
			payment_intent_id, refund_stripe_id, amount, fee, net, currency, created, description, payment_id, refund_id,
			ledger_amount, ledger_fee, ledger_currency, recorded, note)
		SELECT $1, c.status, k.kind, k.txn, k.stripe_type, k.source_id, k.charge_id, k.payment_intent_id,
			k.refund_stripe_id, k.amount, k.fee, k.net, k.currency, k.created, k.description, k.payment_id, k.refund_id,
			o.amount, own.fee, o.currency, COALESCE(own.recorded, '{}'), c.note
		FROM recon_linked k
		LEFT JOIN by_payment bp ON k.refund_id IS NULL AND bp.payment_id = k.payment_id AND bp.kind = k.kind
		LEFT JOIN by_refund br ON br.refund_id = k.refund_id AND br.kind = k.kind
		LEFT JOIN recon_own own ON own.txn = k.txn
		CROSS JOIN LATERAL (SELECT
			CASE WHEN k.kind IN ('payout', 'stripe_fee') THEN own.side ELSE COALESCE(br.amount, bp.amount) END AS amount,
			CASE WHEN k.kind IN ('payout', 'stripe_fee') THEN own.currency ELSE COALESCE(br.currency, bp.currency) END AS currency
		) o
		CROSS JOIN LATERAL (SELECT
			CASE
				WHEN o.amount IS NULL THEN 'missing_in_ledger'
				WHEN k.currency <> o.currency THEN 'currency_mismatch'
				WHEN k.amount <> o.amount THEN 'amount_mismatch'
				WHEN COALESCE(own.fee, 0) <> k.fee OR k.net <> k.amount - k.fee THEN 'fee_mismatch'
				ELSE 'matched' END AS status,
			CASE
				WHEN o.amount IS NULL AND k.kind IN ('payout', 'stripe_fee', 'other') THEN
					'the ledger does not book ' || COALESCE(k.stripe_type, k.kind) || ' transactions; book it by hand'
				WHEN o.amount IS NULL AND k.payment_id IS NULL THEN
					'no payment or refund of ours has this charge, PaymentIntent or refund id'
				WHEN o.amount IS NULL THEN 'our payment has no journal entry for this ' || k.kind
				WHEN k.currency <> o.currency THEN format('Stripe %s, ledger %s', k.currency, o.currency)
				WHEN k.amount <> o.amount THEN format('Stripe %s, ledger %s (minor units)', k.amount, o.amount)
				WHEN k.net <> k.amount - k.fee THEN format('net %s is not amount %s less fee %s', k.net, k.amount, k.fee)
				WHEN COALESCE(own.fee, 0) <> k.fee THEN format('Stripe fee %s, booked %s (minor units)', k.fee, COALESCE(own.fee, 0))
				ELSE '' END AS note
		) c`},
	// Our movements of the period that should have moved the Stripe
	// balance and that no balance transaction of the run matched.
	{"list what Stripe does not show", `
		INSERT INTO reconciliation_items (run_id, status, kind, created, payment_id, refund_id, ledger_amount, ledger_currency, note)
		SELECT $1, 'missing_in_stripe', o.kind, o.at, o.payment_id, o.refund_id, o.amount, o.currency,
			'Stripe shows no ' || o.kind || ' of this ' || CASE WHEN o.refund_id IS NULL THEN 'payment' ELSE 'refund' END || ' in the period'
		FROM (
			SELECT e.payment_id,
				CASE WHEN e.event IN ('refund', 'refund_reversed') THEN e.refund_id END AS refund_id,
				CASE WHEN e.event IN ('capture', 'charge') THEN 'charge' WHEN e.event = 'dispute' THEN 'dispute' ELSE 'refund' END AS kind,
				sum(l.debit - l.credit) AS amount, max(l.currency) AS currency, min(e.occurred_at) AS at
			FROM journal_entries e
			JOIN journal_lines l ON l.entry_id = e.id AND l.account = 'stripe_clearing'
			WHERE e.occurred_at >= $2 AND e.occurred_at < $3
			  AND e.event IN ('capture', 'charge', 'refund', 'refund_reversed', 'dispute')
			GROUP BY 1, 2, 3
			HAVING sum(l.debit - l.credit) <> 0
		) o
		WHERE NOT EXISTS (
			-- one key per matched movement (a refund failure counts for its
			-- refund), so the planner can hash it
			SELECT 1 FROM recon_linked i
			WHERE i.payment_id IS NOT NULL
			  AND CASE WHEN i.kind = 'refund_failure' THEN 'refund' ELSE i.kind END || ':' || COALESCE(i.refund_id, i.payment_id)
			    = o.kind || ':' || COALESCE(o.refund_id, o.payment_id))`},
	{"complete the run", `UPDATE reconciliation_runs SET status = 'completed', completed_at = now() WHERE id = $1`},
}

// reconcile runs the steps over a staged run, logging how long each took.
func (s *Service) reconcile(ctx context.Context, tx *sqlx.Tx, run uuid.UUID, p Period) error {
	for _, st := range reconcileSteps {
		var args []any
		if strings.Contains(st.sql, "$1") {
			args = append(args, run)
		}
		if strings.Contains(st.sql, "$2") {
			args = append(args, p.Start, p.End)
		}
		began := time.Now()
		res, err := tx.ExecContext(ctx, st.sql, args...)
		if err != nil {
			return fmt.Errorf("reconcile: %s: %w", st.what, err)
		}
		n, _ := res.RowsAffected()
		s.opts.Log.DebugContext(ctx, "reconciliation step", "run_id", run, "step", st.what, "rows", n,
			"ms", time.Since(began).Milliseconds())
	}
	return nil
}
