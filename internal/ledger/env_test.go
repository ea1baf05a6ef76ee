package ledger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/ledger/payfeed"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	ctx   = context.Background()
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

const webhookSecret = "whsec_test_ledger"

// faulty is a proxy in front of stripe-mock that can answer a request with
// an error instead, the way Stripe declines or refuses.
type faulty struct {
	URL    string
	target string
	mu     sync.Mutex
	faults map[string]fault // by method + " " + path suffix
}

type fault struct {
	status int
	body   string
	times  int
}

func newFaulty(t *testing.T) *faulty {
	t.Helper()
	f := &faulty{target: testenv.StripeMockURL(t), faults: map[string]fault{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// fail makes the next times requests of method to a path ending in suffix
// get status and body.
func (f *faulty) fail(method, suffix string, times, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[method+" "+suffix] = fault{status: status, body: body, times: times}
}

func (f *faulty) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	for k, ft := range f.faults {
		m, suffix, _ := strings.Cut(k, " ")
		if ft.times > 0 && r.Method == m && strings.HasSuffix(r.URL.Path, suffix) {
			ft.times--
			f.faults[k] = ft
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(ft.status)
			_, _ = io.WriteString(w, ft.body)
			return
		}
	}
	f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, f.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

const (
	declined = `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`
	refused  = `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge has already been refunded."}}`
)

// env is the payment service on stripe-mock (behind the fault proxy) with
// the dev relay, and the ledger wired to it as main wires them.
type env struct {
	db    *sqlx.DB
	pay   *payment.Service
	led   *ledger.Service
	ident *identity.Service
	proxy *faulty
	now   func() time.Time
	user  uuid.UUID
	fx    *fixture
}

// envOptions change what the ledger is built with.
type envOptions struct {
	stripeURL string // where the ledger reads balance transactions; empty: nowhere
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	return newEnvOn(t, testenv.DB(t), o)
}

func newEnvOn(t *testing.T, d *sqlx.DB, o envOptions) *env {
	t.Helper()
	proxy := newFaulty(t)
	st := payment.NewStripeClient(payment.StripeConfig{Key: "sk_test_mock", APIBase: proxy.URL, Mode: "mock",
		NetworkRetries: stripe.Int64(0), HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	q := worker.NewQueue(d, worker.Options{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Lease: 2 * time.Second, Log: quiet})
	ident := identity.NewService(d, identity.Options{SigningKey: []byte("test-signing-key-0123456789abcdef0123456789"),
		AccessTTL: time.Minute, RefreshTTL: time.Hour, Location: time.UTC, Log: quiet})
	var pay *payment.Service
	relay := payment.NewMockEventRelay(webhookSecret, func(ctx context.Context, payload []byte, sig string) error {
		_, err := pay.ReceiveWebhook(ctx, payload, sig)
		return err
	}, quiet)
	pay = payment.NewService(d, st, q, payment.Options{Currency: "CNY", WebhookSecret: webhookSecret, Relay: relay, Log: quiet,
		Contacts: func(ctx context.Context, id uuid.UUID) (payment.Contact, error) {
			u, err := ident.User(ctx, id)
			return payment.Contact{Email: u.Email, Name: u.DisplayName, Phone: u.Phone}, err
		}})
	lopts := ledger.Options{Currency: "CNY", Log: quiet}
	if o.stripeURL != "" {
		lopts.Stripe = payfeed.Stripe(payment.NewStripe("sk_test_ledger", o.stripeURL, "test"))
	}
	led := ledger.NewService(d, lopts)
	payfeed.Book(led, pay)
	return &env{db: d, pay: pay, led: led, ident: ident, proxy: proxy, now: time.Now}
}

// resident makes a resident with a saved default card; the first one made
// is the env's user.
func (e *env) resident(t *testing.T) uuid.UUID {
	t.Helper()
	u, err := e.ident.CreateUser(ctx, identity.NewAccount{Email: uuid.NewString()[:8] + "@example.cn",
		Password: "correct-horse-battery", DisplayName: "李娜", Phone: "+8613800000000"}, []identity.Role{identity.RoleResident})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.pay.CreateSetupIntent(ctx, u.ID, payment.SetupRequest{PaymentMethod: "pm_card_visa"}); err != nil {
		t.Fatal(err)
	}
	if e.user == uuid.Nil {
		e.user = u.ID
	}
	return u.ID
}

// authorized holds amount on the env user's card for purpose.
func (e *env) authorized(t *testing.T, purpose payment.Purpose, amount int64) payment.Payment {
	t.Helper()
	p, err := e.pay.Authorize(ctx, payment.AuthorizeRequest{Purpose: purpose, UserID: e.user, Amount: amount, OffSession: true})
	if err != nil || p.Status != payment.StatusAuthorized {
		t.Fatalf("authorize %d: %+v, %v", amount, p, err)
	}
	return p
}

// captured authorises hold and captures amount of it.
func (e *env) captured(t *testing.T, purpose payment.Purpose, hold, amount int64) payment.Payment {
	t.Helper()
	p := e.authorized(t, purpose, hold)
	p, err := e.pay.Capture(ctx, p.ID, amount)
	if err != nil || p.Status != payment.StatusSucceeded || p.AmountCaptured != amount {
		t.Fatalf("capture %d: %+v, %v", amount, p, err)
	}
	return p
}

// charged charges amount off-session for purpose.
func (e *env) charged(t *testing.T, purpose payment.Purpose, amount int64) payment.Payment {
	t.Helper()
	p, err := e.pay.ChargeOffSession(ctx, payment.ChargeRequest{Purpose: purpose, UserID: e.user, Amount: amount})
	if err != nil || p.Status != payment.StatusSucceeded {
		t.Fatalf("charge %d: %+v, %v", amount, p, err)
	}
	return p
}

// refund gives back amount of a captured payment.
func (e *env) refund(t *testing.T, p payment.Payment, amount int64) payment.Refund {
	t.Helper()
	r, err := e.pay.Refund(ctx, payment.RefundRequest{PaymentID: p.ID, Amount: amount, Reason: payment.ReasonServiceIssue,
		IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatalf("refund %d: %v", amount, err)
	}
	return r
}

// event delivers a signed Stripe event to the payment service.
func (e *env) event(t *testing.T, typ string, object map[string]any) {
	t.Helper()
	id := "evt_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	b, _ := json.Marshal(object)
	payload := fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":"2023-10-16","created":%d,"livemode":false,"type":%q,"data":{"object":%s}}`,
		id, time.Now().Unix(), typ, b)
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: webhookSecret}).Header
	if _, err := e.pay.ReceiveWebhook(ctx, payload, sig); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
}

func (e *env) get(t *testing.T, id uuid.UUID) payment.Payment {
	t.Helper()
	p, err := e.pay.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// entries renders the journal entries of payments, oldest first, one
// string each: "event: Dr account amount | Cr account amount | …", a memo
// as "event: memo".
func (e *env) entries(t *testing.T, payments ...uuid.UUID) []string {
	t.Helper()
	var out []string
	for _, pid := range payments {
		id := pid
		es, _, err := e.led.Journal(ctx, ledger.JournalFilter{PaymentID: &id}, pageAll)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			out = append(out, render(en))
		}
	}
	return out
}

func render(en ledger.Entry) string {
	if en.Memo {
		return string(en.Event) + ": memo"
	}
	parts := make([]string, len(en.Lines))
	for i, l := range en.Lines {
		if l.Debit > 0 {
			parts[i] = fmt.Sprintf("Dr %s %d", l.Account, l.Debit)
		} else {
			parts[i] = fmt.Sprintf("Cr %s %d", l.Account, l.Credit)
		}
	}
	return string(en.Event) + ": " + strings.Join(parts, " | ")
}
