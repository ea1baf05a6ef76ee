package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// town is a fleet with a priced model, ready to book.
type town struct {
	fleetFixture
	planID string
}

func newTown(t *testing.T, h *harness) town {
	t.Helper()
	f := newFleetFixture(t, h)
	p := h.cl.As(f.op.AccessToken).Post("/v1/pricing-plans", map[string]any{"code": "town-ev", "name_zh": "小镇电动车",
		"name_en": "Town EV", "rules": evRules(), "assignments": []map[string]any{{"model_id": f.modelID}}}).Expect(201).Map()
	return town{fleetFixture: f, planID: p["id"].(string)}
}

// car adds a car with a first telemetry report at the station.
func (tw town) car(t *testing.T, h *harness, n int) string {
	t.Helper()
	id, token := tw.addVehicle(t, h, n)
	telemetry(h, token, id, reading(time.Now().Add(-time.Minute), 80, 1000)).Expect(200)
	return id
}

// driver is a resident with an approved licence and, if card, a saved card.
func (tw town) driver(t *testing.T, h *harness, email string, card bool) session {
	t.Helper()
	s := h.account(t, email, identity.RoleResident)
	ctx := context.Background()
	uid := mustUUID(t, s.UserID)
	if _, err := h.ident.SubmitLicence(ctx, uid, identity.LicenceSubmission{Number: "220102199001011234", IssuingRegion: "CN-JL",
		ExpiresOn: time.Now().AddDate(3, 0, 0).Format(time.DateOnly)}); err != nil {
		t.Fatal(err)
	}
	op, err := h.ident.User(ctx, mustUUID(t, tw.op.UserID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ident.DecideLicence(ctx, identity.Principal{UserID: op.ID, Roles: op.Roles}, uid, identity.LicenceDecision{Approve: true}); err != nil {
		t.Fatal(err)
	}
	if card {
		h.savedCard(t, s)
	}
	return s
}

type resOut struct {
	ID      string
	Status  string
	Start   time.Time
	End     time.Time
	Quote   struct{ Total, Subtotal int64 }
	Final   *struct{ Total int64 }
	Payment *struct {
		ID               string
		Status           string
		AmountAuthorized int64   `json:"amount_authorized"`
		AmountCaptured   int64   `json:"amount_captured"`
		ClientSecret     *string `json:"client_secret"`
	}
	Trip struct {
		StartOdometer *float64               `json:"start_odometer_km"`
		OutOfZone     *bool                  `json:"out_of_zone"`
		RunningPrice  *struct{ Total int64 } `json:"running_price"`
	}
	Cancellation *struct {
		FreeUntil time.Time             `json:"free_until"`
		FeeNow    struct{ Total int64 } `json:"fee_now"`
	}
}

// book posts a booking and, as the worker would, makes its PaymentIntent
// (a booking with a saved card answers before Stripe does).
func (h *harness) book(t *testing.T, s session, vehicleID string, start, end time.Time) *testenv.Response {
	t.Helper()
	res := h.cl.As(s.AccessToken).With("Idempotency-Key", uuid.NewString()).Post("/v1/reservations", map[string]any{
		"vehicle_id": vehicleID, "start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339)})
	if res.Status == http.StatusCreated {
		h.payFor(t, res)
	}
	return res
}

// payFor runs the queued Stripe calls of the payment of a booking's answer,
// as the worker would.
func (h *harness) payFor(t *testing.T, booked *testenv.Response) {
	t.Helper()
	var r struct{ Payment struct{ ID uuid.UUID } }
	if err := json.Unmarshal(booked.Body, &r); err != nil || r.Payment.ID == uuid.Nil {
		t.Fatalf("booking answer without a payment: %s", booked.Body)
	}
	if _, err := h.pay.svc.Process(context.Background(), r.Payment.ID); err != nil {
		t.Fatalf("process payment %s: %v", r.Payment.ID, err)
	}
}

func (h *harness) reservation(t *testing.T, s session, id string) resOut {
	t.Helper()
	var r resOut
	h.cl.As(s.AccessToken).Get("/v1/reservations/" + id).Expect(200).JSON(&r)
	return r
}

// unlocked books car for s from start to end and unlocks it: the trip,
// active.
func (h *harness) unlocked(t *testing.T, s session, car string, start, end time.Time) resOut {
	t.Helper()
	var r resOut
	h.book(t, s, car, start, end).Expect(201).JSON(&r)
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/start", nil).Expect(200).JSON(&r)
	return r
}

// soon is the next whole minute, a start the unlock window already covers.
func soon() time.Time { return time.Now().UTC().Truncate(time.Minute).Add(time.Minute) }

func TestBookUnlockReturn(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "li.na@example.cn", true)
	start := soon()

	var r resOut
	h.book(t, s, car, start, start.Add(2*time.Hour)).Expect(201).JSON(&r)
	if r.Quote.Total <= 0 || r.Payment == nil || r.Payment.AmountAuthorized != r.Quote.Total {
		t.Fatalf("booking %+v: want the quote authorised", r)
	}
	// With a saved card the answer does not wait for Stripe: the car is
	// held and the worker authorises off-session (h.book runs its job).
	if r.Status != "pending_payment" || r.Payment.Status != "pending" || r.Payment.ClientSecret != nil {
		t.Fatalf("booking answer: status %s, payment %+v; want pending_payment, payment pending, no client secret", r.Status, *r.Payment)
	}
	// With a saved card the hold is confirmed off-session; Stripe's event
	// (the dev relay's, here) confirms the booking.
	r = h.reservation(t, s, r.ID)
	if r.Status != "confirmed" || r.Payment.Status != "authorized" {
		t.Fatalf("after the authorisation: status %s, payment %s", r.Status, r.Payment.Status)
	}

	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/start", nil).Expect(200).JSON(&r)
	if r.Status != "active" || r.Trip.StartOdometer == nil || *r.Trip.StartOdometer != 1000 {
		t.Fatalf("after unlock: %+v", r)
	}
	// Just unlocked: the running price is the booked time, the quote.
	if r.Trip.RunningPrice == nil || r.Trip.RunningPrice.Total != r.Quote.Total {
		t.Errorf("running price %+v, want the quote %d", r.Trip.RunningPrice, r.Quote.Total)
	}
	var cmds int
	if err := h.db.Get(&cmds, `SELECT count(*) FROM vehicle_commands WHERE reservation_id = $1 AND command = 'unlock'`, r.ID); err != nil || cmds != 1 {
		t.Errorf("unlock commands %d (%v)", cmds, err)
	}
	// Return to the station.
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/end", map[string]float64{"lat": 43.8311, "lng": 125.2012}).Expect(200).JSON(&r)
	if r.Status != "completed" || r.Final == nil || r.Trip.OutOfZone == nil || *r.Trip.OutOfZone {
		t.Fatalf("after return: %+v", r)
	}
	// Early return: the booked time is the minimum; the final price is the quote.
	if r.Final.Total != r.Quote.Total {
		t.Errorf("final %d, quote %d: an early return is charged the booking", r.Final.Total, r.Quote.Total)
	}
	if r.Payment.AmountCaptured != r.Final.Total {
		t.Errorf("captured %d, want the final %d", r.Payment.AmountCaptured, r.Final.Total)
	}
	// The car is free again at once.
	var live int
	if err := h.db.Get(&live, `SELECT count(*) FROM occupancy WHERE reservation_id = $1 AND live`, r.ID); err != nil || live != 0 {
		t.Errorf("live holdings after return: %d (%v)", live, err)
	}
}

func TestAnExtendedTripIsPaidFromTheRaisedHold(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "longer@example.cn", true)
	start := soon()
	r := h.unlocked(t, s, car, start, start.Add(time.Hour))
	h.cl.As(s.AccessToken).Patch("/v1/reservations/"+r.ID, map[string]string{"end": start.Add(5 * time.Hour).Format(time.RFC3339)}).Expect(200).JSON(&r)
	if r.Payment.AmountAuthorized != r.Quote.Total {
		t.Fatalf("hold %d after extending the trip, want the new price %d", r.Payment.AmountAuthorized, r.Quote.Total)
	}
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/end", map[string]float64{"lat": 43.8311, "lng": 125.2012}).Expect(200).JSON(&r)
	if r.Status != "completed" || r.Final.Total != r.Quote.Total || r.Payment.AmountCaptured != r.Final.Total {
		t.Fatalf("after return: status %s, final %+v, payment %+v; want the extended price captured from the hold", r.Status, r.Final, r.Payment)
	}
	var charges int
	if err := h.db.Get(&charges, `SELECT count(*) FROM payments WHERE purpose_id = $1 AND kind = 'charge'`, r.ID); err != nil || charges != 0 {
		t.Errorf("%d off-session charges (%v), want none: the hold covered the trip", charges, err)
	}
}

func TestReturnOutsideAZoneCostsTheFee(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "far@example.cn", true)
	start := soon()
	r := h.unlocked(t, s, car, start, start.Add(time.Hour))
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/end", map[string]float64{"lat": 43.70, "lng": 125.10}).Expect(200).JSON(&r)
	if r.Trip.OutOfZone == nil || !*r.Trip.OutOfZone {
		t.Fatalf("trip ended far away not flagged out of zone: %+v", r.Trip)
	}
	wantSub := r.Quote.Subtotal + 5000
	if r.Final.Total != wantSub+(wantSub*1300+5000)/10000 {
		t.Errorf("final %d, want the quote plus the ¥50 out-of-zone fee with VAT", r.Final.Total)
	}
}

func TestBookingRefusals(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "ok@example.cn", false)
	start := time.Now().UTC().Truncate(time.Minute).Add(24 * time.Hour)
	body := map[string]any{"vehicle_id": car, "start": start.Format(time.RFC3339), "end": start.Add(2 * time.Hour).Format(time.RFC3339)}

	// No licence: may search, may not book.
	unverified := h.account(t, "nolicence@example.cn", identity.RoleResident)
	h.book(t, unverified, car, start, start.Add(2*time.Hour)).Problem(403, "licence_not_verified")
	// No Idempotency-Key.
	h.cl.As(s.AccessToken).Unchecked().Post("/v1/reservations", body).Problem(400, "idempotency_key_required")

	// The same key and body replay the first answer; another body is 422.
	key := uuid.NewString()
	first := h.cl.As(s.AccessToken).With("Idempotency-Key", key).Post("/v1/reservations", body).Expect(201).Map()
	again := h.cl.As(s.AccessToken).With("Idempotency-Key", key).Post("/v1/reservations", body).Expect(201)
	if again.Map()["id"] != first["id"] || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay gave %v, want %v", again.Map()["id"], first["id"])
	}
	other := map[string]any{"vehicle_id": car, "start": start.Add(5 * time.Hour).Format(time.RFC3339), "end": start.Add(6 * time.Hour).Format(time.RFC3339)}
	h.cl.As(s.AccessToken).With("Idempotency-Key", key).Post("/v1/reservations", other).Problem(422, "idempotency_key_reused")
	var n int
	if err := h.db.Get(&n, `SELECT count(*) FROM reservations`); err != nil || n != 1 {
		t.Errorf("%d reservations after a replay, want 1", n)
	}

	// Taken: another resident, overlapping window — and right after it,
	// inside the 15-minute turnaround.
	s2 := tw.driver(t, h, "second@example.cn", false)
	p := h.book(t, s2, car, start.Add(time.Hour), start.Add(3*time.Hour)).Problem(409, "vehicle_unavailable")
	if !strings.Contains(p.Detail, "reservation") {
		t.Errorf("detail %q does not say what holds the car", p.Detail)
	}
	p = h.book(t, s2, car, start.Add(2*time.Hour+10*time.Minute), start.Add(4*time.Hour)).Problem(409, "vehicle_unavailable")
	if !strings.Contains(p.Detail, "15 min turnaround") || !strings.Contains(p.Detail, "free from") {
		t.Errorf("detail %q does not explain the buffer", p.Detail)
	}
	h.book(t, s2, car, start.Add(2*time.Hour+15*time.Minute), start.Add(4*time.Hour)).Expect(201)

	// Zone rules: at least an hour here.
	h.cl.As(tw.op.AccessToken).Put("/v1/zones/"+tw.zoneID+"/booking-rules", map[string]int{"min_minutes": 60}).Expect(200)
	h.book(t, s2, tw.car(t, h, 2), start, start.Add(45*time.Minute)).Problem(400, "booking_too_short")
	h.book(t, s2, car, start.Add(40*24*time.Hour), start.Add(40*24*time.Hour+time.Hour)).Problem(400, "beyond_horizon")

	// At most three upcoming bookings.
	car3 := tw.car(t, h, 3)
	for i := 0; i < 2; i++ {
		h.book(t, s, car3, start.Add(time.Duration(i)*3*time.Hour), start.Add(time.Duration(i)*3*time.Hour+time.Hour)).Expect(201)
	}
	h.book(t, s, car3, start.Add(10*time.Hour), start.Add(11*time.Hour)).Problem(409, "too_many_reservations")

	// Bad windows name their field.
	if p := h.cl.As(s.AccessToken).With("Idempotency-Key", uuid.NewString()).Unchecked().Post("/v1/reservations", map[string]any{
		"vehicle_id": car, "start": "noon", "end": start.Format(time.RFC3339)}).Problem(400, "validation_failed"); !p.HasField("start") {
		t.Errorf("errors %+v", p.Errors)
	}
	// Another resident's reservation does not exist for them.
	h.cl.As(s2.AccessToken).Get("/v1/reservations/"+first["id"].(string)).Problem(404, "not_found")
	h.cl.As(s2.AccessToken).Post("/v1/reservations/"+first["id"].(string)+"/cancel", nil).Problem(404, "not_found")
}

func TestCancellation(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "cancel@example.cn", true)

	// Far ahead: free, the hold released.
	far := time.Now().UTC().Truncate(time.Minute).Add(48 * time.Hour)
	var r resOut
	h.book(t, s, car, far, far.Add(2*time.Hour)).Expect(201).JSON(&r)
	r = h.reservation(t, s, r.ID)
	if r.Cancellation == nil || r.Cancellation.FeeNow.Total != 0 {
		t.Fatalf("cancellation preview %+v, want free", r.Cancellation)
	}
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", nil).Expect(200).JSON(&r)
	if r.Status != "cancelled" || r.Final != nil || r.Payment.Status != "canceled" {
		t.Errorf("free cancellation: %+v", r)
	}

	// Inside the two-hour cut-off: 20 % of the subtotal plus VAT, captured from the hold.
	near := soon().Add(30 * time.Minute)
	h.book(t, s, car, near, near.Add(2*time.Hour)).Expect(201).JSON(&r)
	r = h.reservation(t, s, r.ID)
	fee := (r.Quote.Subtotal*2000 + 5000) / 10000 // 20 %, half-up
	fee += (fee*1300 + 5000) / 10000
	if r.Cancellation == nil || r.Cancellation.FeeNow.Total != fee {
		t.Fatalf("preview %+v, want %d", r.Cancellation, fee)
	}
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", nil).Expect(200).JSON(&r)
	if r.Final == nil || r.Final.Total != fee || r.Payment.AmountCaptured != fee {
		t.Errorf("late cancellation charged %+v, captured %d, want %d", r.Final, r.Payment.AmountCaptured, fee)
	}
	h.cl.As(s.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", nil).Problem(409, "invalid_state")

	// An operator cancels free for the resident, with a reason.
	h.book(t, s, car, near.Add(4*time.Hour), near.Add(5*time.Hour)).Expect(201).JSON(&r)
	h.cl.As(tw.op.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", map[string]string{}).Problem(400, "validation_failed")
	h.cl.As(tw.op.AccessToken).Post("/v1/reservations/"+r.ID+"/cancel", map[string]string{"reason": "car damaged"}).Expect(200).JSON(&r)
	if r.Status != "cancelled" || r.Final != nil {
		t.Errorf("operator cancellation: %+v", r)
	}
}

func TestExtendAndShorten(t *testing.T) {
	h := newHarness(t, nil)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	s := tw.driver(t, h, "extend@example.cn", false)
	s2 := tw.driver(t, h, "next@example.cn", false)
	start := time.Now().UTC().Truncate(time.Minute).Add(24 * time.Hour)
	var r resOut
	h.book(t, s, car, start, start.Add(2*time.Hour)).Expect(201).JSON(&r)
	h.book(t, s2, car, start.Add(4*time.Hour), start.Add(5*time.Hour)).Expect(201)
	// Pending payment cannot change yet: confirm it through the payment's event.
	h.confirm(t, r.ID)

	before := r.Quote.Total
	h.cl.As(s.AccessToken).Patch("/v1/reservations/"+r.ID, map[string]string{"end": start.Add(3 * time.Hour).Format(time.RFC3339)}).Expect(200).JSON(&r)
	if r.Quote.Total <= before || !r.End.Equal(start.Add(3*time.Hour)) {
		t.Errorf("extended: %+v (was %d)", r, before)
	}
	// The card's hold is raised to the new price.
	if r.Payment == nil || r.Payment.Status != "authorized" || r.Payment.AmountAuthorized != r.Quote.Total {
		t.Errorf("payment after the extension: %+v, want the hold raised to %d", r.Payment, r.Quote.Total)
	}
	raised := r.Quote.Total
	// Into the next booking's turnaround: refused.
	h.cl.As(s.AccessToken).Patch("/v1/reservations/"+r.ID, map[string]string{"end": start.Add(3*time.Hour + 50*time.Minute).Format(time.RFC3339)}).Problem(409, "vehicle_unavailable")
	h.cl.As(s.AccessToken).Patch("/v1/reservations/"+r.ID, map[string]string{"end": start.Add(time.Hour).Format(time.RFC3339)}).Expect(200).JSON(&r)
	if r.Quote.Total >= before {
		t.Errorf("shortened quote %d, was %d", r.Quote.Total, before)
	}
	// A shorter booking keeps the hold; the end captures only the price.
	if r.Payment == nil || r.Payment.AmountAuthorized != raised {
		t.Errorf("payment after shortening: %+v, want the hold kept at %d", r.Payment, raised)
	}
}

// confirm delivers the authorisation event of a reservation's payment, as
// Stripe does once the app confirms the card.
func (h *harness) confirm(t *testing.T, reservationID string) {
	t.Helper()
	var payID string
	if err := h.db.Get(&payID, `SELECT payment_id FROM reservations WHERE id = $1`, reservationID); err != nil {
		t.Fatal(err)
	}
	p, err := h.pay.svc.Get(context.Background(), mustUUID(t, payID))
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{"id": p.PaymentIntentID, "object": "payment_intent", "amount": p.AmountAuthorized,
		"amount_capturable": p.AmountAuthorized, "amount_received": 0, "currency": "cny", "status": "requires_capture",
		"capture_method": "manual", "metadata": map[string]string{"payment_id": p.ID.String()}}
	payload, sig := signedEvent(t, h.cfg.StripeWebhook, "evt_"+uuid.NewString()[:8], "payment_intent.amount_capturable_updated", obj)
	h.webhook(payload, sig).Expect(200)
	var st string
	if err := h.db.Get(&st, `SELECT status FROM reservations WHERE id = $1`, reservationID); err != nil || st != "confirmed" {
		t.Fatalf("after the authorisation event the reservation is %s (%v)", st, err)
	}
}

// TestConcurrentBookingsOneWins fires 100 bookings of one car for
// overlapping windows at once: exactly one is created.
func TestConcurrentBookingsOneWins(t *testing.T) {
	h := newHarness(t, nil, manySignIns)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	start := time.Now().UTC().Truncate(time.Minute).Add(24 * time.Hour)
	drivers := manyDrivers(t, h, tw, 100)
	codes := raceBookings(t, []*testenv.Client{h.cl}, drivers, car, start)
	checkOneWinner(t, codes)
}

// TestConcurrentBookingsAcrossInstances spreads the race over three server
// instances sharing one database.
func TestConcurrentBookingsAcrossInstances(t *testing.T) {
	h := newHarness(t, nil, manySignIns)
	tw := newTown(t, h)
	car := tw.car(t, h, 1)
	start := time.Now().UTC().Truncate(time.Minute).Add(24 * time.Hour)
	drivers := manyDrivers(t, h, tw, 100)
	clients := []*testenv.Client{h.cl, h.instance(t).cl, h.instance(t).cl}
	codes := raceBookings(t, clients, drivers, car, start)
	checkOneWinner(t, codes)
}

// manySignIns lifts the per-address sign-in limit: every test client
// shares one address.
var manySignIns = withLimits(identity.Limits{PerIPPerMinute: 100000, LoginFailuresPerAccount: 5, RegistersPerAccount: 5})

func manyDrivers(t *testing.T, h *harness, tw town, n int) []session {
	t.Helper()
	out := make([]session, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = tw.driver(t, h, fmt.Sprintf("racer%03d@example.cn", i), false)
		}()
		if i%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	return out
}

func raceBookings(t *testing.T, clients []*testenv.Client, drivers []session, car string, start time.Time) []int {
	t.Helper()
	codes := make([]int, len(drivers))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i, d := range drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			// Overlapping windows: each starts a few minutes after the last.
			s := start.Add(time.Duration(i%20) * 3 * time.Minute)
			res := clients[i%len(clients)].As(d.AccessToken).With("Idempotency-Key", uuid.NewString()).Post("/v1/reservations", map[string]any{
				"vehicle_id": car, "start": s.Format(time.RFC3339), "end": s.Add(2 * time.Hour).Format(time.RFC3339)})
			codes[i] = res.Status
			if res.Status == http.StatusConflict {
				var p testenv.Problem
				res.JSON(&p)
				if p.Code != "vehicle_unavailable" {
					t.Errorf("409 with code %q", p.Code)
				}
			}
		}()
	}
	close(gate)
	wg.Wait()
	return codes
}

func checkOneWinner(t *testing.T, codes []int) {
	t.Helper()
	created, conflicts := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		default:
			t.Errorf("unexpected status %d", c)
		}
	}
	if created != 1 || conflicts != len(codes)-1 {
		t.Errorf("%d created, %d conflicts of %d; want exactly one created", created, conflicts, len(codes))
	}
}
