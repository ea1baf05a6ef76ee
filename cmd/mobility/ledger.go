package main

import (
	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/ledger/payfeed"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// newLedger builds the ledger and connects it to the payment capability,
// which it does not import: every payment status move and money movement is
// booked in the transaction that records it, and reconciliation reads
// Stripe's balance transactions through the payment capability's client.
func newLedger(e *env, st *payment.Stripe, pay *payment.Service) *ledger.Service {
	led := ledger.NewService(e.db, ledger.Options{
		Location: e.cfg.Location, Currency: e.cfg.Currency, Log: e.log, Stripe: payfeed.Stripe(st),
	})
	payfeed.Book(led, pay)
	return led
}
