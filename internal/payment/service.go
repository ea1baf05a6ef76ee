package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// Outbox is the durable queue of Stripe calls that follow a database change
// (worker.Queue in production): a job is written in the caller's
// transaction, run by a worker with retries, and can be run at once after
// the commit.
type Outbox interface {
	Handle(kind string, h func(ctx context.Context, payload json.RawMessage) error)
	Enqueue(ctx context.Context, tx *sqlx.Tx, kind, key string, payload any) (int64, error)
	RunNow(ctx context.Context, keys ...string) error
	Wake()
}

// Options configure the payment service.
type Options struct {
	Currency      string // the default currency, e.g. CNY
	WebhookSecret string // the signing secret of the webhook endpoint (whsec_…)
	// Contacts returns what a resident's Stripe Customer is made with.
	Contacts func(ctx context.Context, userID uuid.UUID) (Contact, error)
	// Relay is the dev-only event relay; set it in mock mode only.
	Relay *MockEventRelay
	Log   *slog.Logger
}

// Service is the payment capability.
type Service struct {
	db     *sqlx.DB
	stripe *Stripe
	outbox Outbox
	store  store
	opts   Options

	statusListeners listeners[Payment]
	moneyListeners  listeners[Movement]
}

// listeners are the functions told of one kind of event inside the
// transaction that records it; the first error rolls the event back.
type listeners[T any] struct {
	mu  sync.RWMutex
	fns []func(ctx context.Context, tx *sqlx.Tx, v T) error
}

func (l *listeners[T]) add(fn func(ctx context.Context, tx *sqlx.Tx, v T) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.fns = append(l.fns, fn)
}

// tell calls every listener with v; what names the event in an error.
func (l *listeners[T]) tell(ctx context.Context, tx *sqlx.Tx, v T, what string) error {
	l.mu.RLock()
	fns := l.fns
	l.mu.RUnlock()
	for _, fn := range fns {
		if err := fn(ctx, tx, v); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// StatusListener is told that a payment's status moved, inside the
// transaction that records the move (a webhook's, a job's, or the caller's
// own for a Tx method). An error rolls the move back: a webhook then answers
// 500 and Stripe delivers the event again; a job retries.
type StatusListener func(ctx context.Context, tx *sqlx.Tx, p Payment) error

// OnStatusChange registers fn for every status move, e.g. the reservation
// capability confirming a booking once its payment is authorized. Register
// listeners while wiring, before the service is used.
func (s *Service) OnStatusChange(fn StatusListener) { s.statusListeners.add(fn) }

func (s *Service) statusMoved(ctx context.Context, tx *sqlx.Tx, p Payment) error {
	return s.statusListeners.tell(ctx, tx, p, "status listener for payment "+p.ID.String())
}

// The kinds of outbox job this package runs.
const (
	jobCreateIntent = "payment.create_intent"
	jobCapture      = "payment.capture"
	jobRelease      = "payment.release"
	jobIncrement    = "payment.increment"
	jobRefund       = "payment.refund"
)

// NewService returns the payment service and registers its jobs on outbox.
func NewService(d *sqlx.DB, st *Stripe, outbox Outbox, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Currency == "" {
		opts.Currency = "CNY"
	}
	s := &Service{db: d, stripe: st, outbox: outbox, store: store{db: d}, opts: opts}
	outbox.Handle(jobCreateIntent, s.runCreateIntent)
	outbox.Handle(jobCapture, s.runCapture)
	outbox.Handle(jobRelease, s.runRelease)
	outbox.Handle(jobIncrement, s.runIncrement)
	outbox.Handle(jobRefund, s.runRefund)
	return s
}

// Mode says which Stripe the service talks to: mock, test or live.
func (s *Service) Mode() string { return s.stripe.Mode }

// Idempotency keys, derived from our own ids. A retried job sends the same
// key, so Stripe performs the call once.
func intentKey(p Payment) string {
	if p.Kind == KindCharge {
		return "pay_" + p.ID.String() + "_charge"
	}
	return "pay_" + p.ID.String() + "_authorize"
}
func captureKey(id uuid.UUID) string { return "pay_" + id.String() + "_capture" }
func releaseKey(id uuid.UUID) string { return "pay_" + id.String() + "_release" }
func incrementKey(id uuid.UUID, amount int64) string {
	return "pay_" + id.String() + "_increment_" + strconv.FormatInt(amount, 10)
}
func refundKey(id uuid.UUID) string   { return "refund_" + id.String() }
func customerKey(id uuid.UUID) string { return "cus_" + id.String() }

// jobPayload is what the payment jobs carry.
type jobPayload struct {
	PaymentID uuid.UUID `json:"payment_id,omitempty"`
	RefundID  uuid.UUID `json:"refund_id,omitempty"`
	Amount    int64     `json:"amount,omitempty"`
}

// Process runs at once the Stripe calls queued for a payment that no worker
// holds, and returns the payment as recorded afterwards. Callers of the Tx
// methods call it after their commit to answer with the outcome; without it
// the worker makes the calls within a second or so.
func (s *Service) Process(ctx context.Context, id uuid.UUID) (Payment, error) {
	keys := []string{"pay_" + id.String() + "_authorize", "pay_" + id.String() + "_charge", captureKey(id), releaseKey(id)}
	if p, err := s.store.payment(ctx, s.db, id); err == nil && p.IncrementRequested != nil {
		keys = append(keys, incrementKey(id, *p.IncrementRequested))
	}
	if err := s.outbox.RunNow(ctx, keys...); err != nil {
		// Left to the worker, which retries with backoff.
		s.opts.Log.WarnContext(ctx, "payment: Stripe call failed; the worker will retry", "payment_id", id, "err", err)
	}
	return s.store.payment(ctx, s.db, id)
}

// ProcessSoon leaves a payment's queued Stripe calls to the worker and asks
// this process's worker to start on them now: for a caller that answers
// before Stripe does (a booking with a saved card: the reservation is
// confirmed when the authorisation is reported).
func (s *Service) ProcessSoon() { s.outbox.Wake() }

// Get returns a payment.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Payment, error) {
	return s.store.payment(ctx, s.db, id)
}

// History returns a payment's history, oldest first.
func (s *Service) History(ctx context.Context, id uuid.UUID) ([]HistoryEntry, error) {
	return s.store.history(ctx, id)
}

// List returns a page of payments, newest first, and the next page's cursor.
func (s *Service) List(ctx context.Context, f Filter, p page.Request) ([]Payment, *string, error) {
	items, err := s.store.list(ctx, f, p)
	if err != nil {
		return nil, nil, err
	}
	next := page.Next(items, p.Limit, func(x Payment) (time.Time, uuid.UUID) { return x.CreatedAt, x.ID })
	return items, next, nil
}

// observe applies what Stripe told about a locked payment: it moves the
// payment forward (never back), stores it and writes a history line when its
// status or amounts changed.
func (s *Service) observe(ctx context.Context, tx *sqlx.Tx, p Payment, o observation) (Payment, error) {
	next, moved, changed := evolve(p, p.captureTried, o)
	if o.CaptureDeclined && moved {
		next.captureTried = true
	}
	if !changed && next.captureTried == p.captureTried {
		return p, nil
	}
	if err := s.store.updatePayment(ctx, tx, next); err != nil {
		return p, err
	}
	amountsMoved := next.AmountCaptured != p.AmountCaptured || next.AmountRefunded != p.AmountRefunded
	raised := next.AmountAuthorized != p.AmountAuthorized
	if !moved && !amountsMoved && !raised {
		return next, nil
	}
	detail := o.Detail
	if moved && next.Status == StatusFailed && o.FailureMessage != "" {
		detail = strings.TrimSpace(o.FailureCode + ": " + o.FailureMessage)
	}
	if raised {
		detail = strings.TrimSpace(fmt.Sprintf("%s hold raised from %d to %d %s", detail, p.AmountAuthorized, next.AmountAuthorized, next.Currency))
	}
	if amountsMoved {
		detail = strings.TrimSpace(fmt.Sprintf("%s captured %d, refunded %d %s", detail, next.AmountCaptured, next.AmountRefunded, next.Currency))
	}
	from := p.Status
	if err := s.store.addHistory(ctx, tx, p.ID, HistoryEntry{
		FromStatus: &from, Status: next.Status, Event: o.Event, Amount: o.Amount,
		Detail: detail, Source: o.Source, StripeEventID: o.StripeEventID,
	}); err != nil {
		return p, err
	}
	if moved {
		if err := s.statusMoved(ctx, tx, next); err != nil {
			return p, err
		}
	}
	if err := s.observedMovements(ctx, tx, p, next, o, moved); err != nil {
		return p, err
	}
	return next, nil
}

// note writes a history line that changes nothing, e.g. a request.
func (s *Service) note(ctx context.Context, tx *sqlx.Tx, p Payment, event string, amount *int64, detail string) error {
	return s.store.addHistory(ctx, tx, p.ID, HistoryEntry{
		Status: p.Status, Event: event, Amount: amount, Detail: detail, Source: "request",
	})
}

// stripeError classifies a failed Stripe call. permanent is true when
// Stripe answered with a refusal that the same request will always get (a
// decline, an invalid request); anything else (network, 5xx, 429, a
// concurrent use of the idempotency key) is worth retrying.
func stripeError(err error) (se *stripe.Error, permanent bool) {
	if !errors.As(err, &se) {
		return nil, false
	}
	switch {
	case se.HTTPStatusCode == 402, se.Type == stripe.ErrorTypeCard:
		return se, true
	case se.HTTPStatusCode == 400, se.HTTPStatusCode == 404:
		return se, se.Code != stripe.ErrorCodeIdempotencyKeyInUse && se.Code != stripe.ErrorCodeLockTimeout
	}
	return se, false
}

// failureOf returns the code and message of a refusal for the record.
func failureOf(se *stripe.Error) (code, msg string) {
	code = string(se.Code)
	if se.DeclineCode != "" {
		code = string(se.DeclineCode)
	}
	if code == "" {
		code = string(se.Type)
	}
	return code, se.Msg
}

// providerError turns a failed Stripe call made on a request's behalf into
// the service's error: a decline is a payment failure, a refusal of our own
// request a defect, anything else an outage.
func providerError(err error) error {
	se, permanent := stripeError(err)
	switch {
	case se != nil && (se.HTTPStatusCode == 402 || se.Type == stripe.ErrorTypeCard):
		code, msg := failureOf(se)
		return &apperr.Error{Kind: apperr.KindPaymentFailed, Code: "payment_declined", Detail: "the card was declined: " + msg,
			Meta: map[string]any{"decline_code": code}, Err: err}
	case permanent:
		return fmt.Errorf("stripe refused the request: %w", err)
	}
	return &apperr.Error{Kind: apperr.KindDependency, Code: "payment_provider_unavailable",
		Detail: "the payment provider did not answer; try again shortly", Err: err}
}
