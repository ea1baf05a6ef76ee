package main

import (
	"context"
	"time"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/httpapi"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
	"github.com/hongqi-mobility/mobility/internal/reservation"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

// services are every capability, built once and wired to each other: the
// only place that knows all the concrete types.
type services struct {
	stripe       *payment.Stripe
	identity     *identity.Service
	fleet        *fleet.Service
	plans        *plans.Service
	pay          payments
	reservations *reservation.Service
	ledger       *ledger.Service
}

func wire(e *env, qopts worker.Options, rules reservation.Rules) services {
	s := services{identity: newIdentity(e), fleet: newFleet(e), plans: newPlans(e)}
	s.stripe = payment.NewStripe(e.cfg.StripeSecretKey, e.cfg.StripeAPIBase, string(e.cfg.StripeMode))
	s.pay = newPayments(e, s.stripe, s.identity, qopts)
	s.reservations = reservation.NewService(e.db, reservation.Options{
		Identity: s.identity, Fleet: s.fleet, Plans: s.plans, Payments: s.pay.svc, Rules: rules,
		Location: e.cfg.Location, Log: e.log,
	})
	// A payment's status moves confirm or expire its booking in the same
	// transaction.
	s.pay.svc.OnStatusChange(s.reservations.PaymentUpdated)
	// Every money event is booked in the ledger in the same transaction.
	s.ledger = newLedger(e, s.stripe, s.pay.svc)
	return s
}

// bookingRules are the reservation rules configured for every zone that
// sets none of its own.
func bookingRules(b config.Booking) reservation.Rules {
	r := reservation.DefaultRules
	r.MinLength, r.MaxLength, r.MinNotice, r.Horizon = b.MinLength, b.MaxLength, b.MinNotice, b.Horizon
	r.MaxUpcoming, r.HoldFor, r.Grace = b.MaxUpcoming, b.Hold, b.Grace
	return r
}

// api builds the HTTP app on the services.
func (s services) api(e *env) *httpapi.Deps {
	return &httpapi.Deps{
		Log: e.log, DB: e.db, Config: e.cfg, StripeMode: s.stripe.Mode, StripeBase: s.stripe.Base,
		Identity: s.identity, Fleet: s.fleet, Plans: s.plans, Payments: s.pay.svc, Idempotency: s.pay.idem,
		Reservations: s.reservations, Ledger: s.ledger,
	}
}

// lifecycleTask runs the reservation jobs: expire unpaid holds, mark
// no-shows, flag overruns.
func (s services) lifecycleTask() worker.Task {
	return worker.Task{Name: "reservation lifecycle", Every: 15 * time.Second, Run: func(ctx context.Context) error {
		return s.reservations.RunJobs(ctx)
	}}
}
