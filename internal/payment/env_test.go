package payment_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/stripe/stripe-go/v76"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const webhookSecret = "whsec_test_payments"

// recorded is one request stripe-go sent towards Stripe.
type recorded struct {
	Method, Path, Key string
	Form              url.Values
	Forwarded         bool // it reached stripe-mock
}

// fault is what the proxy does instead of forwarding, for requests matching.
type fault struct {
	match  func(method, path string) bool
	times  int
	status int    // answer with this status and body, not forwarded
	body   string //
	drop   bool   // close the connection without an answer, not forwarded
	lose   bool   // forward to stripe-mock, then close without the answer
	hang   bool   // hold the request until the client goes away, not forwarded
}

// stripeProxy is a recording reverse proxy in front of the real
// stripe-mock: it shows what we sent (amounts, idempotency keys) and can
// fail requests the way a network or Stripe would.
type stripeProxy struct {
	URL    string
	target string
	mu     sync.Mutex
	log    []recorded
	faults []*fault
}

func newStripeProxy(t *testing.T) *stripeProxy {
	t.Helper()
	p := &stripeProxy{target: testenv.StripeMockURL(t)}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *stripeProxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	rec := recorded{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Form: form}
	p.mu.Lock()
	var f *fault
	for _, c := range p.faults {
		if c.times > 0 && c.match(r.Method, r.URL.Path) {
			c.times--
			f = c
			break
		}
	}
	p.mu.Unlock()
	record := func(forwarded bool) {
		rec.Forwarded = forwarded
		p.mu.Lock()
		p.log = append(p.log, rec)
		p.mu.Unlock()
	}
	switch {
	case f != nil && f.status != 0:
		record(false)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.body)
		return
	case f != nil && f.drop:
		record(false)
		hangUp(w)
		return
	case f != nil && f.hang:
		record(false)
		<-r.Context().Done()
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		record(false)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	record(true)
	if f != nil && f.lose {
		hangUp(w)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, res.Body)
}

func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// fail makes the next times requests matching method and a path suffix
// meet f.
func (p *stripeProxy) fail(method, suffix string, times int, f fault) {
	f.times = times
	f.match = func(m, path string) bool { return m == method && strings.HasSuffix(path, suffix) }
	p.mu.Lock()
	p.faults = append(p.faults, &f)
	p.mu.Unlock()
}

// requests returns the recorded requests to paths ending in suffix.
func (p *stripeProxy) requests(method, suffix string) []recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []recorded
	for _, r := range p.log {
		if r.Method == method && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

// withKey returns the recorded requests that carried key.
func (p *stripeProxy) withKey(key string) (sent, forwarded int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.log {
		if r.Key == key {
			sent++
			if r.Forwarded {
				forwarded++
			}
		}
	}
	return sent, forwarded
}

// env is the payment service on a fresh database, stripe-mock behind the
// recording proxy, the outbox, and the mock-mode relay delivering to the
// service's own webhook path.
type env struct {
	db    *sqlx.DB
	q     *worker.Queue
	svc   *payment.Service
	ident *identity.Service
	proxy *stripeProxy
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := testenv.DB(t)
	return newEnvOn(t, d, newStripeProxy(t))
}

// newEnvOn builds the service on an existing database and proxy, as a
// restarted process would.
func newEnvOn(t *testing.T, d *sqlx.DB, proxy *stripeProxy) *env {
	t.Helper()
	st := payment.NewStripeClient(payment.StripeConfig{Key: "sk_test_mock", APIBase: proxy.URL, Mode: "mock",
		NetworkRetries: stripe.Int64(0), HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	q := worker.NewQueue(d, worker.Options{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		Lease: 2 * time.Second, Log: quiet})
	ident := identity.NewService(d, identity.Options{SigningKey: []byte("test-signing-key-0123456789abcdef0123456789"),
		AccessTTL: time.Minute, RefreshTTL: time.Hour, Location: time.UTC, Log: quiet})
	var svc *payment.Service
	relay := payment.NewMockEventRelay(webhookSecret, func(ctx context.Context, payload []byte, sig string) error {
		_, err := svc.ReceiveWebhook(ctx, payload, sig)
		return err
	}, quiet)
	svc = payment.NewService(d, st, q, payment.Options{
		Currency: "CNY", WebhookSecret: webhookSecret, Relay: relay, Log: quiet,
		Contacts: func(ctx context.Context, id uuid.UUID) (payment.Contact, error) {
			u, err := ident.User(ctx, id)
			return payment.Contact{Email: u.Email, Name: u.DisplayName, Phone: u.Phone}, err
		},
	})
	return &env{db: d, q: q, svc: svc, ident: ident, proxy: proxy}
}

var ctx = context.Background()

// resident makes a resident and returns their id.
func (e *env) resident(t *testing.T, email string) uuid.UUID {
	t.Helper()
	u, err := e.ident.CreateUser(ctx, identity.NewAccount{Email: email, Password: "correct-horse-battery",
		DisplayName: "王芳", Phone: "+8613800000000"}, []identity.Role{identity.RoleResident})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// withCard saves a test card for the resident and returns its id.
func (e *env) withCard(t *testing.T, user uuid.UUID) string {
	t.Helper()
	if _, err := e.svc.CreateSetupIntent(ctx, user, payment.SetupRequest{PaymentMethod: "pm_card_visa"}); err != nil {
		t.Fatal(err)
	}
	cards, err := e.svc.Cards(ctx, user)
	if err != nil || len(cards) == 0 {
		t.Fatalf("cards after saving one: %+v, %v", cards, err)
	}
	return cards[len(cards)-1].ID
}

func reservation() payment.Purpose { return payment.Purpose{Kind: "reservation", ID: uuid.New()} }

// authorized returns an off-session authorisation of amount, authorized.
func (e *env) authorized(t *testing.T, user uuid.UUID, amount int64) payment.Payment {
	t.Helper()
	p, err := e.svc.Authorize(ctx, payment.AuthorizeRequest{Purpose: reservation(), UserID: user, Amount: amount, OffSession: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusAuthorized {
		t.Fatalf("authorize: status %s, want authorized", p.Status)
	}
	return p
}

// captured returns a payment of authorised amount with capture captured.
func (e *env) captured(t *testing.T, user uuid.UUID, amount, capture int64) payment.Payment {
	t.Helper()
	p := e.authorized(t, user, amount)
	p, err := e.svc.Capture(ctx, p.ID, capture)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != payment.StatusSucceeded || p.AmountCaptured != capture {
		t.Fatalf("capture: %s with %d captured, want succeeded with %d", p.Status, p.AmountCaptured, capture)
	}
	return p
}

func (e *env) outbox(t *testing.T, key string) (status string, attempts int) {
	t.Helper()
	var r struct {
		Status   string `db:"status"`
		Attempts int    `db:"attempts"`
	}
	if err := e.db.Get(&r, `SELECT status, attempts FROM outbox WHERE key = $1`, key); err != nil {
		t.Fatalf("outbox job %s: %v", key, err)
	}
	return r.Status, r.Attempts
}

func (e *env) events(t *testing.T, p payment.Payment) []string {
	t.Helper()
	h, err := e.svc.History(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(h))
	for i, x := range h {
		out[i] = x.Event + ":" + string(x.Status)
	}
	return out
}
