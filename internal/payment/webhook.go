package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// WebhookResult says what became of a received event.
type WebhookResult struct {
	EventID   string
	Type      string
	Duplicate bool   // received before: acknowledged, not applied again
	Outcome   string // applied or ignored
	Note      string
}

// ReceiveWebhook verifies a Stripe event by its Stripe-Signature header,
// stores it by id and applies it, all in one transaction. A bad or missing
// signature is refused and nothing is stored; an event seen before is
// acknowledged and ignored; an event of a type we do not use, or about
// something that is not ours, is stored as ignored. Applying an event never
// moves a payment backwards, so events may arrive in any order.
//
// webhook.ConstructEvent refuses events rendered in another API version than
// stripe-go's (2023-10-16): the endpoint must be registered with that version.
func (s *Service) ReceiveWebhook(ctx context.Context, payload []byte, signature string) (WebhookResult, error) {
	if strings.TrimSpace(signature) == "" {
		return WebhookResult{}, apperr.New(apperr.KindInvalid, "signature_missing", "the Stripe-Signature header is missing")
	}
	ev, err := webhook.ConstructEvent(payload, signature, s.opts.WebhookSecret)
	if err != nil {
		return WebhookResult{}, webhookError(err)
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil {
		return WebhookResult{}, apperr.New(apperr.KindInvalid, "malformed_event", "the event has no id, type or data")
	}
	res := WebhookResult{EventID: ev.ID, Type: string(ev.Type)}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// The event's id is its identity: a redelivery inserts nothing.
		const insert = `
			INSERT INTO stripe_events (id, type, api_version, livemode, created, payload, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, 'received')
			ON CONFLICT (id) DO NOTHING`
		r, err := tx.ExecContext(ctx, insert, ev.ID, string(ev.Type), ev.APIVersion, ev.Livemode,
			time.Unix(ev.Created, 0).UTC(), string(payload)) // text: jsonb is not sent in binary
		if err != nil {
			return fmt.Errorf("store event %s: %w", ev.ID, err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			res.Duplicate = true
			return nil
		}
		applied, note, err := s.apply(ctx, tx, ev)
		if err != nil {
			return err
		}
		res.Outcome, res.Note = "ignored", note
		if applied {
			res.Outcome = "applied"
		}
		_, err = tx.ExecContext(ctx, `UPDATE stripe_events SET outcome = $2, note = $3 WHERE id = $1`, ev.ID, res.Outcome, note)
		return err
	})
	return res, err
}

func webhookError(err error) error {
	switch {
	case errors.Is(err, webhook.ErrNoValidSignature), errors.Is(err, webhook.ErrNotSigned),
		errors.Is(err, webhook.ErrInvalidHeader), errors.Is(err, webhook.ErrTooOld):
		return apperr.New(apperr.KindInvalid, "signature_invalid", "the Stripe-Signature does not verify: "+err.Error())
	case strings.Contains(err.Error(), "API version"):
		return apperr.New(apperr.KindInvalid, "api_version_mismatch",
			"the event is rendered in another Stripe API version; register the endpoint with "+stripe.APIVersion)
	}
	return apperr.New(apperr.KindInvalid, "malformed_event", "the event cannot be read: "+err.Error())
}

// apply makes an event's effect. It reports whether the event changed
// anything we keep, and why not when it did not.
func (s *Service) apply(ctx context.Context, tx *sqlx.Tx, ev stripe.Event) (bool, string, error) {
	at := time.Unix(ev.Created, 0).UTC()
	switch ev.Type {
	case "payment_intent.amount_capturable_updated", "payment_intent.succeeded",
		"payment_intent.payment_failed", "payment_intent.canceled", "payment_intent.processing":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil {
			return false, "unreadable payment intent", nil
		}
		return s.applyIntent(ctx, tx, ev, &pi)
	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(ev.Data.Raw, &ch); err != nil || ch.PaymentIntent == nil {
			return false, "unreadable charge", nil
		}
		o := observation{Event: string(ev.Type), Source: "webhook", StripeEventID: ev.ID, ChargeID: ch.ID,
			AmountCaptured: ch.AmountCaptured, AmountRefunded: ch.AmountRefunded}
		if ch.Captured {
			o.Status = StatusSucceeded
		}
		return s.applyTo(ctx, tx, ch.Metadata["payment_id"], ch.PaymentIntent.ID, o)
	case "charge.dispute.created":
		var d stripe.Dispute
		if err := json.Unmarshal(ev.Data.Raw, &d); err != nil || d.PaymentIntent == nil {
			return false, "unreadable dispute", nil
		}
		amount := d.Amount
		o := observation{Event: string(ev.Type), Source: "webhook", StripeEventID: ev.ID, Status: StatusDisputed,
			Amount: &amount, Detail: fmt.Sprintf("dispute %s: %s (%s)", d.ID, d.Reason, d.Status)}
		return s.applyTo(ctx, tx, "", d.PaymentIntent.ID, o)
	case "charge.refund.updated", "refund.updated", "refund.failed":
		var r stripe.Refund
		if err := json.Unmarshal(ev.Data.Raw, &r); err != nil {
			return false, "unreadable refund", nil
		}
		return s.applyRefund(ctx, tx, ev, &r)
	case "payment_method.attached", "payment_method.detached":
		var pm stripe.PaymentMethod
		if err := json.Unmarshal(ev.Data.Raw, &pm); err != nil {
			return false, "unreadable payment method", nil
		}
		return s.applyCard(ctx, tx, ev, &pm, at)
	case "setup_intent.succeeded":
		var si stripe.SetupIntent
		if err := json.Unmarshal(ev.Data.Raw, &si); err != nil || si.Customer == nil || si.PaymentMethod == nil {
			return false, "setup intent without customer or payment method", nil
		}
		// A resident's first saved card becomes the default.
		const q = `
			UPDATE payment_customers SET default_payment_method = $2, updated_at = now()
			WHERE stripe_customer_id = $1 AND default_payment_method IS NULL`
		r, err := tx.ExecContext(ctx, q, si.Customer.ID, si.PaymentMethod.ID)
		if err != nil {
			return false, "", fmt.Errorf("default card from setup intent: %w", err)
		}
		n, _ := r.RowsAffected()
		return n == 1, "the customer has a default card already, or is not ours", nil
	}
	return false, "event type not used", nil
}

func (s *Service) applyIntent(ctx context.Context, tx *sqlx.Tx, ev stripe.Event, pi *stripe.PaymentIntent) (bool, string, error) {
	o := observation{Event: string(ev.Type), Source: "webhook", StripeEventID: ev.ID, PaymentIntentID: pi.ID}
	if pi.LatestCharge != nil {
		o.ChargeID = pi.LatestCharge.ID
	}
	switch ev.Type {
	case "payment_intent.amount_capturable_updated":
		if pi.AmountCapturable > 0 {
			o.Status, o.AmountHeld = StatusAuthorized, pi.AmountCapturable
		}
	case "payment_intent.succeeded":
		o.Status, o.AmountCaptured = StatusSucceeded, pi.AmountReceived
	case "payment_intent.payment_failed":
		o.Status = StatusFailed
		if e := pi.LastPaymentError; e != nil {
			o.FailureCode, o.FailureMessage = string(e.Code), e.Msg
			if e.DeclineCode != "" {
				o.FailureCode = string(e.DeclineCode)
			}
		}
	case "payment_intent.canceled":
		o.Status = StatusCanceled
		o.Detail = string(pi.CancellationReason)
	case "payment_intent.processing":
		o.Status = StatusProcessing
	}
	return s.applyTo(ctx, tx, pi.Metadata["payment_id"], pi.ID, o)
}

// applyTo finds the payment an event is about (by the payment id we put in
// the metadata, else by the PaymentIntent) and applies the observation.
func (s *Service) applyTo(ctx context.Context, tx *sqlx.Tx, paymentID, intentID string, o observation) (bool, string, error) {
	var p Payment
	var err error
	if id, perr := uuid.Parse(paymentID); perr == nil {
		p, err = s.store.lockPayment(ctx, tx, id)
	} else if intentID != "" {
		p, err = s.store.paymentByIntent(ctx, tx, intentID)
	} else {
		err = apperr.NotFound("payment")
	}
	if apperr.Is(err, apperr.KindNotFound) {
		return false, "no payment of ours", nil
	}
	if err != nil {
		return false, "", err
	}
	if p.PaymentIntentID != "" && intentID != "" && p.PaymentIntentID != intentID {
		return false, "the payment has another PaymentIntent", nil
	}
	next, err := s.observe(ctx, tx, p, o)
	if err != nil {
		return false, "", err
	}
	if next == p {
		return false, "nothing to change: already " + string(p.Status), nil
	}
	return true, "", nil
}

func (s *Service) applyRefund(ctx context.Context, tx *sqlx.Tx, ev stripe.Event, r *stripe.Refund) (bool, string, error) {
	id, err := uuid.Parse(r.Metadata["refund_id"])
	if err != nil {
		var row refundRow
		if row, err = s.store.refund(ctx, tx, `stripe_refund_id = $1`, r.ID); err != nil {
			return false, "no refund of ours", nil
		}
		id = row.ID
	}
	if _, err := s.store.refund(ctx, tx, `id = $1`, id); err != nil {
		return false, "no refund of ours", nil
	}
	_, err = s.settleRefund(ctx, tx, id, RefundStatus(r.Status), r.ID, string(r.FailureReason), ev.ID, "webhook")
	return err == nil, "", err
}

func (s *Service) applyCard(ctx context.Context, tx *sqlx.Tx, ev stripe.Event, pm *stripe.PaymentMethod, at time.Time) (bool, string, error) {
	if ev.Type == "payment_method.detached" {
		if err := s.detached(ctx, tx, pm.ID, at); err != nil {
			return false, "", err
		}
		return true, "", nil
	}
	if pm.Customer == nil || pm.Card == nil || !paymentMethodRE.MatchString(pm.ID) {
		return false, "not a card attached to a customer", nil
	}
	// Attach (again) unless a newer event has been applied to the card.
	const upsert = `
		INSERT INTO payment_methods (id, user_id, brand, last4, exp_month, exp_year, created_at, changed_at)
		SELECT $1, c.user_id, $3, $4, $5, $6, clock_timestamp(), $7 FROM payment_customers c WHERE c.stripe_customer_id = $2
		ON CONFLICT (id) DO UPDATE SET detached_at = NULL, changed_at = EXCLUDED.changed_at,
			brand = EXCLUDED.brand, last4 = EXCLUDED.last4, exp_month = EXCLUDED.exp_month, exp_year = EXCLUDED.exp_year
		WHERE payment_methods.user_id = EXCLUDED.user_id AND payment_methods.changed_at <= EXCLUDED.changed_at`
	r, err := tx.ExecContext(ctx, upsert, pm.ID, pm.Customer.ID, string(pm.Card.Brand), pm.Card.Last4,
		pm.Card.ExpMonth, pm.Card.ExpYear, at)
	if err != nil {
		return false, "", fmt.Errorf("store card %s: %w", pm.ID, db.Translate(err))
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return false, "no customer of ours, or a newer event was applied", nil
	}
	// A resident's first card becomes the default.
	const q = `
		UPDATE payment_customers SET default_payment_method = $2, updated_at = now()
		WHERE stripe_customer_id = $1 AND default_payment_method IS NULL`
	if _, err := tx.ExecContext(ctx, q, pm.Customer.ID, pm.ID); err != nil {
		return false, "", fmt.Errorf("default card: %w", err)
	}
	return true, "", nil
}
