package httpapi

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
	"github.com/hongqi-mobility/mobility/internal/reservation"
)

type priceJSON struct {
	Currency string             `json:"currency"`
	Lines    []plans.StoredLine `json:"lines"`
	Subtotal int64              `json:"subtotal"`
	VAT      int64              `json:"vat"`
	Total    int64              `json:"total"`
}

func toPriceJSON(p reservation.Price) priceJSON {
	lines := p.Lines
	if lines == nil {
		lines = []plans.StoredLine{}
	}
	return priceJSON{Currency: p.Currency, Lines: lines, Subtotal: p.Subtotal, VAT: p.VAT, Total: p.Total}
}

type carJSON struct {
	ID         uuid.UUID `json:"id"`
	Plate      string    `json:"plate"`
	Make       string    `json:"make"`
	Model      string    `json:"model"`
	Powertrain string    `json:"powertrain"`
	Seats      int       `json:"seats"`
	ImageURL   *string   `json:"image_url"`
}

type reservationJSON struct {
	ID            uuid.UUID         `json:"id"`
	UserID        uuid.UUID         `json:"user_id"`
	Status        string            `json:"status"`
	Vehicle       carJSON           `json:"vehicle"`
	ZoneID        uuid.UUID         `json:"zone_id"`
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end"`
	EstimatedKm   int64             `json:"estimated_km"`
	PlanID        uuid.UUID         `json:"plan_id"`
	PlanVersion   int               `json:"plan_version"`
	Quote         priceJSON         `json:"quote"`
	Payment       *paymentBriefJSON `json:"payment"`
	HoldExpiresAt time.Time         `json:"hold_expires_at"`
	Trip          tripJSON          `json:"trip"`
	Final         *priceJSON        `json:"final"`
	Cancellation  *cancellationJSON `json:"cancellation"`
	CancelledAt   *time.Time        `json:"cancelled_at"`
	CancelReason  *string           `json:"cancel_reason"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

type paymentBriefJSON struct {
	ID               uuid.UUID `json:"id"`
	Status           string    `json:"status"`
	AmountAuthorized int64     `json:"amount_authorized"`
	AmountCaptured   int64     `json:"amount_captured"`
	ClientSecret     *string   `json:"client_secret"`
}

type tripJSON struct {
	StartedAt      *time.Time `json:"started_at"`
	StartOdometer  *float64   `json:"start_odometer_km"`
	StartBattery   *int       `json:"start_battery_pct"`
	EndedAt        *time.Time `json:"ended_at"`
	EndOdometer    *float64   `json:"end_odometer_km"`
	EndBattery     *int       `json:"end_battery_pct"`
	EndPosition    *pointJSON `json:"end_position"`
	EndZoneID      *uuid.UUID `json:"end_zone_id"`
	OutOfZone      *bool      `json:"out_of_zone"`
	ElapsedMinutes int64      `json:"elapsed_minutes"`
	RunningPrice   *priceJSON `json:"running_price"`
}

type cancellationJSON struct {
	FreeUntil time.Time `json:"free_until"`
	FeeNow    priceJSON `json:"fee_now"`
}

// reservationView renders reservations, looking each car up once.
type reservationView struct {
	s    *server
	ctx  context.Context
	cars map[uuid.UUID]carJSON
	me   uuid.UUID
}

func (s *server) view(c *fiber.Ctx) *reservationView {
	return &reservationView{s: s, ctx: c.UserContext(), cars: map[uuid.UUID]carJSON{}, me: principal(c).UserID}
}

func (v *reservationView) car(id uuid.UUID) (carJSON, error) {
	if c, ok := v.cars[id]; ok {
		return c, nil
	}
	veh, err := v.s.fleet.Vehicle(v.ctx, id)
	if err != nil {
		return carJSON{}, err
	}
	m, err := v.s.fleet.Model(v.ctx, veh.ModelID)
	if err != nil {
		return carJSON{}, err
	}
	c := carJSON{ID: id, Plate: veh.Plate, Make: m.Make, Model: m.Model, Powertrain: string(m.Powertrain), Seats: m.Seats, ImageURL: m.ImageURL}
	v.cars[id] = c
	return c, nil
}

func (v *reservationView) render(r reservation.Reservation, pay *payment.Payment) (reservationJSON, error) {
	car, err := v.car(r.VehicleID)
	if err != nil {
		return reservationJSON{}, err
	}
	out := reservationJSON{ID: r.ID, UserID: r.UserID, Status: string(r.Status), Vehicle: car, ZoneID: r.ZoneID,
		Start: r.Start, End: r.End, EstimatedKm: r.EstimatedKm, PlanID: r.PlanID, PlanVersion: r.PlanVersion,
		Quote: toPriceJSON(r.Quote), HoldExpiresAt: r.HoldExpiresAt, CancelledAt: r.CancelledAt, CancelReason: r.CancelReason,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Trip: tripJSON{StartedAt: r.Trip.StartedAt, StartOdometer: r.Trip.StartOdometer, StartBattery: r.Trip.StartBattery,
			EndedAt: r.Trip.EndedAt, EndOdometer: r.Trip.EndOdometer, EndBattery: r.Trip.EndBattery, EndZoneID: r.Trip.EndZoneID,
			OutOfZone: r.Trip.OutOfZone, ElapsedMinutes: int64(reservation.Elapsed(r, time.Now()).Minutes())}}
	if r.Trip.EndPosition != nil {
		p := pointJSON(*r.Trip.EndPosition)
		out.Trip.EndPosition = &p
	}
	if r.Final != nil {
		f := toPriceJSON(*r.Final)
		out.Final = &f
	}
	if r.Status == reservation.Active {
		rp, err := v.s.reservations.RunningPrice(v.ctx, r)
		if err != nil {
			return reservationJSON{}, err
		}
		p := toPriceJSON(rp)
		out.Trip.RunningPrice = &p
	}
	if pay == nil && r.PaymentID != nil {
		if p, err := v.s.payments.Get(v.ctx, *r.PaymentID); err == nil {
			pay = &p
		}
	}
	if pay != nil {
		out.Payment = &paymentBriefJSON{ID: pay.ID, Status: string(pay.Status), AmountAuthorized: pay.AmountAuthorized,
			AmountCaptured: pay.AmountCaptured}
		// Only the payer confirms the payment, and only while it waits.
		if r.UserID == v.me && pay.Status == payment.StatusRequiresAction && pay.ClientSecret != "" {
			cs := pay.ClientSecret
			out.Payment.ClientSecret = &cs
		}
	}
	if r.Status == reservation.PendingPayment || r.Status == reservation.Confirmed {
		fee, freeUntil, err := v.s.reservations.CancellationPreview(v.ctx, r)
		if err != nil {
			return reservationJSON{}, err
		}
		out.Cancellation = &cancellationJSON{FreeUntil: freeUntil, FeeNow: toPriceJSON(fee)}
	}
	return out, nil
}

func viewer(c *fiber.Ctx) reservation.Viewer {
	p := principal(c)
	return reservation.Viewer{UserID: p.UserID, Staff: p.Has(identity.RoleOperator, identity.RoleAdmin, identity.RoleFinance)}
}

func (s *server) searchAvailability(c *fiber.Ctx) error {
	var f apperr.Fields
	r := reservation.SearchRequest{Start: parseTime(&f, "start", c.Query("start")), End: parseTime(&f, "end", c.Query("end")),
		ZoneID: optionalUUID(&f, "zone_id", c.Query("zone_id")), ModelID: optionalUUID(&f, "model_id", c.Query("model_id")),
		Cursor: c.Query("cursor")}
	num := func(name string, dst *int) {
		if v := c.Query(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				f.Add(name, "must be a whole number")
			}
			*dst = n
		}
	}
	num("radius_m", &r.RadiusM)
	num("seats_min", &r.SeatsMin)
	num("min_range_km", &r.MinRangeKm)
	num("limit", &r.Limit)
	var km int
	num("estimated_km", &km)
	r.EstimatedKm = int64(km)
	if lat, lng := c.Query("lat"), c.Query("lng"); lat != "" || lng != "" {
		la, err1 := strconv.ParseFloat(lat, 64)
		ln, err2 := strconv.ParseFloat(lng, 64)
		if err1 != nil || err2 != nil || math.IsNaN(la) || math.IsNaN(ln) {
			f.Add("lat", "lat and lng must both be numbers")
		}
		r.Near = &fleet.Point{Lat: la, Lng: ln}
	}
	if v := c.Query("powertrain"); v != "" {
		p := fleet.Powertrain(v)
		r.Powertrain = &p
	}
	if err := f.Err(); err != nil {
		return err
	}
	pg, err := s.reservations.Search(c.UserContext(), r)
	if err != nil {
		return err
	}
	return c.JSON(offerPageJSON{Items: each(pg.Offers, toOfferJSON), NextCursor: pg.NextCursor})
}

type offerPageJSON struct {
	Items      []offerJSON `json:"items"`
	NextCursor *string     `json:"next_cursor"`
}

type offerJSON struct {
	Vehicle       carJSON       `json:"vehicle"`
	Zone          zoneBriefJSON `json:"zone"`
	Position      pointJSON     `json:"position"`
	DistanceM     int64         `json:"distance_m"`
	BatteryPct    *int          `json:"battery_pct"`
	RangeKm       int           `json:"range_km"`
	BufferMinutes int           `json:"buffer_minutes"`
	PlanID        string        `json:"plan_id"`
	PlanVersion   int           `json:"plan_version"`
	Currency      string        `json:"currency"`
	QuoteTotal    int64         `json:"quote_total"`
}

type zoneBriefJSON struct {
	ID     uuid.UUID `json:"id"`
	Code   string    `json:"code"`
	NameZH string    `json:"name_zh"`
	NameEN string    `json:"name_en"`
}

func toOfferJSON(o reservation.Offer) offerJSON {
	return offerJSON{
		Vehicle: carJSON{ID: o.VehicleID, Plate: o.Plate, Make: o.Make, Model: o.ModelName, Powertrain: o.Powertrain,
			Seats: o.Seats, ImageURL: o.ImageURL},
		Zone:     zoneBriefJSON{ID: o.ZoneID, Code: o.ZoneCode, NameZH: o.ZoneNameZH, NameEN: o.ZoneNameEN},
		Position: pointJSON{Lat: o.Lat, Lng: o.Lng}, DistanceM: int64(math.Round(o.DistanceM)), BatteryPct: o.BatteryPct,
		RangeKm: o.RangeKm, BufferMinutes: o.BufferMinutes, PlanID: o.Quote.PlanID, PlanVersion: o.Quote.PlanVersion,
		Currency: o.Quote.Currency, QuoteTotal: o.Quote.Total,
	}
}

type bookRequest struct {
	VehicleID   string `json:"vehicle_id"`
	Start       string `json:"start"`
	End         string `json:"end"`
	EstimatedKm int64  `json:"estimated_km"`
}

func (s *server) createReservation(c *fiber.Ctx) error {
	var req bookRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	r := reservation.BookRequest{VehicleID: parseUUID(&f, "vehicle_id", req.VehicleID), Start: parseTime(&f, "start", req.Start),
		End: parseTime(&f, "end", req.End), EstimatedKm: req.EstimatedKm}
	if err := f.Err(); err != nil {
		return err
	}
	b, err := s.reservations.Book(c.UserContext(), principal(c).UserID, r)
	if err != nil {
		return err
	}
	out, err := s.view(c).render(b.Reservation, &b.Payment)
	if err != nil {
		return err
	}
	c.Location("/v1/reservations/" + b.Reservation.ID.String())
	return c.Status(fiber.StatusCreated).JSON(out)
}

func (s *server) getReservation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	r, err := s.reservations.Get(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	out, err := s.view(c).render(r, nil)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

var scopes = map[string][]reservation.Status{
	"upcoming": {reservation.PendingPayment, reservation.Confirmed},
	"active":   {reservation.Active},
	"past":     {reservation.Completed, reservation.Cancelled, reservation.Expired, reservation.NoShow},
}

func (s *server) listReservations(c *fiber.Ctx) error {
	p, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	var f apperr.Fields
	v := viewer(c)
	flt := reservation.Filter{VehicleID: optionalUUID(&f, "vehicle_id", c.Query("vehicle_id"))}
	if v.Staff {
		flt.UserID = optionalUUID(&f, "user_id", c.Query("user_id"))
	} else {
		flt.UserID = &v.UserID
		if c.Query("user_id") != "" && c.Query("user_id") != v.UserID.String() {
			f.Add("user_id", "residents see only their own reservations")
		}
	}
	if sc := c.Query("scope"); sc != "" {
		st, ok := scopes[sc]
		if !ok {
			f.Add("scope", "must be upcoming, active or past")
		}
		flt.Statuses = st
	}
	if st := c.Query("status"); st != "" {
		found := false
		for _, known := range reservation.Statuses {
			found = found || string(known) == st
		}
		if !found {
			f.Add("status", "is not a reservation status")
		}
		flt.Statuses = []reservation.Status{reservation.Status(st)}
	}
	if err := f.Err(); err != nil {
		return err
	}
	rs, next, err := s.reservations.List(c.UserContext(), flt, p)
	if err != nil {
		return err
	}
	view := s.view(c)
	items := make([]reservationJSON, len(rs))
	for i, r := range rs {
		if items[i], err = view.render(r, nil); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"items": items, "next_cursor": next})
}

type changeRequest struct {
	End string `json:"end"`
}

func (s *server) changeReservation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	var req changeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var f apperr.Fields
	end := parseTime(&f, "end", req.End)
	if err := f.Err(); err != nil {
		return err
	}
	r, err := s.reservations.Change(c.UserContext(), viewer(c), id, reservation.ChangeRequest{End: end})
	if err != nil {
		return err
	}
	return s.renderOne(c, r)
}

func (s *server) renderOne(c *fiber.Ctx, r reservation.Reservation) error {
	out, err := s.view(c).render(r, nil)
	if err != nil {
		return err
	}
	return c.JSON(out)
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

func (s *server) cancelReservation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	var req cancelRequest
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	p := principal(c)
	v := viewer(c)
	r, err := s.reservations.Get(c.UserContext(), v, id)
	if err != nil {
		return err
	}
	// Staff cancelling someone else's booking do so as operators: free for
	// the resident, with a reason.
	byOperator := v.Staff && r.UserID != p.UserID
	r, err = s.reservations.Cancel(c.UserContext(), v, id, reservation.CancelRequest{By: p.UserID, ByOperator: byOperator, Reason: req.Reason})
	if err != nil {
		return err
	}
	return s.renderOne(c, r)
}

func (s *server) startReservation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	r, err := s.reservations.Start(c.UserContext(), viewer(c), id)
	if err != nil {
		return err
	}
	return s.renderOne(c, r)
}

type endRequest struct {
	Lat *float64 `json:"lat"`
	Lng *float64 `json:"lng"`
}

func (s *server) endReservation(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "reservation")
	if err != nil {
		return err
	}
	var req endRequest
	if len(c.Body()) > 0 {
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
	}
	var e reservation.EndRequest
	if (req.Lat == nil) != (req.Lng == nil) {
		return apperr.Invalid("lat: give both lat and lng, or neither", apperr.FieldError{Field: "lat", Reason: "give both lat and lng, or neither"})
	}
	if req.Lat != nil {
		if *req.Lat < -90 || *req.Lat > 90 || *req.Lng < -180 || *req.Lng > 180 {
			return apperr.Invalid("lat: out of range", apperr.FieldError{Field: "lat", Reason: "lat in [-90, 90] and lng in [-180, 180]"})
		}
		e.Position = &fleet.Point{Lat: *req.Lat, Lng: *req.Lng}
	}
	r, err := s.reservations.End(c.UserContext(), viewer(c), id, e)
	if err != nil {
		return err
	}
	return s.renderOne(c, r)
}
