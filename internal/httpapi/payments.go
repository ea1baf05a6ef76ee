package httpapi

import (
	"bytes"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// moneyStaff may see every payment and refund them.
var moneyStaff = []identity.Role{identity.RoleOperator, identity.RoleFinance, identity.RoleAdmin}

type setupIntentRequest struct {
	PaymentMethod *string `json:"payment_method"`
}

type setupIntentJSON struct {
	ID           string `json:"id"`
	ClientSecret string `json:"client_secret"`
	Status       string `json:"status"`
	CustomerID   string `json:"customer_id"`
}

// createSetupIntent answers a SetupIntent for the app to save a card. The
// body is optional: with a payment_method the server confirms it at once.
func (s *server) createSetupIntent(c *fiber.Ctx) error {
	var req setupIntentRequest
	if len(bytes.TrimSpace(c.Body())) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	r := payment.SetupRequest{RequestKey: c.Get(headerIdempotencyKey)}
	if req.PaymentMethod != nil {
		r.PaymentMethod = *req.PaymentMethod
	}
	si, err := s.payments.CreateSetupIntent(c.UserContext(), principal(c).UserID, r)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(setupIntentJSON{ID: si.ID, ClientSecret: si.ClientSecret, Status: si.Status, CustomerID: si.CustomerID})
}

type cardJSON struct {
	ID        string    `json:"id"`
	Brand     string    `json:"brand"`
	Last4     string    `json:"last4"`
	ExpMonth  int       `json:"exp_month"`
	ExpYear   int       `json:"exp_year"`
	IsDefault bool      `json:"is_default"`
	CreatedAt time.Time `json:"created_at"`
}

func toCardJSON(c payment.Card) cardJSON {
	return cardJSON{ID: c.ID, Brand: c.Brand, Last4: c.Last4, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		IsDefault: c.IsDefault, CreatedAt: c.CreatedAt}
}

func (s *server) listPaymentMethods(c *fiber.Ctx) error {
	cards, err := s.payments.Cards(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	out := struct {
		Items []cardJSON `json:"items"`
	}{Items: each(cards, toCardJSON)}
	return c.JSON(out)
}

func (s *server) setDefaultPaymentMethod(c *fiber.Ctx) error {
	card, err := s.payments.SetDefaultCard(c.UserContext(), principal(c).UserID, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toCardJSON(card))
}

func (s *server) deletePaymentMethod(c *fiber.Ctx) error {
	if err := s.payments.RemoveCard(c.UserContext(), principal(c).UserID, c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

type purposeJSON struct {
	Kind string    `json:"kind"`
	ID   uuid.UUID `json:"id"`
}

type failureJSON struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type stripeRefsJSON struct {
	CustomerID      *string `json:"customer_id"`
	PaymentIntentID *string `json:"payment_intent_id"`
	ChargeID        *string `json:"charge_id"`
}

type paymentJSON struct {
	ID               uuid.UUID      `json:"id"`
	Purpose          purposeJSON    `json:"purpose"`
	UserID           uuid.UUID      `json:"user_id"`
	Kind             string         `json:"kind"`
	Status           string         `json:"status"`
	Currency         string         `json:"currency"`
	AmountAuthorized int64          `json:"amount_authorized"`
	AmountCaptured   int64          `json:"amount_captured"`
	AmountRefunded   int64          `json:"amount_refunded"`
	AmountRefundable int64          `json:"amount_refundable"`
	PendingAction    *string        `json:"pending_action"`
	Description      string         `json:"description"`
	OffSession       bool           `json:"off_session"`
	Failure          *failureJSON   `json:"failure"`
	Stripe           stripeRefsJSON `json:"stripe"`
	ClientSecret     *string        `json:"client_secret"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// toPaymentJSON renders a payment for viewer; the client secret is shown
// only to the payer, and only while the app still has to confirm.
func toPaymentJSON(p payment.Payment, viewer uuid.UUID) paymentJSON {
	out := paymentJSON{
		ID: p.ID, Purpose: purposeJSON{Kind: p.Purpose.Kind, ID: p.Purpose.ID}, UserID: p.UserID,
		Kind: string(p.Kind), Status: string(p.Status), Currency: p.Currency,
		AmountAuthorized: p.AmountAuthorized, AmountCaptured: p.AmountCaptured, AmountRefunded: p.AmountRefunded,
		PendingAction: optional(p.PendingAction), Description: p.Description, OffSession: p.OffSession,
		Stripe:    stripeRefsJSON{optional(p.StripeCustomerID), optional(p.PaymentIntentID), optional(p.ChargeID)},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	if p.Status == payment.StatusSucceeded {
		out.AmountRefundable = p.AmountCaptured - p.AmountRefunded
	}
	if p.FailureCode != "" || p.FailureMessage != "" {
		out.Failure = &failureJSON{Code: p.FailureCode, Message: p.FailureMessage}
	}
	if viewer == p.UserID && p.Status == payment.StatusRequiresAction {
		out.ClientSecret = optional(p.ClientSecret)
	}
	return out
}

// canSeeAll reports whether the caller sees every payment, not only theirs.
func canSeeAll(c *fiber.Ctx) bool { return principal(c).Has(moneyStaff...) }

func (s *server) listPayments(c *fiber.Ctx) error {
	pg, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	var f payment.Filter
	var fe apperr.Fields
	if v := c.Query("status"); v != "" {
		st := payment.Status(v)
		if !slices.Contains(payment.Statuses, st) {
			fe.Add("status", "must be one of pending, requires_action, processing, authorized, succeeded, disputed, canceled, failed")
		}
		f.Status = &st
	}
	f.UserID = optionalUUID(&fe, "user_id", c.Query("user_id"))
	f.PurposeID = optionalUUID(&fe, "purpose_id", c.Query("purpose_id"))
	f.PurposeKind = c.Query("purpose_kind")
	if len(f.PurposeKind) > 32 {
		fe.Add("purpose_kind", "must be at most 32 characters")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	me := principal(c).UserID
	if !canSeeAll(c) {
		f.UserID = &me // a resident's list is theirs, whatever the filter says
	}
	items, next, err := s.payments.List(c.UserContext(), f, pg)
	if err != nil {
		return err
	}
	out := struct {
		Items      []paymentJSON `json:"items"`
		NextCursor *string       `json:"next_cursor"`
	}{Items: make([]paymentJSON, len(items)), NextCursor: next}
	for i, p := range items {
		out.Items[i] = toPaymentJSON(p, me)
	}
	return c.JSON(out)
}

type historyJSON struct {
	FromStatus    *string   `json:"from_status"`
	Status        string    `json:"status"`
	Event         string    `json:"event"`
	Amount        *int64    `json:"amount"`
	Detail        string    `json:"detail"`
	Source        string    `json:"source"`
	StripeEventID *string   `json:"stripe_event_id"`
	At            time.Time `json:"at"`
}

type refundJSON struct {
	ID             uuid.UUID  `json:"id"`
	PaymentID      uuid.UUID  `json:"payment_id"`
	Amount         int64      `json:"amount"`
	Currency       string     `json:"currency"`
	Reason         string     `json:"reason"`
	Note           string     `json:"note"`
	Status         string     `json:"status"`
	StripeRefundID *string    `json:"stripe_refund_id"`
	FailureReason  *string    `json:"failure_reason"`
	RequestedBy    *uuid.UUID `json:"requested_by"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func toRefundJSON(r payment.Refund) refundJSON {
	return refundJSON{ID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount, Currency: r.Currency, Reason: string(r.Reason),
		Note: r.Note, Status: string(r.Status), StripeRefundID: optional(r.StripeRefundID),
		FailureReason: optional(r.FailureReason), RequestedBy: r.RequestedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type paymentDetailJSON struct {
	Payment paymentJSON   `json:"payment"`
	History []historyJSON `json:"history"`
	Refunds []refundJSON  `json:"refunds"`
}

// visiblePayment returns the payment named in the path if the caller may
// see it: a resident's own, or any for staff and finance.
func (s *server) visiblePayment(c *fiber.Ctx) (payment.Payment, error) {
	id, err := pathUUID(c, "id", "payment")
	if err != nil {
		return payment.Payment{}, err
	}
	p, err := s.payments.Get(c.UserContext(), id)
	if err != nil {
		return payment.Payment{}, err
	}
	if p.UserID != principal(c).UserID && !canSeeAll(c) {
		return payment.Payment{}, apperr.NotFound("payment")
	}
	return p, nil
}

func (s *server) getPayment(c *fiber.Ctx) error {
	p, err := s.visiblePayment(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	history, err := s.payments.History(ctx, p.ID)
	if err != nil {
		return err
	}
	refunds, err := s.payments.Refunds(ctx, p.ID)
	if err != nil {
		return err
	}
	out := paymentDetailJSON{Payment: toPaymentJSON(p, principal(c).UserID),
		History: make([]historyJSON, len(history)), Refunds: make([]refundJSON, len(refunds))}
	for i, h := range history {
		out.History[i] = historyJSON{Status: string(h.Status), Event: h.Event, Amount: h.Amount, Detail: h.Detail,
			Source: h.Source, StripeEventID: optional(h.StripeEventID), At: h.At}
		if h.FromStatus != nil {
			out.History[i].FromStatus = optional(string(*h.FromStatus))
		}
	}
	for i, r := range refunds {
		out.Refunds[i] = toRefundJSON(r)
	}
	return c.JSON(out)
}

type refundRequest struct {
	Amount int64  `json:"amount"`
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

// Validate names the missing fields before the service checks the values.
func (r refundRequest) Validate() error {
	var f apperr.Fields
	if r.Amount <= 0 {
		f.Add("amount", "must be a positive amount in minor units")
	}
	if r.Reason == "" {
		f.Add("reason", "is required")
	}
	return f.Err()
}

func (s *server) createRefund(c *fiber.Ctx) error {
	p, err := s.visiblePayment(c)
	if err != nil {
		return err
	}
	var req refundRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	by := principal(c).UserID
	r, err := s.payments.Refund(c.UserContext(), payment.RefundRequest{PaymentID: p.ID, Amount: req.Amount,
		Reason: payment.RefundReason(req.Reason), Note: req.Note, IdempotencyKey: c.Get(headerIdempotencyKey), By: &by})
	if err != nil {
		return err
	}
	c.Location("/v1/payments/" + p.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toRefundJSON(r))
}
