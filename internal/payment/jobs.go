package payment

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"

	"github.com/hongqi-mobility/mobility/internal/db"
)

// The outbox jobs. Each may run more than once (a retry, an expired lease),
// so each first checks whether its work is done, and sends Stripe the same
// idempotency key every time: Stripe performs the call once and answers a
// repeat with the first answer.

func decodeJob(raw json.RawMessage) (jobPayload, error) {
	var j jobPayload
	if err := json.Unmarshal(raw, &j); err != nil {
		return j, fmt.Errorf("payment job payload: %w", err)
	}
	return j, nil
}

// record applies an observation to a payment in its own transaction; then,
// if tx work is given, runs it with the updated payment.
func (s *Service) record(ctx context.Context, id uuid.UUID, o observation, then func(tx *sqlx.Tx, p Payment) error) (Payment, error) {
	var out Payment
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		p, err := s.store.lockPayment(ctx, tx, id)
		if err != nil {
			return err
		}
		if out, err = s.observe(ctx, tx, p, o); err != nil {
			return err
		}
		if then != nil {
			return then(tx, out)
		}
		return nil
	})
	return out, err
}

func intentObservation(pi *stripe.PaymentIntent, event string) observation {
	o := observation{Event: event, Source: "response", Status: statusOfIntent(pi.Status),
		PaymentIntentID: pi.ID, ClientSecret: pi.ClientSecret}
	if pi.Customer != nil {
		o.CustomerID = pi.Customer.ID
	}
	if pi.LatestCharge != nil {
		o.ChargeID = pi.LatestCharge.ID
	}
	if o.Status == StatusSucceeded {
		o.AmountCaptured = pi.AmountReceived
	}
	return o
}

// jobPayment reads an outbox job and the payment it is about, as recorded
// now: the job decides from that whether its Stripe call is still owed.
func (s *Service) jobPayment(ctx context.Context, raw json.RawMessage) (jobPayload, Payment, error) {
	j, err := decodeJob(raw)
	if err != nil {
		return j, Payment{}, err
	}
	p, err := s.store.payment(ctx, s.db, j.PaymentID)
	return j, p, err
}

// runCreateIntent makes a payment's PaymentIntent.
func (s *Service) runCreateIntent(ctx context.Context, raw json.RawMessage) error {
	_, p, err := s.jobPayment(ctx, raw)
	if err != nil {
		return err
	}
	if p.PaymentIntentID != "" || p.Status != StatusPending {
		return nil // made already, or released before it was made
	}
	customer, err := s.customerID(ctx, p.UserID)
	if err != nil {
		return err
	}
	params := &stripe.PaymentIntentParams{
		Amount:             stripe.Int64(p.AmountAuthorized),
		Currency:           stripe.String(strings.ToLower(p.Currency)),
		Customer:           stripe.String(customer),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		CaptureMethod:      stripe.String(string(stripe.PaymentIntentCaptureMethodManual)),
		Metadata: map[string]string{"payment_id": p.ID.String(), "purpose_kind": p.Purpose.Kind,
			"purpose_id": p.Purpose.ID.String(), "user_id": p.UserID.String()},
	}
	if p.Kind == KindCharge {
		params.CaptureMethod = stripe.String(string(stripe.PaymentIntentCaptureMethodAutomatic))
	} else {
		// So that extending a booking can raise the hold (IncrementTx).
		params.PaymentMethodOptions = &stripe.PaymentIntentPaymentMethodOptionsParams{
			Card: &stripe.PaymentIntentPaymentMethodOptionsCardParams{
				RequestIncrementalAuthorization: stripe.String(string(stripe.PaymentIntentPaymentMethodOptionsCardRequestIncrementalAuthorizationIfAvailable)),
			},
		}
	}
	if p.Description != "" {
		params.Description = stripe.String(p.Description)
	}
	if p.OffSession {
		params.Confirm, params.OffSession, params.PaymentMethod = stripe.Bool(true), stripe.Bool(true), stripe.String(p.PaymentMethod)
	}
	params.SetIdempotencyKey(intentKey(p))
	pi, callErr := s.stripe.API.PaymentIntents.New(params)

	var o observation
	if callErr != nil {
		se, permanent := stripeError(callErr)
		if !permanent {
			return callErr
		}
		code, msg := failureOf(se)
		o = observation{Event: "payment_intent.create", Source: "response", Status: StatusFailed,
			FailureCode: code, FailureMessage: msg, CustomerID: customer}
		if se.PaymentIntent != nil {
			o.PaymentIntentID = se.PaymentIntent.ID
		}
	} else {
		o = intentObservation(pi, "payment_intent.create")
		o.CustomerID = customer
	}
	p, err = s.record(ctx, p.ID, o, func(tx *sqlx.Tx, p Payment) error {
		if p.Status != StatusCanceled || p.PaymentIntentID == "" {
			return nil
		}
		// Released while the PaymentIntent was being made: cancel it too.
		p.PendingAction = "release"
		if err := s.store.updatePayment(ctx, tx, p); err != nil {
			return err
		}
		_, err := s.outbox.Enqueue(ctx, tx, jobRelease, releaseKey(p.ID), jobPayload{PaymentID: p.ID})
		return err
	})
	if err != nil {
		return err
	}
	if callErr == nil && p.OffSession && s.opts.Relay != nil {
		s.opts.Relay.intentConfirmed(ctx, p, customer)
	}
	return nil
}

// runCapture captures an authorized payment.
func (s *Service) runCapture(ctx context.Context, raw json.RawMessage) error {
	j, p, err := s.jobPayment(ctx, raw)
	if err != nil {
		return err
	}
	if p.PendingAction != "capture" || p.PaymentIntentID == "" {
		return nil // captured (or failed) already
	}
	params := &stripe.PaymentIntentCaptureParams{AmountToCapture: stripe.Int64(j.Amount)}
	params.SetIdempotencyKey(captureKey(p.ID))
	pi, callErr := s.stripe.API.PaymentIntents.Capture(p.PaymentIntentID, params)
	var o observation
	amount := j.Amount
	if callErr != nil {
		se, permanent := stripeError(callErr)
		if !permanent {
			return callErr
		}
		if se.PaymentIntent != nil && se.PaymentIntent.Status == stripe.PaymentIntentStatusSucceeded {
			o = intentObservation(se.PaymentIntent, "capture") // captured before: take Stripe's word
		} else {
			code, msg := failureOf(se)
			o = observation{Event: "capture", Source: "response", Status: StatusFailed, CaptureDeclined: true,
				FailureCode: code, FailureMessage: msg, Amount: &amount}
		}
	} else {
		o = intentObservation(pi, "capture")
		o.Amount = &amount
	}
	p, err = s.record(ctx, p.ID, o, nil)
	if err != nil {
		return err
	}
	if callErr == nil && s.opts.Relay != nil {
		s.opts.Relay.intentCaptured(ctx, p, j.Amount)
	}
	return nil
}

// runIncrement raises a held PaymentIntent's authorisation to the amount
// asked for last; a job for an amount asked for before is obsolete.
func (s *Service) runIncrement(ctx context.Context, raw json.RawMessage) error {
	j, p, err := s.jobPayment(ctx, raw)
	if err != nil {
		return err
	}
	if p.IncrementRequested == nil || *p.IncrementRequested != j.Amount || p.Status != StatusAuthorized ||
		p.PendingAction != "" || p.PaymentIntentID == "" {
		return nil // raised already, superseded, or the hold is being captured or released
	}
	params := &stripe.PaymentIntentIncrementAuthorizationParams{Amount: stripe.Int64(j.Amount)}
	params.SetIdempotencyKey(incrementKey(p.ID, j.Amount))
	_, callErr := s.stripe.API.PaymentIntents.IncrementAuthorization(p.PaymentIntentID, params)
	amount := j.Amount
	// Stripe answers with the PaymentIntent at its new amount, or refuses
	// and leaves it as it was: the amount asked for is what is now held.
	o := observation{Event: "increment_authorization", Source: "response", AmountHeld: amount, Amount: &amount}
	var refusal string
	if callErr != nil {
		se, permanent := stripeError(callErr)
		if !permanent {
			return callErr
		}
		code, msg := failureOf(se)
		refusal = code + ": " + msg
		o = observation{}
	}
	p, err = s.record(ctx, p.ID, o, func(tx *sqlx.Tx, p Payment) error {
		if refusal == "" || p.IncrementRequested == nil || *p.IncrementRequested != j.Amount {
			return nil
		}
		// Refused (the card, or no incremental authorisation for it): the
		// hold stays; the rest is charged off-session after the capture.
		p.IncrementRequested = nil
		if err := s.store.updatePayment(ctx, tx, p); err != nil {
			return err
		}
		return s.note(ctx, tx, p, "increment_refused", &amount, refusal)
	})
	if err != nil {
		return err
	}
	if callErr == nil && s.opts.Relay != nil {
		s.opts.Relay.intentConfirmed(ctx, p, p.StripeCustomerID)
	}
	return nil
}

// runRelease cancels a payment's PaymentIntent.
func (s *Service) runRelease(ctx context.Context, raw json.RawMessage) error {
	_, p, err := s.jobPayment(ctx, raw)
	if err != nil {
		return err
	}
	if p.PendingAction != "release" || p.PaymentIntentID == "" {
		return nil
	}
	params := &stripe.PaymentIntentCancelParams{}
	params.SetIdempotencyKey(releaseKey(p.ID))
	pi, callErr := s.stripe.API.PaymentIntents.Cancel(p.PaymentIntentID, params)
	o := observation{Event: "cancel", Source: "response"}
	if callErr != nil {
		se, permanent := stripeError(callErr)
		if !permanent {
			return callErr
		}
		if se.PaymentIntent != nil {
			o = intentObservation(se.PaymentIntent, "cancel")
		}
		o.Detail = "Stripe refused the cancel: " + se.Msg
	} else {
		o = intentObservation(pi, "cancel")
	}
	p, err = s.record(ctx, p.ID, o, func(tx *sqlx.Tx, p Payment) error {
		if callErr == nil && p.Status != StatusCanceled {
			return nil // canceled at Stripe; the event will say so
		}
		// Done with the release: it is canceled, or Stripe refused it.
		if callErr != nil {
			if err := s.note(ctx, tx, p, "release_refused", nil, o.Detail); err != nil {
				return err
			}
		}
		p.PendingAction = ""
		return s.store.updatePayment(ctx, tx, p)
	})
	if err != nil {
		return err
	}
	if callErr == nil && s.opts.Relay != nil {
		s.opts.Relay.intentCanceled(ctx, p)
	}
	return nil
}
