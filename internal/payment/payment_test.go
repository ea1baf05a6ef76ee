package payment_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// formWant checks the form fields of a request sent to Stripe.
func formWant(t *testing.T, r recorded, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := r.Form.Get(k); got != v {
			t.Errorf("%s %s: %s = %q, want %q", r.Method, r.Path, k, got, v)
		}
	}
}

func TestCustomerIsMadeOnceAndCardsAreSavedThroughEvents(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "card@example.cn")

	si, err := e.svc.CreateSetupIntent(ctx, user, payment.SetupRequest{})
	if err != nil || si.ClientSecret == "" || !strings.HasPrefix(si.CustomerID, "cus_") {
		t.Fatalf("setup intent: %+v, %v", si, err)
	}
	if cards, _ := e.svc.Cards(ctx, user); len(cards) != 0 {
		t.Fatalf("a SetupIntent the app has not confirmed saved a card: %+v", cards)
	}
	first := e.withCard(t, user)
	second := e.withCard(t, user)

	customers := e.proxy.requests("POST", "/v1/customers")
	if len(customers) != 1 {
		t.Fatalf("%d customers made, want 1", len(customers))
	}
	formWant(t, customers[0], map[string]string{"email": "card@example.cn", "metadata[user_id]": user.String()})
	if customers[0].Key != "cus_"+user.String() {
		t.Errorf("customer idempotency key %q", customers[0].Key)
	}
	setups := e.proxy.requests("POST", "/v1/setup_intents")
	if len(setups) != 3 {
		t.Fatalf("%d setup intents, want 3", len(setups))
	}
	formWant(t, setups[1], map[string]string{"customer": si.CustomerID, "usage": "off_session",
		"payment_method": "pm_card_visa", "confirm": "true"})
	if setups[0].Form.Has("confirm") {
		t.Error("a SetupIntent for the app was confirmed by the server")
	}

	cards, err := e.svc.Cards(ctx, user)
	if err != nil || len(cards) != 2 {
		t.Fatalf("cards %+v, %v", cards, err)
	}
	if c := cards[0]; c.ID != first || !c.IsDefault || c.Brand != "visa" || c.Last4 != "4242" || c.ExpMonth < 1 {
		t.Errorf("first card %+v: want the default visa 4242", c)
	}
	if cards[1].IsDefault {
		t.Error("a second card became the default")
	}
	if _, err := e.svc.SetDefaultCard(ctx, user, second); err != nil {
		t.Fatal(err)
	}
	// Another resident cannot touch these cards.
	other := e.resident(t, "other@example.cn")
	if _, err := e.svc.SetDefaultCard(ctx, other, first); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("another's card as default: %v, want not found", err)
	}
	if err := e.svc.RemoveCard(ctx, other, first); !apperr.Is(err, apperr.KindNotFound) {
		t.Errorf("removing another's card: %v, want not found", err)
	}
	if n := len(e.proxy.requests("POST", "/detach")); n != 0 {
		t.Fatalf("%d detach calls for a card that is not the caller's", n)
	}
	// Removing the default makes the remaining card the default.
	if err := e.svc.RemoveCard(ctx, user, second); err != nil {
		t.Fatal(err)
	}
	detach := e.proxy.requests("POST", "/v1/payment_methods/"+second+"/detach")
	if len(detach) != 1 || detach[0].Key != "pm_"+second+"_detach" {
		t.Errorf("detach calls %+v", detach)
	}
	cards, _ = e.svc.Cards(ctx, user)
	if len(cards) != 1 || cards[0].ID != first || !cards[0].IsDefault {
		t.Errorf("after removing the default: %+v", cards)
	}
}

func TestAuthorizeOffSessionThenCapture(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "drive@example.cn")
	card := e.withCard(t, user)
	purpose := reservation()

	p, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: purpose, UserID: user, Amount: 12345,
		Description: "E-HS9, 3 h", OffSession: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusAuthorized || p.AmountAuthorized != 12345 || p.Currency != "CNY" ||
		!strings.HasPrefix(p.PaymentIntentID, "pi_") || p.ChargeID == "" || p.PaymentMethod != card {
		t.Fatalf("authorized payment %+v", p)
	}
	creates := e.proxy.requests("POST", "/v1/payment_intents")
	if len(creates) != 1 {
		t.Fatalf("%d PaymentIntents made, want 1", len(creates))
	}
	formWant(t, creates[0], map[string]string{"amount": "12345", "currency": "cny", "capture_method": "manual",
		"confirm": "true", "off_session": "true", "payment_method": card, "customer": p.StripeCustomerID,
		"metadata[payment_id]": p.ID.String(), "metadata[purpose_kind]": "reservation",
		"metadata[purpose_id]": purpose.ID.String(), "description": "E-HS9, 3 h"})
	if creates[0].Key != "pay_"+p.ID.String()+"_authorize" {
		t.Errorf("authorize idempotency key %q", creates[0].Key)
	}

	// Asking again for the same purpose returns the same payment, no new call.
	again, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: purpose, UserID: user, Amount: 12345, Description: "E-HS9, 3 h", OffSession: true})
	if err != nil || again.ID != p.ID {
		t.Fatalf("authorize again: %v, %v; want payment %s", again.ID, err, p.ID)
	}
	_, err = e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: purpose, UserID: user, Amount: 999, OffSession: true})
	if !apperr.HasCode(err, "authorization_exists") {
		t.Errorf("another amount for the same purpose: %v, want authorization_exists", err)
	}

	if _, err := e.svc.Capture(ctx, p.ID, 12346); !apperr.Is(err, apperr.KindInvalid) {
		t.Errorf("capture over the hold: %v, want invalid", err)
	}
	p, err = e.svc.Capture(ctx, p.ID, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusSucceeded || p.AmountCaptured != 10000 || p.PendingAction != "" {
		t.Fatalf("captured payment %+v", p)
	}
	caps := e.proxy.requests("POST", "/v1/payment_intents/"+p.PaymentIntentID+"/capture")
	if len(caps) != 1 || caps[0].Key != "pay_"+p.ID.String()+"_capture" {
		t.Fatalf("capture calls %+v", caps)
	}
	formWant(t, caps[0], map[string]string{"amount_to_capture": "10000"})
	// The same capture again changes nothing and calls nobody.
	if _, err := e.svc.Capture(ctx, p.ID, 10000); err != nil {
		t.Errorf("repeated capture: %v", err)
	}
	if n := len(e.proxy.requests("POST", "/capture")); n != 1 {
		t.Errorf("%d capture calls after a repeat, want 1", n)
	}
	if _, err := e.svc.Release(ctx, p.ID); !apperr.HasCode(err, "payment_captured") {
		t.Errorf("release after capture: %v, want payment_captured", err)
	}
	want := []string{
		"created:pending",
		"payment_intent.create:requires_action", // stripe-mock's answer; the status real Stripe gives comes by event
		"payment_intent.amount_capturable_updated:authorized",
		"capture_requested:authorized",
		"payment_intent.succeeded:succeeded",
	}
	if diff := cmp.Diff(want, e.events(t, p)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestAuthorizeOnSessionReturnsTheClientSecret(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "app@example.cn")
	p, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusRequiresAction || p.ClientSecret == "" {
		t.Fatalf("on-session authorisation %+v: want requires_action with a client secret", p)
	}
	r := e.proxy.requests("POST", "/v1/payment_intents")[0]
	if r.Form.Has("confirm") || r.Form.Has("off_session") || r.Form.Get("capture_method") != "manual" {
		t.Errorf("on-session PaymentIntent sent %v", r.Form)
	}
	// Not authorized yet: nothing to capture.
	if _, err := e.svc.Capture(ctx, p.ID, 5000); !apperr.HasCode(err, "payment_not_authorized") {
		t.Errorf("capture before authorisation: %v", err)
	}
}

func TestOffSessionNeedsASavedCard(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "nocard@example.cn")
	_, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: 100, OffSession: true})
	if !apperr.HasCode(err, "no_payment_method") || !apperr.Is(err, apperr.KindPaymentFailed) {
		t.Errorf("authorize without a card: %v", err)
	}
	_, err = e.svc.ChargeOffSession(ctx, payment.ChargeRequest{Purpose: reservation(), UserID: user, Amount: 100})
	if !apperr.HasCode(err, "no_payment_method") {
		t.Errorf("charge without a card: %v", err)
	}
	if n := len(e.proxy.requests("POST", "/v1/payment_intents")); n != 0 {
		t.Errorf("%d PaymentIntents made without a card", n)
	}
	_, err = e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: payment.Purpose{Kind: "Bad Kind"}, UserID: user, Amount: 0, Currency: "cny"})
	if ae, ok := apperr.As(err); !ok || len(ae.Fields) != 4 {
		t.Errorf("bad request: %v, want purpose.kind, purpose.id, amount and currency named", err)
	}
}

func TestReleaseCancelsThePaymentIntent(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "cancel@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 8000)
	p, err := e.svc.Release(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusCanceled || p.PendingAction != "" {
		t.Fatalf("released payment %+v", p)
	}
	calls := e.proxy.requests("POST", "/v1/payment_intents/"+p.PaymentIntentID+"/cancel")
	if len(calls) != 1 || calls[0].Key != "pay_"+p.ID.String()+"_release" {
		t.Errorf("cancel calls %+v", calls)
	}
	if _, err := e.svc.Release(ctx, p.ID); err != nil {
		t.Errorf("releasing twice: %v", err)
	}
	if _, err := e.svc.Capture(ctx, p.ID, 100); !apperr.HasCode(err, "payment_not_authorized") {
		t.Errorf("capture after release: %v", err)
	}
}

// TestReleaseInTheCallersTransaction is how the reservation code uses the
// service: the hold and the release are written with its own changes, and
// a release before the PaymentIntent exists means it is never made.
func TestReleaseInTheCallersTransaction(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "tx@example.cn")
	e.withCard(t, user)
	var p payment.Payment
	err := db.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		var err error
		if p, err = e.svc.AuthorizeTx(ctx, tx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: 700, OffSession: true}); err != nil {
			return err
		}
		_, err = e.svc.ReleaseTx(ctx, tx, p.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.RunDue(ctx); err != nil {
		t.Fatal(err)
	}
	p, _ = e.svc.Get(ctx, p.ID)
	if p.Status != payment.StatusCanceled {
		t.Errorf("status %s, want canceled", p.Status)
	}
	if n := len(e.proxy.requests("POST", "/v1/payment_intents")); n != 0 {
		t.Errorf("%d PaymentIntents made for a released payment", n)
	}
	// A failed caller transaction leaves nothing behind.
	_ = db.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		_, _ = e.svc.AuthorizeTx(ctx, tx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: 700, OffSession: true})
		return apperr.New(apperr.KindUnavailable, "unavailable", "the car was taken")
	})
	var jobs, payments int
	_ = e.db.Get(&jobs, `SELECT count(*) FROM outbox WHERE status = 'pending'`)
	_ = e.db.Get(&payments, `SELECT count(*) FROM payments`)
	if jobs != 0 || payments != 1 {
		t.Errorf("after a rolled-back reservation: %d pending jobs, %d payments; want 0 and 1", jobs, payments)
	}
}

func TestChargeOffSession(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "fee@example.cn")
	card := e.withCard(t, user)
	p, err := e.svc.ChargeOffSession(ctx, payment.ChargeRequest{Purpose: payment.Purpose{Kind: "no_show_fee", ID: uuid.New()},
		UserID: user, Amount: 3000, Description: "no-show fee"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != payment.KindCharge || p.Status != payment.StatusSucceeded || p.AmountCaptured != 3000 {
		t.Fatalf("charge %+v", p)
	}
	r := e.proxy.requests("POST", "/v1/payment_intents")
	if len(r) != 1 || r[0].Key != "pay_"+p.ID.String()+"_charge" {
		t.Fatalf("charge calls %+v", r)
	}
	formWant(t, r[0], map[string]string{"amount": "3000", "capture_method": "automatic", "confirm": "true",
		"off_session": "true", "payment_method": card, "metadata[purpose_kind]": "no_show_fee"})
	if _, err := e.svc.Capture(ctx, p.ID, 3000); !apperr.HasCode(err, "not_an_authorization") {
		t.Errorf("capturing a charge: %v", err)
	}
}

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "refund@example.cn")
	e.withCard(t, user)
	p := e.captured(t, user, 10000, 9000)
	staff := e.resident(t, "finance@example.cn")

	r, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 4000, Reason: payment.ReasonServiceIssue,
		Note: "dirty car", IdempotencyKey: "k1", By: &staff})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != payment.RefundSucceeded || !strings.HasPrefix(r.StripeRefundID, "re_") || r.Amount != 4000 {
		t.Fatalf("refund %+v", r)
	}
	calls := e.proxy.requests("POST", "/v1/refunds")
	if len(calls) != 1 || calls[0].Key != "refund_"+r.ID.String() {
		t.Fatalf("refund calls %+v", calls)
	}
	formWant(t, calls[0], map[string]string{"payment_intent": p.PaymentIntentID, "amount": "4000",
		"metadata[refund_id]": r.ID.String(), "reason": ""})
	// The same key returns the same refund; another amount under it is refused.
	again, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 4000, Reason: payment.ReasonServiceIssue, IdempotencyKey: "k1"})
	if err != nil || again.ID != r.ID {
		t.Errorf("repeated refund: %v, %v", again.ID, err)
	}
	if _, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 1, Reason: payment.ReasonServiceIssue, IdempotencyKey: "k1"}); !apperr.HasCode(err, "idempotency_key_reused") {
		t.Errorf("key reused: %v", err)
	}
	if _, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 5001, Reason: payment.ReasonDuplicate}); !apperr.HasCode(err, "refund_exceeds_captured") {
		t.Errorf("over-refund: %v", err)
	}
	r2, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 5000, Reason: payment.ReasonRequestedByCustomer})
	if err != nil {
		t.Fatal(err)
	}
	formWant(t, e.proxy.requests("POST", "/v1/refunds")[1], map[string]string{"reason": "requested_by_customer"})
	p, _ = e.svc.Get(ctx, p.ID)
	if p.AmountRefunded != 9000 || p.AmountCaptured != 9000 {
		t.Errorf("after refunding everything: captured %d refunded %d", p.AmountCaptured, p.AmountRefunded)
	}
	refunds, _ := e.svc.Refunds(ctx, p.ID)
	if len(refunds) != 2 || refunds[1].ID != r2.ID {
		t.Errorf("refunds %+v", refunds)
	}
	// The database itself refuses refunds past the captured amount.
	if _, err := e.db.Exec(`UPDATE payments SET amount_refunded = amount_captured + 1 WHERE id = $1`, p.ID); db.Constraint(err) != "payments_refunded_within_captured" {
		t.Errorf("raw over-refund: %v", err)
	}
	if _, err := e.db.Exec(`UPDATE payments SET amount_captured = amount_authorized + 1 WHERE id = $1`, p.ID); db.Constraint(err) != "payments_captured_within_authorized" {
		t.Errorf("raw over-capture: %v", err)
	}
	if _, err := e.db.Exec(`DELETE FROM payment_history WHERE payment_id = $1`, p.ID); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("deleting history: %v, want refused", err)
	}
	auth := e.authorized(t, user, 100)
	if _, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: auth.ID, Amount: 1, Reason: payment.ReasonDuplicate}); !apperr.HasCode(err, "payment_not_captured") {
		t.Errorf("refund of an uncaptured payment: %v", err)
	}
}
