package fleet

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Occupant is what holds a car now or next, in the live view.
type Occupant struct {
	ID            uuid.UUID
	Kind          HoldingKind
	Start, End    time.Time
	ReservationID *uuid.UUID
}

// LiveVehicle is one row of the operators' live view.
type LiveVehicle struct {
	Vehicle
	ZoneCode   string
	Make       string
	ModelName  string
	Powertrain Powertrain
	RangeKm    *int // estimated from the battery for electric cars
	Current    *Occupant
	Next       *Occupant
}

type liveRow struct {
	vehicleRow
	ZoneCode   string         `db:"zone_code"`
	Make       string         `db:"make"`
	ModelName  string         `db:"model_name"`
	Powertrain string         `db:"powertrain"`
	RangeKm    int            `db:"range_km"`
	CurID      *uuid.UUID     `db:"cur_id"`
	CurKind    sql.NullString `db:"cur_kind"`
	CurStart   sql.NullTime   `db:"cur_start"`
	CurEnd     sql.NullTime   `db:"cur_end"`
	CurRes     *uuid.UUID     `db:"cur_reservation_id"`
	NextID     *uuid.UUID     `db:"next_id"`
	NextKind   sql.NullString `db:"next_kind"`
	NextStart  sql.NullTime   `db:"next_start"`
	NextEnd    sql.NullTime   `db:"next_end"`
	NextRes    *uuid.UUID     `db:"next_reservation_id"`
}

func occupant(id *uuid.UUID, kind sql.NullString, start, end sql.NullTime, res *uuid.UUID) *Occupant {
	if id == nil {
		return nil
	}
	return &Occupant{ID: *id, Kind: HoldingKind(kind.String), Start: start.Time.UTC(), End: end.Time.UTC(), ReservationID: res}
}

// Live returns every car in service — position, battery, status, what holds
// it now and what holds it next — in one query, optionally for one zone.
func (s *Service) Live(ctx context.Context, zoneID *uuid.UUID) ([]LiveVehicle, error) {
	// Two lateral lookups per car, each an index probe on the live
	// occupancy of that car: the one covering now, and the next to start.
	const q = `
		SELECT ` + vehicleColumns + `, z.code AS zone_code, m.make, m.model AS model_name, m.powertrain, m.range_km,
		       cur.id AS cur_id, cur.kind AS cur_kind, lower(cur.period) AS cur_start, upper(cur.period) AS cur_end,
		       cur.reservation_id AS cur_reservation_id,
		       nxt.id AS next_id, nxt.kind AS next_kind, lower(nxt.period) AS next_start, upper(nxt.period) AS next_end,
		       nxt.reservation_id AS next_reservation_id
		FROM vehicles v
		JOIN vehicle_models m ON m.id = v.model_id
		JOIN zones z ON z.id = v.home_zone_id
		LEFT JOIN LATERAL (
			SELECT o.id, o.kind, o.period, o.reservation_id FROM occupancy o
			WHERE o.vehicle_id = v.id AND o.live AND o.period @> $2::timestamptz
			LIMIT 1) cur ON true
		LEFT JOIN LATERAL (
			SELECT o.id, o.kind, o.period, o.reservation_id FROM occupancy o
			WHERE o.vehicle_id = v.id AND o.live AND lower(o.period) > $2
			ORDER BY lower(o.period)
			LIMIT 1) nxt ON true
		WHERE v.status <> 'retired' AND ($1::uuid IS NULL OR v.home_zone_id = $1)
		ORDER BY z.code, v.plate`
	var rows []liveRow
	if err := s.db.SelectContext(ctx, &rows, q, zoneID, s.now()); err != nil {
		return nil, fmt.Errorf("live fleet: %w", err)
	}
	out := make([]LiveVehicle, len(rows))
	for i, r := range rows {
		lv := LiveVehicle{Vehicle: r.vehicle(), ZoneCode: r.ZoneCode, Make: r.Make, ModelName: r.ModelName,
			Powertrain: Powertrain(r.Powertrain),
			Current:    occupant(r.CurID, r.CurKind, r.CurStart, r.CurEnd, r.CurRes),
			Next:       occupant(r.NextID, r.NextKind, r.NextStart, r.NextEnd, r.NextRes)}
		if lv.Powertrain != ICE && lv.Latest.BatteryPct != nil {
			km := r.RangeKm * *lv.Latest.BatteryPct / 100
			lv.RangeKm = &km
		}
		out[i] = lv
	}
	return out, nil
}
