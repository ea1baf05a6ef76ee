// Package reservation is the heart of the product: availability search,
// booking, and the lifecycle of a reservation through its trip —
//
//	pending_payment ──pay──► confirmed ──unlock──► active ──end──► completed
//	      │ hold expires          │ │ start+grace passes
//	      ▼                       │ ▼
//	   expired       cancelled ◄──┘ no_show
//
// Every transition is one guarded UPDATE … WHERE status = expected, so two
// concurrent calls cannot both win; the car is held by an occupancy row of
// the fleet capability, which the database keeps from overlapping; and the
// money moves through the payment capability in the same transaction
// (authorise at booking, capture at the end or for a fee, release when
// nothing is owed).
package reservation

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

// Status is where a reservation is in its lifecycle.
type Status string

// The statuses of a reservation.
const (
	PendingPayment Status = "pending_payment"
	Confirmed      Status = "confirmed"
	Active         Status = "active"
	Completed      Status = "completed"
	Cancelled      Status = "cancelled"
	Expired        Status = "expired"
	NoShow         Status = "no_show"
)

// Statuses lists every status, for validating filters.
var Statuses = []Status{PendingPayment, Confirmed, Active, Completed, Cancelled, Expired, NoShow}

// PaymentPurpose is the purpose kind of a reservation's payments.
const PaymentPurpose = "reservation"

// Reservation is a booking of a car and, once unlocked, its trip.
type Reservation struct {
	ID            uuid.UUID
	UserID        uuid.UUID
	VehicleID     uuid.UUID
	ZoneID        uuid.UUID
	Status        Status
	Start, End    time.Time
	EstimatedKm   int64
	PlanID        uuid.UUID
	PlanVersion   int
	Quote         Price
	PaymentID     *uuid.UUID
	HoldExpiresAt time.Time
	Trip          Trip
	Final         *Price // the final price, cancellation fee or no-show fee charged
	CancelledAt   *time.Time
	CancelReason  *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Price is an itemized amount as stored with a reservation.
type Price struct {
	Currency string
	Lines    []plans.StoredLine
	Subtotal int64
	VAT      int64
	Total    int64
}

func priceOf(q pricing.Quote) Price {
	return Price{Currency: q.Currency, Lines: plans.StoredLines(q.Lines), Subtotal: q.Subtotal, VAT: q.VAT, Total: q.Total}
}

// Trip is what happened between unlock and return.
type Trip struct {
	StartedAt     *time.Time
	StartOdometer *float64
	StartBattery  *int
	EndedAt       *time.Time
	EndOdometer   *float64
	EndBattery    *int
	EndPosition   *fleet.Point
	EndZoneID     *uuid.UUID
	OutOfZone     *bool
}

// Rules are the booking rules in force; zones may override some.
type Rules struct {
	MinLength        time.Duration // shortest booking
	MaxLength        time.Duration // longest booking
	MinNotice        time.Duration // how far ahead of its start a booking must be made
	Horizon          time.Duration // how far ahead a booking may start
	MaxUpcoming      int           // live bookings per resident
	HoldFor          time.Duration // how long an unpaid hold keeps the car
	UnlockEarly      time.Duration // how long before the start the car may be unlocked
	Grace            time.Duration // how long after the start it may still be unlocked
	OverrunLookahead time.Duration // how close the next booking must be to flag an overrun
}

// DefaultRules are the rules unless configured otherwise.
var DefaultRules = Rules{
	MinLength: 30 * time.Minute, MaxLength: 30 * 24 * time.Hour, MinNotice: 0, Horizon: 30 * 24 * time.Hour,
	MaxUpcoming: 3, HoldFor: 10 * time.Minute, UnlockEarly: 15 * time.Minute, Grace: 15 * time.Minute,
	OverrunLookahead: 30 * time.Minute,
}

// Payments is what reservations need of the payment capability.
type Payments interface {
	AuthorizeTx(ctx context.Context, tx *sqlx.Tx, r payment.AuthorizeRequest) (payment.Payment, error)
	CaptureTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, amount int64) (payment.Payment, error)
	ReleaseTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID) (payment.Payment, error)
	IncrementTx(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, amount int64) (payment.Payment, error)
	ChargeOffSessionTx(ctx context.Context, tx *sqlx.Tx, r payment.ChargeRequest) (payment.Payment, error)
	Process(ctx context.Context, id uuid.UUID) (payment.Payment, error)
	ProcessSoon()
	Get(ctx context.Context, id uuid.UUID) (payment.Payment, error)
	Cards(ctx context.Context, userID uuid.UUID) ([]payment.Card, error)
}

// Telematics sends commands to cars. The simulated adapter records them; a
// real one would talk to the car's connectivity platform.
type Telematics interface {
	Name() string
	Send(ctx context.Context, vehicleID uuid.UUID, command string) (status, detail string)
}

// Simulated is the telematics adapter used until cars are connected: every
// command is acknowledged at once.
type Simulated struct{}

// Name implements Telematics.
func (Simulated) Name() string { return "simulated" }

// Send implements Telematics.
func (Simulated) Send(context.Context, uuid.UUID, string) (string, string) {
	return "acknowledged", "simulated adapter: no car contacted"
}

// Options wire the reservation service.
type Options struct {
	Identity   *identity.Service
	Fleet      *fleet.Service
	Plans      *plans.Service
	Payments   Payments
	Telematics Telematics
	Rules      Rules
	Location   *time.Location
	Now        func() time.Time
	Log        *slog.Logger
}

// Service is the reservation capability.
type Service struct {
	db *sqlx.DB
	o  Options
}

// NewService returns the reservation service on d.
func NewService(d *sqlx.DB, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rules == (Rules{}) {
		o.Rules = DefaultRules
	}
	if o.Telematics == nil {
		o.Telematics = Simulated{}
	}
	if o.Location == nil {
		o.Location, _ = time.LoadLocation("Asia/Shanghai")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Service{db: d, o: o}
}
