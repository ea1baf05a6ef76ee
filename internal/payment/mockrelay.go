package payment

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// Deliverer hands a signed event to the service's webhook endpoint.
type Deliverer func(ctx context.Context, payload []byte, signature string) error

// PostTo returns a Deliverer that POSTs events to url, as Stripe does.
func PostTo(url string) Deliverer {
	hc := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, payload []byte, signature string) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", signature)
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		if res.StatusCode >= 300 {
			return fmt.Errorf("webhook endpoint answered %d: %s", res.StatusCode, body)
		}
		return nil
	}
}

// MockEventRelay is the DEV-ONLY event relay of mock mode. stripe-mock
// answers every call but keeps no state and sends no webhooks, so after each
// call that would make real Stripe emit an event (a SetupIntent or a
// PaymentIntent confirmed, a capture, a cancel, a refund) the relay builds
// the event real Stripe would send, signs it with the webhook secret and
// delivers it to our own webhook endpoint. State then moves through exactly
// the path real events take. main builds it only when STRIPE_SECRET_KEY is
// unset; it must never run against real Stripe.
type MockEventRelay struct {
	secret  string
	deliver Deliverer
	log     *slog.Logger
}

// NewMockEventRelay returns the relay; secret is the webhook secret the
// endpoint verifies with.
func NewMockEventRelay(secret string, deliver Deliverer, log *slog.Logger) *MockEventRelay {
	if log == nil {
		log = slog.Default()
	}
	return &MockEventRelay{secret: secret, deliver: deliver, log: log}
}

func mockID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + "_mock_" + hex.EncodeToString(b)
}

// send signs and delivers one event, retrying briefly as Stripe would (it
// retries for days; the relay gives up after a few seconds and logs).
func (r *MockEventRelay) send(ctx context.Context, typ string, object map[string]any) {
	now := time.Now()
	ev := map[string]any{
		"id": mockID("evt"), "object": "event", "api_version": stripe.APIVersion, "created": now.Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ, "data": map[string]any{"object": object},
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		r.log.ErrorContext(ctx, "mock relay: encode event", "type", typ, "err", err)
		return
	}
	sig := fmt.Sprintf("t=%d,v1=%s", now.Unix(), hex.EncodeToString(webhook.ComputeSignature(now, payload, r.secret)))
	for attempt, wait := 1, 200*time.Millisecond; ; attempt, wait = attempt+1, wait*4 {
		err = r.deliver(ctx, payload, sig)
		if err == nil {
			r.log.DebugContext(ctx, "mock relay: event delivered", "type", typ, "id", ev["id"])
			return
		}
		if attempt == 3 {
			r.log.WarnContext(ctx, "mock relay: event not delivered", "type", typ, "err", err)
			return
		}
		time.Sleep(wait)
	}
}

func intentObject(p Payment, customer, status string, capturable, received int64, charge string) map[string]any {
	method := "manual"
	if p.Kind == KindCharge {
		method = "automatic"
	}
	o := map[string]any{
		"id": p.PaymentIntentID, "object": "payment_intent", "amount": p.AmountAuthorized,
		"amount_capturable": capturable, "amount_received": received, "capture_method": method,
		"currency": strings.ToLower(p.Currency), "customer": customer, "status": status, "livemode": false,
		"payment_method": nilIfEmpty(p.PaymentMethod), "latest_charge": nilIfEmpty(charge),
		"description": nilIfEmpty(p.Description), "last_payment_error": nil,
		"metadata": map[string]string{"payment_id": p.ID.String(), "purpose_kind": p.Purpose.Kind,
			"purpose_id": p.Purpose.ID.String(), "user_id": p.UserID.String()},
	}
	if status == "canceled" {
		o["cancellation_reason"] = "requested_by_customer"
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orMint(id, prefix string) string {
	if id == "" {
		return mockID(prefix)
	}
	return id
}

// intentConfirmed follows a PaymentIntent confirmed off-session: a hold is
// placed (manual capture) or the charge succeeds (automatic capture).
func (r *MockEventRelay) intentConfirmed(ctx context.Context, p Payment, customer string) {
	charge := orMint(p.ChargeID, "ch")
	if p.Kind == KindCharge {
		r.send(ctx, "payment_intent.succeeded", intentObject(p, customer, "succeeded", 0, p.AmountAuthorized, charge))
		return
	}
	r.send(ctx, "payment_intent.amount_capturable_updated",
		intentObject(p, customer, "requires_capture", p.AmountAuthorized, 0, charge))
}

// intentCaptured follows a capture of amount.
func (r *MockEventRelay) intentCaptured(ctx context.Context, p Payment, amount int64) {
	r.send(ctx, "payment_intent.succeeded",
		intentObject(p, p.StripeCustomerID, "succeeded", 0, amount, orMint(p.ChargeID, "ch")))
}

// intentCanceled follows a cancel.
func (r *MockEventRelay) intentCanceled(ctx context.Context, p Payment) {
	r.send(ctx, "payment_intent.canceled", intentObject(p, p.StripeCustomerID, "canceled", 0, 0, p.ChargeID))
}

// chargeRefunded follows a refund; the charge carries the refunded total.
func (r *MockEventRelay) chargeRefunded(ctx context.Context, p Payment) {
	r.send(ctx, "charge.refunded", map[string]any{
		"id": orMint(p.ChargeID, "ch"), "object": "charge", "amount": p.AmountCaptured,
		"amount_captured": p.AmountCaptured, "amount_refunded": p.AmountRefunded, "captured": true,
		"refunded": p.AmountRefunded == p.AmountCaptured, "currency": strings.ToLower(p.Currency),
		"customer": nilIfEmpty(p.StripeCustomerID), "payment_intent": p.PaymentIntentID, "paid": true,
		"status": "succeeded", "livemode": false, "metadata": map[string]string{"payment_id": p.ID.String()},
	})
}

// setupConfirmed follows a SetupIntent confirmed with a payment method: the
// card is attached to the customer and the SetupIntent succeeds. Like real
// Stripe, a test card token (pm_card_visa) becomes a card of its own.
func (r *MockEventRelay) setupConfirmed(ctx context.Context, st *Stripe, customer, setupIntent, pm string) {
	card, err := st.API.PaymentMethods.Get(pm, nil)
	if err != nil || card.Card == nil {
		r.log.WarnContext(ctx, "mock relay: cannot read the payment method", "payment_method", pm, "err", err)
		return
	}
	id := pm
	if strings.HasPrefix(pm, "pm_card_") {
		id = mockID("pm")
	}
	r.send(ctx, "payment_method.attached", map[string]any{
		"id": id, "object": "payment_method", "type": "card", "customer": customer, "livemode": false,
		"card": map[string]any{"brand": card.Card.Brand, "last4": card.Card.Last4,
			"exp_month": card.Card.ExpMonth, "exp_year": card.Card.ExpYear, "country": card.Card.Country},
	})
	r.send(ctx, "setup_intent.succeeded", map[string]any{
		"id": setupIntent, "object": "setup_intent", "status": "succeeded", "customer": customer,
		"payment_method": id, "usage": "off_session", "livemode": false,
	})
}
