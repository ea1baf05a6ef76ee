package ledger

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// The statuses of a payment whose arrival is a memo entry.
var memoEvents = map[string]Event{
	"authorized": EventAuthorization,
	"canceled":   EventRelease,
	"failed":     EventPaymentFailed,
}

// PaymentStatusMoved books a payment's status move inside the transaction
// that records it (register it with payment.Service.OnStatusChange): an
// authorisation, a release and a decline are memo entries — no money moves,
// so they have no lines. Other statuses are booked by MoneyMoved.
func (s *Service) PaymentStatusMoved(ctx context.Context, tx *sqlx.Tx, paymentID uuid.UUID, status string) error {
	ev, ok := memoEvents[status]
	if !ok {
		return nil
	}
	p, err := payment(ctx, tx, paymentID)
	if err != nil {
		return err
	}
	if ev == EventRelease && p.Kind != "authorization" {
		ev = EventPaymentFailed // a charge canceled before it succeeded
	}
	e := s.paymentEntry(p, ev, p.AmountAuthorized, status)
	e.Memo = true
	switch ev {
	case EventAuthorization:
		e.Description = fmt.Sprintf("hold of %s %s authorised on the card; no money moves", FormatMinor(p.AmountAuthorized, p.Currency), p.Currency)
	case EventRelease:
		e.Description = "hold released; no money moved"
	default:
		e.Description = "declined: " + p.FailureMessage
	}
	_, err = post(ctx, tx, e)
	return err
}

// paymentEntry starts an entry about a payment, keyed by the payment and
// ref.
func (s *Service) paymentEntry(p paymentFacts, ev Event, amount int64, ref string) Entry {
	pid, purpose := p.ID, p.PurposeID
	e := Entry{Event: ev, Source: "payment", SourceID: p.ID.String(), SourceRef: ref, PaymentID: &pid,
		PurposeKind: p.PurposeKind, PurposeID: &purpose, Amount: amount, Currency: p.Currency, OccurredAt: s.opts.Now().UTC()}
	if p.PurposeKind == "reservation" {
		e.ReservationID = &purpose
	}
	return e
}

// MoneyMoved books money moving on a payment, inside the transaction that
// records it (register it with payment.Service.OnMoneyMoved). Each movement
// is one balanced entry; the same movement told again posts nothing.
func (s *Service) MoneyMoved(ctx context.Context, tx *sqlx.Tx, m Movement) error {
	if m.Amount <= 0 {
		return nil
	}
	p, err := payment(ctx, tx, m.PaymentID)
	if err != nil {
		return err
	}
	var e Entry
	switch m.Kind {
	case "captured":
		e, err = s.received(ctx, tx, p, m)
	case "refunded":
		e, err = s.refunded(ctx, tx, p, m)
	case "refund_reversed":
		e, err = s.refundReversed(ctx, tx, p, m)
	case "disputed":
		e = s.paymentEntry(p, EventDispute, m.Amount, m.Ref)
		e.Description = "disputed by the cardholder; Stripe withdrew the amount"
		e.Lines = []Line{debit(AccountDisputes, m.Amount, p.Currency), credit(AccountStripeClearing, m.Amount, p.Currency)}
	default:
		return fmt.Errorf("ledger: unknown movement %q", m.Kind)
	}
	if err != nil {
		return err
	}
	_, err = post(ctx, tx, e)
	return err
}

func debit(account string, amount int64, currency string) Line {
	return Line{Account: account, Debit: amount, Currency: currency}
}

func credit(account string, amount int64, currency string) Line {
	return Line{Account: account, Credit: amount, Currency: currency}
}

// received books money taken by a capture or an off-session charge: the
// resident owes the price (revenue by line and VAT) and pays it at once by
// card into the Stripe balance.
func (s *Service) received(ctx context.Context, tx *sqlx.Tx, p paymentFacts, m Movement) (Entry, error) {
	ev := EventCapture
	if p.Kind == "charge" {
		ev = EventCharge
	}
	e := s.paymentEntry(p, ev, m.Amount, m.Ref)
	var lines []PriceLine
	var before int64
	if e.ReservationID != nil {
		var err error
		if lines, before, err = reservationPrice(ctx, tx, *e.ReservationID); err != nil {
			return e, err
		}
	}
	e.Lines = append(e.Lines, debit(AccountReceivable, m.Amount, p.Currency))
	for _, sp := range Allocate(lines, before, m.Amount) {
		e.Lines = append(e.Lines, credit(sp.Account, sp.Amount, p.Currency))
	}
	e.Lines = append(e.Lines, debit(AccountStripeClearing, m.Amount, p.Currency), credit(AccountReceivable, m.Amount, p.Currency))
	e.Description = fmt.Sprintf("%s of %s %s for %s %s", ev, FormatMinor(m.Amount, p.Currency), p.Currency, p.PurposeKind, p.PurposeID)
	return e, nil
}

// refunded books money given back: revenue is reduced through the refunds
// account and the VAT in it is no longer owed, in the proportion the
// payment's own entries carried.
func (s *Service) refunded(ctx context.Context, tx *sqlx.Tx, p paymentFacts, m Movement) (Entry, error) {
	e := s.paymentEntry(p, EventRefund, m.Amount, m.Ref)
	if m.RefundID != uuid.Nil {
		id := m.RefundID
		e.RefundID = &id
	}
	received, vat, refunded, err := paymentTotals(ctx, tx, p.ID)
	if err != nil {
		return e, err
	}
	var vatBack int64
	if received > 0 {
		at := func(n int64) int64 { return mulDiv(min(max(n, 0), received), vat, received) }
		vatBack = at(refunded+m.Amount) - at(refunded)
	}
	e.Lines = []Line{debit(AccountRefunds, m.Amount-vatBack, p.Currency)}
	if vatBack > 0 {
		e.Lines = append(e.Lines, debit(AccountVATPayable, vatBack, p.Currency))
	}
	e.Lines = append(e.Lines, credit(AccountStripeClearing, m.Amount, p.Currency))
	e.Description = "refund of " + FormatMinor(m.Amount, p.Currency) + " " + p.Currency
	if m.RefundID == uuid.Nil {
		e.Description += ", made at Stripe"
	}
	return e, nil
}

// refundReversed books a refund Stripe refused or canceled: the refund's own
// entry, sides swapped.
func (s *Service) refundReversed(ctx context.Context, tx *sqlx.Tx, p paymentFacts, m Movement) (Entry, error) {
	e := s.paymentEntry(p, EventRefundReversed, m.Amount, m.Ref)
	id := m.RefundID
	e.RefundID = &id
	orig, lines, err := refundEntry(ctx, tx, m.RefundID)
	if err != nil {
		return e, err
	}
	if orig == uuid.Nil {
		// Requested before the ledger existed: reverse the plain refund.
		lines = []Line{debit(AccountRefunds, m.Amount, p.Currency), credit(AccountStripeClearing, m.Amount, p.Currency)}
	} else {
		e.Reverses = &orig
	}
	for _, l := range lines {
		e.Lines = append(e.Lines, Line{Account: l.Account, Debit: l.Credit, Credit: l.Debit, Currency: l.Currency})
	}
	e.Description = fmt.Sprintf("refund %s of %s %s refused by Stripe: reversed", m.RefundID, FormatMinor(m.Amount, p.Currency), p.Currency)
	return e, nil
}
