// Package payfeed connects the ledger to the payment capability, which it
// does not import: the wiring cmd/mobility does, in a package of its own so
// that the tests wire the ledger exactly as the service does.
package payfeed

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/ledger"
	"github.com/hongqi-mobility/mobility/internal/payment"
)

// Stripe returns the ledger's reader of Stripe's balance transactions, for
// reconciliation, through the payment capability's client.
func Stripe(st *payment.Stripe) ledger.Fetcher {
	return func(ctx context.Context, from, to time.Time, fn func(ledger.BalanceTransaction) error) error {
		return st.BalanceTransactions(ctx, from, to, func(bt payment.BalanceTransaction) error {
			return fn(ledger.BalanceTransaction(bt))
		})
	}
}

// Book has led book every status move and money movement of pay, in the
// transaction that records it.
func Book(led *ledger.Service, pay *payment.Service) {
	pay.OnStatusChange(func(ctx context.Context, tx *sqlx.Tx, p payment.Payment) error {
		return led.PaymentStatusMoved(ctx, tx, p.ID, string(p.Status))
	})
	pay.OnMoneyMoved(func(ctx context.Context, tx *sqlx.Tx, m payment.Movement) error {
		return led.MoneyMoved(ctx, tx, ledger.Movement{Kind: string(m.Kind), PaymentID: m.PaymentID,
			RefundID: m.RefundID, Amount: m.Amount, Ref: m.Ref})
	})
}
