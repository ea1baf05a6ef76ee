package plans

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// Rental windows a quote (and a booking) may have.
const (
	MinRental = 30 * time.Minute
	MaxRental = 30 * 24 * time.Hour
	// ClockSkew is how far in the past a window may start, for phones whose
	// clocks lag.
	ClockSkew = 2 * time.Minute
)

// CheckWindow validates a rental window against now: it starts no earlier
// than now (less the clock skew), on a whole minute, and lasts from 30
// minutes to 30 days.
func CheckWindow(f *apperr.Fields, now, start, end time.Time) {
	switch {
	case start.IsZero() || end.IsZero():
		return // the parser has named the field
	case start.Before(now.Add(-ClockSkew)):
		f.Add("start", "must not be in the past")
	case start.Truncate(time.Minute) != start:
		f.Add("start", "must be on a whole minute")
	case end.Truncate(time.Minute) != end:
		f.Add("end", "must be on a whole minute")
	case !end.After(start):
		f.Add("end", "must be after start")
	case end.Sub(start) < MinRental:
		f.Add("end", "a rental lasts at least 30 minutes")
	case end.Sub(start) > MaxRental:
		f.Add("end", "a rental lasts at most 30 days")
	}
}

// Placement tells where a car belongs: its model and home zone. The fleet
// capability implements it.
type Placement interface {
	Placement(ctx context.Context, vehicleID uuid.UUID) (modelID, zoneID uuid.UUID, err error)
}

// QuoteRequest asks for the price of a car, or of a model in a zone.
type QuoteRequest struct {
	VehicleID   *uuid.UUID
	ModelID     *uuid.UUID
	ZoneID      *uuid.UUID
	Start, End  time.Time
	EstimatedKm int64
	Member      bool
}

// Quote is a stored, itemized price.
type Quote struct {
	ID          uuid.UUID
	UserID      uuid.UUID
	VehicleID   *uuid.UUID
	ModelID     uuid.UUID
	ZoneID      *uuid.UUID
	Start, End  time.Time
	EstimatedKm int64
	Priced      pricing.Quote
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Price prices a window with the plan that covers modelID in zoneID, without
// storing anything; availability search uses it for each car.
func (s *Service) Price(ctx context.Context, modelID uuid.UUID, zoneID *uuid.UUID, in pricing.QuoteInput) (pricing.Quote, error) {
	p, err := s.ForModel(ctx, modelID, zoneID)
	if err != nil {
		return pricing.Quote{}, err
	}
	in.Loc = s.opts.Location
	q, err := pricing.QuoteRental(p, in)
	if err != nil {
		return pricing.Quote{}, fromPricing(err, "")
	}
	return q, nil
}

// Quote prices a request for userID and keeps the quote until it expires.
func (s *Service) Quote(ctx context.Context, userID uuid.UUID, r QuoteRequest, where Placement) (Quote, error) {
	var f apperr.Fields
	now := s.opts.Now()
	CheckWindow(&f, now, r.Start, r.End)
	if (r.VehicleID == nil) == (r.ModelID == nil) {
		f.Add("vehicle_id", "give either vehicle_id or model_id")
	}
	if r.VehicleID != nil && r.ZoneID != nil {
		f.Add("zone_id", "a vehicle's zone is its home zone; give zone_id only with model_id")
	}
	if r.EstimatedKm < 0 || r.EstimatedKm > 10000 {
		f.Add("estimated_km", "must be from 0 to 10000")
	}
	if err := f.Err(); err != nil {
		return Quote{}, err
	}
	q := Quote{UserID: userID, VehicleID: r.VehicleID, ZoneID: r.ZoneID, Start: r.Start.UTC(), End: r.End.UTC(), EstimatedKm: r.EstimatedKm}
	if r.VehicleID != nil {
		model, zone, err := where.Placement(ctx, *r.VehicleID)
		if err != nil {
			return Quote{}, err
		}
		q.ModelID, q.ZoneID = model, &zone
	} else {
		q.ModelID = *r.ModelID
	}
	priced, err := s.Price(ctx, q.ModelID, q.ZoneID, pricing.QuoteInput{Start: q.Start, End: q.End, EstimatedKm: r.EstimatedKm, Member: r.Member})
	if err != nil {
		return Quote{}, err
	}
	q.Priced = priced
	if q.ID, err = uuid.NewV7(); err != nil {
		return Quote{}, err
	}
	q.CreatedAt = now.UTC().Truncate(time.Microsecond)
	q.ExpiresAt = q.CreatedAt.Add(s.opts.QuoteTTL)
	lines, err := json.Marshal(StoredLines(priced.Lines))
	if err != nil {
		return Quote{}, err
	}
	planID, err := uuid.Parse(priced.PlanID)
	if err != nil {
		return Quote{}, fmt.Errorf("plan id %q: %w", priced.PlanID, err)
	}
	const ins = `
		INSERT INTO quotes (id, user_id, plan_id, plan_version, vehicle_id, model_id, zone_id, start_at, end_at,
		                    estimated_km, member, currency, lines, subtotal, vat, total, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`
	if _, err := s.db.ExecContext(ctx, ins, q.ID, userID, planID, priced.PlanVersion, q.VehicleID, q.ModelID, q.ZoneID,
		q.Start, q.End, r.EstimatedKm, r.Member, priced.Currency, string(lines), priced.Subtotal, priced.VAT, priced.Total,
		q.CreatedAt, q.ExpiresAt); err != nil {
		return Quote{}, fmt.Errorf("store quote: %w", err)
	}
	return q, nil
}

// StoredLine is a quote line as stored and exported: snake_case, so finance
// reads the same names the API shows.
type StoredLine struct {
	Code          string `json:"code"`
	DescriptionZH string `json:"description_zh"`
	DescriptionEN string `json:"description_en"`
	Quantity      int64  `json:"quantity"`
	Unit          string `json:"unit"`
	UnitAmount    int64  `json:"unit_amount"`
	Amount        int64  `json:"amount"`
}

// StoredLines converts the pricing core's lines for storage.
func StoredLines(ls []pricing.Line) []StoredLine {
	out := make([]StoredLine, len(ls))
	for i, l := range ls {
		out[i] = StoredLine(l)
	}
	return out
}
