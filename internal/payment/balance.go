package payment

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// BalanceTransaction is one movement of our Stripe balance (a charge, a
// refund, a dispute, a fee, a payout), as reconciliation needs it: plain
// values, with the ids of the Stripe objects it links to.
type BalanceTransaction struct {
	ID                string // txn_…
	Type              string // charge, payment, refund, adjustment, payout, stripe_fee, …
	ReportingCategory string // Stripe's accounting category: charge, refund, dispute, payout, fee, …
	SourceID          string // the object that moved the balance: ch_…, re_…, dp_…, po_…
	ChargeID          string // the charge it belongs to, when known
	PaymentIntentID   string // the PaymentIntent of that charge, when known
	RefundID          string // the refund, for refunds and refund failures
	Amount            int64  // gross, in minor units; negative when money leaves the balance
	Fee               int64  // Stripe's fee, positive when charged
	Net               int64  // Amount - Fee
	Currency          string // ISO 4217, upper case
	Created           time.Time
	Description       string
}

// BalanceTransactions calls fn with each balance transaction created in
// [from, to), newest first as Stripe lists them, following Stripe's pages
// (stripe-go's auto-pagination, 100 a page) with each source expanded so
// that charges, refunds and disputes name their PaymentIntent. It stops at
// the first error of Stripe or of fn.
func (st *Stripe) BalanceTransactions(ctx context.Context, from, to time.Time, fn func(BalanceTransaction) error) error {
	params := &stripe.BalanceTransactionListParams{
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: from.Unix(), LesserThan: to.Unix()},
	}
	params.Limit = stripe.Int64(100)
	params.Context = ctx
	params.AddExpand("data.source")
	it := st.API.BalanceTransactions.List(params)
	for it.Next() {
		if err := fn(balanceTransactionOf(it.BalanceTransaction())); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("list Stripe balance transactions: %w", providerError(err))
	}
	return nil
}

func balanceTransactionOf(t *stripe.BalanceTransaction) BalanceTransaction {
	bt := BalanceTransaction{ID: t.ID, Type: string(t.Type), ReportingCategory: string(t.ReportingCategory),
		Amount: t.Amount, Fee: t.Fee, Net: t.Net, Currency: strings.ToUpper(string(t.Currency)),
		Created: time.Unix(t.Created, 0).UTC(), Description: t.Description}
	src := t.Source
	if src == nil {
		return bt
	}
	bt.SourceID = src.ID
	idOf := func(id string, ok bool) string {
		if ok {
			return id
		}
		return ""
	}
	switch {
	case src.Charge != nil:
		bt.ChargeID = src.Charge.ID
		bt.PaymentIntentID = idOf(intentID(src.Charge.PaymentIntent))
	case src.Refund != nil:
		bt.RefundID = src.Refund.ID
		bt.ChargeID = idOf(chargeID(src.Refund.Charge))
		bt.PaymentIntentID = idOf(intentID(src.Refund.PaymentIntent))
	case src.Dispute != nil:
		bt.ChargeID = idOf(chargeID(src.Dispute.Charge))
		bt.PaymentIntentID = idOf(intentID(src.Dispute.PaymentIntent))
	default:
		// Not expanded: the id's prefix says what it is.
		switch {
		case strings.HasPrefix(src.ID, "ch_") || strings.HasPrefix(src.ID, "py_"):
			bt.ChargeID = src.ID
		case strings.HasPrefix(src.ID, "re_") || strings.HasPrefix(src.ID, "pyr_"):
			bt.RefundID = src.ID
		}
	}
	return bt
}

func intentID(pi *stripe.PaymentIntent) (string, bool) {
	if pi == nil {
		return "", false
	}
	return pi.ID, true
}

func chargeID(ch *stripe.Charge) (string, bool) {
	if ch == nil {
		return "", false
	}
	return ch.ID, true
}
