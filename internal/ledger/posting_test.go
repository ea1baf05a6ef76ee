package ledger_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// TestPostingRules runs every payment path of the payment capability and
// checks the journal entries each writes: the ledger's table of event →
// lines. Amounts are fen; rental lines (time, unlock) before fees, VAT last,
// as the pricing core writes them.
func TestPostingRules(t *testing.T) {
	const (
		rentalCapture = "capture: Dr resident_receivable 9605 | Cr rental_revenue 8500 | Cr vat_payable 1105 | Dr stripe_clearing 9605 | Cr resident_receivable 9605"
	)
	tests := []struct {
		name string
		run  func(t *testing.T, e *env) []uuid.UUID // the payments whose entries to check
		want []string
	}{
		{"an authorisation is a memo: no money moves", func(t *testing.T, e *env) []uuid.UUID {
			return []uuid.UUID{e.authorized(t, other(), 10000).ID}
		}, []string{"authorization: memo"}},
		{"a capture books the price by line: rental and VAT", func(t *testing.T, e *env) []uuid.UUID {
			return []uuid.UUID{e.captured(t, e.priced(t, "time_hours", 8000, "unlock_fee", 500, "vat", 1105), 9605, 9605).ID}
		}, []string{"authorization: memo", rentalCapture}},
		{"a capture below the hold books what was taken", func(t *testing.T, e *env) []uuid.UUID {
			return []uuid.UUID{e.captured(t, e.priced(t, "time_hours", 8000, "unlock_fee", 500, "vat", 1105), 12000, 9605).ID}
		}, []string{"authorization: memo", rentalCapture}},
		{"a release is a memo", func(t *testing.T, e *env) []uuid.UUID {
			p := e.authorized(t, other(), 5000)
			if _, err := e.pay.Release(ctx, p.ID); err != nil {
				t.Fatal(err)
			}
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo", "release: memo"}},
		{"a cancellation fee captured from the hold is fee revenue", func(t *testing.T, e *env) []uuid.UUID {
			return []uuid.UUID{e.captured(t, e.priced(t, "cancellation_fee", 1000, "vat", 130), 9605, 1130).ID}
		}, []string{"authorization: memo",
			"capture: Dr resident_receivable 1130 | Cr fee_revenue.cancellation 1000 | Cr vat_payable 130 | Dr stripe_clearing 1130 | Cr resident_receivable 1130"}},
		{"a no-show fee over the hold: the hold captured, the rest charged, VAT in proportion", func(t *testing.T, e *env) []uuid.UUID {
			purpose := e.priced(t, "no_show_fee", 5000, "vat", 650)
			return []uuid.UUID{e.captured(t, purpose, 3000, 3000).ID, e.charged(t, purpose, 2650).ID}
		}, []string{"authorization: memo",
			"capture: Dr resident_receivable 3000 | Cr fee_revenue.no_show 2655 | Cr vat_payable 345 | Dr stripe_clearing 3000 | Cr resident_receivable 3000",
			"charge: Dr resident_receivable 2650 | Cr fee_revenue.no_show 2345 | Cr vat_payable 305 | Dr stripe_clearing 2650 | Cr resident_receivable 2650"}},
		{"a trip with fees: the hold takes the first lines, the charge the rest", func(t *testing.T, e *env) []uuid.UUID {
			purpose := e.priced(t, "time_hours", 6000, "late_fee", 2000, "cleaning_fee", 8000, "vat", 2080)
			return []uuid.UUID{e.captured(t, purpose, 10000, 10000).ID, e.charged(t, purpose, 8080).ID}
		}, []string{"authorization: memo",
			"capture: Dr resident_receivable 10000 | Cr rental_revenue 6000 | Cr fee_revenue.late 2000 | Cr fee_revenue.cleaning 850 | Cr vat_payable 1150 | Dr stripe_clearing 10000 | Cr resident_receivable 10000",
			"charge: Dr resident_receivable 8080 | Cr fee_revenue.cleaning 7150 | Cr vat_payable 930 | Dr stripe_clearing 8080 | Cr resident_receivable 8080"}},
		{"an off-session charge with no priced purpose is rental revenue", func(t *testing.T, e *env) []uuid.UUID {
			return []uuid.UUID{e.charged(t, other(), 2500).ID}
		}, []string{"charge: Dr resident_receivable 2500 | Cr rental_revenue 2500 | Dr stripe_clearing 2500 | Cr resident_receivable 2500"}},
		{"a refund gives back revenue and the VAT in it", func(t *testing.T, e *env) []uuid.UUID {
			p := e.captured(t, e.priced(t, "time_hours", 8000, "unlock_fee", 500, "vat", 1105), 9605, 9605)
			e.refund(t, p, 2000)
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo", rentalCapture,
			"refund: Dr refunds 1770 | Dr vat_payable 230 | Cr stripe_clearing 2000"}},
		{"a refund Stripe refuses is reversed", func(t *testing.T, e *env) []uuid.UUID {
			p := e.captured(t, e.priced(t, "time_hours", 8000, "unlock_fee", 500, "vat", 1105), 9605, 9605)
			e.proxy.fail("POST", "/v1/refunds", 1, 400, refused)
			if r := e.refund(t, p, 9605); r.Status != payment.RefundFailed {
				t.Fatalf("refund %s, want failed", r.Status)
			}
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo", rentalCapture,
			"refund: Dr refunds 8500 | Dr vat_payable 1105 | Cr stripe_clearing 9605",
			"refund_reversed: Cr refunds 8500 | Cr vat_payable 1105 | Dr stripe_clearing 9605"}},
		{"a refund made at Stripe arrives as charge.refunded", func(t *testing.T, e *env) []uuid.UUID {
			p := e.captured(t, other(), 6000, 6000)
			p = e.get(t, p.ID)
			e.event(t, "charge.refunded", map[string]any{"id": p.ChargeID, "object": "charge", "amount": 6000,
				"amount_captured": 6000, "amount_refunded": 1500, "captured": true, "currency": "cny",
				"payment_intent": p.PaymentIntentID, "metadata": map[string]string{"payment_id": p.ID.String()}})
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo",
			"capture: Dr resident_receivable 6000 | Cr rental_revenue 6000 | Dr stripe_clearing 6000 | Cr resident_receivable 6000",
			"refund: Dr refunds 1500 | Cr stripe_clearing 1500"}},
		{"a dispute: Stripe takes the amount back", func(t *testing.T, e *env) []uuid.UUID {
			p := e.get(t, e.captured(t, other(), 4000, 4000).ID)
			e.event(t, "charge.dispute.created", map[string]any{"id": "dp_test", "object": "dispute", "amount": 4000,
				"currency": "cny", "charge": p.ChargeID, "payment_intent": p.PaymentIntentID, "reason": "fraudulent", "status": "needs_response"})
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo",
			"capture: Dr resident_receivable 4000 | Cr rental_revenue 4000 | Dr stripe_clearing 4000 | Cr resident_receivable 4000",
			"dispute: Dr disputes 4000 | Cr stripe_clearing 4000"}},
		{"a declined capture is a memo", func(t *testing.T, e *env) []uuid.UUID {
			p := e.authorized(t, other(), 7000)
			e.proxy.fail("POST", "/capture", 1, 402, declined)
			if _, err := e.pay.Capture(ctx, p.ID, 7000); err == nil {
				t.Fatal("a declined capture succeeded")
			}
			return []uuid.UUID{p.ID}
		}, []string{"authorization: memo", "payment_failed: memo"}},
		{"a declined authorisation is a memo", func(t *testing.T, e *env) []uuid.UUID {
			e.proxy.fail("POST", "/v1/payment_intents", 1, 402, declined)
			p, err := e.pay.Authorize(ctx, payment.AuthorizeRequest{Purpose: other(), UserID: e.user, Amount: 3000, OffSession: true})
			if err == nil {
				t.Fatal("a declined authorisation succeeded")
			}
			return []uuid.UUID{p.ID}
		}, []string{"payment_failed: memo"}},
	}
	e := newEnv(t, envOptions{})
	e.resident(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.entries(t, tt.run(t, e)...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
		})
	}
	tb, err := e.led.TrialBalance(ctx, e.now())
	if err != nil || !tb.Balanced {
		t.Errorf("trial balance after every path: %+v, %v", tb.Totals, err)
	}
}

// TestPostingIsIdempotent tells the ledger the same movement twice, as a
// replayed webhook or a retried job would: one entry.
func TestPostingIsIdempotent(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.resident(t)
	p := e.captured(t, other(), 5000, 5000)
	again := ledger.Movement{Kind: "captured", PaymentID: p.ID, Amount: 5000, Ref: "captured:5000"}
	for range 2 {
		if err := db.InTx(ctx, e.db, func(tx *sqlx.Tx) error { return e.led.MoneyMoved(ctx, tx, again) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.entries(t, p.ID); len(got) != 2 {
		t.Errorf("entries %v, want the memo and one capture", got)
	}
}
