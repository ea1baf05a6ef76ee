package payment_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// event builds a Stripe event as Stripe renders it for API version
// 2023-10-16 (the only one stripe-go v76 accepts).
func event(id, typ string, created time.Time, object map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2023-10-16", "created": created.Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ, "data": map[string]any{"object": object},
	})
	return b
}

func signed(payload []byte, secret string) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret}).Header
}

func intent(p payment.Payment, status string, capturable, received int64) map[string]any {
	return map[string]any{
		"id": p.PaymentIntentID, "object": "payment_intent", "amount": p.AmountAuthorized, "currency": "cny",
		"status": status, "amount_capturable": capturable, "amount_received": received, "latest_charge": "ch_test_1",
		"metadata": map[string]string{"payment_id": p.ID.String()},
	}
}

// deliver sends an event through the service's webhook path and fails the
// test on an error.
func (e *env) deliver(t *testing.T, payload []byte) payment.WebhookResult {
	t.Helper()
	res, err := e.svc.ReceiveWebhook(ctx, payload, signed(payload, webhookSecret))
	if err != nil {
		t.Fatalf("webhook: %v", err)
	}
	return res
}

func (e *env) storedEvents(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM stripe_events`); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) onSession(t *testing.T) payment.Payment {
	t.Helper()
	user := e.resident(t, uuid.NewString()[:8]+"@example.cn")
	p, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: 6000})
	if err != nil || p.Status != payment.StatusRequiresAction {
		t.Fatalf("on-session authorisation: %+v, %v", p, err)
	}
	return p
}

func TestWebhookVerifiesBeforeStoring(t *testing.T) {
	e := newEnv(t)
	p := e.onSession(t)
	now := time.Now()
	good := event("evt_1", "payment_intent.amount_capturable_updated", now, intent(p, "requires_capture", 6000, 0))

	for name, tc := range map[string]struct {
		payload []byte
		header  string
		code    string
	}{
		"missing signature": {good, "", "signature_missing"},
		"wrong secret":      {good, signed(good, "whsec_someone_else"), "signature_invalid"},
		"changed body":      {append([]byte(" "), good...), signed(good, webhookSecret), "signature_invalid"},
		"garbage header":    {good, "not-a-signature", "signature_invalid"},
		"too old": {good, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
			Payload: good, Secret: webhookSecret, Timestamp: now.Add(-10 * time.Minute)}).Header, "signature_invalid"},
		"other API version": {
			[]byte(`{"id":"evt_v","object":"event","api_version":"2024-06-20","type":"payment_intent.succeeded","data":{"object":{}}}`),
			signed([]byte(`{"id":"evt_v","object":"event","api_version":"2024-06-20","type":"payment_intent.succeeded","data":{"object":{}}}`), webhookSecret),
			"api_version_mismatch"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.ReceiveWebhook(ctx, tc.payload, tc.header)
			if !apperr.HasCode(err, tc.code) || !apperr.Is(err, apperr.KindInvalid) {
				t.Errorf("err %v, want invalid %s", err, tc.code)
			}
		})
	}
	if n := e.storedEvents(t); n != 0 {
		t.Fatalf("%d events stored from bad deliveries", n)
	}
	if got, _ := e.svc.Get(ctx, p.ID); got.Status != payment.StatusRequiresAction {
		t.Fatalf("a bad delivery moved the payment to %s", got.Status)
	}
	res := e.deliver(t, good)
	if res.Duplicate || res.Outcome != "applied" {
		t.Errorf("good event: %+v", res)
	}
	if got, _ := e.svc.Get(ctx, p.ID); got.Status != payment.StatusAuthorized || got.ChargeID != "ch_test_1" {
		t.Errorf("after amount_capturable_updated: %+v", got)
	}
}

func TestReplayedEventIsAppliedOnce(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "replay@example.cn")
	e.withCard(t, user)
	p := e.captured(t, user, 5000, 5000)
	refunded := event("evt_refund", "charge.refunded", time.Now(), map[string]any{
		"id": "ch_x", "object": "charge", "payment_intent": p.PaymentIntentID, "captured": true,
		"amount": 5000, "amount_captured": 5000, "amount_refunded": 1500,
	})
	for i := 0; i < 3; i++ {
		res := e.deliver(t, refunded)
		if res.Duplicate != (i > 0) {
			t.Errorf("delivery %d: duplicate %v", i+1, res.Duplicate)
		}
	}
	got, _ := e.svc.Get(ctx, p.ID)
	if got.AmountRefunded != 1500 {
		t.Errorf("refunded %d after three deliveries, want 1500", got.AmountRefunded)
	}
	var lines int
	_ = e.db.Get(&lines, `SELECT count(*) FROM payment_history WHERE stripe_event_id = 'evt_refund'`)
	if lines != 1 {
		t.Errorf("%d history lines from one event, want 1", lines)
	}
}

// TestOutOfOrderEventsNeverMoveBackwards delivers a payment's events in the
// worst order: the capture's success before the authorisation, stale
// failures and cancels after it, a refund before the success.
func TestOutOfOrderEventsNeverMoveBackwards(t *testing.T) {
	e := newEnv(t)
	p := e.onSession(t)
	t0 := time.Now().Add(-time.Minute)
	steps := []struct {
		id, typ     string
		object      map[string]any
		wantStatus  payment.Status
		wantOutcome string
	}{
		{"evt_ref", "charge.refunded", map[string]any{"id": "ch_test_1", "object": "charge", "payment_intent": p.PaymentIntentID,
			"captured": true, "amount": 6000, "amount_captured": 4000, "amount_refunded": 1000}, payment.StatusSucceeded, "applied"},
		{"evt_succ", "payment_intent.succeeded", intent(p, "succeeded", 0, 4000), payment.StatusSucceeded, "ignored"},
		{"evt_cap", "payment_intent.amount_capturable_updated", intent(p, "requires_capture", 6000, 0), payment.StatusSucceeded, "ignored"},
		{"evt_fail", "payment_intent.payment_failed", intent(p, "requires_payment_method", 0, 0), payment.StatusSucceeded, "ignored"},
		{"evt_cancel", "payment_intent.canceled", intent(p, "canceled", 0, 0), payment.StatusSucceeded, "ignored"},
		{"evt_disp", "charge.dispute.created", map[string]any{"id": "dp_1", "object": "dispute", "amount": 3000,
			"charge": "ch_test_1", "payment_intent": p.PaymentIntentID, "reason": "fraudulent", "status": "needs_response"},
			payment.StatusDisputed, "applied"},
		{"evt_succ2", "payment_intent.succeeded", intent(p, "succeeded", 0, 4000), payment.StatusDisputed, "ignored"},
	}
	for i, s := range steps {
		res := e.deliver(t, event(s.id, s.typ, t0.Add(time.Duration(i)*time.Second), s.object))
		got, _ := e.svc.Get(ctx, p.ID)
		if got.Status != s.wantStatus || res.Outcome != s.wantOutcome {
			t.Errorf("after %s: status %s outcome %s (%s), want %s and %s", s.typ, got.Status, res.Outcome, res.Note, s.wantStatus, s.wantOutcome)
		}
	}
	got, _ := e.svc.Get(ctx, p.ID)
	if got.AmountCaptured != 4000 || got.AmountRefunded != 1000 {
		t.Errorf("amounts: captured %d refunded %d, want 4000 and 1000", got.AmountCaptured, got.AmountRefunded)
	}
	if _, err := e.svc.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: 100, Reason: payment.ReasonDuplicate}); !apperr.HasCode(err, "payment_disputed") {
		t.Errorf("refund of a disputed payment: %v", err)
	}
	want := []string{"created:pending", "payment_intent.create:requires_action", "charge.refunded:succeeded", "charge.dispute.created:disputed"}
	if diff := cmp.Diff(want, e.events(t, got)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func TestFailedAuthorisationCanStillSucceedLater(t *testing.T) {
	e := newEnv(t)
	p := e.onSession(t)
	failed := intent(p, "requires_payment_method", 0, 0)
	failed["last_payment_error"] = map[string]any{"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds."}
	e.deliver(t, event("evt_f", "payment_intent.payment_failed", time.Now(), failed))
	got, _ := e.svc.Get(ctx, p.ID)
	if got.Status != payment.StatusFailed || got.FailureCode != "insufficient_funds" || got.FailureMessage != "Your card has insufficient funds." {
		t.Fatalf("after payment_failed: %+v", got)
	}
	// The resident tried another card in the app.
	e.deliver(t, event("evt_ok", "payment_intent.amount_capturable_updated", time.Now(), intent(p, "requires_capture", 6000, 0)))
	if got, _ = e.svc.Get(ctx, p.ID); got.Status != payment.StatusAuthorized || got.FailureCode != "" {
		t.Errorf("after a retry with another card: %+v", got)
	}
}

func TestUnknownAndForeignEventsAreAcknowledged(t *testing.T) {
	e := newEnv(t)
	for _, payload := range [][]byte{
		event("evt_u", "customer.subscription.created", time.Now(), map[string]any{"id": "sub_1", "object": "subscription"}),
		event("evt_f", "payment_intent.succeeded", time.Now(), map[string]any{"id": "pi_not_ours", "object": "payment_intent", "amount_received": 100}),
	} {
		if res := e.deliver(t, payload); res.Outcome != "ignored" || res.Duplicate {
			t.Errorf("%s: %+v, want stored as ignored", res.Type, res)
		}
	}
	if n := e.storedEvents(t); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}

func TestCardEventsOutOfOrder(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "cards@example.cn")
	card := e.withCard(t, user)
	var customer string
	_ = e.db.Get(&customer, `SELECT stripe_customer_id FROM payment_customers WHERE user_id = $1`, user)
	pm := map[string]any{"id": card, "object": "payment_method", "type": "card", "customer": nil,
		"card": map[string]any{"brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2030}}
	e.deliver(t, event("evt_det", "payment_method.detached", time.Now().Add(time.Second), pm))
	pm["customer"] = customer
	// An attach older than the detach arrives late: the card stays removed.
	e.deliver(t, event("evt_att_old", "payment_method.attached", time.Now().Add(-time.Hour), pm))
	if cards, _ := e.svc.Cards(ctx, user); len(cards) != 0 {
		t.Errorf("a late attach brought a detached card back: %+v", cards)
	}
}

// TestStatusListenersRunInTheRecordingTransaction: a listener (the
// reservation capability) sees each status move inside the transaction that
// records it; its failure rolls the event back, so Stripe's redelivery
// applies it again.
func TestStatusListenersRunInTheRecordingTransaction(t *testing.T) {
	e := newEnv(t)
	p := e.onSession(t)
	var seen []payment.Status
	fail := true
	e.svc.OnStatusChange(func(ctx context.Context, tx *sqlx.Tx, got payment.Payment) error {
		var st string
		if err := tx.GetContext(ctx, &st, `SELECT status FROM payments WHERE id = $1`, got.ID); err != nil {
			return err
		}
		seen = append(seen, payment.Status(st))
		if fail {
			return errors.New("the reservation could not be confirmed")
		}
		return nil
	})
	payload := event("evt_l", "payment_intent.amount_capturable_updated", time.Now(), intent(p, "requires_capture", 6000, 0))
	if _, err := e.svc.ReceiveWebhook(ctx, payload, signed(payload, webhookSecret)); err == nil {
		t.Fatal("the listener's failure was swallowed")
	}
	if got, _ := e.svc.Get(ctx, p.ID); got.Status != payment.StatusRequiresAction || e.storedEvents(t) != 0 {
		t.Fatalf("after a failed listener: %s with %d events stored; want everything rolled back", got.Status, e.storedEvents(t))
	}
	fail = false
	if res := e.deliver(t, payload); res.Duplicate || res.Outcome != "applied" { // Stripe delivers it again
		t.Errorf("redelivery %+v", res)
	}
	if got, _ := e.svc.Get(ctx, p.ID); got.Status != payment.StatusAuthorized {
		t.Errorf("status %s, want authorized", got.Status)
	}
	if diff := cmp.Diff([]payment.Status{payment.StatusAuthorized, payment.StatusAuthorized}, seen); diff != "" {
		t.Errorf("the listener saw (-want +got):\n%s", diff)
	}
}

func TestWebhookTellsOfARaisedHold(t *testing.T) {
	e := newEnv(t)
	p := e.onSession(t)
	e.deliver(t, event("evt_auth", "payment_intent.amount_capturable_updated", time.Now(), intent(p, "requires_capture", 6000, 0)))
	// Raised at Stripe (an increment whose answer we never got): the event says so.
	e.deliver(t, event("evt_raised", "payment_intent.amount_capturable_updated", time.Now(), intent(p, "requires_capture", 9000, 0)))
	got, _ := e.svc.Get(ctx, p.ID)
	if got.Status != payment.StatusAuthorized || got.AmountAuthorized != 9000 {
		t.Fatalf("after the raise: %+v, want authorized 9000", got)
	}
	// A late event of the first hold lowers nothing.
	e.deliver(t, event("evt_late", "payment_intent.amount_capturable_updated", time.Now().Add(-time.Minute), intent(p, "requires_capture", 6000, 0)))
	if got, _ = e.svc.Get(ctx, p.ID); got.AmountAuthorized != 9000 {
		t.Errorf("after a late event: hold %d, want 9000", got.AmountAuthorized)
	}
	h, err := e.svc.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if last := h[len(h)-1]; last.StripeEventID != "evt_raised" || !strings.Contains(last.Detail, "hold raised from 6000 to 9000 CNY") {
		t.Errorf("last history line %+v, want the raise", last)
	}
}
