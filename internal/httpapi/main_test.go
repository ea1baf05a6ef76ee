package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/httpapi"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
	"github.com/hongqi-mobility/mobility/internal/reservation"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// harness is one service under test: a fresh database, the Fiber app on it
// and a contract-checking client.
type harness struct {
	app   *fiber.App
	cl    *testenv.Client
	db    *sqlx.DB
	cfg   config.Config
	ident *identity.Service
	fleet *fleet.Service
	plans *plans.Service
	pay   paymentParts
	res   *reservation.Service
	led   *ledger.Service
	// instance makes another server on the same database, as a second
	// process would be.
	instance func(t *testing.T) *harness
}

type harnessOption func(*identity.Options)

func withLimits(l identity.Limits) harnessOption {
	return func(o *identity.Options) { o.Limits = l }
}

func withClock(now func() time.Time) harnessOption {
	return func(o *identity.Options) { o.Now = now }
}

func newHarness(t *testing.T, env map[string]string, opts ...harnessOption) *harness {
	t.Helper()
	cfg := testenv.Config(t, env)
	url := testenv.DatabaseURL(t)
	return buildHarness(t, cfg, testenv.Connect(t, url), testenv.Connect(t, db.WithSettings(url, fleet.SearchSettings)), opts...)
}

// buildHarness wires every service on d (and searches on search), as main
// does.
func buildHarness(t *testing.T, cfg config.Config, d, search *sqlx.DB, opts ...harnessOption) *harness {
	t.Helper()
	log := testenv.Logger(t)
	iopts := identity.Options{
		SigningKey: cfg.TokenKey, AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL,
		Location: cfg.Location, Log: log,
	}
	for _, o := range opts {
		o(&iopts)
	}
	ident := identity.NewService(d, iopts)
	fl := fleet.NewService(d, fleet.Options{Now: iopts.Now, Location: cfg.Location, Log: log, Search: search})
	pl := plans.NewService(d, plans.Options{Now: iopts.Now, Location: cfg.Location, Log: log})
	var app *fiber.App
	pay := newPaymentParts(t, d, cfg, ident, func() *fiber.App { return app })
	res := reservation.NewService(d, reservation.Options{Identity: ident, Fleet: fl, Plans: pl, Payments: pay.svc,
		Location: cfg.Location, Now: iopts.Now, Log: log})
	pay.svc.OnStatusChange(res.PaymentUpdated)
	led := newLedger(t, d, cfg, pay.svc, iopts.Now)
	app = httpapi.New(httpapi.Deps{
		Log:          log,
		DB:           d,
		Config:       cfg,
		StripeMode:   string(cfg.StripeMode),
		StripeBase:   cfg.StripeAPIBase,
		Identity:     ident,
		Fleet:        fl,
		Plans:        pl,
		Payments:     pay.svc,
		Idempotency:  pay.idem,
		Reservations: res,
		Ledger:       led,
	})
	send := func(r *http.Request) (*http.Response, error) { return app.Test(r, -1) }
	h := &harness{app: app, cl: testenv.NewClient(t, send), db: d, cfg: cfg, ident: ident, fleet: fl, plans: pl, pay: pay, res: res,
		led: led}
	h.instance = func(t *testing.T) *harness { return buildHarness(t, cfg, d, search, opts...) }
	return h
}

// listen serves the app on a loopback listener and returns its address, for
// what app.Test cannot show (the server's own answer to an oversized body).
func (h *harness) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.app.Listener(ln) }()
	t.Cleanup(func() { _ = h.app.Shutdown() })
	return ln.Addr().String()
}

// session is a signed-in user as the tests see it.
type session struct {
	UserID       string
	Email        string
	AccessToken  string
	RefreshToken string
}

const testPassword = "correct-horse-battery"

// account makes a user with roles through the service, then signs in over
// HTTP and returns the session.
func (h *harness) account(t *testing.T, email string, roles ...identity.Role) session {
	t.Helper()
	if _, err := h.ident.CreateUser(context.Background(), identity.NewAccount{
		Email: email, Password: testPassword, DisplayName: email, Phone: "+8613900000000",
	}, roles); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return h.login(t, email, testPassword)
}

func (h *harness) login(t *testing.T, email, password string) session {
	t.Helper()
	var out struct {
		User   struct{ ID, Email string }
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
	}
	h.cl.Post("/v1/auth/login", map[string]string{"email": email, "password": password}).Expect(200).JSON(&out)
	return session{UserID: out.User.ID, Email: out.User.Email, AccessToken: out.Tokens.AccessToken, RefreshToken: out.Tokens.RefreshToken}
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
