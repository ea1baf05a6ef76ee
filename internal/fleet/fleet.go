// Package fleet runs the town's cars: zones (stations and areas), vehicle
// models, vehicles and their status history, the occupancy calendar shared
// with reservations (maintenance blocks live here), device telemetry and the
// operators' live view.
package fleet

import (
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
)

// ZoneKind says whether a zone is a station or an area.
type ZoneKind string

// The kinds of zone.
const (
	ZoneStation ZoneKind = "station" // a point with a radius and a parking capacity
	ZoneArea    ZoneKind = "area"    // a polygon
)

// Point is a WGS 84 position.
type Point struct {
	Lat float64
	Lng float64
}

// Zone is a station or an area where cars live and may be returned.
type Zone struct {
	ID            uuid.UUID
	Code          string
	NameZH        string
	NameEN        string
	Kind          ZoneKind
	Center        Point     // the station's point, or the area's centre
	RadiusM       *int      // stations
	Capacity      *int      // stations
	Polygon       [][]Point // areas: one closed ring, first point repeated last
	BufferMinutes int       // kept free after each holding of a car of this zone
	OneWayReturns bool      // whether a trip started elsewhere may end here
	Active        bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Powertrain is how a model is driven.
type Powertrain string

// The powertrains.
const (
	BEV  Powertrain = "bev"
	PHEV Powertrain = "phev"
	ICE  Powertrain = "ice"
)

// Model is a vehicle model, e.g. the Hongqi E-HS9.
type Model struct {
	ID         uuid.UUID
	Make       string
	Model      string
	Powertrain Powertrain
	Seats      int
	RangeKm    int
	BatteryKWh *float64 // nil for combustion cars
	ImageURL   *string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Status is whether a vehicle can be booked.
type Status string

// The vehicle statuses.
const (
	Available   Status = "available"
	Maintenance Status = "maintenance"
	Retired     Status = "retired"
)

// Telemetry is the latest known state of a vehicle.
type Telemetry struct {
	Position   Point
	BatteryPct *int
	OdometerKm *float64
	Locked     bool
	At         *time.Time // nil until the car first reports
}

// Vehicle is one car of the fleet.
type Vehicle struct {
	ID         uuid.UUID
	VIN        string
	Plate      string
	ModelID    uuid.UUID
	HomeZoneID uuid.UUID
	Status     Status
	Features   []string
	Latest     Telemetry
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// HoldingKind says what holds a car.
type HoldingKind string

// The kinds of holding.
const (
	HoldReservation HoldingKind = "reservation"
	HoldBlock       HoldingKind = "block"
)

// Holding is a row of the occupancy calendar: a reservation or a maintenance
// block holding a car from Start to End, and HeldUntil with the buffer.
type Holding struct {
	ID            uuid.UUID
	VehicleID     uuid.UUID
	Kind          HoldingKind
	Start         time.Time
	End           time.Time
	HeldUntil     time.Time
	BufferMinutes int
	Reason        *string
	ReservationID *uuid.UUID
	Live          bool
	CreatedAt     time.Time
}

// Options configure the fleet service.
type Options struct {
	Now      func() time.Time // the clock; time.Now when nil
	Location *time.Location   // business time zone, for messages; Asia/Shanghai when nil
	Log      *slog.Logger
	// Search is a pool for availability searches whose sessions start with
	// SearchSettings (db.WithSettings). Without it (tests of other parts)
	// searches run on the main pool: the same answers, but the planner may
	// sort every car in the radius.
	Search *sqlx.DB
}

// Service is the fleet capability.
type Service struct {
	db     *sqlx.DB
	search *sqlx.DB
	now    func() time.Time
	loc    *time.Location
	log    *slog.Logger
}

// NewService returns the fleet service on d.
func NewService(d *sqlx.DB, o Options) *Service {
	s := &Service{db: d, search: o.Search, now: o.Now, loc: o.Location, log: o.Log}
	if s.search == nil {
		s.search = d
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.loc == nil {
		s.loc, _ = time.LoadLocation("Asia/Shanghai")
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}
