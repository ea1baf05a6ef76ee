package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/reservation"
)

type reportJSON struct {
	ID            uuid.UUID  `json:"id"`
	ReservationID uuid.UUID  `json:"reservation_id"`
	VehicleID     uuid.UUID  `json:"vehicle_id"`
	UserID        uuid.UUID  `json:"user_id"`
	Phase         string     `json:"phase"`
	Category      string     `json:"category"`
	Notes         string     `json:"notes"`
	PhotoRefs     []string   `json:"photo_refs"`
	CreatedAt     time.Time  `json:"created_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	ResolvedBy    *uuid.UUID `json:"resolved_by"`
	Resolution    *string    `json:"resolution"`
}

func toReportJSON(r reservation.Report) reportJSON {
	photos := []string(r.PhotoRefs)
	if photos == nil {
		photos = []string{}
	}
	return reportJSON{ID: r.ID, ReservationID: r.ReservationID, VehicleID: r.VehicleID, UserID: r.UserID, Phase: r.Phase,
		Category: r.Category, Notes: r.Notes, PhotoRefs: photos, CreatedAt: r.CreatedAt.UTC(), ResolvedAt: r.ResolvedAt,
		ResolvedBy: r.ResolvedBy, Resolution: r.Resolution}
}

type reportRequest struct {
	Phase     string   `json:"phase"`
	Category  string   `json:"category"`
	Notes     string   `json:"notes"`
	PhotoRefs []string `json:"photo_refs"`
}

func (s *server) fileReport(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	var req reportRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.reservations.FileReport(c.UserContext(), viewer(c), id, reservation.NewReport{Phase: req.Phase,
		Category: req.Category, Notes: req.Notes, PhotoRefs: req.PhotoRefs})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toReportJSON(r))
}

func (s *server) listReports(c *fiber.Ctx) error {
	p, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	rs, next, err := s.reservations.Reports(c.UserContext(), c.Query("include_resolved") == "true", p)
	if err != nil {
		return err
	}
	items := each(rs, toReportJSON)
	return c.JSON(fiber.Map{"items": items, "next_cursor": next})
}

type resolveRequest struct {
	Resolution string `json:"resolution"`
}

func (s *server) resolveReport(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "condition report")
	if err != nil {
		return err
	}
	var req resolveRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.reservations.ResolveReport(c.UserContext(), principal(c).UserID, id, req.Resolution)
	if err != nil {
		return err
	}
	return c.JSON(toReportJSON(r))
}

func (s *server) listAlerts(c *fiber.Ctx) error {
	as, err := s.reservations.Alerts(c.UserContext())
	if err != nil {
		return err
	}
	items := make([]fiber.Map, len(as))
	for i, a := range as {
		items[i] = fiber.Map{"id": a.ID, "kind": a.Kind, "vehicle_id": a.VehicleID, "reservation_id": a.ReservationID,
			"detail": a.Detail, "created_at": a.CreatedAt.UTC()}
	}
	return c.JSON(fiber.Map{"items": items})
}

func rulesJSON(zoneID uuid.UUID, r reservation.Rules) fiber.Map {
	return fiber.Map{"zone_id": zoneID, "min_minutes": int(r.MinLength.Minutes()), "max_minutes": int(r.MaxLength.Minutes()),
		"min_notice_minutes": int(r.MinNotice.Minutes()), "horizon_days": int(r.Horizon.Hours() / 24),
		"max_upcoming_per_resident": r.MaxUpcoming, "hold_minutes": int(r.HoldFor.Minutes()),
		"unlock_early_minutes": int(r.UnlockEarly.Minutes()), "grace_minutes": int(r.Grace.Minutes())}
}

func (s *server) getBookingRules(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "zone")
	if err != nil {
		return err
	}
	if _, err := s.fleet.Zone(c.UserContext(), id); err != nil {
		return err
	}
	r, err := s.reservations.ZoneRules(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(rulesJSON(id, r))
}

type bookingRulesRequest struct {
	MinMinutes       *int `json:"min_minutes"`
	MaxMinutes       *int `json:"max_minutes"`
	MinNoticeMinutes *int `json:"min_notice_minutes"`
	HorizonDays      *int `json:"horizon_days"`
}

func (s *server) putBookingRules(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "zone")
	if err != nil {
		return err
	}
	var req bookingRulesRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	r, err := s.reservations.SetZoneRules(c.UserContext(), id, reservation.ZoneRuleChange{MinMinutes: req.MinMinutes,
		MaxMinutes: req.MaxMinutes, MinNoticeMinutes: req.MinNoticeMinutes, HorizonDays: req.HorizonDays})
	if err != nil {
		return err
	}
	return c.JSON(rulesJSON(id, r))
}
