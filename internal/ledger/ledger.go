package ledger

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// Account is one account of the chart.
type Account struct {
	Code       string `db:"code"`
	NameZH     string `db:"name_zh"`
	NameEN     string `db:"name_en"`
	Type       string `db:"type"`        // asset, liability, revenue, contra_revenue or expense
	NormalSide string `db:"normal_side"` // debit or credit: the side that increases it
	FeeKind    string `db:"fee_kind"`    // for fee revenue accounts: late, cleaning, …
}

// The accounts the postings use; fee revenue accounts are
// AccountFeeRevenuePrefix + the fee kind.
const (
	AccountReceivable       = "resident_receivable"
	AccountStripeClearing   = "stripe_clearing"
	AccountBank             = "bank"
	AccountVATPayable       = "vat_payable"
	AccountRentalRevenue    = "rental_revenue"
	AccountFeeRevenuePrefix = "fee_revenue."
	AccountRefunds          = "refunds"
	AccountDisputes         = "disputes"
	AccountStripeFees       = "stripe_fees"
)

// Event is the kind of money event an entry records.
type Event string

// The events of the journal.
const (
	EventAuthorization  Event = "authorization"   // memo: a hold placed, no money moves
	EventRelease        Event = "release"         // memo: a hold released
	EventPaymentFailed  Event = "payment_failed"  // memo: an authorisation, charge or capture declined
	EventCapture        Event = "capture"         // an authorisation captured (a rental or a fee)
	EventCharge         Event = "charge"          // an off-session charge (a difference over the hold, a fee)
	EventRefund         Event = "refund"          // money given back
	EventRefundReversed Event = "refund_reversed" // a refund Stripe refused: its entry reversed
	EventDispute        Event = "dispute"         // Stripe took a disputed amount back
	EventStripeFee      Event = "stripe_fee"      // Stripe's fee, booked by reconciliation
	EventPayout         Event = "payout"          // Stripe paid our balance out to the bank
)

// Events lists every event, for validating filters.
var Events = []Event{EventAuthorization, EventRelease, EventPaymentFailed, EventCapture, EventCharge,
	EventRefund, EventRefundReversed, EventDispute, EventStripeFee, EventPayout}

// Line is one side of an entry: a debit or a credit of one account.
type Line struct {
	Account  string `db:"account"`
	Debit    int64  `db:"debit"`
	Credit   int64  `db:"credit"`
	Currency string `db:"currency"`
}

// Entry is one money event with its balanced lines.
type Entry struct {
	ID            uuid.UUID
	Event         Event
	Memo          bool // no money moved; no lines
	Source        string
	SourceID      string
	SourceRef     string
	PaymentID     *uuid.UUID
	RefundID      *uuid.UUID
	PurposeKind   string
	PurposeID     *uuid.UUID
	ReservationID *uuid.UUID
	Amount        int64 // the money the event moved (or held, for a memo)
	Currency      string
	Description   string
	Reverses      *uuid.UUID
	OccurredAt    time.Time
	PostedAt      time.Time
	Lines         []Line
}

// Movement is money moving on a payment, as the payment capability tells it
// (payment.Movement, converted by main): Kind is captured, refunded,
// refund_reversed or disputed.
type Movement struct {
	Kind      string
	PaymentID uuid.UUID
	RefundID  uuid.UUID // our refund, or uuid.Nil
	Amount    int64
	Ref       string // unique among the payment's movements
}

// BalanceTransaction is one movement of the Stripe balance, from Stripe's API
// (payment.BalanceTransaction, converted by main) or a balance CSV.
type BalanceTransaction struct {
	ID                string
	Type              string
	ReportingCategory string
	SourceID          string
	ChargeID          string
	PaymentIntentID   string
	RefundID          string
	Amount            int64
	Fee               int64
	Net               int64
	Currency          string
	Created           time.Time
	Description       string
}

// Fetcher lists the Stripe balance transactions created in [from, to),
// calling fn for each; (*payment.Stripe).BalanceTransactions in production.
type Fetcher func(ctx context.Context, from, to time.Time, fn func(BalanceTransaction) error) error

// Options configure the ledger.
type Options struct {
	Location *time.Location // business time zone: report days and periods; nil: Asia/Shanghai
	Currency string         // default currency; empty: CNY
	Stripe   Fetcher        // nil: reconciliation from the Stripe API is unavailable
	Now      func() time.Time
	Log      *slog.Logger
}

// Service is the ledger capability: posting, reading, reconciliation and
// reports.
type Service struct {
	db   *sqlx.DB
	opts Options
}

// NewService returns the ledger on d.
func NewService(d *sqlx.DB, o Options) *Service {
	if o.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("Asia/Shanghai", 8*3600) // a name PostgreSQL knows too
		}
		o.Location = loc
	}
	if o.Currency == "" {
		o.Currency = "CNY"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{db: d, opts: o}
}

// Location is the business time zone of report days and periods.
func (s *Service) Location() *time.Location { return s.opts.Location }
