package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

// Bounds of a maintenance block and of a schedule window.
const (
	MaxBlock          = 90 * 24 * time.Hour
	MaxScheduleWindow = 62 * 24 * time.Hour
)

type holdingRow struct {
	ID            uuid.UUID      `db:"id"`
	VehicleID     uuid.UUID      `db:"vehicle_id"`
	Kind          string         `db:"kind"`
	Start         time.Time      `db:"start_at"`
	End           time.Time      `db:"end_at"`
	HeldUntil     time.Time      `db:"held_until"`
	BufferMinutes int            `db:"buffer_minutes"`
	Reason        sql.NullString `db:"reason"`
	ReservationID *uuid.UUID     `db:"reservation_id"`
	Live          bool           `db:"live"`
	CreatedAt     time.Time      `db:"created_at"`
}

const holdingColumns = `id, vehicle_id, kind, lower(period) AS start_at, upper(period) AS end_at,
	upper(held) AS held_until, buffer_minutes, reason, reservation_id, live, created_at`

func (r holdingRow) holding() Holding {
	h := Holding{ID: r.ID, VehicleID: r.VehicleID, Kind: HoldingKind(r.Kind), Start: r.Start.UTC(), End: r.End.UTC(),
		HeldUntil: r.HeldUntil.UTC(), BufferMinutes: r.BufferMinutes, ReservationID: r.ReservationID,
		Live: r.Live, CreatedAt: r.CreatedAt.UTC()}
	if r.Reason.Valid {
		h.Reason = &r.Reason.String
	}
	return h
}

// HoldRequest asks to hold a car for [Start, End).
type HoldRequest struct {
	VehicleID     uuid.UUID
	Kind          HoldingKind
	Start, End    time.Time
	Reason        *string
	ReservationID *uuid.UUID
	By            uuid.UUID
	// ConflictCode is the problem code when the car is taken, e.g.
	// vehicle_unavailable for a booking, schedule_conflict for a block.
	ConflictCode string
}

// Hold writes an occupancy row in tx, widened by the home zone's turnaround
// buffer. The exclusion constraint decides: when the period overlaps a live
// holding, the answer is a conflict that names what holds the car.
func (s *Service) Hold(ctx context.Context, tx *sqlx.Tx, r HoldRequest) (Holding, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Holding{}, err
	}
	// The buffer comes from the car's home zone at the time of holding, and
	// is kept on the row so a later zone change moves nothing behind anyone.
	const q = `
		INSERT INTO occupancy (id, vehicle_id, kind, period, held, buffer_minutes, reason, reservation_id, created_by)
		SELECT $1, v.id, $3, tstzrange($4::timestamptz, $5::timestamptz, '[)'),
		       tstzrange($4::timestamptz, $5::timestamptz + make_interval(mins => z.buffer_minutes), '[)'), z.buffer_minutes, $6, $7,
		       NULLIF($8, '00000000-0000-0000-0000-000000000000'::uuid)
		FROM vehicles v JOIN zones z ON z.id = v.home_zone_id
		WHERE v.id = $2
		RETURNING ` + holdingColumns
	if err := lockVehicle(ctx, tx, `SELECT $1::uuid`, r.VehicleID); err != nil {
		return Holding{}, err
	}
	var row holdingRow
	// A savepoint keeps the caller's transaction usable after a conflict.
	if _, err := tx.ExecContext(ctx, `SAVEPOINT hold`); err != nil {
		return Holding{}, fmt.Errorf("savepoint: %w", err)
	}
	err = tx.GetContext(ctx, &row, q, id, r.VehicleID, string(r.Kind), r.Start, r.End, r.Reason, r.ReservationID, r.By)
	if errors.Is(err, sql.ErrNoRows) {
		return Holding{}, apperr.NotFound("vehicle")
	}
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT hold`); rbErr != nil {
			return Holding{}, fmt.Errorf("rollback to savepoint: %w", rbErr)
		}
		if db.Constraint(err) == "occupancy_no_overlap" {
			return Holding{}, s.conflict(ctx, tx, r)
		}
		return Holding{}, fmt.Errorf("hold vehicle: %w", db.Translate(err))
	}
	return row.holding(), nil
}

// lockVehicle takes, until tx ends, the lock under which a car's holdings
// are written one at a time; which selects the car's id from arg. The
// exclusion constraint alone keeps holdings apart, but two transactions
// inserting overlapping holdings at the same instant each wait for the
// other's check and deadlock (PostgreSQL then aborts one after a second);
// under the lock the second simply sees the first and is told the car is
// taken. Only writers of the same car wait for each other.
func lockVehicle(ctx context.Context, tx *sqlx.Tx, which string, arg any) error {
	q := `SELECT pg_advisory_xact_lock(hashtextextended('fleet.vehicle:' || v::text, 0)) FROM (` + which + `) AS w(v)`
	if _, err := tx.ExecContext(ctx, q, arg); err != nil {
		return fmt.Errorf("lock vehicle: %w", err)
	}
	return nil
}

// conflict describes the live holdings that overlap r, in business time.
func (s *Service) conflict(ctx context.Context, q sqlx.QueryerContext, r HoldRequest) error {
	return s.conflictExcept(ctx, q, r, uuid.Nil)
}

// conflictExcept is conflict leaving out the holding being moved.
func (s *Service) conflictExcept(ctx context.Context, q sqlx.QueryerContext, r HoldRequest, except uuid.UUID) error {
	const query = `
		SELECT ` + holdingColumns + ` FROM occupancy o
		WHERE o.vehicle_id = $1 AND o.live AND o.id <> $4
		  AND o.held && tstzrange($2::timestamptz, $3::timestamptz + make_interval(mins => (
		        SELECT z.buffer_minutes FROM vehicles v JOIN zones z ON z.id = v.home_zone_id WHERE v.id = $1)), '[)')
		ORDER BY lower(o.period)
		LIMIT 5`
	var rows []holdingRow
	if err := sqlx.SelectContext(ctx, q, &rows, query, r.VehicleID, r.Start, r.End, except); err != nil {
		return fmt.Errorf("find conflict: %w", err)
	}
	var parts []string
	var list []map[string]any
	for _, row := range rows {
		h := row.holding()
		what := "a reservation"
		if h.Kind == HoldBlock {
			what = "a maintenance block"
		}
		parts = append(parts, fmt.Sprintf("%s from %s to %s, with %d min turnaround (free from %s)", what,
			h.Start.In(s.loc).Format("01-02 15:04"), h.End.In(s.loc).Format("01-02 15:04"), h.BufferMinutes,
			h.HeldUntil.In(s.loc).Format("01-02 15:04")))
		list = append(list, map[string]any{"kind": string(h.Kind), "id": h.ID, "start": h.Start, "end": h.End, "held_until": h.HeldUntil})
	}
	code := r.ConflictCode
	if code == "" {
		code = "vehicle_unavailable"
	}
	detail := "the car is not free for that period"
	if len(parts) > 0 {
		detail = "the car is taken: " + strings.Join(parts, "; ") + " (times " + s.loc.String() + ")"
	}
	e := apperr.New(apperr.KindUnavailable, code, detail)
	e.Meta = map[string]any{"conflicts": list}
	return e
}

// Release frees a live holding in tx; releasing twice is a no-op that
// reports false.
func (s *Service) Release(ctx context.Context, tx sqlx.ExtContext, id uuid.UUID, by uuid.UUID) (bool, error) {
	const q = `
		UPDATE occupancy SET live = false, released_at = now(),
		       released_by = NULLIF($2, '00000000-0000-0000-0000-000000000000'::uuid)
		WHERE id = $1 AND live`
	res, err := tx.ExecContext(ctx, q, id, by)
	if err != nil {
		return false, fmt.Errorf("release holding: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// NewBlock is an operator's maintenance block.
type NewBlock struct {
	Start, End time.Time
	Reason     string
}

// CreateBlock takes a car out of service for a period. It is refused with
// schedule_conflict, naming what is in the way, when anything live overlaps.
func (s *Service) CreateBlock(ctx context.Context, by uuid.UUID, vehicleID uuid.UUID, b NewBlock) (Holding, error) {
	var f apperr.Fields
	b.Reason = strings.TrimSpace(b.Reason)
	if b.Reason == "" || len(b.Reason) > 500 {
		f.Add("reason", "must be 1 to 500 characters")
	}
	switch {
	case !b.End.After(b.Start):
		f.Add("end", "must be after start")
	case b.End.Sub(b.Start) > MaxBlock:
		f.Add("end", "a block is at most 90 days")
	case !b.End.After(s.now()):
		f.Add("end", "must be in the future")
	}
	if err := f.Err(); err != nil {
		return Holding{}, err
	}
	v, err := s.Vehicle(ctx, vehicleID)
	if err != nil {
		return Holding{}, err
	}
	if v.Status == Retired {
		return Holding{}, apperr.New(apperr.KindConflict, "invalid_state", "a retired vehicle cannot be blocked")
	}
	var h Holding
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		h, err = s.Hold(ctx, tx, HoldRequest{VehicleID: vehicleID, Kind: HoldBlock, Start: b.Start.UTC(), End: b.End.UTC(),
			Reason: &b.Reason, By: by, ConflictCode: "schedule_conflict"})
		return err
	})
	return h, err
}

// DeleteBlock ends a maintenance block of vehicleID; the row stays as history.
func (s *Service) DeleteBlock(ctx context.Context, by, vehicleID, blockID uuid.UUID) error {
	return db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var live bool
		const q = `SELECT live FROM occupancy WHERE id = $1 AND vehicle_id = $2 AND kind = 'block' FOR UPDATE`
		err := tx.GetContext(ctx, &live, q, blockID, vehicleID)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("block")
		}
		if err != nil {
			return fmt.Errorf("find block: %w", err)
		}
		if !live {
			return apperr.New(apperr.KindConflict, "invalid_state", "the block was already removed")
		}
		_, err = s.Release(ctx, tx, blockID, by)
		return err
	})
}

// Schedule lists what holds a car between from and to, in time order.
func (s *Service) Schedule(ctx context.Context, vehicleID uuid.UUID, from, to time.Time) ([]Holding, error) {
	var f apperr.Fields
	if !to.After(from) {
		f.Add("to", "must be after from")
	} else if to.Sub(from) > MaxScheduleWindow {
		f.Add("to", "the window is at most 62 days")
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	if _, err := s.Vehicle(ctx, vehicleID); err != nil {
		return nil, err
	}
	const q = `
		SELECT ` + holdingColumns + ` FROM occupancy
		WHERE vehicle_id = $1 AND live AND held && tstzrange($2, $3, '[)')
		ORDER BY lower(period)`
	var rows []holdingRow
	if err := s.db.SelectContext(ctx, &rows, q, vehicleID, from, to); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	out := make([]Holding, len(rows))
	for i, r := range rows {
		out[i] = r.holding()
	}
	return out, nil
}

// Reschedule moves a live holding to [start, end) in tx, keeping its buffer;
// the exclusion constraint refuses a move onto another holding, and the
// conflict is named as for Hold.
func (s *Service) Reschedule(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, start, end time.Time, conflictCode string) (Holding, error) {
	const q = `
		UPDATE occupancy SET period = tstzrange($2::timestamptz, $3::timestamptz, '[)'),
		       held = tstzrange($2::timestamptz, $3::timestamptz + make_interval(mins => buffer_minutes), '[)')
		WHERE id = $1 AND live
		RETURNING ` + holdingColumns
	if err := lockVehicle(ctx, tx, `SELECT vehicle_id FROM occupancy WHERE id = $1`, id); err != nil {
		return Holding{}, err
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT reschedule`); err != nil {
		return Holding{}, fmt.Errorf("savepoint: %w", err)
	}
	var row holdingRow
	err := tx.GetContext(ctx, &row, q, id, start, end)
	if errors.Is(err, sql.ErrNoRows) {
		return Holding{}, apperr.NotFound("holding")
	}
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT reschedule`); rbErr != nil {
			return Holding{}, fmt.Errorf("rollback to savepoint: %w", rbErr)
		}
		if db.Constraint(err) == "occupancy_no_overlap" {
			var vehicleID uuid.UUID
			if err := tx.GetContext(ctx, &vehicleID, `SELECT vehicle_id FROM occupancy WHERE id = $1`, id); err != nil {
				return Holding{}, fmt.Errorf("holding vehicle: %w", err)
			}
			return Holding{}, s.conflictExcept(ctx, tx, HoldRequest{VehicleID: vehicleID, Start: start, End: end, ConflictCode: conflictCode}, id)
		}
		return Holding{}, fmt.Errorf("reschedule holding: %w", db.Translate(err))
	}
	return row.holding(), nil
}
