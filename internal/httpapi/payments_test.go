package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/idempotency"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

// paymentParts is the payment capability as main wires it in mock mode:
// the service on stripe-mock, the outbox, and the dev relay delivering
// signed events to the app's own webhook endpoint.
type paymentParts struct {
	svc   *payment.Service
	queue *worker.Queue
	idem  *idempotency.Store
}

func newPaymentParts(t *testing.T, d *sqlx.DB, cfg config.Config, ident *identity.Service, app func() *fiber.App) paymentParts {
	t.Helper()
	log := testenv.Logger(t)
	st := payment.NewStripe(cfg.StripeSecretKey, testenv.StripeMockURL(t), string(cfg.StripeMode))
	q := worker.NewQueue(d, worker.Options{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Log: log})
	relay := payment.NewMockEventRelay(cfg.StripeWebhook, func(ctx context.Context, payload []byte, sig string) error {
		req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/stripe", bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Stripe-Signature", sig)
		res, err := app().Test(req, -1)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook endpoint answered %d", res.StatusCode)
		}
		return nil
	}, log)
	svc := payment.NewService(d, st, q, payment.Options{
		Currency: cfg.Currency, WebhookSecret: cfg.StripeWebhook, Relay: relay, Log: log,
		Contacts: func(ctx context.Context, id uuid.UUID) (payment.Contact, error) {
			u, err := ident.User(ctx, id)
			return payment.Contact{Email: u.Email, Name: u.DisplayName, Phone: u.Phone}, err
		},
	})
	return paymentParts{svc: svc, queue: q, idem: idempotency.NewStore(d)}
}

// savedCard saves a test card over HTTP and returns its id.
func (h *harness) savedCard(t *testing.T, s session) string {
	t.Helper()
	h.cl.As(s.AccessToken).Post("/v1/me/payment-methods/setup-intent", map[string]string{"payment_method": "pm_card_visa"}).Expect(201)
	var list struct {
		Items []struct{ ID string }
	}
	h.cl.As(s.AccessToken).Get("/v1/me/payment-methods").Expect(200).JSON(&list)
	if len(list.Items) == 0 {
		t.Fatal("no card after saving one")
	}
	return list.Items[len(list.Items)-1].ID
}

// capturedPayment makes a payment of amount for s, authorised and captured
// through the service as the reservation code will.
func (h *harness) capturedPayment(t *testing.T, s session, amount int64) payment.Payment {
	t.Helper()
	ctx := context.Background()
	p, err := h.pay.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: payment.Purpose{Kind: "reservation", ID: uuid.New()},
		UserID: mustUUID(t, s.UserID), Amount: amount, OffSession: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = h.pay.svc.Capture(ctx, p.ID, amount); err != nil || p.Status != payment.StatusSucceeded {
		t.Fatalf("capture: %+v, %v", p, err)
	}
	return p
}

func TestSavedCardsOverHTTP(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	wang := h.account(t, "wang@example.cn", identity.RoleResident)

	si := h.cl.As(li.AccessToken).Post("/v1/me/payment-methods/setup-intent", nil).Expect(201).Map()
	if si["client_secret"] == "" || si["status"] == "" {
		t.Errorf("setup intent %v", si)
	}
	first := h.savedCard(t, li)
	second := h.savedCard(t, li)
	var list struct {
		Items []struct {
			ID, Brand, Last4 string
			IsDefault        bool `json:"is_default"`
		}
	}
	h.cl.As(li.AccessToken).Get("/v1/me/payment-methods").Expect(200).JSON(&list)
	if len(list.Items) != 2 || list.Items[0].ID != first || !list.Items[0].IsDefault || list.Items[1].IsDefault ||
		list.Items[0].Brand != "visa" || list.Items[0].Last4 != "4242" {
		t.Fatalf("cards %+v", list.Items)
	}
	h.cl.As(wang.AccessToken).Get("/v1/me/payment-methods").Expect(200).JSON(&list)
	if len(list.Items) != 0 {
		t.Errorf("another resident sees %d cards", len(list.Items))
	}
	// Another resident's card does not exist for wang.
	h.cl.As(wang.AccessToken).Put("/v1/me/payment-methods/"+first+"/default", nil).Problem(404, "not_found")
	h.cl.As(wang.AccessToken).Delete("/v1/me/payment-methods/"+first).Problem(404, "not_found")

	res := h.cl.As(li.AccessToken).Put("/v1/me/payment-methods/"+second+"/default", nil).Expect(200).Map()
	if res["is_default"] != true {
		t.Errorf("new default %v", res)
	}
	h.cl.As(li.AccessToken).Delete("/v1/me/payment-methods/" + second).Expect(204)
	h.cl.As(li.AccessToken).Get("/v1/me/payment-methods").Expect(200).JSON(&list)
	if len(list.Items) != 1 || list.Items[0].ID != first || !list.Items[0].IsDefault {
		t.Errorf("after removing the default: %+v", list.Items)
	}
	p := h.cl.As(li.AccessToken).Unchecked().Post("/v1/me/payment-methods/setup-intent", map[string]string{"payment_method": "tok_visa"}).Problem(400, "validation_failed")
	if !p.HasField("payment_method") {
		t.Errorf("problem %+v does not name payment_method", p)
	}
}

func TestPaymentsAreScopedToTheirOwner(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	wang := h.account(t, "wang@example.cn", identity.RoleResident)
	fin := h.account(t, "fin@example.cn", identity.RoleFinance)
	h.savedCard(t, li)
	h.savedCard(t, wang)
	mine := h.capturedPayment(t, li, 5000)
	theirs := h.capturedPayment(t, wang, 7000)
	pending, err := h.pay.svc.Authorize(context.Background(), payment.AuthorizeRequest{
		Purpose: payment.Purpose{Kind: "reservation", ID: uuid.New()}, UserID: mustUUID(t, li.UserID), Amount: 900})
	if err != nil {
		t.Fatal(err)
	}

	var list struct {
		Items []struct {
			ID           string
			Status       string
			ClientSecret *string `json:"client_secret"`
		}
		NextCursor *string `json:"next_cursor"`
	}
	h.cl.As(li.AccessToken).Get("/v1/payments?user_id=" + wang.UserID).Expect(200).JSON(&list)
	if len(list.Items) != 2 || list.Items[0].ID != pending.ID.String() || list.Items[1].ID != mine.ID.String() {
		t.Fatalf("li's payments %+v: want hers, newest first, whatever the filter", list.Items)
	}
	if list.Items[0].ClientSecret == nil || *list.Items[0].ClientSecret == "" {
		t.Error("the payer does not see the client secret of a payment waiting for her")
	}
	h.cl.As(li.AccessToken).Get("/v1/payments/"+theirs.ID.String()).Problem(404, "not_found")

	h.cl.As(fin.AccessToken).Get("/v1/payments?limit=2").Expect(200).JSON(&list)
	if len(list.Items) != 2 || list.NextCursor == nil || list.Items[0].ClientSecret != nil {
		t.Fatalf("finance's first page %+v", list)
	}
	h.cl.As(fin.AccessToken).Get("/v1/payments?limit=2&cursor=" + *list.NextCursor).Expect(200).JSON(&list)
	if len(list.Items) != 1 || list.Items[0].ID != mine.ID.String() {
		t.Errorf("finance's second page %+v", list.Items)
	}
	h.cl.As(fin.AccessToken).Get("/v1/payments?status=succeeded&user_id=" + wang.UserID).Expect(200).JSON(&list)
	if len(list.Items) != 1 || list.Items[0].ID != theirs.ID.String() {
		t.Errorf("filtered %+v", list.Items)
	}
	h.cl.As(fin.AccessToken).Unchecked().Get("/v1/payments?status=paid").Problem(400, "validation_failed")
	for _, field := range []string{"user_id", "purpose_id"} {
		if p := h.cl.As(fin.AccessToken).Unchecked().Get("/v1/payments?"+field+"=nope").Problem(400, "validation_failed"); !p.HasField(field) {
			t.Errorf("a bad %s: errors %+v do not name it", field, p.Errors)
		}
	}

	var detail struct {
		Payment struct {
			Status         string
			AmountCaptured int64 `json:"amount_captured"`
		}
		History []struct{ Event, Status, Source string }
		Refunds []any
	}
	h.cl.As(fin.AccessToken).Get("/v1/payments/" + theirs.ID.String()).Expect(200).JSON(&detail)
	if detail.Payment.Status != "succeeded" || detail.Payment.AmountCaptured != 7000 || len(detail.History) < 4 || detail.Refunds == nil {
		t.Errorf("detail %+v", detail)
	}
	last := detail.History[len(detail.History)-1]
	if last.Event != "payment_intent.succeeded" || last.Source != "webhook" {
		t.Errorf("last history line %+v: want the succeeded event from the webhook", last)
	}
}

func refundPath(p payment.Payment) string { return "/v1/payments/" + p.ID.String() + "/refunds" }

func TestRefundsNeedAnIdempotencyKeyAndReplay(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	fin := h.account(t, "fin@example.cn", identity.RoleFinance)
	h.savedCard(t, li)
	p := h.capturedPayment(t, li, 9000)
	body := map[string]any{"amount": 2500, "reason": "service_issue", "note": "the car was not cleaned"}

	h.cl.As(li.AccessToken).With("Idempotency-Key", "r-1").Post(refundPath(p), body).Problem(403, "forbidden")
	h.cl.As(fin.AccessToken).Unchecked().Post(refundPath(p), body).Problem(400, "idempotency_key_required")

	first := h.cl.As(fin.AccessToken).With("Idempotency-Key", "r-1").Post(refundPath(p), body).Expect(201)
	again := h.cl.As(fin.AccessToken).With("Idempotency-Key", "r-1").Post(refundPath(p), body).Expect(201)
	if !bytes.Equal(first.Body, again.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay differs:\n%s\n%s", first.Body, again.Body)
	}
	if ref := first.Map(); ref["status"] != "succeeded" || ref["amount"] != float64(2500) || ref["stripe_refund_id"] == nil {
		t.Errorf("refund %v", ref)
	}
	other := map[string]any{"amount": 2600, "reason": "service_issue"}
	h.cl.As(fin.AccessToken).With("Idempotency-Key", "r-1").Post(refundPath(p), other).Problem(422, "idempotency_key_reused")
	h.cl.As(fin.AccessToken).With("Idempotency-Key", "r-2").Post(refundPath(p), map[string]any{"amount": 6501, "reason": "duplicate"}).
		Problem(409, "refund_exceeds_captured")
	h.cl.As(fin.AccessToken).Unchecked().With("Idempotency-Key", "r-3").Post(refundPath(p), map[string]any{}).Problem(400, "validation_failed")
	h.cl.As(fin.AccessToken).With("Idempotency-Key", "r-4").Post("/v1/payments/"+uuid.NewString()+"/refunds", body).Problem(404, "not_found")

	var n int
	_ = h.db.Get(&n, `SELECT count(*) FROM refunds`)
	if n != 1 {
		t.Errorf("%d refunds, want 1", n)
	}
	var detail struct {
		Payment struct {
			AmountRefunded   int64 `json:"amount_refunded"`
			AmountRefundable int64 `json:"amount_refundable"`
		}
		Refunds []struct{ Note string }
	}
	h.cl.As(li.AccessToken).Get("/v1/payments/" + p.ID.String()).Expect(200).JSON(&detail)
	if detail.Payment.AmountRefunded != 2500 || detail.Payment.AmountRefundable != 6500 || len(detail.Refunds) != 1 {
		t.Errorf("after a refund: %+v", detail)
	}
}

// TestConcurrentRefundsNeverExceedTheCapturedAmount races refund requests:
// together they ask for more than was captured; the database lets exactly
// as many through as fit.
func TestConcurrentRefundsNeverExceedTheCapturedAmount(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	fin := h.account(t, "fin@example.cn", identity.RoleFinance)
	ops := h.account(t, "ops@example.cn", identity.RoleOperator)
	h.savedCard(t, li)
	p := h.capturedPayment(t, li, 10000)

	// The same request sent many times at once is one refund.
	same := make([]int, 6)
	var wg sync.WaitGroup
	for i := range same {
		wg.Add(1)
		go func() {
			defer wg.Done()
			same[i] = h.cl.As(fin.AccessToken).With("Idempotency-Key", "same-key").
				Post(refundPath(p), map[string]any{"amount": 1, "reason": "duplicate"}).Status
		}()
	}
	wg.Wait()

	const requests = 16 // 16 × 1000 asked, 9 999 left
	statuses := make([]int, requests)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := fin
			if i%2 == 1 {
				who = ops
			}
			statuses[i] = h.cl.As(who.AccessToken).With("Idempotency-Key", fmt.Sprintf("race-%d", i)).
				Post(refundPath(p), map[string]any{"amount": 1000, "reason": "requested_by_customer"}).Status
		}()
	}
	wg.Wait()
	created, refused := 0, 0
	for _, st := range statuses {
		switch st {
		case 201:
			created++
		case 409:
			refused++
		default:
			t.Errorf("status %d", st)
		}
	}
	var stored, refunded int64
	_ = h.db.Get(&stored, `SELECT count(*) FROM refunds WHERE idempotency_key = 'same-key'`)
	if stored != 1 {
		t.Errorf("the same key made %d refunds (statuses %v), want 1", stored, same)
	}
	_ = h.db.Get(&refunded, `SELECT amount_refunded FROM payments WHERE id = $1`, p.ID)
	var sum int64
	_ = h.db.Get(&sum, `SELECT COALESCE(sum(amount), 0) FROM refunds WHERE payment_id = $1 AND status <> 'failed'`, p.ID)
	if refunded > 10000 || sum != refunded {
		t.Errorf("refunded %d (refund rows %d) of 10000 captured", refunded, sum)
	}
	// One unit went to the same-key refund, so nine of the 1000s fit.
	if created != 9 || refused != requests-9 {
		t.Errorf("%d refunds made and %d refused, want 9 and %d", created, refused, requests-9)
	}
}

func signedEvent(t *testing.T, secret, id, typ string, object map[string]any) ([]byte, string) {
	t.Helper()
	payload := fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"livemode":false,"type":%q,"data":{"object":%s}}`,
		id, time.Now().Unix(), typ, mustJSON(t, object))
	return payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret}).Header
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) webhook(payload []byte, sig string) *testenv.Response {
	req := httptest.NewRequest(http.MethodPost, "/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	return h.cl.Unchecked().Send(req)
}

func TestStripeWebhookEndpoint(t *testing.T) {
	h := newHarness(t, nil)
	li := h.account(t, "li@example.cn", identity.RoleResident)
	p, err := h.pay.svc.Authorize(context.Background(), payment.AuthorizeRequest{
		Purpose: payment.Purpose{Kind: "reservation", ID: uuid.New()}, UserID: mustUUID(t, li.UserID), Amount: 4200})
	if err != nil {
		t.Fatal(err)
	}
	intent := map[string]any{"id": p.PaymentIntentID, "object": "payment_intent", "amount": 4200, "amount_capturable": 4200,
		"status": "requires_capture", "metadata": map[string]string{"payment_id": p.ID.String()}}
	payload, sig := signedEvent(t, h.cfg.StripeWebhook, "evt_http_1", "payment_intent.amount_capturable_updated", intent)
	stored := func() (n int) { _ = h.db.Get(&n, `SELECT count(*) FROM stripe_events`); return n }

	h.webhook(payload, "").Problem(400, "signature_missing")
	_, forged := signedEvent(t, "whsec_forged", "evt_http_1", "payment_intent.amount_capturable_updated", intent)
	h.webhook(payload, forged).Problem(400, "signature_invalid")
	if n := stored(); n != 0 {
		t.Fatalf("%d events stored from unsigned or forged deliveries", n)
	}
	if got, _ := h.pay.svc.Get(context.Background(), p.ID); got.Status != payment.StatusRequiresAction {
		t.Fatalf("a forged event moved the payment to %s", got.Status)
	}

	res := h.webhook(payload, sig).Expect(200).Map()
	if res["duplicate"] != false || res["outcome"] != "applied" {
		t.Errorf("first delivery %v", res)
	}
	res = h.webhook(payload, sig).Expect(200).Map()
	if res["duplicate"] != true {
		t.Errorf("redelivery %v, want a duplicate", res)
	}
	if got, _ := h.pay.svc.Get(context.Background(), p.ID); got.Status != payment.StatusAuthorized {
		t.Errorf("status %s after the event, want authorized", got.Status)
	}
	unknown, usig := signedEvent(t, h.cfg.StripeWebhook, "evt_http_2", "invoice.finalized", map[string]any{"id": "in_1", "object": "invoice"})
	if res := h.webhook(unknown, usig).Expect(200).Map(); res["outcome"] != "ignored" {
		t.Errorf("unknown event type %v, want acknowledged and ignored", res)
	}
	if n := stored(); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
}
