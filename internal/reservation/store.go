package reservation

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/page"
)

type row struct {
	ID            uuid.UUID       `db:"id"`
	UserID        uuid.UUID       `db:"user_id"`
	VehicleID     uuid.UUID       `db:"vehicle_id"`
	ZoneID        uuid.UUID       `db:"zone_id"`
	Status        string          `db:"status"`
	Start         time.Time       `db:"start_at"`
	End           time.Time       `db:"end_at"`
	EstimatedKm   int64           `db:"estimated_km"`
	PlanID        uuid.UUID       `db:"plan_id"`
	PlanVersion   int             `db:"plan_version"`
	Currency      string          `db:"currency"`
	QuoteLines    []byte          `db:"quote_lines"`
	QuoteSubtotal int64           `db:"quote_subtotal"`
	QuoteVAT      int64           `db:"quote_vat"`
	QuoteTotal    int64           `db:"quote_total"`
	PaymentID     *uuid.UUID      `db:"payment_id"`
	HoldExpiresAt time.Time       `db:"hold_expires_at"`
	StartedAt     sql.NullTime    `db:"started_at"`
	StartOdometer sql.NullFloat64 `db:"start_odometer"`
	StartBattery  sql.NullInt64   `db:"start_battery"`
	EndedAt       sql.NullTime    `db:"ended_at"`
	EndOdometer   sql.NullFloat64 `db:"end_odometer"`
	EndBattery    sql.NullInt64   `db:"end_battery"`
	EndLat        sql.NullFloat64 `db:"end_lat"`
	EndLng        sql.NullFloat64 `db:"end_lng"`
	EndZoneID     *uuid.UUID      `db:"end_zone_id"`
	OutOfZone     sql.NullBool    `db:"out_of_zone"`
	FinalLines    []byte          `db:"final_lines"`
	FinalSubtotal sql.NullInt64   `db:"final_subtotal"`
	FinalVAT      sql.NullInt64   `db:"final_vat"`
	FinalTotal    sql.NullInt64   `db:"final_total"`
	CancelledAt   sql.NullTime    `db:"cancelled_at"`
	CancelReason  sql.NullString  `db:"cancel_reason"`
	CreatedAt     time.Time       `db:"created_at"`
	UpdatedAt     time.Time       `db:"updated_at"`
}

const columns = `id, user_id, vehicle_id, zone_id, status, start_at, end_at, estimated_km, plan_id, plan_version,
	currency, quote_lines, quote_subtotal, quote_vat, quote_total, payment_id, hold_expires_at,
	started_at, start_odometer, start_battery, ended_at, end_odometer, end_battery, end_lat, end_lng, end_zone_id,
	out_of_zone, final_lines, final_subtotal, final_vat, final_total, cancelled_at, cancel_reason, created_at, updated_at`

func ptrTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func ptrFloat(f sql.NullFloat64) *float64 {
	if !f.Valid {
		return nil
	}
	return &f.Float64
}

func ptrInt(i sql.NullInt64) *int {
	if !i.Valid {
		return nil
	}
	v := int(i.Int64)
	return &v
}

func (r row) reservation() (Reservation, error) {
	res := Reservation{ID: r.ID, UserID: r.UserID, VehicleID: r.VehicleID, ZoneID: r.ZoneID, Status: Status(r.Status),
		Start: r.Start.UTC(), End: r.End.UTC(), EstimatedKm: r.EstimatedKm, PlanID: r.PlanID, PlanVersion: r.PlanVersion,
		Quote:     Price{Currency: r.Currency, Subtotal: r.QuoteSubtotal, VAT: r.QuoteVAT, Total: r.QuoteTotal},
		PaymentID: r.PaymentID, HoldExpiresAt: r.HoldExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Trip: Trip{StartedAt: ptrTime(r.StartedAt), StartOdometer: ptrFloat(r.StartOdometer), StartBattery: ptrInt(r.StartBattery),
			EndedAt: ptrTime(r.EndedAt), EndOdometer: ptrFloat(r.EndOdometer), EndBattery: ptrInt(r.EndBattery), EndZoneID: r.EndZoneID},
		CancelledAt: ptrTime(r.CancelledAt)}
	if err := json.Unmarshal(r.QuoteLines, &res.Quote.Lines); err != nil {
		return Reservation{}, fmt.Errorf("quote lines of %s: %w", r.ID, err)
	}
	if r.EndLat.Valid {
		res.Trip.EndPosition = &fleet.Point{Lat: r.EndLat.Float64, Lng: r.EndLng.Float64}
	}
	if r.OutOfZone.Valid {
		res.Trip.OutOfZone = &r.OutOfZone.Bool
	}
	if r.FinalTotal.Valid {
		res.Final = &Price{Currency: r.Currency, Subtotal: r.FinalSubtotal.Int64, VAT: r.FinalVAT.Int64, Total: r.FinalTotal.Int64}
		if err := json.Unmarshal(r.FinalLines, &res.Final.Lines); err != nil {
			return Reservation{}, fmt.Errorf("final lines of %s: %w", r.ID, err)
		}
	}
	if r.CancelReason.Valid {
		res.CancelReason = &r.CancelReason.String
	}
	return res, nil
}

func (s *Service) get(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID, lock bool) (Reservation, error) {
	query := `SELECT ` + columns + ` FROM reservations WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	var r row
	if err := db.Get(ctx, q, &r, "reservation", query, id); err != nil {
		return Reservation{}, err
	}
	return r.reservation()
}

// Viewer is who asks to see a reservation: residents see only their own,
// staff see all.
type Viewer struct {
	UserID uuid.UUID
	Staff  bool
}

// Get returns a reservation the viewer may see; another resident's is not
// found, as if it did not exist.
func (s *Service) Get(ctx context.Context, v Viewer, id uuid.UUID) (Reservation, error) {
	r, err := s.get(ctx, s.db, id, false)
	if err != nil {
		return Reservation{}, err
	}
	if !v.Staff && r.UserID != v.UserID {
		return Reservation{}, apperr.NotFound("reservation")
	}
	return r, nil
}

// Filter narrows a list of reservations.
type Filter struct {
	UserID    *uuid.UUID // residents: always themselves
	VehicleID *uuid.UUID
	Statuses  []Status
}

// List returns a page of reservations, the newest bookings first... by
// start time ascending within the page order of creation.
func (s *Service) List(ctx context.Context, f Filter, p page.Request) ([]Reservation, *string, error) {
	// In booking order; each filter applies only when set.
	const q = `
		SELECT ` + columns + ` FROM reservations
		WHERE ($1::uuid IS NULL OR user_id = $1)
		  AND ($2::uuid IS NULL OR vehicle_id = $2)
		  AND (cardinality($3::text[]) = 0 OR status = ANY ($3))
		  AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5))
		ORDER BY created_at, id
		LIMIT $6`
	statuses := pq.StringArray{}
	for _, st := range f.Statuses {
		statuses = append(statuses, string(st))
	}
	after, afterID := p.Bounds()
	var rows []row
	if err := s.db.SelectContext(ctx, &rows, q, f.UserID, f.VehicleID, statuses, after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("list reservations: %w", err)
	}
	out := make([]Reservation, 0, len(rows))
	for _, r := range rows {
		res, err := r.reservation()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, res)
	}
	return out, page.Next(out, p.Limit, func(r Reservation) (time.Time, uuid.UUID) { return r.CreatedAt, r.ID }), nil
}

// transition moves a reservation from one of from to to in one guarded
// statement, applying set (extra "col = $n" assignments numbered from $4),
// and records the event. It reports invalid_state with the current status
// when the reservation was not in a state it may leave from.
func (s *Service) transition(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, from []Status, to Status, actor *uuid.UUID,
	note string, set string, args ...any) error {
	fromArr := pq.StringArray{}
	for _, f := range from {
		fromArr = append(fromArr, string(f))
	}
	q := `UPDATE reservations SET status = $3, updated_at = now()` + set + ` WHERE id = $1 AND status = ANY ($2) RETURNING 1`
	var one int
	err := tx.GetContext(ctx, &one, q, append([]any{id, fromArr, string(to)}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		var cur string
		if err := tx.GetContext(ctx, &cur, `SELECT status FROM reservations WHERE id = $1`, id); err != nil {
			return apperr.NotFound("reservation")
		}
		return invalidState(Status(cur), to)
	}
	if err != nil {
		return fmt.Errorf("transition to %s: %w", to, err)
	}
	var fromStatus *string
	if len(from) == 1 {
		f := string(from[0])
		fromStatus = &f
	}
	const ev = `INSERT INTO reservation_events (reservation_id, from_status, to_status, actor, note) VALUES ($1, $2, $3, $4, NULLIF($5, ''))`
	if _, err := tx.ExecContext(ctx, ev, id, fromStatus, string(to), actor, note); err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

func invalidState(cur, want Status) error {
	e := apperr.New(apperr.KindConflict, "invalid_state", fmt.Sprintf("the reservation is %s and cannot become %s", cur, want))
	e.Meta = map[string]any{"current_state": string(cur)}
	return e
}

// Event is one recorded state change.
type Event struct {
	From  *Status
	To    Status
	Actor *uuid.UUID
	Note  string
	At    time.Time
}

// Events lists a reservation's state changes in order.
func (s *Service) Events(ctx context.Context, id uuid.UUID) ([]Event, error) {
	var rows []struct {
		From  sql.NullString `db:"from_status"`
		To    string         `db:"to_status"`
		Actor *uuid.UUID     `db:"actor"`
		Note  sql.NullString `db:"note"`
		At    time.Time      `db:"at"`
	}
	const q = `SELECT from_status, to_status, actor, note, at FROM reservation_events WHERE reservation_id = $1 ORDER BY id`
	if err := s.db.SelectContext(ctx, &rows, q, id); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{To: Status(r.To), Actor: r.Actor, Note: r.Note.String, At: r.At.UTC()}
		if r.From.Valid {
			st := Status(r.From.String)
			out[i].From = &st
		}
	}
	return out, nil
}

// holding returns the live occupancy row of a reservation, if any.
func (s *Service) holding(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID) (uuid.UUID, bool, error) {
	var hid uuid.UUID
	err := sqlx.GetContext(ctx, q, &hid, `SELECT id FROM occupancy WHERE reservation_id = $1 AND live`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, false, nil
	}
	return hid, err == nil, err
}

// free releases the reservation's hold on its car.
func (s *Service) free(ctx context.Context, tx *sqlx.Tx, id uuid.UUID, by uuid.UUID) error {
	hid, ok, err := s.holding(ctx, tx, id)
	if err != nil || !ok {
		return err
	}
	_, err = s.o.Fleet.Release(ctx, tx, hid, by)
	return err
}

func linesJSON(p Price) (string, error) {
	b, err := json.Marshal(p.Lines)
	return string(b), err
}
