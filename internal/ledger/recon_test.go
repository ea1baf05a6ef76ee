package ledger_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// world is a day of payments whose Stripe balance transactions a test
// serves or writes, one of each classification:
//
//	A  captured 9605, refunded 2000   both match
//	B  captured 5000                  Stripe says 5100 (found by PaymentIntent): amount_mismatch
//	C  captured 7000                  Stripe says USD: currency_mismatch
//	D  captured 3000                  Stripe's net is not amount − fee: fee_mismatch
//	E  captured 4000                  not at Stripe: missing_in_stripe
//	F  captured 6000, disputed        both match; the dispute's fee is booked
//	an unknown charge and a transfer  missing_in_ledger
//	a payout and a Stripe charge      booked by the run, then matched
type world struct {
	A, B, C, D, E, F payment.Payment
	refundA          payment.Refund
	period           ledger.Period
	at               time.Time // when Stripe made the transactions
}

func (e *env) world(t *testing.T) *world {
	t.Helper()
	e.resident(t)
	w := &world{}
	w.A = e.captured(t, e.priced(t, "time_hours", 8000, "unlock_fee", 500, "vat", 1105), 9605, 9605)
	w.refundA = e.refund(t, w.A, 2000)
	w.B = e.captured(t, other(), 5000, 5000)
	w.C = e.captured(t, other(), 7000, 7000)
	w.D = e.captured(t, other(), 3000, 3000)
	w.E = e.captured(t, other(), 4000, 4000)
	w.F = e.captured(t, other(), 6000, 6000)
	for _, p := range []*payment.Payment{&w.A, &w.B, &w.C, &w.D, &w.E, &w.F} {
		*p = e.get(t, p.ID)
	}
	e.event(t, "charge.dispute.created", map[string]any{"id": "dp_world", "object": "dispute", "amount": 6000,
		"currency": "cny", "charge": w.F.ChargeID, "payment_intent": w.F.PaymentIntentID, "reason": "fraudulent", "status": "needs_response"})
	if w.refundA.StripeRefundID == "" {
		t.Fatalf("refund without a Stripe id: %+v", w.refundA)
	}
	w.at = time.Now().Add(-time.Minute).Truncate(time.Second)
	today := w.at.In(e.led.Location())
	var err error
	if w.period, err = e.led.ParsePeriod(today.AddDate(0, 0, -1).Format(time.DateOnly), today.Format(time.DateOnly)); err != nil {
		t.Fatal(err)
	}
	return w
}

// txns are the world's balance transactions as Stripe's API has them, plus
// one from before the period.
func (w *world) txns() []txn {
	at := func(i int) time.Time { return w.at.Add(-time.Duration(i) * time.Second) }
	return []txn{
		newTxn("txn_a", "charge", "charge", 9605, 309, "cny", at(1), source{w.A.ChargeID, "charge", "", w.A.PaymentIntentID}),
		newTxn("txn_a_refund", "refund", "refund", -2000, 0, "cny", at(2), source{w.refundA.StripeRefundID, "refund", w.A.ChargeID, w.A.PaymentIntentID}),
		newTxn("txn_b", "charge", "charge", 5100, 178, "cny", at(3), source{"ch_elsewhere", "charge", "", w.B.PaymentIntentID}),
		newTxn("txn_c", "charge", "charge", 7000, 233, "usd", at(4), source{w.C.ChargeID, "charge", "", w.C.PaymentIntentID}),
		func() txn {
			d := newTxn("txn_d", "charge", "charge", 3000, 117, "cny", at(5), source{w.D.ChargeID, "charge", "", w.D.PaymentIntentID})
			d.Net = 2900
			return d
		}(),
		newTxn("txn_f", "charge", "charge", 6000, 204, "cny", at(6), source{w.F.ChargeID, "charge", "", w.F.PaymentIntentID}),
		newTxn("txn_f_dispute", "adjustment", "dispute", -6000, 1500, "cny", at(7), source{"dp_world", "dispute", w.F.ChargeID, w.F.PaymentIntentID}),
		newTxn("txn_unknown", "charge", "charge", 1234, 66, "cny", at(8), source{"ch_not_ours", "charge", "", "pi_not_ours"}),
		newTxn("txn_transfer", "transfer", "transfer", -800, 0, "cny", at(9), source{"tr_1", "transfer", "", ""}),
		newTxn("txn_payout", "payout", "payout", -20000, 0, "cny", at(10), source{"po_1", "payout", "", ""}),
		newTxn("txn_billing", "stripe_fee", "fee", -500, 0, "cny", at(11), source{"", "", "", ""}),
		newTxn("txn_old", "charge", "charge", 100, 3, "cny", w.at.AddDate(0, 0, -3), source{"ch_old", "charge", "", ""}),
	}
}

// wantStatus is each transaction's classification; E is the one
// missing_in_stripe item.
var wantStatus = map[string]string{
	"txn_a": "matched", "txn_a_refund": "matched", "txn_b": "amount_mismatch", "txn_c": "currency_mismatch",
	"txn_d": "fee_mismatch", "txn_f": "matched", "txn_f_dispute": "matched", "txn_unknown": "missing_in_ledger",
	"txn_transfer": "missing_in_ledger", "txn_payout": "matched", "txn_billing": "matched",
}

func itemsByTxn(t *testing.T, e *env, run uuid.UUID) (map[string]ledger.Item, []ledger.Item) {
	t.Helper()
	items, next, err := e.led.Items(ctx, run, "", page.Request{Limit: 100})
	if err != nil || next != nil {
		t.Fatalf("items: %d, %v, next %v", len(items), err, next)
	}
	by := map[string]ledger.Item{}
	var ours []ledger.Item
	for _, it := range items {
		if it.BalanceTransactionID == nil {
			ours = append(ours, it)
			continue
		}
		by[*it.BalanceTransactionID] = it
	}
	return by, ours
}

func statuses(by map[string]ledger.Item) map[string]string {
	out := map[string]string{}
	for id, it := range by {
		out[id] = it.Status
	}
	return out
}

func entryCount(t *testing.T, e *env) int {
	t.Helper()
	return count(t, e.db, `SELECT count(*) FROM journal_entries`)
}

// TestReconcileFromTheStripeAPI reconciles a day against a Stripe-shaped
// server read through stripe-go's auto-pagination (two transactions a
// page): every classification, fees and payouts booked once, and a re-run
// of the period that books nothing again.
func TestReconcileFromTheStripeAPI(t *testing.T) {
	fake := newFakeStripe(t, 2)
	e := newEnv(t, envOptions{stripeURL: fake.URL})
	w := e.world(t)
	fake.add(w.txns()...)

	run, err := e.led.Reconcile(ctx, ledger.ReconcileRequest{Period: w.period, Source: ledger.SourceStripeAPI})
	if err != nil {
		t.Fatal(err)
	}
	if pages := fake.requests.Load(); pages < 6 {
		t.Errorf("%d requests for 11 transactions two a page: auto-pagination did not follow has_more", pages)
	}
	by, ours := itemsByTxn(t, e, run.ID)
	if diff := cmp.Diff(wantStatus, statuses(by)); diff != "" {
		t.Errorf("classification (-want +got):\n%s", diff)
	}
	if len(ours) != 1 || ours[0].Status != "missing_in_stripe" || *ours[0].PaymentID != w.E.ID || *ours[0].LedgerAmount != 4000 {
		t.Errorf("our items without a Stripe transaction: %+v, want E", ours)
	}
	if it := by["txn_b"]; it.PaymentID == nil || *it.PaymentID != w.B.ID || *it.LedgerAmount != 5000 {
		t.Errorf("B not found by its PaymentIntent: %+v", it)
	}
	if it := by["txn_a_refund"]; it.RefundID == nil || *it.RefundID != w.refundA.ID || *it.LedgerAmount != -2000 {
		t.Errorf("A's refund not found by its refund id: %+v", it)
	}
	wantCounts := map[string]int64{"matched": 6, "missing_in_stripe": 1, "missing_in_ledger": 2,
		"amount_mismatch": 1, "fee_mismatch": 1, "currency_mismatch": 1}
	if diff := cmp.Diff(wantCounts, run.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// Every fee booked once (seven transactions have one), Stripe's own
	// charge and the payout too.
	if diff := cmp.Diff(map[string]int64{"stripe_fee": 8, "payout": 1}, run.Recorded); diff != "" {
		t.Errorf("booked (-want +got):\n%s", diff)
	}
	balances := map[string]int64{}
	tb, _ := e.led.TrialBalance(ctx, time.Now())
	for _, b := range tb.Accounts {
		balances[b.Account+" "+b.Currency] = b.Balance
	}
	if got := balances["stripe_fees CNY"]; got != 309+178+117+204+1500+66+500 {
		t.Errorf("Stripe fees %d CNY", got)
	}
	if balances["stripe_fees USD"] != 233 || balances["bank CNY"] != 20000 || !tb.Balanced {
		t.Errorf("fees in USD %d, bank %d, balanced %v", balances["stripe_fees USD"], balances["bank CNY"], tb.Balanced)
	}

	// The same period again: the same answer, nothing booked twice.
	entries := entryCount(t, e)
	again, err := e.led.Reconcile(ctx, ledger.ReconcileRequest{Period: w.period, Source: ledger.SourceStripeAPI})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == run.ID || entryCount(t, e) != entries {
		t.Errorf("re-run %s of run %s: %d entries, had %d", again.ID, run.ID, entryCount(t, e), entries)
	}
	if diff := cmp.Diff(wantCounts, again.Counts); diff != "" {
		t.Errorf("re-run counts (-want +got):\n%s", diff)
	}
	if again.Recorded["stripe_fee"] != 0 || again.Recorded["payout"] != 0 {
		t.Errorf("re-run booked %v", again.Recorded)
	}
	runs, _, err := e.led.Runs(ctx, page.Request{Limit: 10})
	if err != nil || len(runs) != 2 || runs[0].ID != again.ID {
		t.Errorf("runs %+v, %v", runs, err)
	}
}

// TestReconcileFailsVisibly: Stripe answering with an error fails the run,
// which stays on record with the reason.
func TestReconcileFailsVisibly(t *testing.T) {
	e := newEnv(t, envOptions{stripeURL: "http://127.0.0.1:1"})
	p, _ := e.led.ParsePeriod("2026-11-01", "2026-11-30")
	if _, err := e.led.Reconcile(ctx, ledger.ReconcileRequest{Period: p, Source: ledger.SourceStripeAPI}); err == nil {
		t.Fatal("a run against an unreachable Stripe succeeded")
	}
	runs, _, err := e.led.Runs(ctx, page.Request{Limit: 10})
	if err != nil || len(runs) != 1 || runs[0].Status != "failed" || runs[0].Error == "" {
		t.Fatalf("runs %+v, %v: want one failed run with its error", runs, err)
	}
	if n := count(t, e.db, `SELECT count(*) FROM reconciliation_items`); n != 0 {
		t.Errorf("%d items kept from a failed run", n)
	}
	none := newEnv(t, envOptions{})
	if _, err := none.led.Reconcile(ctx, ledger.ReconcileRequest{Period: p, Source: ledger.SourceStripeAPI}); err == nil {
		t.Error("a ledger without Stripe reconciled against its API")
	}
}
