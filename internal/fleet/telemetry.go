package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// Telemetry limits.
const (
	MaxBatch        = 1000
	maxClockSkew    = 5 * time.Minute     // a car's clock may run this far ahead
	maxReadingAge   = 30 * 24 * time.Hour // older readings are not worth keeping
	maxOdometerKm   = 2_000_000
	TelemetryPeriod = 30 * time.Second // how often a car reports while driving, for sizing
)

// Reading is one telemetry sample from a car.
type Reading struct {
	RecordedAt time.Time
	Position   Point
	BatteryPct int
	OdometerKm float64
	Locked     bool
}

// RejectedReading is a reading refused, by its index in the batch, with why.
type RejectedReading struct {
	Index  int
	Fields []apperr.FieldError
}

// IngestResult says what became of a batch.
type IngestResult struct {
	Accepted   int // stored now
	Duplicates int // already stored before: acknowledged, not stored again
	Rejected   []RejectedReading
}

// AuthenticateDevice returns the vehicle whose device token this is.
func (s *Service) AuthenticateDevice(ctx context.Context, token string) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.GetContext(ctx, &id, `SELECT id FROM vehicles WHERE device_token_hash = $1 AND status <> 'retired'`, hashDeviceToken(token))
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, apperr.New(apperr.KindUnauthenticated, "invalid_device_token", "the device token is not valid")
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("authenticate device: %w", err)
	}
	return id, nil
}

func (s *Service) checkReading(r Reading, now time.Time) []apperr.FieldError {
	var f apperr.Fields
	if r.Position.Lat < -90 || r.Position.Lat > 90 {
		f.Add("lat", "must be from -90 to 90")
	}
	if r.Position.Lng < -180 || r.Position.Lng > 180 {
		f.Add("lng", "must be from -180 to 180")
	}
	if r.BatteryPct < 0 || r.BatteryPct > 100 {
		f.Add("battery_pct", "must be from 0 to 100")
	}
	if r.OdometerKm < 0 || r.OdometerKm > maxOdometerKm {
		f.Add("odometer_km", "must be from 0 to 2000000")
	}
	switch {
	case r.RecordedAt.IsZero():
		f.Add("recorded_at", "is required")
	case r.RecordedAt.After(now.Add(maxClockSkew)):
		f.Add("recorded_at", "is in the future")
	case r.RecordedAt.Before(now.Add(-maxReadingAge)):
		f.Add("recorded_at", "is older than 30 days")
	}
	return f
}

// Ingest stores a batch of readings from vehicleID. Each implausible reading
// is rejected with its reasons while the good ones are stored; a repeated
// reading is acknowledged once; and a reading older than the car's latest
// state goes into the history without moving that state backwards.
func (s *Service) Ingest(ctx context.Context, vehicleID uuid.UUID, readings []Reading) (IngestResult, error) {
	var res IngestResult
	if len(readings) == 0 || len(readings) > MaxBatch {
		return res, apperr.Invalid("readings: send 1 to 1000 readings", apperr.FieldError{Field: "readings", Reason: "send 1 to 1000 readings"})
	}
	now := s.now()
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// Lock the car so concurrent batches judge odometers against one truth.
		var cur struct {
			At  sql.NullTime    `db:"telemetry_at"`
			Odo sql.NullFloat64 `db:"odometer_km"`
		}
		if err := tx.GetContext(ctx, &cur, `SELECT telemetry_at, odometer_km FROM vehicles WHERE id = $1 FOR UPDATE`, vehicleID); err != nil {
			return fmt.Errorf("lock vehicle: %w", err)
		}
		order := make([]int, len(readings))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return readings[order[a]].RecordedAt.Before(readings[order[b]].RecordedAt) })

		res.Rejected = nil
		maxOdo := cur.Odo.Float64 // odometers of readings after the latest state never go below it
		var ok []Reading
		for _, i := range order {
			r := readings[i]
			fields := s.checkReading(r, now)
			if len(fields) == 0 && cur.Odo.Valid {
				newer := !cur.At.Valid || r.RecordedAt.After(cur.At.Time)
				switch {
				case newer && r.OdometerKm < maxOdo:
					fields = append(fields, apperr.FieldError{Field: "odometer_km", Reason: fmt.Sprintf("decreases: an earlier reading has %.1f km", maxOdo)})
				case !newer && r.OdometerKm > cur.Odo.Float64:
					fields = append(fields, apperr.FieldError{Field: "odometer_km", Reason: fmt.Sprintf("is above %.1f km of a later reading", cur.Odo.Float64)})
				}
			} else if len(fields) == 0 && r.OdometerKm < maxOdo {
				fields = append(fields, apperr.FieldError{Field: "odometer_km", Reason: fmt.Sprintf("decreases: an earlier reading has %.1f km", maxOdo)})
			}
			if len(fields) > 0 {
				res.Rejected = append(res.Rejected, RejectedReading{Index: i, Fields: fields})
				continue
			}
			if !cur.At.Valid || r.RecordedAt.After(cur.At.Time) {
				maxOdo = max(maxOdo, r.OdometerKm)
			}
			ok = append(ok, r)
		}
		sort.Slice(res.Rejected, func(a, b int) bool { return res.Rejected[a].Index < res.Rejected[b].Index })
		if len(ok) == 0 {
			return nil
		}
		inserted, err := insertReadings(ctx, tx, vehicleID, ok, now)
		if err != nil {
			return err
		}
		res.Accepted, res.Duplicates = inserted, len(ok)-inserted
		last := ok[len(ok)-1] // the newest good reading
		// Guarded: only a newer reading moves the latest state.
		const q = `
			UPDATE vehicles SET lat = $2, lng = $3, battery_pct = $4, odometer_km = $5, locked = $6, telemetry_at = $7
			WHERE id = $1 AND (telemetry_at IS NULL OR telemetry_at < $7)`
		if _, err := tx.ExecContext(ctx, q, vehicleID, last.Position.Lat, last.Position.Lng, last.BatteryPct,
			last.OdometerKm, last.Locked, last.RecordedAt); err != nil {
			return fmt.Errorf("update latest state: %w", err)
		}
		return nil
	})
	return res, err
}

// insertReadings writes a batch in one statement; readings already stored
// (same car, same time) are skipped. It returns how many were new.
func insertReadings(ctx context.Context, tx *sqlx.Tx, vehicleID uuid.UUID, rs []Reading, now time.Time) (int, error) {
	at := make(pq.StringArray, len(rs))
	lat := make(pq.Float64Array, len(rs))
	lng := make(pq.Float64Array, len(rs))
	bat := make(pq.Int64Array, len(rs))
	odo := make(pq.Float64Array, len(rs))
	lock := make(pq.BoolArray, len(rs))
	for i, r := range rs {
		at[i] = r.RecordedAt.UTC().Format(time.RFC3339Nano)
		lat[i], lng[i], bat[i], odo[i], lock[i] = r.Position.Lat, r.Position.Lng, int64(r.BatteryPct), r.OdometerKm, r.Locked
	}
	const q = `
		INSERT INTO telemetry_readings (vehicle_id, recorded_at, received_at, lat, lng, battery_pct, odometer_km, locked)
		SELECT $1, t.at, $2, t.lat, t.lng, t.bat, t.odo, t.lock
		FROM unnest($3::timestamptz[], $4::float8[], $5::float8[], $6::int[], $7::float8[], $8::bool[])
		     AS t(at, lat, lng, bat, odo, lock)
		ON CONFLICT (vehicle_id, recorded_at) DO NOTHING`
	res, err := tx.ExecContext(ctx, q, vehicleID, now, at, lat, lng, bat, odo, lock)
	if err != nil {
		return 0, fmt.Errorf("insert readings: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PruneTelemetry deletes readings recorded before cutoff, in batches, and
// returns how many went.
func (s *Service) PruneTelemetry(ctx context.Context, cutoff time.Time) (int64, error) {
	const q = `
		DELETE FROM telemetry_readings WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM telemetry_readings WHERE recorded_at < $1 LIMIT 10000))`
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, q, cutoff)
		if err != nil {
			return total, fmt.Errorf("prune telemetry: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < 10000 {
			return total, nil
		}
	}
}
