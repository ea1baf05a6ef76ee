package main

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// newLedger builds the ledger and connects it to the payment capability,
// which it does not import: every payment status move and money movement is
// booked in the transaction that records it, and reconciliation reads
// Stripe's balance transactions through the payment capability's client.
func newLedger(e *env, st *payment.Stripe, pay *payment.Service) *ledger.Service {
	led := ledger.NewService(e.db, ledger.Options{
		Location: e.cfg.Location, Currency: e.cfg.Currency, Log: e.log,
		Stripe: func(ctx context.Context, from, to time.Time, fn func(ledger.BalanceTransaction) error) error {
			return st.BalanceTransactions(ctx, from, to, func(bt payment.BalanceTransaction) error {
				return fn(ledger.BalanceTransaction(bt))
			})
		},
	})
	pay.OnStatusChange(func(ctx context.Context, tx *sqlx.Tx, p payment.Payment) error {
		return led.PaymentStatusMoved(ctx, tx, p.ID, string(p.Status))
	})
	pay.OnMoneyMoved(func(ctx context.Context, tx *sqlx.Tx, m payment.Movement) error {
		return led.MoneyMoved(ctx, tx, ledger.Movement{Kind: string(m.Kind), PaymentID: m.PaymentID,
			RefundID: m.RefundID, Amount: m.Amount, Ref: m.Ref})
	})
	return led
}
