package payment

import (
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// Purpose is what a payment pays for: a kind (reservation, fee, …) and the
// id of that object. Payments are found and deduplicated by purpose.
type Purpose struct {
	Kind string
	ID   uuid.UUID
}

var purposeKindRE = regexp.MustCompile(`^[a-z][a-z_]{0,31}$`)

func (p Purpose) check(f *apperr.Fields) {
	if !purposeKindRE.MatchString(p.Kind) {
		f.Add("purpose.kind", "must be 1 to 32 lower-case letters or underscores")
	}
	if p.ID == uuid.Nil {
		f.Add("purpose.id", "is required")
	}
}

// Kind says how a payment takes money.
type Kind string

// The kinds of payment.
const (
	KindAuthorization Kind = "authorization" // a hold (capture_method=manual), captured or released later
	KindCharge        Kind = "charge"        // an off-session charge captured at once (a difference or a fee)
)

// Status is where a payment is. It only moves forward (see advance): events
// that arrive late or twice never take a payment back.
type Status string

// The statuses of a payment.
const (
	StatusPending        Status = "pending"         // recorded; the PaymentIntent is not made yet
	StatusRequiresAction Status = "requires_action" // the PaymentIntent waits for the customer (client_secret)
	StatusProcessing     Status = "processing"      // the card network is deciding
	StatusAuthorized     Status = "authorized"      // the amount is held on the card
	StatusSucceeded      Status = "succeeded"       // money taken (captured)
	StatusDisputed       Status = "disputed"        // the cardholder disputes the charge
	StatusCanceled       Status = "canceled"        // released; no money taken
	StatusFailed         Status = "failed"          // declined (authorisation, charge or capture), with the reason
)

// Statuses lists every status, for validating filters.
var Statuses = []Status{StatusPending, StatusRequiresAction, StatusProcessing, StatusAuthorized,
	StatusSucceeded, StatusDisputed, StatusCanceled, StatusFailed}

// Payment is one PaymentIntent for one purpose, as we record it.
type Payment struct {
	ID               uuid.UUID
	Purpose          Purpose
	UserID           uuid.UUID
	Kind             Kind
	Status           Status
	Currency         string
	AmountAuthorized int64 // the PaymentIntent's amount
	AmountCaptured   int64
	AmountRefunded   int64  // refunds requested and not refused, plus refunds made at Stripe directly
	CaptureRequested *int64 // the amount Capture asked for, until Stripe answers
	// IncrementRequested is the new total IncrementTx asked the hold to be
	// raised to, until Stripe answers.
	IncrementRequested *int64
	PendingAction      string // "capture" or "release" while queued, else ""
	Description        string
	OffSession         bool
	PaymentMethod      string
	StripeCustomerID   string
	PaymentIntentID    string
	ChargeID           string
	ClientSecret       string // for the app to confirm an on-session authorisation; give it to the payer only
	FailureCode        string
	FailureMessage     string
	CreatedAt          time.Time
	UpdatedAt          time.Time

	captureTried bool // Stripe refused a capture of this payment
}

// HistoryEntry is one line of a payment's append-only history.
type HistoryEntry struct {
	FromStatus    *Status
	Status        Status
	Event         string // what happened: created, capture_requested, payment_intent.succeeded, …
	Amount        *int64
	Detail        string
	Source        string // request (our code), response (Stripe's answer to our call) or webhook
	StripeEventID string
	At            time.Time
}

// RefundReason says why money is given back.
type RefundReason string

// The reasons for a refund; the first three are Stripe's own.
const (
	ReasonRequestedByCustomer RefundReason = "requested_by_customer"
	ReasonDuplicate           RefundReason = "duplicate"
	ReasonFraudulent          RefundReason = "fraudulent"
	ReasonServiceIssue        RefundReason = "service_issue" // e.g. the car was not as promised
)

// RefundReasons lists every reason.
var RefundReasons = []RefundReason{ReasonRequestedByCustomer, ReasonDuplicate, ReasonFraudulent, ReasonServiceIssue}

// RefundStatus is where a refund is at Stripe.
type RefundStatus string

// The statuses of a refund.
const (
	RefundPending   RefundStatus = "pending" // requested; Stripe has not finished it
	RefundAction    RefundStatus = "requires_action"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed" // refused; its amount is no longer counted as refunded
	RefundCanceled  RefundStatus = "canceled"
)

// Refund gives back part or all of a captured payment.
type Refund struct {
	ID             uuid.UUID
	PaymentID      uuid.UUID
	Amount         int64
	Currency       string
	Reason         RefundReason
	Note           string
	Status         RefundStatus
	StripeRefundID string
	FailureReason  string
	RequestedBy    *uuid.UUID
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Card is a saved card of a resident.
type Card struct {
	ID        string // Stripe's pm_… id
	Brand     string
	Last4     string
	ExpMonth  int
	ExpYear   int
	IsDefault bool
	CreatedAt time.Time
}

// SetupIntent is what the app needs to save a card.
type SetupIntent struct {
	ID           string
	ClientSecret string
	Status       string // Stripe's status as answered
	CustomerID   string
}

// Contact is what a Stripe Customer is made with.
type Contact struct {
	Email string
	Name  string
	Phone string
}
