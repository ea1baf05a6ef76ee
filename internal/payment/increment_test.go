package payment_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// increment asks, in a transaction of its own, for p's hold to be raised to
// amount.
func (e *env) increment(t *testing.T, p payment.Payment, amount int64) (payment.Payment, error) {
	t.Helper()
	var out payment.Payment
	err := db.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		var err error
		out, err = e.svc.IncrementTx(ctx, tx, p.ID, amount)
		return err
	})
	return out, err
}

func TestIncrementRaisesTheHold(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "extend@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 10000)
	creates := e.proxy.requests("POST", "/v1/payment_intents")
	formWant(t, creates[0], map[string]string{"payment_method_options[card][request_incremental_authorization]": "if_available"})

	if _, err := e.increment(t, p, 15000); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Process(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusAuthorized || p.AmountAuthorized != 15000 || p.IncrementRequested != nil {
		t.Fatalf("after the increment: %+v", p)
	}
	calls := e.proxy.requests("POST", "/v1/payment_intents/"+p.PaymentIntentID+"/increment_authorization")
	if len(calls) != 1 || calls[0].Key != "pay_"+p.ID.String()+"_increment_15000" {
		t.Fatalf("increment calls %+v", calls)
	}
	formWant(t, calls[0], map[string]string{"amount": "15000"})

	// The hold covers these already: nothing is asked of Stripe.
	for _, amount := range []int64{15000, 12000} {
		if got, err := e.increment(t, p, amount); err != nil || got.IncrementRequested != nil {
			t.Errorf("increment to %d under a hold of 15000: %+v, %v", amount, got, err)
		}
	}
	if _, err := e.q.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.proxy.requests("POST", "/increment_authorization")); n != 1 {
		t.Errorf("%d increment calls, want 1", n)
	}

	p, err = e.svc.Capture(ctx, p.ID, 15000)
	if err != nil || p.AmountCaptured != 15000 {
		t.Fatalf("capture of the raised hold: %+v, %v", p, err)
	}
	if _, err := e.increment(t, p, 20000); !apperr.HasCode(err, "payment_not_authorized") {
		t.Errorf("raising a captured payment: %v, want payment_not_authorized", err)
	}
	want := []string{
		"created:pending",
		"payment_intent.create:requires_action",
		"payment_intent.amount_capturable_updated:authorized",
		"increment_requested:authorized",
		"increment_authorization:authorized",
		"capture_requested:authorized",
		"payment_intent.succeeded:succeeded",
	}
	if diff := cmp.Diff(want, e.events(t, p)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestIncrementRefusedKeepsTheHold(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "declined@example.cn")
	e.withCard(t, user)
	for _, refusal := range []struct {
		status     int
		body, code string
	}{
		{402, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`, "insufficient_funds"},
		{400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state","message":"This PaymentIntent does not support incremental authorization."}}`, "payment_intent_unexpected_state"},
	} {
		p := e.authorized(t, user, 10000)
		e.proxy.fail("POST", "/increment_authorization", 1, fault{status: refusal.status, body: refusal.body})
		if _, err := e.increment(t, p, 18000); err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.Process(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != payment.StatusAuthorized || p.AmountAuthorized != 10000 || p.IncrementRequested != nil {
			t.Fatalf("after a refused increment: %+v", p)
		}
		h, err := e.svc.History(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := h[len(h)-1]
		if last.Event != "increment_refused" || last.Amount == nil || *last.Amount != 18000 || last.Detail == "" {
			t.Errorf("last history line %+v, want the refusal", last)
		} else if got := last.Detail[:len(refusal.code)]; got != refusal.code {
			t.Errorf("refusal detail %q, want it to start with %s", last.Detail, refusal.code)
		}
		// The hold as it is can still be captured.
		if p, err = e.svc.Capture(ctx, p.ID, 10000); err != nil || p.Status != payment.StatusSucceeded {
			t.Errorf("capture after a refused increment: %+v, %v", p, err)
		}
	}
}

func TestIncrementAskedTwiceRaisesToTheLast(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "twice@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 10000)
	for _, amount := range []int64{12000, 15000} {
		if _, err := e.increment(t, p, amount); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.q.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ = e.svc.Get(ctx, p.ID)
	calls := e.proxy.requests("POST", "/increment_authorization")
	if p.AmountAuthorized != 15000 || len(calls) != 1 {
		t.Fatalf("hold %d after %d calls %+v; want 15000 after one", p.AmountAuthorized, len(calls), calls)
	}
	formWant(t, calls[0], map[string]string{"amount": "15000"})

	// Not while a capture is under way.
	err := db.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		if _, err := e.svc.CaptureTx(ctx, tx, p.ID, 15000); err != nil {
			return err
		}
		_, err := e.svc.IncrementTx(ctx, tx, p.ID, 20000)
		return err
	})
	if !apperr.HasCode(err, "payment_action_pending") {
		t.Errorf("raising a hold being captured: %v, want payment_action_pending", err)
	}
}
