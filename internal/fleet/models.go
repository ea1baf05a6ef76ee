package fleet

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
)

func (m *Model) validate() error {
	var f apperr.Fields
	m.Make, m.Model = strings.TrimSpace(m.Make), strings.TrimSpace(m.Model)
	if n := utf8.RuneCountInString(m.Make); n < 1 || n > 60 {
		f.Add("make", "must be 1 to 60 characters")
	}
	if n := utf8.RuneCountInString(m.Model); n < 1 || n > 60 {
		f.Add("model", "must be 1 to 60 characters")
	}
	switch m.Powertrain {
	case BEV, PHEV:
		if m.BatteryKWh == nil || *m.BatteryKWh <= 0 || *m.BatteryKWh > 500 {
			f.Add("battery_kwh", "an electric or plug-in hybrid model needs a battery from 0.1 to 500 kWh")
		}
	case ICE:
		if m.BatteryKWh != nil {
			f.Add("battery_kwh", "a combustion model has no traction battery")
		}
	default:
		f.Add("powertrain", "must be bev, phev or ice")
	}
	if m.Seats < 1 || m.Seats > 9 {
		f.Add("seats", "must be from 1 to 9")
	}
	if m.RangeKm < 1 || m.RangeKm > 2000 {
		f.Add("range_km", "must be from 1 to 2000")
	}
	if m.ImageURL != nil {
		u, err := url.Parse(*m.ImageURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http" && !strings.HasPrefix(*m.ImageURL, "/")) || len(*m.ImageURL) > 500 {
			f.Add("image_url", "must be an http(s) URL or a path, up to 500 characters")
		}
	}
	return f.Err()
}

type modelRow struct {
	ID         uuid.UUID       `db:"id"`
	Make       string          `db:"make"`
	Model      string          `db:"model"`
	Powertrain string          `db:"powertrain"`
	Seats      int             `db:"seats"`
	RangeKm    int             `db:"range_km"`
	BatteryKWh sql.NullFloat64 `db:"battery_kwh"`
	ImageURL   sql.NullString  `db:"image_url"`
	CreatedAt  time.Time       `db:"created_at"`
	UpdatedAt  time.Time       `db:"updated_at"`
}

const modelColumns = `id, make, model, powertrain, seats, range_km, battery_kwh, image_url, created_at, updated_at`

func (r modelRow) model() Model {
	m := Model{ID: r.ID, Make: r.Make, Model: r.Model, Powertrain: Powertrain(r.Powertrain), Seats: r.Seats,
		RangeKm: r.RangeKm, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.BatteryKWh.Valid {
		m.BatteryKWh = &r.BatteryKWh.Float64
	}
	if r.ImageURL.Valid {
		m.ImageURL = &r.ImageURL.String
	}
	return m
}

func modelArgs(m Model) map[string]any {
	return map[string]any{"id": m.ID, "make": m.Make, "model": m.Model, "powertrain": string(m.Powertrain),
		"seats": m.Seats, "range_km": m.RangeKm, "battery_kwh": m.BatteryKWh, "image_url": m.ImageURL, "now": m.UpdatedAt}
}

func modelConflict(err error, m Model) error {
	if db.Constraint(err) == "vehicle_models_make_model_key" {
		return apperr.New(apperr.KindConflict, "model_exists", "the model "+m.Make+" "+m.Model+" already exists")
	}
	return db.Translate(err)
}

// CreateModel adds a vehicle model.
func (s *Service) CreateModel(ctx context.Context, m Model) (Model, error) {
	if err := m.validate(); err != nil {
		return Model{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Model{}, err
	}
	m.ID, m.UpdatedAt = id, s.now().UTC()
	const q = `
		INSERT INTO vehicle_models (id, make, model, powertrain, seats, range_km, battery_kwh, image_url, created_at, updated_at)
		VALUES (:id, :make, :model, :powertrain, :seats, :range_km, :battery_kwh, :image_url, :now, :now)`
	if _, err := s.db.NamedExecContext(ctx, q, modelArgs(m)); err != nil {
		return Model{}, fmt.Errorf("insert model: %w", modelConflict(err, m))
	}
	return s.Model(ctx, id)
}

// ModelChange is a partial update of a model; nil fields stay.
type ModelChange struct {
	Make, Model *string
	Powertrain  *Powertrain
	Seats       *int
	RangeKm     *int
	BatteryKWh  *float64
	ImageURL    *string
}

// UpdateModel applies ch to model id.
func (s *Service) UpdateModel(ctx context.Context, id uuid.UUID, ch ModelChange) (Model, error) {
	m, err := s.Model(ctx, id)
	if err != nil {
		return Model{}, err
	}
	if ch.Make != nil {
		m.Make = *ch.Make
	}
	if ch.Model != nil {
		m.Model = *ch.Model
	}
	if ch.Powertrain != nil {
		m.Powertrain = *ch.Powertrain
		if m.Powertrain == ICE && ch.BatteryKWh == nil {
			m.BatteryKWh = nil
		}
	}
	if ch.Seats != nil {
		m.Seats = *ch.Seats
	}
	if ch.RangeKm != nil {
		m.RangeKm = *ch.RangeKm
	}
	if ch.BatteryKWh != nil {
		m.BatteryKWh = ch.BatteryKWh
	}
	if ch.ImageURL != nil {
		m.ImageURL = ch.ImageURL
	}
	if err := m.validate(); err != nil {
		return Model{}, err
	}
	m.UpdatedAt = s.now().UTC()
	const q = `
		UPDATE vehicle_models SET make = :make, model = :model, powertrain = :powertrain, seats = :seats,
		       range_km = :range_km, battery_kwh = :battery_kwh, image_url = :image_url, updated_at = :now
		WHERE id = :id`
	if _, err := s.db.NamedExecContext(ctx, q, modelArgs(m)); err != nil {
		return Model{}, fmt.Errorf("update model: %w", modelConflict(err, m))
	}
	return s.Model(ctx, id)
}

// Model returns one vehicle model.
func (s *Service) Model(ctx context.Context, id uuid.UUID) (Model, error) {
	var r modelRow
	const q = `SELECT ` + modelColumns + ` FROM vehicle_models WHERE id = $1`
	if err := db.Get(ctx, s.db, &r, "vehicle model", q, id); err != nil {
		return Model{}, err
	}
	return r.model(), nil
}

// Models lists every vehicle model by make and model.
func (s *Service) Models(ctx context.Context) ([]Model, error) {
	var rows []modelRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+modelColumns+` FROM vehicle_models ORDER BY make, model`); err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	out := make([]Model, len(rows))
	for i, r := range rows {
		out[i] = r.model()
	}
	return out, nil
}
