package payment

import "github.com/stripe/stripe-go/v76"

// observation is what we learn about a payment from Stripe: from the answer
// to one of our calls or from an event. Zero fields say nothing.
type observation struct {
	Event           string // for the history: the event type or our call
	Source          string // response or webhook
	StripeEventID   string
	Status          Status // "" when the status is not told
	CaptureDeclined bool   // Stripe refused our capture
	AmountCaptured  int64  // Stripe's captured total
	AmountHeld      int64  // Stripe's authorised total of a held PaymentIntent (after an increment)
	AmountRefunded  int64  // Stripe's refunded total
	PaymentIntentID string
	ChargeID        string
	ClientSecret    string
	CustomerID      string
	FailureCode     string
	FailureMessage  string
	Detail          string
	Amount          *int64 // shown in the history line
}

// advance reports whether a payment may move from one status to another.
// Statuses only move forward, so an event that arrives late (an
// amount_capturable_updated after the capture's succeeded) or twice changes
// nothing. captureTried marks a payment whose capture Stripe refused: it is
// failed for good, short of Stripe itself saying succeeded or canceled.
func advance(from Status, captureTried bool, to Status, captureDeclined bool) bool {
	if from == to {
		return false
	}
	authFailed := from == StatusFailed && !captureTried
	switch to {
	case StatusRequiresAction:
		return from == StatusPending
	case StatusProcessing:
		return from == StatusPending || from == StatusRequiresAction || authFailed
	case StatusAuthorized:
		return from == StatusPending || from == StatusRequiresAction || from == StatusProcessing || authFailed
	case StatusSucceeded:
		return from != StatusDisputed && from != StatusCanceled
	case StatusDisputed:
		return from != StatusCanceled
	case StatusCanceled:
		return from != StatusSucceeded && from != StatusDisputed
	case StatusFailed:
		return from == StatusPending || from == StatusRequiresAction || from == StatusProcessing ||
			(from == StatusAuthorized && captureDeclined)
	}
	return false
}

// evolve returns p after o and whether its status or anything else changed.
// It is pure: the caller locks the row, calls it and stores the result.
func evolve(p Payment, captureTried bool, o observation) (next Payment, statusMoved, changed bool) {
	next = p
	if o.Status != "" && advance(p.Status, captureTried, o.Status, o.CaptureDeclined) {
		next.Status = o.Status
		statusMoved = true
		switch o.Status {
		case StatusFailed:
			next.FailureCode, next.FailureMessage = o.FailureCode, o.FailureMessage
		case StatusAuthorized, StatusSucceeded:
			if !o.CaptureDeclined {
				next.FailureCode, next.FailureMessage = "", ""
			}
		}
		if o.Status == StatusSucceeded || o.Status == StatusFailed || o.Status == StatusCanceled {
			next.PendingAction, next.IncrementRequested = "", nil
		}
	}
	// A hold only grows (an incremental authorisation), and only while held.
	if o.AmountHeld > next.AmountAuthorized && next.Status == StatusAuthorized {
		next.AmountAuthorized = o.AmountHeld
		if next.IncrementRequested != nil && *next.IncrementRequested <= o.AmountHeld {
			next.IncrementRequested = nil
		}
	}
	// Amounts only grow, and never past what the database allows.
	if o.AmountCaptured > next.AmountCaptured {
		next.AmountCaptured = min(o.AmountCaptured, next.AmountAuthorized)
	}
	if o.AmountRefunded > next.AmountRefunded {
		next.AmountRefunded = min(o.AmountRefunded, next.AmountCaptured)
	}
	fill := func(dst *string, v string) {
		if *dst == "" && v != "" {
			*dst = v
		}
	}
	fill(&next.PaymentIntentID, o.PaymentIntentID)
	fill(&next.ChargeID, o.ChargeID)
	fill(&next.ClientSecret, o.ClientSecret)
	fill(&next.StripeCustomerID, o.CustomerID)
	changed = statusMoved || next != p
	return next, statusMoved, changed
}

// statusOfIntent maps a PaymentIntent's status onto ours. A PaymentIntent
// waiting for a payment method, a confirmation or an authentication waits
// for the customer: requires_action. Failures are told by errors and
// payment_failed events, never inferred from this status.
func statusOfIntent(s stripe.PaymentIntentStatus) Status {
	switch s {
	case stripe.PaymentIntentStatusRequiresPaymentMethod, stripe.PaymentIntentStatusRequiresConfirmation,
		stripe.PaymentIntentStatusRequiresAction:
		return StatusRequiresAction
	case stripe.PaymentIntentStatusProcessing:
		return StatusProcessing
	case stripe.PaymentIntentStatusRequiresCapture:
		return StatusAuthorized
	case stripe.PaymentIntentStatusSucceeded:
		return StatusSucceeded
	case stripe.PaymentIntentStatusCanceled:
		return StatusCanceled
	}
	return ""
}
