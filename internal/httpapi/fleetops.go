package httpapi

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/fleet"
)

type holdingJSON struct {
	ID            uuid.UUID  `json:"id"`
	VehicleID     uuid.UUID  `json:"vehicle_id"`
	Kind          string     `json:"kind"`
	Start         time.Time  `json:"start"`
	End           time.Time  `json:"end"`
	HeldUntil     time.Time  `json:"held_until"`
	BufferMinutes int        `json:"buffer_minutes"`
	Reason        *string    `json:"reason"`
	ReservationID *uuid.UUID `json:"reservation_id"`
	CreatedAt     time.Time  `json:"created_at"`
}

func toHoldingJSON(h fleet.Holding) holdingJSON {
	return holdingJSON{ID: h.ID, VehicleID: h.VehicleID, Kind: string(h.Kind), Start: h.Start, End: h.End,
		HeldUntil: h.HeldUntil, BufferMinutes: h.BufferMinutes, Reason: h.Reason, ReservationID: h.ReservationID,
		CreatedAt: h.CreatedAt}
}

type blockRequest struct {
	Start  string `json:"start"`
	End    string `json:"end"`
	Reason string `json:"reason"`
}

func (s *server) createBlock(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	var req blockRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	b := fleet.NewBlock{Start: parseTime(&f, "start", req.Start), End: parseTime(&f, "end", req.End), Reason: req.Reason}
	if err := f.Err(); err != nil {
		return err
	}
	h, err := s.fleet.CreateBlock(c.UserContext(), principal(c).UserID, id, b)
	if err != nil {
		return err
	}
	c.Location("/v1/vehicles/" + id.String() + "/blocks/" + h.ID.String())
	return c.Status(fiber.StatusCreated).JSON(toHoldingJSON(h))
}

func (s *server) deleteBlock(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	blockID, err := pathUUID(c, "block_id", "block")
	if err != nil {
		return err
	}
	if err := s.fleet.DeleteBlock(c.UserContext(), principal(c).UserID, id, blockID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) vehicleSchedule(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "vehicle")
	if err != nil {
		return err
	}
	var f apperr.Fields
	from, to := time.Now().UTC(), time.Now().UTC().Add(7*24*time.Hour)
	if v := c.Query("from"); v != "" {
		from = parseTime(&f, "from", v)
	}
	if v := c.Query("to"); v != "" {
		to = parseTime(&f, "to", v)
	} else if c.Query("from") != "" {
		to = from.Add(7 * 24 * time.Hour)
	}
	if err := f.Err(); err != nil {
		return err
	}
	hs, err := s.fleet.Schedule(c.UserContext(), id, from, to)
	if err != nil {
		return err
	}
	items := each(hs, toHoldingJSON)
	return c.JSON(fiber.Map{"vehicle_id": id, "from": from, "to": to, "items": items})
}

type readingJSON struct {
	RecordedAt string  `json:"recorded_at"`
	Lat        float64 `json:"lat"`
	Lng        float64 `json:"lng"`
	BatteryPct int     `json:"battery_pct"`
	OdometerKm float64 `json:"odometer_km"`
	Locked     bool    `json:"locked"`
}

type telemetryRequest struct {
	VehicleID string        `json:"vehicle_id"`
	Readings  []readingJSON `json:"readings"`
}

type rejectedJSON struct {
	Index  int                 `json:"index"`
	Errors []apperr.FieldError `json:"errors"`
}

// postTelemetry takes readings from a car's device. The device token in the
// Authorization header names the car; the body must name the same car.
func (s *server) postTelemetry(c *fiber.Ctx) error {
	scheme, token, ok := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(token, "dt_") {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hongqi-mobility-devices"`)
		return apperr.New(apperr.KindUnauthenticated, "invalid_device_token", "send the vehicle's device token as Authorization: Bearer dt_…")
	}
	vehicleID, err := s.fleet.AuthenticateDevice(c.UserContext(), token)
	if err != nil {
		return err
	}
	var req telemetryRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	claimed := parseUUID(&f, "vehicle_id", req.VehicleID)
	if len(req.Readings) == 0 || len(req.Readings) > fleet.MaxBatch {
		f.Add("readings", "send 1 to 1000 readings")
	}
	if err := f.Err(); err != nil {
		return err
	}
	if claimed != vehicleID {
		return apperr.New(apperr.KindForbidden, "wrong_vehicle", "this device token belongs to another vehicle")
	}
	// Timestamps that do not parse reject their reading alone.
	var rejected []rejectedJSON
	var good []fleet.Reading
	var index []int
	for i, r := range req.Readings {
		var rf apperr.Fields
		at := parseTime(&rf, "recorded_at", r.RecordedAt)
		if len(rf) > 0 {
			rejected = append(rejected, rejectedJSON{Index: i, Errors: rf})
			continue
		}
		good = append(good, fleet.Reading{RecordedAt: at, Position: fleet.Point{Lat: r.Lat, Lng: r.Lng},
			BatteryPct: r.BatteryPct, OdometerKm: r.OdometerKm, Locked: r.Locked})
		index = append(index, i)
	}
	var res fleet.IngestResult
	if len(good) > 0 {
		if res, err = s.fleet.Ingest(c.UserContext(), vehicleID, good); err != nil {
			return err
		}
	}
	for _, r := range res.Rejected {
		rejected = append(rejected, rejectedJSON{Index: index[r.Index], Errors: r.Fields})
	}
	sortRejected(rejected)
	if rejected == nil {
		rejected = []rejectedJSON{}
	}
	return c.JSON(fiber.Map{"accepted": res.Accepted, "duplicates": res.Duplicates, "rejected": rejected})
}

func sortRejected(r []rejectedJSON) {
	for i := 1; i < len(r); i++ {
		for j := i; j > 0 && r[j].Index < r[j-1].Index; j-- {
			r[j], r[j-1] = r[j-1], r[j]
		}
	}
}

type occupantJSON struct {
	ID            uuid.UUID  `json:"id"`
	Kind          string     `json:"kind"`
	Start         time.Time  `json:"start"`
	End           time.Time  `json:"end"`
	ReservationID *uuid.UUID `json:"reservation_id"`
}

func toOccupantJSON(o *fleet.Occupant) *occupantJSON {
	if o == nil {
		return nil
	}
	return &occupantJSON{ID: o.ID, Kind: string(o.Kind), Start: o.Start, End: o.End, ReservationID: o.ReservationID}
}

func (s *server) liveFleet(c *fiber.Ctx) error {
	var f apperr.Fields
	zone := optionalUUID(&f, "zone_id", c.Query("zone_id"))
	if err := f.Err(); err != nil {
		return err
	}
	vs, err := s.fleet.Live(c.UserContext(), zone)
	if err != nil {
		return err
	}
	items := make([]fiber.Map, len(vs))
	for i, v := range vs {
		items[i] = fiber.Map{
			"vehicle_id": v.ID, "plate": v.Plate, "status": v.Status, "zone_id": v.HomeZoneID, "zone_code": v.ZoneCode,
			"model":     fiber.Map{"make": v.Make, "model": v.ModelName, "powertrain": v.Powertrain},
			"telemetry": toTelemetryJSON(v.Latest), "range_km": v.RangeKm,
			"current": toOccupantJSON(v.Current), "next": toOccupantJSON(v.Next),
		}
	}
	return c.JSON(fiber.Map{"generated_at": time.Now().UTC(), "items": items})
}
