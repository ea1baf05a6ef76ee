package httpapi

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/pricing"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
)

type assignmentJSON struct {
	ModelID string  `json:"model_id"`
	ZoneID  *string `json:"zone_id"`
}

type planJSON struct {
	ID          uuid.UUID        `json:"id"`
	Code        string           `json:"code"`
	NameZH      string           `json:"name_zh"`
	NameEN      string           `json:"name_en"`
	Active      bool             `json:"active"`
	Version     int              `json:"version"`
	Rules       plans.Rules      `json:"rules"`
	Assignments []assignmentJSON `json:"assignments"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
}

func toPlanJSON(p plans.Plan) planJSON {
	out := planJSON{ID: p.ID, Code: p.Code, NameZH: p.NameZH, NameEN: p.NameEN, Active: p.Active, Version: p.Version,
		Rules: p.Rules, Assignments: []assignmentJSON{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	for _, a := range p.Assignments {
		aj := assignmentJSON{ModelID: a.ModelID.String()}
		if a.ZoneID != nil {
			z := a.ZoneID.String()
			aj.ZoneID = &z
		}
		out.Assignments = append(out.Assignments, aj)
	}
	return out
}

type planRequest struct {
	Code        string            `json:"code"`
	NameZH      *string           `json:"name_zh"`
	NameEN      *string           `json:"name_en"`
	Active      *bool             `json:"active"`
	Rules       *plans.Rules      `json:"rules"`
	Assignments *[]assignmentJSON `json:"assignments"`
}

func (r planRequest) assignments(f *apperr.Fields) []plans.Assignment {
	if r.Assignments == nil {
		return nil
	}
	out := []plans.Assignment{}
	for i, a := range *r.Assignments {
		field := "assignments[" + strconv.Itoa(i) + "]"
		pa := plans.Assignment{ModelID: parseUUID(f, field+".model_id", a.ModelID)}
		if a.ZoneID != nil {
			z := parseUUID(f, field+".zone_id", *a.ZoneID)
			pa.ZoneID = &z
		}
		out = append(out, pa)
	}
	return out
}

func (s *server) listPlans(c *fiber.Ctx) error {
	ps, err := s.plans.List(c.UserContext(), c.Query("include_inactive") == "true")
	if err != nil {
		return err
	}
	out := each(ps, toPlanJSON)
	return c.JSON(fiber.Map{"items": out})
}

func (s *server) getPlan(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "pricing plan")
	if err != nil {
		return err
	}
	p, err := s.plans.Plan(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toPlanJSON(p))
}

func (s *server) getPlanVersion(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "pricing plan")
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(c.Params("version"))
	if err != nil || v < 1 {
		return apperr.NotFound("pricing plan version")
	}
	r, at, err := s.plans.VersionRules(c.UserContext(), id, v)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"plan_id": id, "version": v, "rules": r, "created_at": at})
}

func (s *server) createPlan(c *fiber.Ctx) error {
	var req planRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	if req.Rules == nil {
		f.Add("rules", "is required")
	}
	if req.Active != nil {
		f.Add("active", "a new plan starts active")
	}
	as := req.assignments(&f)
	if err := f.Err(); err != nil {
		return err
	}
	p, err := s.plans.Create(c.UserContext(), principal(c).UserID, plans.NewPlan{Code: req.Code,
		NameZH: deref(req.NameZH, ""), NameEN: deref(req.NameEN, ""), Rules: *req.Rules, Assignments: as})
	if err != nil {
		return err
	}
	c.Location("/v1/pricing-plans/" + p.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toPlanJSON(p))
}

func (s *server) updatePlan(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "pricing plan")
	if err != nil {
		return err
	}
	var req planRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	if req.Code != "" {
		f.Add("code", "a plan's code cannot change")
	}
	ch := plans.Change{NameZH: req.NameZH, NameEN: req.NameEN, Active: req.Active, Rules: req.Rules}
	if req.Assignments != nil {
		as := req.assignments(&f)
		ch.Assignments = &as
	}
	if err := f.Err(); err != nil {
		return err
	}
	p, err := s.plans.Update(c.UserContext(), principal(c).UserID, id, ch)
	if err != nil {
		return err
	}
	return c.JSON(toPlanJSON(p))
}

type quoteRequest struct {
	VehicleID   string `json:"vehicle_id"`
	ModelID     string `json:"model_id"`
	ZoneID      string `json:"zone_id"`
	Start       string `json:"start"`
	End         string `json:"end"`
	EstimatedKm int64  `json:"estimated_km"`
}

type quoteJSON struct {
	ID          uuid.UUID          `json:"id"`
	PlanID      string             `json:"plan_id"`
	PlanVersion int                `json:"plan_version"`
	VehicleID   *uuid.UUID         `json:"vehicle_id"`
	ModelID     uuid.UUID          `json:"model_id"`
	ZoneID      *uuid.UUID         `json:"zone_id"`
	Start       time.Time          `json:"start"`
	End         time.Time          `json:"end"`
	EstimatedKm int64              `json:"estimated_km"`
	Minutes     int64              `json:"minutes"`
	IncludedKm  int64              `json:"included_km"`
	Currency    string             `json:"currency"`
	Lines       []plans.StoredLine `json:"lines"`
	Subtotal    int64              `json:"subtotal"`
	VAT         int64              `json:"vat"`
	Total       int64              `json:"total"`
	CreatedAt   time.Time          `json:"created_at"`
	ExpiresAt   time.Time          `json:"expires_at"`
}

func linesJSON(q pricing.Quote) []plans.StoredLine { return plans.StoredLines(q.Lines) }

func (s *server) createQuote(c *fiber.Ctx) error {
	var req quoteRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	r := plans.QuoteRequest{VehicleID: optionalUUID(&f, "vehicle_id", req.VehicleID),
		ModelID: optionalUUID(&f, "model_id", req.ModelID), ZoneID: optionalUUID(&f, "zone_id", req.ZoneID),
		Start: parseTime(&f, "start", req.Start), End: parseTime(&f, "end", req.End), EstimatedKm: req.EstimatedKm}
	if err := f.Err(); err != nil {
		return err
	}
	q, err := s.plans.Quote(c.UserContext(), principal(c).UserID, r, s.fleet)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(quoteJSON{ID: q.ID, PlanID: q.Priced.PlanID, PlanVersion: q.Priced.PlanVersion,
		VehicleID: q.VehicleID, ModelID: q.ModelID, ZoneID: q.ZoneID, Start: q.Start, End: q.End, EstimatedKm: q.EstimatedKm,
		Minutes: q.Priced.Minutes, IncludedKm: q.Priced.IncludedKm, Currency: q.Priced.Currency, Lines: linesJSON(q.Priced),
		Subtotal: q.Priced.Subtotal, VAT: q.Priced.VAT, Total: q.Priced.Total, CreatedAt: q.CreatedAt, ExpiresAt: q.ExpiresAt})
}
