package httpapi

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/page"
)

type pointJSON struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

type zoneJSON struct {
	ID            uuid.UUID       `json:"id"`
	Code          string          `json:"code"`
	NameZH        string          `json:"name_zh"`
	NameEN        string          `json:"name_en"`
	Kind          string          `json:"kind"`
	Location      pointJSON       `json:"location"`
	RadiusM       *int            `json:"radius_m"`
	Capacity      *int            `json:"capacity"`
	Polygon       json.RawMessage `json:"polygon"`
	BufferMinutes int             `json:"buffer_minutes"`
	OneWayReturns bool            `json:"one_way_returns"`
	Active        bool            `json:"active"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
}

func toZoneJSON(z fleet.Zone) zoneJSON {
	out := zoneJSON{ID: z.ID, Code: z.Code, NameZH: z.NameZH, NameEN: z.NameEN, Kind: string(z.Kind),
		Location: pointJSON(z.Center), RadiusM: z.RadiusM, Capacity: z.Capacity, BufferMinutes: z.BufferMinutes,
		OneWayReturns: z.OneWayReturns, Active: z.Active, CreatedAt: z.CreatedAt, UpdatedAt: z.UpdatedAt,
		Polygon: json.RawMessage("null")}
	if z.Polygon != nil {
		out.Polygon = fleet.PolygonGeoJSON(z.Polygon)
	}
	return out
}

type zoneRequest struct {
	Code          string          `json:"code"`
	NameZH        *string         `json:"name_zh"`
	NameEN        *string         `json:"name_en"`
	Kind          string          `json:"kind"`
	Location      *pointJSON      `json:"location"`
	RadiusM       *int            `json:"radius_m"`
	Capacity      *int            `json:"capacity"`
	Polygon       json.RawMessage `json:"polygon"`
	BufferMinutes *int            `json:"buffer_minutes"`
	OneWayReturns *bool           `json:"one_way_returns"`
	Active        *bool           `json:"active"`
}

func (r zoneRequest) polygon(f *apperr.Fields) [][]fleet.Point {
	if len(r.Polygon) == 0 || string(r.Polygon) == "null" {
		return nil
	}
	p, err := fleet.ParsePolygon(r.Polygon)
	if err != nil {
		f.Add("polygon", err.Error())
	}
	return p
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (s *server) listZones(c *fiber.Ctx) error {
	zones, err := s.fleet.Zones(c.UserContext())
	if err != nil {
		return err
	}
	out := each(zones, toZoneJSON)
	return c.JSON(fiber.Map{"items": out})
}

func (s *server) getZone(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "zone")
	if err != nil {
		return err
	}
	z, err := s.fleet.Zone(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toZoneJSON(z))
}

func (s *server) createZone(c *fiber.Ctx) error {
	var req zoneRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	z := fleet.Zone{Code: req.Code, NameZH: deref(req.NameZH, ""), NameEN: deref(req.NameEN, ""),
		Kind: fleet.ZoneKind(req.Kind), RadiusM: req.RadiusM, Capacity: req.Capacity, Polygon: req.polygon(&f),
		BufferMinutes: deref(req.BufferMinutes, 15), OneWayReturns: deref(req.OneWayReturns, true), Active: deref(req.Active, true)}
	if req.Location != nil {
		z.Center = fleet.Point(*req.Location)
	}
	if err := f.Err(); err != nil {
		return err
	}
	z, err := s.fleet.CreateZone(c.UserContext(), z)
	if err != nil {
		return err
	}
	c.Location("/v1/zones/" + z.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toZoneJSON(z))
}

func (s *server) updateZone(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "zone")
	if err != nil {
		return err
	}
	var req zoneRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	if req.Code != "" || req.Kind != "" {
		f.Add("code", "a zone's code and kind cannot change; make a new zone")
	}
	ch := fleet.ZoneChange{NameZH: req.NameZH, NameEN: req.NameEN, RadiusM: req.RadiusM, Capacity: req.Capacity,
		Polygon: req.polygon(&f), BufferMinutes: req.BufferMinutes, OneWayReturns: req.OneWayReturns, Active: req.Active}
	if req.Location != nil {
		p := fleet.Point(*req.Location)
		ch.Location = &p
	}
	if err := f.Err(); err != nil {
		return err
	}
	z, err := s.fleet.UpdateZone(c.UserContext(), id, ch)
	if err != nil {
		return err
	}
	return c.JSON(toZoneJSON(z))
}

type modelJSON struct {
	ID         uuid.UUID `json:"id"`
	Make       string    `json:"make"`
	Model      string    `json:"model"`
	Powertrain string    `json:"powertrain"`
	Seats      int       `json:"seats"`
	RangeKm    int       `json:"range_km"`
	BatteryKWh *float64  `json:"battery_kwh"`
	ImageURL   *string   `json:"image_url"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func toModelJSON(m fleet.Model) modelJSON {
	return modelJSON{ID: m.ID, Make: m.Make, Model: m.Model, Powertrain: string(m.Powertrain), Seats: m.Seats,
		RangeKm: m.RangeKm, BatteryKWh: m.BatteryKWh, ImageURL: m.ImageURL, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
}

type modelRequest struct {
	Make       *string  `json:"make"`
	Model      *string  `json:"model"`
	Powertrain *string  `json:"powertrain"`
	Seats      *int     `json:"seats"`
	RangeKm    *int     `json:"range_km"`
	BatteryKWh *float64 `json:"battery_kwh"`
	ImageURL   *string  `json:"image_url"`
}

func (s *server) listModels(c *fiber.Ctx) error {
	models, err := s.fleet.Models(c.UserContext())
	if err != nil {
		return err
	}
	out := each(models, toModelJSON)
	return c.JSON(fiber.Map{"items": out})
}

func (s *server) getModel(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle model")
	if err != nil {
		return err
	}
	m, err := s.fleet.Model(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toModelJSON(m))
}

func (s *server) createModel(c *fiber.Ctx) error {
	var req modelRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	m, err := s.fleet.CreateModel(c.UserContext(), fleet.Model{Make: deref(req.Make, ""), Model: deref(req.Model, ""),
		Powertrain: fleet.Powertrain(deref(req.Powertrain, "")), Seats: deref(req.Seats, 0), RangeKm: deref(req.RangeKm, 0),
		BatteryKWh: req.BatteryKWh, ImageURL: req.ImageURL})
	if err != nil {
		return err
	}
	c.Location("/v1/vehicle-models/" + m.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toModelJSON(m))
}

func (s *server) updateModel(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle model")
	if err != nil {
		return err
	}
	var req modelRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ch := fleet.ModelChange{Make: req.Make, Model: req.Model, Seats: req.Seats, RangeKm: req.RangeKm,
		BatteryKWh: req.BatteryKWh, ImageURL: req.ImageURL}
	if req.Powertrain != nil {
		p := fleet.Powertrain(*req.Powertrain)
		ch.Powertrain = &p
	}
	m, err := s.fleet.UpdateModel(c.UserContext(), id, ch)
	if err != nil {
		return err
	}
	return c.JSON(toModelJSON(m))
}

type telemetryJSON struct {
	Position   pointJSON  `json:"position"`
	BatteryPct *int       `json:"battery_pct"`
	OdometerKm *float64   `json:"odometer_km"`
	Locked     bool       `json:"locked"`
	RecordedAt *time.Time `json:"recorded_at"`
}

type vehicleJSON struct {
	ID         uuid.UUID     `json:"id"`
	VIN        string        `json:"vin"`
	Plate      string        `json:"plate"`
	ModelID    uuid.UUID     `json:"model_id"`
	HomeZoneID uuid.UUID     `json:"home_zone_id"`
	Status     string        `json:"status"`
	Features   []string      `json:"features"`
	Telemetry  telemetryJSON `json:"telemetry"`
	CreatedAt  time.Time     `json:"created_at"`
	UpdatedAt  time.Time     `json:"updated_at"`
}

func toTelemetryJSON(t fleet.Telemetry) telemetryJSON {
	return telemetryJSON{Position: pointJSON(t.Position), BatteryPct: t.BatteryPct, OdometerKm: t.OdometerKm,
		Locked: t.Locked, RecordedAt: t.At}
}

func toVehicleJSON(v fleet.Vehicle) vehicleJSON {
	return vehicleJSON{ID: v.ID, VIN: v.VIN, Plate: v.Plate, ModelID: v.ModelID, HomeZoneID: v.HomeZoneID,
		Status: string(v.Status), Features: v.Features, Telemetry: toTelemetryJSON(v.Latest),
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

type vehicleRequest struct {
	VIN        string    `json:"vin"`
	Plate      *string   `json:"plate"`
	ModelID    string    `json:"model_id"`
	HomeZoneID *string   `json:"home_zone_id"`
	Features   *[]string `json:"features"`
	Status     *string   `json:"status"`
	Reason     string    `json:"reason"`
}

func (s *server) listVehicles(c *fiber.Ctx) error {
	p, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	var f apperr.Fields
	flt := fleet.VehicleFilter{ZoneID: optionalUUID(&f, "zone_id", c.Query("zone_id")),
		ModelID: optionalUUID(&f, "model_id", c.Query("model_id"))}
	if v := c.Query("status"); v != "" {
		st := fleet.Status(v)
		if st != fleet.Available && st != fleet.Maintenance && st != fleet.Retired {
			f.Add("status", "must be available, maintenance or retired")
		}
		flt.Status = &st
	}
	if v := c.Query("battery_below"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			f.Add("battery_below", "must be a whole number from 1 to 100")
		}
		flt.BatteryBelow = &n
	}
	if err := f.Err(); err != nil {
		return err
	}
	vs, next, err := s.fleet.Vehicles(c.UserContext(), flt, p)
	if err != nil {
		return err
	}
	out := each(vs, toVehicleJSON)
	return c.JSON(fiber.Map{"items": out, "next_cursor": next})
}

func (s *server) getVehicle(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	v, err := s.fleet.Vehicle(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toVehicleJSON(v))
}

func (s *server) createVehicle(c *fiber.Ctx) error {
	var req vehicleRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	nv := fleet.NewVehicle{VIN: req.VIN, Plate: deref(req.Plate, ""), ModelID: parseUUID(&f, "model_id", req.ModelID),
		HomeZoneID: parseUUID(&f, "home_zone_id", deref(req.HomeZoneID, "")), Features: deref(req.Features, nil)}
	if req.Status != nil || req.Reason != "" {
		f.Add("status", "a new vehicle starts available; change the status afterwards")
	}
	if err := f.Err(); err != nil {
		return err
	}
	v, token, err := s.fleet.CreateVehicle(c.UserContext(), principal(c).UserID, nv)
	if err != nil {
		return err
	}
	c.Location("/v1/vehicles/" + v.ID.String())
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"vehicle": toVehicleJSON(v), "device_token": token})
}

func (s *server) updateVehicle(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	var req vehicleRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	if req.VIN != "" || req.ModelID != "" {
		f.Add("vin", "a vehicle's VIN and model cannot change")
	}
	ch := fleet.VehicleChange{Plate: req.Plate, Features: req.Features, Reason: req.Reason}
	if req.HomeZoneID != nil {
		z := parseUUID(&f, "home_zone_id", *req.HomeZoneID)
		ch.HomeZoneID = &z
	}
	if req.Status != nil {
		st := fleet.Status(*req.Status)
		ch.Status = &st
	}
	if err := f.Err(); err != nil {
		return err
	}
	v, err := s.fleet.UpdateVehicle(c.UserContext(), principal(c).UserID, id, ch)
	if err != nil {
		return err
	}
	return c.JSON(toVehicleJSON(v))
}

func (s *server) rotateDeviceToken(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	tok, err := s.fleet.RotateDeviceToken(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"vehicle_id": id, "device_token": tok})
}

func (s *server) vehicleStatusHistory(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	if _, err := s.fleet.Vehicle(c.UserContext(), id); err != nil {
		return err
	}
	hist, err := s.fleet.StatusHistory(c.UserContext(), id)
	if err != nil {
		return err
	}
	items := make([]fiber.Map, len(hist))
	for i, h := range hist {
		items[i] = fiber.Map{"from_status": h.From, "to_status": h.To, "reason": h.Reason, "changed_by": h.ChangedBy, "changed_at": h.ChangedAt}
	}
	return c.JSON(fiber.Map{"items": items})
}
