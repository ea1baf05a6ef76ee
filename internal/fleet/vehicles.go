package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

var (
	// A VIN is 17 characters without I, O and Q (ISO 3779).
	vinRE = regexp.MustCompile(`^[A-HJ-NPR-Z0-9]{17}$`)
	// A mainland plate: province character, letter, then 5 (fuel) or 6 (new energy) letters or digits.
	plateRE   = regexp.MustCompile(`^\p{Han}[A-Z][A-HJ-NP-Z0-9]{5,6}$`)
	featureRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)
)

// NormalizePlate upper-cases a plate and drops spaces and the middle dot.
func NormalizePlate(s string) string {
	return strings.ToUpper(strings.NewReplacer(" ", "", "·", "", "•", "", "-", "").Replace(strings.TrimSpace(s)))
}

// NewVehicle is what an operator gives to add a car.
type NewVehicle struct {
	VIN        string
	Plate      string
	ModelID    uuid.UUID
	HomeZoneID uuid.UUID
	Features   []string
}

func checkFeatures(f *apperr.Fields, features []string) []string {
	if len(features) > 16 {
		f.Add("features", "at most 16 features")
	}
	seen := map[string]bool{}
	out := []string{}
	for _, ft := range features {
		if !featureRE.MatchString(ft) {
			f.Add("features", "feature "+ft+" must be a snake_case word such as child_seat")
			continue
		}
		if !seen[ft] {
			seen[ft] = true
			out = append(out, ft)
		}
	}
	return out
}

// newDeviceToken returns a vehicle's telemetry credential and its stored hash.
func newDeviceToken() (string, []byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("device token: %w", err)
	}
	tok := "dt_" + base64.RawURLEncoding.EncodeToString(b)
	return tok, hashDeviceToken(tok), nil
}

func hashDeviceToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// CreateVehicle adds a car at its home zone and returns it with its device
// token, which is shown only this once.
func (s *Service) CreateVehicle(ctx context.Context, by uuid.UUID, nv NewVehicle) (Vehicle, string, error) {
	var f apperr.Fields
	nv.VIN = strings.ToUpper(strings.TrimSpace(nv.VIN))
	if !vinRE.MatchString(nv.VIN) {
		f.Add("vin", "must be 17 letters and digits, without I, O or Q")
	}
	nv.Plate = NormalizePlate(nv.Plate)
	if !plateRE.MatchString(nv.Plate) {
		f.Add("plate", "must be a mainland plate such as 吉A·D12345")
	}
	nv.Features = checkFeatures(&f, nv.Features)
	if err := f.Err(); err != nil {
		return Vehicle{}, "", err
	}
	zone, err := s.Zone(ctx, nv.HomeZoneID)
	if apperr.Is(err, apperr.KindNotFound) {
		return Vehicle{}, "", apperr.Invalid("home_zone_id: no such zone", apperr.FieldError{Field: "home_zone_id", Reason: "no such zone"})
	}
	if err != nil {
		return Vehicle{}, "", err
	}
	if _, err := s.Model(ctx, nv.ModelID); apperr.Is(err, apperr.KindNotFound) {
		return Vehicle{}, "", apperr.Invalid("model_id: no such vehicle model", apperr.FieldError{Field: "model_id", Reason: "no such vehicle model"})
	} else if err != nil {
		return Vehicle{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Vehicle{}, "", err
	}
	tok, hash, err := newDeviceToken()
	if err != nil {
		return Vehicle{}, "", err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		const q = `
			INSERT INTO vehicles (id, vin, plate, model_id, home_zone_id, status, features, device_token_hash,
			                      lat, lng, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, 'available', $6, $7, $8, $9, $10, $10)`
		_, err := tx.ExecContext(ctx, q, id, nv.VIN, nv.Plate, nv.ModelID, nv.HomeZoneID, pq.StringArray(nv.Features),
			hash, zone.Center.Lat, zone.Center.Lng, now)
		switch db.Constraint(err) {
		case "vehicles_vin_key":
			return apperr.New(apperr.KindConflict, "vin_taken", "a vehicle with VIN "+nv.VIN+" already exists")
		case "vehicles_plate_key":
			return apperr.New(apperr.KindConflict, "plate_taken", "a vehicle with plate "+nv.Plate+" already exists")
		}
		if err != nil {
			return fmt.Errorf("insert vehicle: %w", db.Translate(err))
		}
		return recordStatus(ctx, tx, id, nil, Available, "added to the fleet", by)
	})
	if err != nil {
		return Vehicle{}, "", err
	}
	v, err := s.Vehicle(ctx, id)
	return v, tok, err
}

func recordStatus(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, from *Status, to Status, reason string, by uuid.UUID) error {
	const q = `
		INSERT INTO vehicle_status_changes (vehicle_id, from_status, to_status, reason, changed_by)
		VALUES ($1, $2, $3, $4, NULLIF($5, '00000000-0000-0000-0000-000000000000'::uuid))`
	if _, err := tx.ExecContext(ctx, q, id, from, to, reason, by); err != nil {
		return fmt.Errorf("record status change: %w", err)
	}
	return nil
}

// RotateDeviceToken replaces a vehicle's telemetry credential; the old one
// stops working at once.
func (s *Service) RotateDeviceToken(ctx context.Context, id uuid.UUID) (string, error) {
	tok, hash, err := newDeviceToken()
	if err != nil {
		return "", err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE vehicles SET device_token_hash = $2, updated_at = now() WHERE id = $1`, id, hash)
	if err != nil {
		return "", fmt.Errorf("rotate device token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", apperr.NotFound("vehicle")
	}
	return tok, nil
}

// VehicleChange is a partial update of a vehicle; nil fields stay. A status
// change needs a reason.
type VehicleChange struct {
	Plate      *string
	HomeZoneID *uuid.UUID
	Features   *[]string
	Status     *Status
	Reason     string
}

// UpdateVehicle applies ch. Retiring is final and refused while the car has
// reservations ahead; every status change is recorded with who and why.
func (s *Service) UpdateVehicle(ctx context.Context, by uuid.UUID, id uuid.UUID, ch VehicleChange) (Vehicle, error) {
	var f apperr.Fields
	if ch.Plate != nil {
		p := NormalizePlate(*ch.Plate)
		if !plateRE.MatchString(p) {
			f.Add("plate", "must be a mainland plate such as 吉A·D12345")
		}
		ch.Plate = &p
	}
	if ch.Features != nil {
		fs := checkFeatures(&f, *ch.Features)
		ch.Features = &fs
	}
	ch.Reason = strings.TrimSpace(ch.Reason)
	if ch.Status != nil {
		switch *ch.Status {
		case Available, Maintenance, Retired:
		default:
			f.Add("status", "must be available, maintenance or retired")
		}
		if ch.Reason == "" || len(ch.Reason) > 500 {
			f.Add("reason", "a status change needs a reason of up to 500 characters")
		}
	}
	if ch.Plate == nil && ch.HomeZoneID == nil && ch.Features == nil && ch.Status == nil {
		f.Add("(body)", "change at least one of plate, home_zone_id, features, status")
	}
	if err := f.Err(); err != nil {
		return Vehicle{}, err
	}
	if ch.HomeZoneID != nil {
		if _, err := s.Zone(ctx, *ch.HomeZoneID); apperr.Is(err, apperr.KindNotFound) {
			return Vehicle{}, apperr.Invalid("home_zone_id: no such zone", apperr.FieldError{Field: "home_zone_id", Reason: "no such zone"})
		} else if err != nil {
			return Vehicle{}, err
		}
	}
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var cur string
		err := tx.GetContext(ctx, &cur, `SELECT status FROM vehicles WHERE id = $1 FOR UPDATE`, id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("vehicle")
		}
		if err != nil {
			return fmt.Errorf("lock vehicle: %w", err)
		}
		from := Status(cur)
		if from == Retired {
			e := apperr.New(apperr.KindConflict, "invalid_state", "a retired vehicle cannot be changed")
			e.Meta = map[string]any{"current_state": cur}
			return e
		}
		if ch.Status != nil && *ch.Status == Retired {
			var ahead int
			const q = `SELECT count(*) FROM occupancy WHERE vehicle_id = $1 AND live AND kind = 'reservation' AND upper(period) > now()`
			if err := tx.GetContext(ctx, &ahead, q, id); err != nil {
				return fmt.Errorf("count bookings: %w", err)
			}
			if ahead > 0 {
				return apperr.New(apperr.KindConflict, "vehicle_has_bookings",
					fmt.Sprintf("the vehicle has %d reservation(s) ahead; cancel or move them first", ahead))
			}
		}
		var features any
		if ch.Features != nil {
			features = pq.StringArray(*ch.Features)
		}
		const q = `
			UPDATE vehicles SET plate = COALESCE($2, plate), home_zone_id = COALESCE($3, home_zone_id),
			       features = COALESCE($4, features), status = COALESCE($5, status), updated_at = now()
			WHERE id = $1 AND status = $6`
		if _, err := tx.ExecContext(ctx, q, id, ch.Plate, ch.HomeZoneID, features, ch.Status, cur); err != nil {
			if db.Constraint(err) == "vehicles_plate_key" {
				return apperr.New(apperr.KindConflict, "plate_taken", "another vehicle has plate "+*ch.Plate)
			}
			return fmt.Errorf("update vehicle: %w", db.Translate(err))
		}
		if ch.Status != nil && *ch.Status != from {
			return recordStatus(ctx, tx, id, &from, *ch.Status, ch.Reason, by)
		}
		return nil
	})
	if err != nil {
		return Vehicle{}, err
	}
	return s.Vehicle(ctx, id)
}

type vehicleRow struct {
	ID          uuid.UUID       `db:"id"`
	VIN         string          `db:"vin"`
	Plate       string          `db:"plate"`
	ModelID     uuid.UUID       `db:"model_id"`
	HomeZoneID  uuid.UUID       `db:"home_zone_id"`
	Status      string          `db:"status"`
	Features    pq.StringArray  `db:"features"`
	Lat         float64         `db:"lat"`
	Lng         float64         `db:"lng"`
	BatteryPct  sql.NullInt64   `db:"battery_pct"`
	OdometerKm  sql.NullFloat64 `db:"odometer_km"`
	Locked      bool            `db:"locked"`
	TelemetryAt sql.NullTime    `db:"telemetry_at"`
	CreatedAt   time.Time       `db:"created_at"`
	UpdatedAt   time.Time       `db:"updated_at"`
}

const vehicleColumns = `v.id, v.vin, v.plate, v.model_id, v.home_zone_id, v.status, v.features, v.lat, v.lng,
	v.battery_pct, v.odometer_km, v.locked, v.telemetry_at, v.created_at, v.updated_at`

func (r vehicleRow) vehicle() Vehicle {
	v := Vehicle{ID: r.ID, VIN: r.VIN, Plate: r.Plate, ModelID: r.ModelID, HomeZoneID: r.HomeZoneID,
		Status: Status(r.Status), Features: []string(r.Features), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Latest: Telemetry{Position: Point{Lat: r.Lat, Lng: r.Lng}, Locked: r.Locked}}
	if v.Features == nil {
		v.Features = []string{}
	}
	if r.BatteryPct.Valid {
		b := int(r.BatteryPct.Int64)
		v.Latest.BatteryPct = &b
	}
	if r.OdometerKm.Valid {
		v.Latest.OdometerKm = &r.OdometerKm.Float64
	}
	if r.TelemetryAt.Valid {
		t := r.TelemetryAt.Time.UTC()
		v.Latest.At = &t
	}
	return v
}

// Vehicle returns one vehicle.
func (s *Service) Vehicle(ctx context.Context, id uuid.UUID) (Vehicle, error) {
	var r vehicleRow
	if err := db.Get(ctx, s.db, &r, "vehicle", `SELECT `+vehicleColumns+` FROM vehicles v WHERE v.id = $1`, id); err != nil {
		return Vehicle{}, err
	}
	return r.vehicle(), nil
}

// VehicleFilter narrows a list of vehicles; zero fields do not filter.
type VehicleFilter struct {
	ZoneID       *uuid.UUID
	Status       *Status
	ModelID      *uuid.UUID
	BatteryBelow *int
}

// Vehicles returns a page of vehicles in creation order and the cursor of the
// next page.
func (s *Service) Vehicles(ctx context.Context, f VehicleFilter, p page.Request) ([]Vehicle, *string, error) {
	// Each filter applies only when set; battery_below skips cars that never reported.
	const q = `
		SELECT ` + vehicleColumns + ` FROM vehicles v
		WHERE ($1::uuid IS NULL OR v.home_zone_id = $1)
		  AND ($2::text IS NULL OR v.status = $2)
		  AND ($3::uuid IS NULL OR v.model_id = $3)
		  AND ($4::int IS NULL OR v.battery_pct < $4)
		  AND ($5::timestamptz IS NULL OR (v.created_at, v.id) > ($5, $6))
		ORDER BY v.created_at, v.id
		LIMIT $7`
	after, afterID := p.Bounds()
	var rows []vehicleRow
	if err := s.db.SelectContext(ctx, &rows, q, f.ZoneID, f.Status, f.ModelID, f.BatteryBelow, after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("list vehicles: %w", err)
	}
	out := make([]Vehicle, len(rows))
	for i, r := range rows {
		out[i] = r.vehicle()
	}
	return out, page.Next(out, p.Limit, func(v Vehicle) (time.Time, uuid.UUID) { return v.CreatedAt, v.ID }), nil
}

// StatusChange is one recorded change of a vehicle's status.
type StatusChange struct {
	From      *Status
	To        Status
	Reason    string
	ChangedBy *uuid.UUID
	ChangedAt time.Time
}

// StatusHistory lists a vehicle's status changes, oldest first.
func (s *Service) StatusHistory(ctx context.Context, id uuid.UUID) ([]StatusChange, error) {
	var rows []struct {
		From      sql.NullString `db:"from_status"`
		To        string         `db:"to_status"`
		Reason    string         `db:"reason"`
		ChangedBy *uuid.UUID     `db:"changed_by"`
		ChangedAt time.Time      `db:"changed_at"`
	}
	const q = `SELECT from_status, to_status, reason, changed_by, changed_at FROM vehicle_status_changes WHERE vehicle_id = $1 ORDER BY id`
	if err := s.db.SelectContext(ctx, &rows, q, id); err != nil {
		return nil, fmt.Errorf("status history: %w", err)
	}
	out := make([]StatusChange, len(rows))
	for i, r := range rows {
		out[i] = StatusChange{To: Status(r.To), Reason: r.Reason, ChangedBy: r.ChangedBy, ChangedAt: r.ChangedAt.UTC()}
		if r.From.Valid {
			st := Status(r.From.String)
			out[i].From = &st
		}
	}
	return out, nil
}

// Placement returns a vehicle's model and home zone, for pricing.
func (s *Service) Placement(ctx context.Context, id uuid.UUID) (modelID, zoneID uuid.UUID, err error) {
	v, err := s.Vehicle(ctx, id)
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	return v.ModelID, v.HomeZoneID, nil
}
