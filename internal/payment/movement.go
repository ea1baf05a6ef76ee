package payment

import (
	"context"
	"strconv"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// MovementKind says how money moved on a payment.
type MovementKind string

// The kinds of money movement.
const (
	// MovementCaptured is money taken: a capture of an authorisation or an
	// off-session charge that succeeded.
	MovementCaptured MovementKind = "captured"
	// MovementRefunded is money given back: a refund requested here (counted
	// when requested, as amount_refunded is) or one made at Stripe directly.
	MovementRefunded MovementKind = "refunded"
	// MovementRefundReversed is a refund Stripe refused or canceled: its
	// amount no longer counts as refunded.
	MovementRefundReversed MovementKind = "refund_reversed"
	// MovementDisputed is a charge the cardholder disputes: Stripe takes the
	// disputed amount back from our balance.
	MovementDisputed MovementKind = "disputed"
)

// Movement is money moving on a payment, told to listeners inside the
// transaction that records it (see OnMoneyMoved).
type Movement struct {
	Kind      MovementKind
	PaymentID uuid.UUID
	// RefundID is our refund, for a refund requested here and its reversal;
	// uuid.Nil otherwise.
	RefundID uuid.UUID
	Amount   int64 // > 0, in minor units of the payment's currency
	Currency string
	// Ref tells this movement apart from the payment's others and is the
	// same when the same movement is told again, so a listener can record
	// each movement once.
	Ref string
}

// MoneyListener is told of a money movement inside the transaction that
// records it. An error rolls the movement back, as for a StatusListener.
type MoneyListener func(ctx context.Context, tx *sqlx.Tx, m Movement) error

// OnMoneyMoved registers fn for every money movement: a capture or charge
// taking money, a refund (requested here or made at Stripe), a refund Stripe
// refused, a dispute. The ledger books them. Register listeners while
// wiring, before the service is used.
func (s *Service) OnMoneyMoved(fn MoneyListener) { s.moneyListeners.add(fn) }

func (s *Service) moneyMoved(ctx context.Context, tx *sqlx.Tx, m Movement) error {
	return s.moneyListeners.tell(ctx, tx, m, "money listener for payment "+m.PaymentID.String())
}

// observedMovements tells the listeners what an observation moved: captured
// and refunded totals only grow there, and a dispute happens once.
func (s *Service) observedMovements(ctx context.Context, tx *sqlx.Tx, before, after Payment, o observation, moved bool) error {
	if d := after.AmountCaptured - before.AmountCaptured; d > 0 {
		m := Movement{Kind: MovementCaptured, PaymentID: after.ID, Amount: d, Currency: after.Currency,
			Ref: "captured:" + strconv.FormatInt(after.AmountCaptured, 10)}
		if err := s.moneyMoved(ctx, tx, m); err != nil {
			return err
		}
	}
	if d := after.AmountRefunded - before.AmountRefunded; d > 0 {
		// A refund made at Stripe (ours are told when requested).
		ref := "stripe_refund:" + o.StripeEventID
		if o.StripeEventID == "" {
			ref = "stripe_refund:" + strconv.FormatInt(after.AmountRefunded, 10)
		}
		m := Movement{Kind: MovementRefunded, PaymentID: after.ID, Amount: d, Currency: after.Currency, Ref: ref}
		if err := s.moneyMoved(ctx, tx, m); err != nil {
			return err
		}
	}
	if moved && after.Status == StatusDisputed && after.AmountCaptured > 0 {
		amount := after.AmountCaptured - after.AmountRefunded
		if o.Amount != nil && *o.Amount > 0 && *o.Amount < amount {
			amount = *o.Amount
		}
		if amount > 0 {
			m := Movement{Kind: MovementDisputed, PaymentID: after.ID, Amount: amount, Currency: after.Currency, Ref: "disputed"}
			return s.moneyMoved(ctx, tx, m)
		}
	}
	return nil
}
