package reservation

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/pricing"
)

// sendCommand asks the telematics adapter to lock or unlock a car and
// records the command.
func (s *Service) sendCommand(ctx context.Context, tx *sqlx.Tx, vehicleID, reservationID uuid.UUID, command string) error {
	status, detail := s.o.Telematics.Send(ctx, vehicleID, command)
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	const q = `
		INSERT INTO vehicle_commands (id, vehicle_id, reservation_id, command, status, adapter, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if _, err := tx.ExecContext(ctx, q, id, vehicleID, reservationID, command, status, s.o.Telematics.Name(), detail); err != nil {
		return fmt.Errorf("record %s command: %w", command, err)
	}
	if status == "failed" {
		return apperr.New(apperr.KindDependency, "vehicle_unreachable", "the car did not answer the "+command+" command; try again")
	}
	return nil
}

// Start unlocks the car for its resident: the booking is confirmed (so the
// money is held), the licence is still valid, and now is within
// [start − 15 min, start + grace]. The trip starts with the car's odometer
// and battery from its latest telemetry.
func (s *Service) Start(ctx context.Context, v Viewer, id uuid.UUID) (Reservation, error) {
	r, err := s.Get(ctx, Viewer{UserID: v.UserID}, id) // only the resident may unlock
	if err != nil {
		return Reservation{}, err
	}
	now := s.o.Now()
	if r.Status != Confirmed {
		return Reservation{}, invalidState(r.Status, Active)
	}
	if now.Before(r.Start.Add(-s.o.Rules.UnlockEarly)) || now.After(r.Start.Add(s.o.Rules.Grace)) {
		return Reservation{}, apperr.New(apperr.KindConflict, "outside_unlock_window", fmt.Sprintf(
			"the car can be unlocked from %s to %s", r.Start.Add(-s.o.Rules.UnlockEarly).In(s.o.Location).Format("15:04"),
			r.Start.Add(s.o.Rules.Grace).In(s.o.Location).Format("15:04")))
	}
	if err := s.o.Identity.CanBook(ctx, r.UserID, now); err != nil {
		return Reservation{}, err
	}
	car, err := s.o.Fleet.Vehicle(ctx, r.VehicleID)
	if err != nil {
		return Reservation{}, err
	}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := s.transition(ctx, tx, id, []Status{Confirmed}, Active, &v.UserID, "unlocked",
			`, started_at = $4, start_odometer = $5, start_battery = $6`, now.UTC(), car.Latest.OdometerKm, car.Latest.BatteryPct)
		if db.Constraint(err) == "reservations_one_active_trip" {
			return apperr.New(apperr.KindConflict, "trip_in_progress", "you have a trip in progress; end it before starting another")
		}
		if err != nil {
			return err
		}
		if err := s.flagOdometerGap(ctx, tx, r, car.Latest.OdometerKm); err != nil {
			return err
		}
		return s.sendCommand(ctx, tx, r.VehicleID, id, "unlock")
	})
	if err != nil {
		return Reservation{}, err
	}
	return s.get(ctx, s.db, id, false)
}

// flagOdometerGap raises an alert when the car has moved between the end of
// its last trip and this start: someone drove it off the books.
func (s *Service) flagOdometerGap(ctx context.Context, tx *sqlx.Tx, r Reservation, odometer *float64) error {
	if odometer == nil {
		return nil
	}
	var last *float64
	const q = `
		SELECT end_odometer FROM reservations
		WHERE vehicle_id = $1 AND status = 'completed' AND end_odometer IS NOT NULL
		ORDER BY ended_at DESC LIMIT 1`
	if err := tx.GetContext(ctx, &last, q, r.VehicleID); err != nil || last == nil {
		return nil
	}
	if gap := *odometer - *last; math.Abs(gap) >= 1 {
		return s.alert(ctx, tx, "odometer_gap", r.VehicleID, r.ID,
			fmt.Sprintf("odometer %.1f km at unlock, %.1f km at the end of the previous trip (%+.1f km off the books)", *odometer, *last, gap))
	}
	return nil
}

func (s *Service) alert(ctx context.Context, q sqlx.ExecerContext, kind string, vehicleID, reservationID uuid.UUID, detail string) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	const ins = `
		INSERT INTO fleet_alerts (id, kind, vehicle_id, reservation_id, detail) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, reservation_id) DO NOTHING`
	if _, err := q.ExecContext(ctx, ins, id, kind, vehicleID, reservationID, detail); err != nil {
		return fmt.Errorf("raise %s alert: %w", kind, err)
	}
	return nil
}

// EndRequest is where the resident says the car is; without a position the
// car's latest telemetry decides.
type EndRequest struct {
	Position *fleet.Point
	Cleaning bool // set by operators ending a trip that needs cleaning
}

// End locks the car and completes the trip: the return position must be in
// an active zone that takes this car (its home zone, or one open to one-way
// returns) or the out-of-zone fee applies; the final price comes from the
// pricing core under the booking's plan version and is captured from the
// hold, with any excess charged off-session.
func (s *Service) End(ctx context.Context, v Viewer, id uuid.UUID, e EndRequest) (Reservation, error) {
	r, err := s.Get(ctx, v, id)
	if err != nil {
		return Reservation{}, err
	}
	if r.Status != Active {
		return Reservation{}, invalidState(r.Status, Completed)
	}
	car, err := s.o.Fleet.Vehicle(ctx, r.VehicleID)
	if err != nil {
		return Reservation{}, err
	}
	model, err := s.o.Fleet.Model(ctx, car.ModelID)
	if err != nil {
		return Reservation{}, err
	}
	pos := car.Latest.Position
	if e.Position != nil {
		pos = *e.Position
	}
	zones, err := s.o.Fleet.ZonesAt(ctx, pos)
	if err != nil {
		return Reservation{}, err
	}
	var endZone *uuid.UUID
	for _, z := range zones {
		if z.ID == r.ZoneID || z.OneWayReturns {
			endZone = &z.ID
			break
		}
	}
	outOfZone := endZone == nil
	now := s.o.Now().UTC()
	km := int64(0)
	if car.Latest.OdometerKm != nil && r.Trip.StartOdometer != nil {
		km = int64(math.Ceil(max(*car.Latest.OdometerKm-*r.Trip.StartOdometer, 0)))
	}
	battery := 100
	if car.Latest.BatteryPct != nil {
		battery = *car.Latest.BatteryPct
	}
	plan, err := s.o.Plans.Version(ctx, r.PlanID, r.PlanVersion)
	if err != nil {
		return Reservation{}, err
	}
	q, err := pricing.FinalPrice(plan, pricing.FinalInput{BookedStart: r.Start, BookedEnd: r.End, ActualEnd: now,
		Loc: s.o.Location, Km: km, EV: model.Powertrain != fleet.ICE, EndBatteryPct: battery, OutOfZone: outOfZone,
		Cleaning: e.Cleaning})
	if err != nil {
		return Reservation{}, err
	}
	final := priceOf(q)
	lines, err := linesJSON(final)
	if err != nil {
		return Reservation{}, err
	}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		err := s.transition(ctx, tx, id, []Status{Active}, Completed, &v.UserID, "returned",
			`, ended_at = $4, end_odometer = $5, end_battery = $6, end_lat = $7, end_lng = $8, end_zone_id = $9,
			   out_of_zone = $10, final_lines = $11, final_subtotal = $12, final_vat = $13, final_total = $14`,
			now, car.Latest.OdometerKm, car.Latest.BatteryPct, pos.Lat, pos.Lng, endZone, outOfZone, lines,
			final.Subtotal, final.VAT, final.Total)
		if err != nil {
			return err
		}
		if err := s.free(ctx, tx, id, v.UserID); err != nil {
			return err
		}
		if err := s.sendCommand(ctx, tx, r.VehicleID, id, "lock"); err != nil {
			return err
		}
		return s.settle(ctx, tx, r, final.Total)
	})
	if err != nil {
		return Reservation{}, err
	}
	s.process(ctx, id)
	return s.get(ctx, s.db, id, false)
}

// Elapsed is how long an active trip has run, for the app's running price.
func Elapsed(r Reservation, now time.Time) time.Duration {
	if r.Trip.StartedAt == nil {
		return 0
	}
	end := now
	if r.Trip.EndedAt != nil {
		end = *r.Trip.EndedAt
	}
	return end.Sub(*r.Trip.StartedAt)
}

// RunningPrice is what an active trip would cost if it ended now at a
// zone that takes the car: booked time at least, lateness, and the km
// driven so far by the car's telemetry. Return fees (zone, battery) are
// decided at the end.
func (s *Service) RunningPrice(ctx context.Context, r Reservation) (Price, error) {
	if r.Status != Active {
		return Price{}, invalidState(r.Status, r.Status)
	}
	car, err := s.o.Fleet.Vehicle(ctx, r.VehicleID)
	if err != nil {
		return Price{}, err
	}
	km := int64(0)
	if car.Latest.OdometerKm != nil && r.Trip.StartOdometer != nil {
		km = int64(math.Ceil(max(*car.Latest.OdometerKm-*r.Trip.StartOdometer, 0)))
	}
	plan, err := s.o.Plans.Version(ctx, r.PlanID, r.PlanVersion)
	if err != nil {
		return Price{}, err
	}
	q, err := pricing.FinalPrice(plan, pricing.FinalInput{BookedStart: r.Start, BookedEnd: r.End, ActualEnd: s.o.Now(),
		Loc: s.o.Location, Km: km, EndBatteryPct: 100})
	if err != nil {
		return Price{}, err
	}
	return priceOf(q), nil
}
