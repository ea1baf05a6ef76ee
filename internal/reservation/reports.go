package reservation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// ReportCategories are the kinds of condition report.
var ReportCategories = []string{"damage", "dirty", "low_fuel_or_charge", "unable_to_open", "other"}

// Report is a resident's note on a car's condition at unlock or return.
type Report struct {
	ID            uuid.UUID      `db:"id"`
	ReservationID uuid.UUID      `db:"reservation_id"`
	VehicleID     uuid.UUID      `db:"vehicle_id"`
	UserID        uuid.UUID      `db:"user_id"`
	Phase         string         `db:"phase"`
	Category      string         `db:"category"`
	Notes         string         `db:"notes"`
	PhotoRefs     pq.StringArray `db:"photo_refs"`
	CreatedAt     time.Time      `db:"created_at"`
	ResolvedAt    *time.Time     `db:"resolved_at"`
	ResolvedBy    *uuid.UUID     `db:"resolved_by"`
	Resolution    *string        `db:"resolution"`
}

const reportColumns = `id, reservation_id, vehicle_id, user_id, phase, category, notes, photo_refs, created_at,
	resolved_at, resolved_by, resolution`

// NewReport is what a resident files.
type NewReport struct {
	Phase     string // start (at unlock) or end (at return)
	Category  string
	Notes     string
	PhotoRefs []string
}

// FileReport records a condition report on the resident's own reservation:
// at unlock while the booking is confirmed or the trip active, at return
// while the trip is active or within an hour of its end.
func (s *Service) FileReport(ctx context.Context, v Viewer, id uuid.UUID, n NewReport) (Report, error) {
	r, err := s.Get(ctx, Viewer{UserID: v.UserID}, id)
	if err != nil {
		return Report{}, err
	}
	var f apperr.Fields
	if n.Phase != "start" && n.Phase != "end" {
		f.Add("phase", "must be start or end")
	}
	okCat := false
	for _, c := range ReportCategories {
		okCat = okCat || c == n.Category
	}
	if !okCat {
		f.Add("category", "must be one of "+strings.Join(ReportCategories, ", "))
	}
	if len(n.Notes) > 2000 {
		f.Add("notes", "at most 2000 characters")
	}
	if len(n.PhotoRefs) > 10 {
		f.Add("photo_refs", "at most 10 photos")
	}
	for _, p := range n.PhotoRefs {
		if p == "" || len(p) > 512 {
			f.Add("photo_refs", "each photo reference is 1 to 512 characters")
			break
		}
	}
	if err := f.Err(); err != nil {
		return Report{}, err
	}
	now := s.o.Now()
	switch {
	case n.Phase == "start" && r.Status != Confirmed && r.Status != Active:
		return Report{}, invalidState(r.Status, r.Status)
	case n.Phase == "end" && r.Status != Active &&
		!(r.Status == Completed && r.Trip.EndedAt != nil && now.Sub(*r.Trip.EndedAt) < time.Hour):
		return Report{}, invalidState(r.Status, r.Status)
	}
	rid, err := uuid.NewV7()
	if err != nil {
		return Report{}, err
	}
	photos := pq.StringArray(n.PhotoRefs)
	if photos == nil {
		photos = pq.StringArray{}
	}
	const q = `
		INSERT INTO condition_reports (id, reservation_id, vehicle_id, user_id, phase, category, notes, photo_refs)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING ` + reportColumns
	var out Report
	if err := s.db.GetContext(ctx, &out, q, rid, id, r.VehicleID, r.UserID, n.Phase, n.Category, strings.TrimSpace(n.Notes), photos); err != nil {
		return Report{}, fmt.Errorf("file report: %w", err)
	}
	return out, nil
}

// Reports lists condition reports, open ones only unless all is set, oldest
// first.
func (s *Service) Reports(ctx context.Context, all bool, p page.Request) ([]Report, *string, error) {
	const q = `
		SELECT ` + reportColumns + ` FROM condition_reports
		WHERE ($1 OR resolved_at IS NULL)
		  AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
		ORDER BY created_at, id LIMIT $4`
	after, afterID := p.Bounds()
	var out []Report
	if err := s.db.SelectContext(ctx, &out, q, all, after, afterID, p.Limit); err != nil {
		return nil, nil, fmt.Errorf("reports: %w", err)
	}
	return out, page.Next(out, p.Limit, func(r Report) (time.Time, uuid.UUID) { return r.CreatedAt, r.ID }), nil
}

// ResolveReport closes an open report with what was done.
func (s *Service) ResolveReport(ctx context.Context, by, id uuid.UUID, resolution string) (Report, error) {
	resolution = strings.TrimSpace(resolution)
	if resolution == "" || len(resolution) > 1000 {
		return Report{}, apperr.Invalid("resolution: 1 to 1000 characters", apperr.FieldError{Field: "resolution", Reason: "1 to 1000 characters"})
	}
	const q = `
		UPDATE condition_reports SET resolved_at = now(), resolved_by = $2, resolution = $3
		WHERE id = $1 AND resolved_at IS NULL
		RETURNING ` + reportColumns
	var out Report
	err := s.db.GetContext(ctx, &out, q, id, by, resolution)
	if errors.Is(err, sql.ErrNoRows) {
		var exists bool
		if err := s.db.GetContext(ctx, &exists, `SELECT true FROM condition_reports WHERE id = $1`, id); err != nil {
			return Report{}, apperr.NotFound("condition report")
		}
		return Report{}, apperr.New(apperr.KindConflict, "invalid_state", "the report is already resolved")
	}
	if err != nil {
		return Report{}, fmt.Errorf("resolve report: %w", err)
	}
	return out, nil
}

// Alert is an operator alert.
type Alert struct {
	ID            uuid.UUID  `db:"id"`
	Kind          string     `db:"kind"`
	VehicleID     uuid.UUID  `db:"vehicle_id"`
	ReservationID *uuid.UUID `db:"reservation_id"`
	Detail        string     `db:"detail"`
	CreatedAt     time.Time  `db:"created_at"`
	ResolvedAt    *time.Time `db:"resolved_at"`
}

// Alerts lists the open alerts, newest first.
func (s *Service) Alerts(ctx context.Context) ([]Alert, error) {
	var out []Alert
	const q = `SELECT id, kind, vehicle_id, reservation_id, detail, created_at, resolved_at FROM fleet_alerts
		WHERE resolved_at IS NULL ORDER BY created_at DESC LIMIT 500`
	if err := s.db.SelectContext(ctx, &out, q); err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}
