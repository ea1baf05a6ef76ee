package payment

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// MaxAmount bounds one payment: 10 million in major units is far beyond any
// rental and well inside Stripe's limits.
const MaxAmount int64 = 1_000_000_000

var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// AuthorizeRequest asks for a hold of Amount on a resident's card for a
// purpose.
type AuthorizeRequest struct {
	Purpose     Purpose
	UserID      uuid.UUID
	Amount      int64
	Currency    string // empty: the service's currency
	Description string
	// OffSession confirms at once with the resident's default card; without
	// it the PaymentIntent waits for the app to confirm it with the
	// payment's ClientSecret.
	OffSession bool
}

// ChargeRequest asks to take Amount at once from a resident's default card,
// with nobody present: a difference over a hold, or a fee.
type ChargeRequest struct {
	Purpose     Purpose
	UserID      uuid.UUID
	Amount      int64
	Currency    string // empty: the service's currency
	Description string // why, shown in the history and on Stripe
}

func (s *Service) checkNew(f *apperr.Fields, purpose Purpose, userID uuid.UUID, amount int64, currency *string, description string) {
	purpose.check(f)
	if userID == uuid.Nil {
		f.Add("user_id", "is required")
	}
	if amount < 1 || amount > MaxAmount {
		f.Add("amount", "must be from 1 to "+strconv.FormatInt(MaxAmount, 10)+" minor units")
	}
	if *currency == "" {
		*currency = s.opts.Currency
	}
	if !currencyRE.MatchString(*currency) {
		f.Add("currency", "must be a three-letter ISO 4217 code in capitals")
	}
	if utf8.RuneCountInString(description) > 500 {
		f.Add("description", "must be at most 500 characters")
	}
}

// defaultCard returns the resident's default card, which off-session
// payments use.
func (s *Service) defaultCard(ctx context.Context, q sqlx.QueryerContext, userID uuid.UUID) (string, error) {
	// The default card, if it is still attached.
	const query = `
		SELECT m.id FROM payment_customers c
		JOIN payment_methods m ON m.id = c.default_payment_method AND m.user_id = c.user_id AND m.detached_at IS NULL
		WHERE c.user_id = $1`
	var id string
	if err := sqlx.GetContext(ctx, q, &id, query, userID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", apperr.New(apperr.KindPaymentFailed, "no_payment_method", "save a card first: there is no default card to pay with")
		}
		return "", fmt.Errorf("default card: %w", err)
	}
	return id, nil
}

// AuthorizeTx records an authorisation in tx and queues the making of its
// PaymentIntent (capture_method=manual). It makes no Stripe call: after the
// commit, Process makes it at once, or the worker does. Asking again for a
// purpose that has a live authorisation returns that one.
func (s *Service) AuthorizeTx(ctx context.Context, tx *sqlx.Tx, r AuthorizeRequest) (Payment, error) {
	var f apperr.Fields
	s.checkNew(&f, r.Purpose, r.UserID, r.Amount, &r.Currency, r.Description)
	if err := f.Err(); err != nil {
		return Payment{}, err
	}
	return s.create(ctx, tx, Payment{
		Purpose: r.Purpose, UserID: r.UserID, Kind: KindAuthorization, Currency: r.Currency,
		AmountAuthorized: r.Amount, Description: r.Description, OffSession: r.OffSession,
	})
}

// Authorize records an authorisation and makes its PaymentIntent now. The
// payment is requires_action with a ClientSecret for the app, or (off
// session, and in mock mode once the relay has delivered the event)
// authorized. A decline is a KindPaymentFailed error with the payment failed;
// if Stripe cannot be reached the payment stays pending and the worker
// retries.
func (s *Service) Authorize(ctx context.Context, r AuthorizeRequest) (Payment, error) {
	var p Payment
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		p, err = s.AuthorizeTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	return s.settled(s.Process(ctx, p.ID))
}

// ChargeOffSessionTx records an off-session charge in tx and queues its
// PaymentIntent (confirmed at once, captured automatically).
func (s *Service) ChargeOffSessionTx(ctx context.Context, tx *sqlx.Tx, r ChargeRequest) (Payment, error) {
	var f apperr.Fields
	s.checkNew(&f, r.Purpose, r.UserID, r.Amount, &r.Currency, r.Description)
	if err := f.Err(); err != nil {
		return Payment{}, err
	}
	return s.create(ctx, tx, Payment{
		Purpose: r.Purpose, UserID: r.UserID, Kind: KindCharge, Currency: r.Currency,
		AmountAuthorized: r.Amount, Description: r.Description, OffSession: true,
	})
}

// ChargeOffSession charges the resident's default card now; see
// ChargeOffSessionTx. A decline is a KindPaymentFailed error with the
// payment failed and its reason recorded.
func (s *Service) ChargeOffSession(ctx context.Context, r ChargeRequest) (Payment, error) {
	var p Payment
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		p, err = s.ChargeOffSessionTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	return s.settled(s.Process(ctx, p.ID))
}

// settled turns a payment that Stripe declined into an error next to it.
func (s *Service) settled(p Payment, err error) (Payment, error) {
	if err != nil || p.Status != StatusFailed {
		return p, err
	}
	detail := "the payment was declined"
	if p.FailureMessage != "" {
		detail += ": " + p.FailureMessage
	}
	return p, &apperr.Error{Kind: apperr.KindPaymentFailed, Code: "payment_declined", Detail: detail,
		Meta: map[string]any{"payment_id": p.ID.String(), "decline_code": p.FailureCode}}
}

func (s *Service) create(ctx context.Context, tx *sqlx.Tx, p Payment) (Payment, error) {
	if p.OffSession {
		pm, err := s.defaultCard(ctx, tx, p.UserID)
		if err != nil {
			return Payment{}, err
		}
		p.PaymentMethod = pm
	}
	p.ID, p.Status, p.CreatedAt = uuid.New(), StatusPending, time.Now().UTC()
	p.UpdatedAt = p.CreatedAt
	inserted, err := s.store.insertPayment(ctx, tx, p)
	if err != nil {
		return Payment{}, err
	}
	if !inserted {
		old, err := s.store.liveAuthorization(ctx, tx, p.Purpose)
		if err != nil {
			return Payment{}, err
		}
		if old.UserID != p.UserID || old.AmountAuthorized != p.AmountAuthorized || old.Currency != p.Currency || old.OffSession != p.OffSession {
			return Payment{}, &apperr.Error{Kind: apperr.KindConflict, Code: "authorization_exists",
				Detail: "this purpose has a live authorisation for another amount; release it first",
				Meta:   map[string]any{"payment_id": old.ID.String()}}
		}
		return old, nil
	}
	amount := p.AmountAuthorized
	if err := s.store.addHistory(ctx, tx, p.ID, HistoryEntry{Status: p.Status, Event: "created", Amount: &amount,
		Detail: string(p.Kind) + " for " + p.Purpose.Kind + " " + p.Purpose.ID.String(), Source: "request"}); err != nil {
		return Payment{}, err
	}
	if _, err := s.outbox.Enqueue(ctx, tx, jobCreateIntent, intentKey(p), jobPayload{PaymentID: p.ID}); err != nil {
		return Payment{}, err
	}
	return p, nil
}

// CaptureTx queues the capture of amount (at most the authorised amount) of
// an authorized payment in tx. Capturing less releases the rest; to take
// more than the hold, capture it all and ChargeOffSession the difference.
// Asking again for the same amount is a no-op.
func (s *Service) CaptureTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, amount int64) (Payment, error) {
	p, err := s.store.lockPayment(ctx, tx, id)
	if err != nil {
		return Payment{}, err
	}
	same := p.CaptureRequested != nil && *p.CaptureRequested == amount
	switch {
	case p.Kind != KindAuthorization:
		return Payment{}, apperr.New(apperr.KindConflict, "not_an_authorization", "only an authorisation can be captured")
	case same && (p.PendingAction == "capture" || p.Status == StatusSucceeded):
		return p, nil
	case p.PendingAction != "":
		return Payment{}, stateConflict("payment_action_pending", "a "+p.PendingAction+" of this payment is already under way", p)
	case p.Status != StatusAuthorized:
		return Payment{}, stateConflict("payment_not_authorized", "only an authorized payment can be captured; it is "+string(p.Status), p)
	case amount < 1 || amount > p.AmountAuthorized:
		why := "must be from 1 to the authorised " + strconv.FormatInt(p.AmountAuthorized, 10)
		return Payment{}, apperr.Invalid("amount: "+why, apperr.FieldError{Field: "amount", Reason: why})
	}
	p.PendingAction, p.CaptureRequested = "capture", &amount
	if err := s.store.updatePayment(ctx, tx, p); err != nil {
		return Payment{}, err
	}
	if err := s.note(ctx, tx, p, "capture_requested", &amount, ""); err != nil {
		return Payment{}, err
	}
	_, err = s.outbox.Enqueue(ctx, tx, jobCapture, captureKey(p.ID), jobPayload{PaymentID: p.ID, Amount: amount})
	return p, err
}

// Capture captures amount of an authorized payment now (see CaptureTx). A
// capture Stripe declines leaves the payment failed with the reason, and is
// returned as a KindPaymentFailed error.
func (s *Service) Capture(ctx context.Context, id uuid.UUID, amount int64) (Payment, error) {
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		_, err := s.CaptureTx(ctx, tx, id, amount)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	return s.settled(s.Process(ctx, id))
}

// IncrementTx queues raising an authorized payment's hold to amount, its new
// total, in tx: an incremental authorisation of the same PaymentIntent,
// which Stripe allows where the card and the merchant support it (the
// PaymentIntent asks for it when made). Stripe's refusal leaves the hold as
// it was and is recorded in the history; what the hold does not cover is
// then charged off-session after the capture. Asking for no more than the
// hold, or for the amount already asked for, is a no-op.
func (s *Service) IncrementTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, amount int64) (Payment, error) {
	p, err := s.store.lockPayment(ctx, tx, id)
	if err != nil {
		return Payment{}, err
	}
	switch {
	case p.Kind != KindAuthorization:
		return Payment{}, apperr.New(apperr.KindConflict, "not_an_authorization", "only an authorisation can be raised")
	case amount <= p.AmountAuthorized || (p.IncrementRequested != nil && *p.IncrementRequested == amount):
		return p, nil
	case p.PendingAction != "":
		return Payment{}, stateConflict("payment_action_pending", "a "+p.PendingAction+" of this payment is already under way", p)
	case p.Status != StatusAuthorized:
		return Payment{}, stateConflict("payment_not_authorized", "only an authorized payment can be raised; it is "+string(p.Status), p)
	case amount > MaxAmount:
		why := "must be at most " + strconv.FormatInt(MaxAmount, 10)
		return Payment{}, apperr.Invalid("amount: "+why, apperr.FieldError{Field: "amount", Reason: why})
	}
	p.IncrementRequested = &amount
	if err := s.store.updatePayment(ctx, tx, p); err != nil {
		return Payment{}, err
	}
	if err := s.note(ctx, tx, p, "increment_requested", &amount, ""); err != nil {
		return Payment{}, err
	}
	_, err = s.outbox.Enqueue(ctx, tx, jobIncrement, incrementKey(p.ID, amount), jobPayload{PaymentID: p.ID, Amount: amount})
	return p, err
}

// ReleaseTx queues the release of an authorisation (the cancel of its
// PaymentIntent) in tx. A payment whose PaymentIntent is not made yet is
// canceled at once; releasing a canceled payment is a no-op.
func (s *Service) ReleaseTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (Payment, error) {
	p, err := s.store.lockPayment(ctx, tx, id)
	if err != nil {
		return Payment{}, err
	}
	switch {
	case p.Kind != KindAuthorization:
		return Payment{}, apperr.New(apperr.KindConflict, "not_an_authorization", "only an authorisation can be released")
	case p.Status == StatusCanceled || p.PendingAction == "release":
		return p, nil
	case p.Status == StatusSucceeded || p.Status == StatusDisputed:
		return Payment{}, stateConflict("payment_captured", "the payment is captured; refund it instead", p)
	case p.PendingAction != "":
		return Payment{}, stateConflict("payment_action_pending", "a "+p.PendingAction+" of this payment is already under way", p)
	case p.PaymentIntentID == "":
		// Nothing at Stripe yet. If the PaymentIntent is being made right
		// now, its job sees the cancel when it records it and releases it.
		return s.observe(ctx, tx, p, observation{Event: "released", Source: "request", Status: StatusCanceled,
			Detail: "released before the PaymentIntent was made"})
	}
	p.PendingAction = "release"
	if err := s.store.updatePayment(ctx, tx, p); err != nil {
		return Payment{}, err
	}
	if err := s.note(ctx, tx, p, "release_requested", nil, ""); err != nil {
		return Payment{}, err
	}
	_, err = s.outbox.Enqueue(ctx, tx, jobRelease, releaseKey(p.ID), jobPayload{PaymentID: p.ID})
	return p, err
}

// Release releases an authorisation now; see ReleaseTx.
func (s *Service) Release(ctx context.Context, id uuid.UUID) (Payment, error) {
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		_, err := s.ReleaseTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return Payment{}, err
	}
	return s.Process(ctx, id)
}

func stateConflict(code, detail string, p Payment) error {
	return &apperr.Error{Kind: apperr.KindConflict, Code: code, Detail: detail,
		Meta: map[string]any{"status": string(p.Status)}}
}
