// Package httpapi is the HTTP face of the service, built on Fiber: the whole
// API is declared in this file, handlers live in one file per capability,
// and every failure leaves through the one error handler in problem.go.
package httpapi

import (
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/idempotency"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
	"github.com/hongqi-mobility/mobility/internal/reservation"
)

// Deps are what the API needs, built once in main.
type Deps struct {
	Log        *slog.Logger
	DB         *sqlx.DB
	Config     config.Config
	StripeMode string
	StripeBase string
	Identity   *identity.Service
	Fleet      *fleet.Service
	Plans      *plans.Service
	// Reservations is availability search and the booking lifecycle.
	Reservations *reservation.Service
	Payments     *payment.Service
	// Idempotency stores the answers to requests sent with an Idempotency-Key.
	Idempotency *idempotency.Store
	// Ledger is the journal, reconciliation against Stripe and finance's reports.
	Ledger *ledger.Service
}

// server carries the dependencies of the handlers.
type server struct {
	log          *slog.Logger
	db           *sqlx.DB
	cfg          config.Config
	stripeMode   string
	stripeBase   string
	metrics      *metrics
	identity     *identity.Service
	fleet        *fleet.Service
	plans        *plans.Service
	reservations *reservation.Service
	payments     *payment.Service
	idem         *idempotency.Store
	ledger       *ledger.Service
}

// New builds the Fiber app with every route and middleware.
func New(d Deps) *fiber.App {
	s := &server{
		log:          d.Log,
		db:           d.DB,
		cfg:          d.Config,
		stripeMode:   d.StripeMode,
		stripeBase:   d.StripeBase,
		metrics:      newMetrics(d.DB),
		identity:     d.Identity,
		fleet:        d.Fleet,
		plans:        d.Plans,
		reservations: d.Reservations,
		payments:     d.Payments,
		idem:         d.Idempotency,
		ledger:       d.Ledger,
	}
	app := fiber.New(fiber.Config{
		AppName:               "hongqi-mobility",
		ErrorHandler:          errorHandler(d.Log),
		BodyLimit:             d.Config.BodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          60 * time.Second,
		IdleTimeout:           120 * time.Second,
		DisableStartupMessage: true,
		CaseSensitive:         true,
		// Behind a load balancer the client's address is in X-Forwarded-For,
		// believed only from the configured proxies.
		EnableTrustedProxyCheck: len(d.Config.TrustedProxies) > 0,
		TrustedProxies:          d.Config.TrustedProxies,
		ProxyHeader:             proxyHeader(d.Config.TrustedProxies),
		EnableIPValidation:      true,
	})
	app.Use(withRequestID, withAccessLog(d.Log, s.metrics), withRecover(d.Log),
		withSecurityHeaders(strings.HasPrefix(d.Config.PublicURL, "https://")),
		cors.New(cors.Config{
			AllowOrigins:  strings.Join(d.Config.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PUT,PATCH,DELETE",
			AllowHeaders:  "Authorization,Content-Type,Idempotency-Key,X-Request-Id",
			ExposeHeaders: "X-Request-Id,Retry-After,Location",
			MaxAge:        600,
		}))
	s.routes(app)
	return app
}

func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// routes declares the whole API: method, path, who may call it, handler.
func (s *server) routes(app *fiber.App) {
	// System: liveness, readiness, metrics and the API's own description.
	app.Get("/healthz", s.healthz)
	app.Get("/readyz", s.readyz)
	app.Get("/metrics", s.metrics.handler())
	app.Get("/openapi.yaml", s.spec)
	app.Get("/docs", s.docs)
	app.Get("/docs/redoc.standalone.js", s.redocJS)
	// The residents' app stand-in (mobile-mock/), embedded in the binary.
	app.Get("/app", s.appPage)
	app.Get("/app/:asset", s.appAsset)
	app.Get("/app/img/models/:image", s.appModelImage)

	v1 := app.Group("/v1", noStore)

	// Identity: accounts, sessions, profile, driving licence.
	v1.Post("/auth/register", s.register)
	v1.Post("/auth/login", s.login)
	v1.Post("/auth/refresh", s.refresh)
	v1.Post("/auth/logout", s.allow(anyUser...), s.logout)
	v1.Get("/me", s.allow(anyUser...), s.getMe)
	v1.Patch("/me", s.allow(anyUser...), s.patchMe)
	v1.Get("/me/driving-licence", s.allow(anyUser...), s.getLicence)
	v1.Put("/me/driving-licence", s.allow(anyUser...), s.putLicence)

	// Administration of accounts.
	v1.Get("/admin/users", s.allow(staff...), s.listUsers)
	v1.Get("/admin/users/:id", s.allow(staff...), s.getUser)
	v1.Put("/admin/users/:id/roles", s.allow(adminsOnly...), s.putRoles)
	v1.Post("/admin/users/:id/driving-licence/decision", s.allow(staff...), s.decideLicence)

	// Fleet: zones and models are public; vehicles, blocks and the live view are the operators'.
	v1.Get("/zones", s.listZones)
	v1.Post("/zones", s.allow(staff...), s.createZone)
	v1.Get("/zones/:id", s.getZone)
	v1.Patch("/zones/:id", s.allow(staff...), s.updateZone)
	v1.Get("/vehicle-models", s.listModels)
	v1.Post("/vehicle-models", s.allow(staff...), s.createModel)
	v1.Get("/vehicle-models/:id", s.getModel)
	v1.Patch("/vehicle-models/:id", s.allow(staff...), s.updateModel)
	v1.Get("/vehicles", s.allow(staff...), s.listVehicles)
	v1.Post("/vehicles", s.allow(staff...), s.createVehicle)
	v1.Get("/vehicles/:id", s.allow(staff...), s.getVehicle)
	v1.Patch("/vehicles/:id", s.allow(staff...), s.updateVehicle)
	v1.Post("/vehicles/:id/device-token", s.allow(staff...), s.rotateDeviceToken)
	v1.Get("/vehicles/:id/status-history", s.allow(staff...), s.vehicleStatusHistory)
	v1.Get("/vehicles/:id/schedule", s.allow(staff...), s.vehicleSchedule)
	v1.Post("/vehicles/:id/blocks", s.allow(staff...), s.createBlock)
	v1.Delete("/vehicles/:id/blocks/:block_id", s.allow(staff...), s.deleteBlock)
	v1.Get("/fleet/live", s.allow(staff...), s.liveFleet)
	// Cars authenticate with their own device token, not a user's.
	v1.Post("/telemetry", s.postTelemetry)

	// Pricing: plans are public to read; quotes need a signed-in user.
	v1.Get("/pricing-plans", s.listPlans)
	v1.Post("/pricing-plans", s.allow(staff...), s.createPlan)
	v1.Get("/pricing-plans/:id", s.getPlan)
	v1.Patch("/pricing-plans/:id", s.allow(staff...), s.updatePlan)
	v1.Get("/pricing-plans/:id/versions/:version", s.getPlanVersion)
	v1.Post("/quotes", s.allow(anyUser...), s.createQuote)

	// Reservations: search, book, change, cancel, unlock, return. Residents
	// act on their own (others' are 404); operators on all.
	v1.Get("/availability", s.allow(anyUser...), s.searchAvailability)
	v1.Post("/reservations", s.allow(residents...), s.idempotent(true), s.createReservation)
	v1.Get("/reservations", s.allow(anyUser...), s.listReservations)
	v1.Get("/reservations/:id", s.allow(anyUser...), s.getReservation)
	v1.Patch("/reservations/:id", s.allow(residents...), s.changeReservation)
	v1.Post("/reservations/:id/cancel", s.allow(tripParties...), s.cancelReservation)
	v1.Post("/reservations/:id/start", s.allow(residents...), s.startReservation)
	v1.Post("/reservations/:id/end", s.allow(tripParties...), s.endReservation)
	v1.Post("/reservations/:id/condition-reports", s.allow(residents...), s.fileReport)
	v1.Get("/condition-reports", s.allow(staff...), s.listReports)
	v1.Post("/condition-reports/:id/resolve", s.allow(staff...), s.resolveReport)
	v1.Get("/fleet/alerts", s.allow(staff...), s.listAlerts)
	v1.Get("/zones/:id/booking-rules", s.getBookingRules)
	v1.Put("/zones/:id/booking-rules", s.allow(staff...), s.putBookingRules)

	// Payments: residents' saved cards; payments (residents see theirs,
	// operators and finance all) and refunds; Stripe's events, verified by
	// their signature instead of a token.
	v1.Post("/me/payment-methods/setup-intent", s.allow(residents...), s.idempotent(false), s.createSetupIntent)
	v1.Get("/me/payment-methods", s.allow(residents...), s.listPaymentMethods)
	v1.Put("/me/payment-methods/:id/default", s.allow(residents...), s.setDefaultPaymentMethod)
	v1.Delete("/me/payment-methods/:id", s.allow(residents...), s.deletePaymentMethod)
	v1.Get("/payments", s.allow(anyUser...), s.listPayments)
	v1.Get("/payments/:id", s.allow(anyUser...), s.getPayment)
	v1.Post("/payments/:id/refunds", s.allow(moneyStaff...), s.idempotent(true), s.createRefund)
	v1.Post("/webhooks/stripe", s.stripeWebhook)

	// Finance: the journal and balances, reconciliation against Stripe, and
	// reports (JSON, or CSV with Accept: text/csv); finance and admins only.
	v1.Get("/finance/accounts", s.allow(financeTeam...), s.listAccounts)
	v1.Get("/finance/accounts/:code/balance", s.allow(financeTeam...), s.accountBalance)
	v1.Get("/finance/trial-balance", s.allow(financeTeam...), s.trialBalance)
	v1.Get("/finance/journal", s.allow(financeTeam...), s.listJournal)
	v1.Post("/finance/reconciliations", s.allow(financeTeam...), s.idempotent(false), s.createReconciliation)
	v1.Get("/finance/reconciliations", s.allow(financeTeam...), s.listReconciliations)
	v1.Get("/finance/reconciliations/:id", s.allow(financeTeam...), s.getReconciliation)
	v1.Get("/finance/reconciliations/:id/items", s.allow(financeTeam...), s.listReconciliationItems)
	v1.Get("/finance/reports/revenue", s.allow(financeTeam...), s.report(ledger.ReportRevenue))
	v1.Get("/finance/reports/fees", s.allow(financeTeam...), s.report(ledger.ReportFees))
	v1.Get("/finance/reports/refunds", s.allow(financeTeam...), s.report(ledger.ReportRefunds))
	v1.Get("/finance/reports/vat", s.allow(financeTeam...), s.report(ledger.ReportVAT))
	v1.Get("/finance/reports/outstanding-authorizations", s.allow(financeTeam...), s.report(ledger.ReportOutstandingAuthorizations))
	v1.Get("/finance/reports/failed-captures", s.allow(financeTeam...), s.report(ledger.ReportFailedCaptures))
}
