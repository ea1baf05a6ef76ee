package ledger_test

import (
	"math/rand/v2"
	"testing"

	"github.com/hongqi-mobility/mobility/internal/payment"
)

// TestTrialBalanceAfterARandomSequence books, captures (with off-session
// charges over the hold), releases, fees, refunds (some refused by Stripe)
// and disputes at random through the payment service, then checks that the
// journal balances — every debit has its credit — and that it agrees with
// the payments: the money received, refunded and disputed, and the Stripe
// clearing balance they leave.
func TestTrialBalanceAfterARandomSequence(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.resident(t)
	r := rand.New(rand.NewPCG(2026, 11))
	type booking struct {
		purpose payment.Purpose
		total   int64
		p       payment.Payment
	}
	var held, paid []*booking
	pick := func(bs []*booking) (*booking, []*booking) {
		i := r.IntN(len(bs))
		b := bs[i]
		return b, append(bs[:i:i], bs[i+1:]...)
	}
	price := func() (payment.Purpose, int64) {
		sub := 1000 + r.Int64N(30000)
		fee := r.Int64N(3) * 2000
		vat := (sub + fee) * 13 / 100
		if fee > 0 {
			return e.priced(t, "time_hours", int(sub), "late_fee", int(fee), "vat", int(vat)), sub + fee + vat
		}
		return e.priced(t, "time_hours", int(sub), "vat", int(vat)), sub + vat
	}
	for step := range 200 {
		switch op := r.IntN(10); {
		case op < 3 || len(held) == 0: // book: hold around the quote
			purpose, total := price()
			hold := total + r.Int64N(total/2+1) - total/4
			held = append(held, &booking{purpose: purpose, total: total, p: e.authorized(t, purpose, hold)})
		case op < 6: // return: capture the price, charge what the hold does not cover
			var b *booking
			b, held = pick(held)
			capture := min(b.total, b.p.AmountAuthorized)
			p, err := e.pay.Capture(ctx, b.p.ID, capture)
			if err != nil {
				t.Fatalf("step %d: capture: %v", step, err)
			}
			b.p = p
			if rest := b.total - capture; rest > 0 {
				e.charged(t, b.purpose, rest)
			}
			paid = append(paid, b)
		case op == 6: // cancel: release, or capture a cancellation fee
			var b *booking
			b, held = pick(held)
			if r.IntN(2) == 0 {
				if _, err := e.pay.Release(ctx, b.p.ID); err != nil {
					t.Fatalf("step %d: release: %v", step, err)
				}
				continue
			}
			purpose := e.priced(t, "cancellation_fee", 1000, "vat", 130)
			e.captured(t, purpose, 5000, 1130)
		case op < 9 && len(paid) > 0: // refund part of a paid booking; Stripe sometimes refuses
			b := paid[r.IntN(len(paid))]
			p := e.get(t, b.p.ID)
			if p.Status != payment.StatusSucceeded || p.AmountCaptured == p.AmountRefunded {
				continue
			}
			if r.IntN(4) == 0 {
				e.proxy.fail("POST", "/v1/refunds", 1, 400, refused)
			}
			e.refund(t, p, 1+r.Int64N(p.AmountCaptured-p.AmountRefunded))
		case op == 9 && len(paid) > 0: // a dispute
			var b *booking
			b, paid = pick(paid)
			p := e.get(t, b.p.ID)
			e.event(t, "charge.dispute.created", map[string]any{"id": "dp_" + p.ID.String()[:8], "object": "dispute",
				"amount": p.AmountCaptured - p.AmountRefunded, "currency": "cny", "charge": p.ChargeID,
				"payment_intent": p.PaymentIntentID, "reason": "general", "status": "needs_response"})
		}
	}

	tb, err := e.led.TrialBalance(ctx, e.now())
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Balanced {
		t.Fatalf("trial balance does not balance: %+v", tb.Totals)
	}
	balance := map[string]int64{}
	for _, b := range tb.Accounts {
		balance[b.Account] = b.Balance
	}
	var want struct {
		Captured, Refunded, Disputed int64
	}
	if err := e.db.QueryRow(`SELECT COALESCE(sum(amount_captured), 0), COALESCE(sum(amount_refunded), 0),
		COALESCE(sum(amount_captured - amount_refunded) FILTER (WHERE status = 'disputed'), 0) FROM payments`).
		Scan(&want.Captured, &want.Refunded, &want.Disputed); err != nil {
		t.Fatal(err)
	}
	var got struct{ Captured, Refunded, Disputed int64 }
	if err := e.db.QueryRow(`SELECT
			COALESCE(sum(amount) FILTER (WHERE event IN ('capture', 'charge')), 0),
			COALESCE(sum(amount) FILTER (WHERE event = 'refund'), 0) - COALESCE(sum(amount) FILTER (WHERE event = 'refund_reversed'), 0),
			COALESCE(sum(amount) FILTER (WHERE event = 'dispute'), 0)
		FROM journal_entries`).Scan(&got.Captured, &got.Refunded, &got.Disputed); err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("journal: received %d, refunded %d, disputed %d; payments say %d, %d, %d",
			got.Captured, got.Refunded, got.Disputed, want.Captured, want.Refunded, want.Disputed)
	}
	if c := balance["stripe_clearing"]; c != want.Captured-want.Refunded-want.Disputed {
		t.Errorf("Stripe clearing %d, want received − refunded − disputed = %d", c, want.Captured-want.Refunded-want.Disputed)
	}
	if rcv := balance["resident_receivable"]; rcv != 0 {
		t.Errorf("resident receivable %d, want 0: every price owed was paid", rcv)
	}
	revenue := balance["rental_revenue"] + balance["vat_payable"]
	for _, k := range []string{"late", "low_battery", "out_of_zone", "cleaning", "cancellation", "no_show"} {
		revenue += balance["fee_revenue."+k]
	}
	if net := revenue - balance["refunds"] - balance["disputes"]; net != balance["stripe_clearing"] {
		t.Errorf("revenue and VAT less refunds and disputes %d, clearing %d", net, balance["stripe_clearing"])
	}
	var events []struct {
		Event string `db:"event"`
		N     int    `db:"n"`
	}
	if err := e.db.Select(&events, `SELECT event, count(*) AS n FROM journal_entries GROUP BY event ORDER BY event`); err != nil {
		t.Fatal(err)
	}
	t.Logf("entries by event: %v; clearing %s fen", events, fen(balance["stripe_clearing"]))
}
