package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// fleetFixture is a small fleet made through the API by an operator.
type fleetFixture struct {
	op      session
	zoneID  string
	modelID string
}

func station(code string, buffer int) map[string]any {
	return map[string]any{"code": code, "name_zh": "一汽总部站", "name_en": "FAW HQ", "kind": "station",
		"location": map[string]float64{"lat": 43.8310, "lng": 125.2010}, "radius_m": 150, "capacity": 20, "buffer_minutes": buffer}
}

func newFleetFixture(t *testing.T, h *harness) fleetFixture {
	t.Helper()
	op := h.account(t, "fleet-op@example.cn", identity.RoleOperator)
	z := h.cl.As(op.AccessToken).Post("/v1/zones", station("faw-hq", 15)).Expect(201).Map()
	m := h.cl.As(op.AccessToken).Post("/v1/vehicle-models", map[string]any{"make": "Hongqi", "model": "E-QM5",
		"powertrain": "bev", "seats": 5, "range_km": 431, "battery_kwh": 55}).Expect(201).Map()
	return fleetFixture{op: op, zoneID: z["id"].(string), modelID: m["id"].(string)}
}

// addVehicle makes a car and returns its id and device token.
func (f fleetFixture) addVehicle(t *testing.T, h *harness, n int) (string, string) {
	t.Helper()
	var out struct {
		Vehicle     struct{ ID string }
		DeviceToken string `json:"device_token"`
	}
	h.cl.As(f.op.AccessToken).Post("/v1/vehicles", map[string]any{
		"vin": fmt.Sprintf("LFPH4ACP1N%07d", n), "plate": fmt.Sprintf("吉A·D%05d", n),
		"model_id": f.modelID, "home_zone_id": f.zoneID,
	}).Expect(201).JSON(&out)
	return out.Vehicle.ID, out.DeviceToken
}

func TestZones(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	op := h.cl.As(f.op.AccessToken)

	area := map[string]any{"code": "residential", "name_zh": "居住区", "name_en": "Residential", "kind": "area",
		"polygon": map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{125.21, 43.834}, {125.222, 43.834}, {125.222, 43.842}, {125.21, 43.842}, {125.21, 43.834}}}}}
	z := op.Post("/v1/zones", area).Expect(201).Map()
	if loc := z["location"].(map[string]any); loc["lat"].(float64) < 43.834 || loc["lat"].(float64) > 43.842 {
		t.Errorf("area centre %v", loc)
	}
	op.Post("/v1/zones", station("faw-hq", 10)).Problem(409, "zone_code_taken")

	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"station without radius", map[string]any{"code": "s1", "name_zh": "站", "name_en": "S", "kind": "station",
			"location": map[string]float64{"lat": 43.8, "lng": 125.2}, "capacity": 3}, "radius_m"},
		{"open ring", map[string]any{"code": "a1", "name_zh": "区", "name_en": "A", "kind": "area",
			"polygon": map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{125.21, 43.834}, {125.222, 43.834}, {125.222, 43.842}, {125.21, 43.842}}}}}, "polygon"},
		{"bad kind", map[string]any{"code": "k1", "name_zh": "区", "name_en": "A", "kind": "lake"}, "kind"},
		{"bad code", map[string]any{"code": "FAW HQ", "name_zh": "区", "name_en": "A", "kind": "station",
			"location": map[string]float64{"lat": 43.8, "lng": 125.2}, "radius_m": 100, "capacity": 3}, "code"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if p := op.Unchecked().Post("/v1/zones", tt.body).Problem(400, "validation_failed"); !p.HasField(tt.field) {
				t.Errorf("errors %+v do not name %s", p.Errors, tt.field)
			}
		})
	}

	changed := op.Patch("/v1/zones/"+f.zoneID, map[string]any{"buffer_minutes": 30, "one_way_returns": false}).Expect(200).Map()
	if changed["buffer_minutes"].(float64) != 30 || changed["one_way_returns"] != false || changed["code"] != "faw-hq" {
		t.Errorf("changed zone %v", changed)
	}
	op.Unchecked().Patch("/v1/zones/"+f.zoneID, map[string]any{"kind": "area"}).Problem(400, "validation_failed")

	// Residents and anonymous callers can read the zones.
	if items := h.cl.Get("/v1/zones").Expect(200).Map()["items"].([]any); len(items) != 2 {
		t.Errorf("%d zones listed", len(items))
	}
	h.cl.Get("/v1/zones/" + f.zoneID).Expect(200)
	h.cl.Get("/v1/zones/"+uuid.NewString()).Problem(404, "not_found")

	// Which zones contain a point: inside the station's radius, inside the area's polygon.
	ctx := context.Background()
	for _, tt := range []struct {
		p    fleet.Point
		want string
	}{
		{fleet.Point{Lat: 43.8311, Lng: 125.2012}, "faw-hq"},
		{fleet.Point{Lat: 43.8380, Lng: 125.2150}, "residential"},
		{fleet.Point{Lat: 43.8200, Lng: 125.1800}, ""},
	} {
		zs, err := h.fleet.ZonesAt(ctx, tt.p)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(zs) > 0 {
			got = zs[0].Code
		}
		if got != tt.want || len(zs) > 1 {
			t.Errorf("ZonesAt(%v) = %q (%d zones), want %q", tt.p, got, len(zs), tt.want)
		}
	}
}

func TestVehicleModels(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	op := h.cl.As(f.op.AccessToken)
	op.Post("/v1/vehicle-models", map[string]any{"make": "Hongqi", "model": "E-QM5", "powertrain": "bev", "seats": 5,
		"range_km": 431, "battery_kwh": 55}).Problem(409, "model_exists")
	if p := op.Post("/v1/vehicle-models", map[string]any{"make": "Hongqi", "model": "E-HS9", "powertrain": "bev", "seats": 7,
		"range_km": 510}).Problem(400, "validation_failed"); !p.HasField("battery_kwh") {
		t.Errorf("an electric model without battery: %+v", p.Errors)
	}
	h5 := op.Post("/v1/vehicle-models", map[string]any{"make": "Hongqi", "model": "H5", "powertrain": "ice", "seats": 5,
		"range_km": 700}).Expect(201).Map()
	if h5["battery_kwh"] != nil {
		t.Errorf("combustion model with a battery: %v", h5)
	}
	got := op.Patch("/v1/vehicle-models/"+f.modelID, map[string]any{"range_km": 450}).Expect(200).Map()
	if got["range_km"].(float64) != 450 || got["model"] != "E-QM5" {
		t.Errorf("patched model %v", got)
	}
	if items := h.cl.Get("/v1/vehicle-models").Expect(200).Map()["items"].([]any); len(items) != 2 {
		t.Errorf("%d models", len(items))
	}
}

func TestVehicles(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	op := h.cl.As(f.op.AccessToken)
	id, token := f.addVehicle(t, h, 1)
	if !strings.HasPrefix(token, "dt_") {
		t.Errorf("device token %q", token)
	}
	v := op.Get("/v1/vehicles/" + id).Expect(200).Map()
	if v["plate"] != "吉AD00001" || v["status"] != "available" {
		t.Errorf("vehicle %v", v)
	}
	var stored int
	if err := h.db.Get(&stored, `SELECT count(*) FROM vehicles WHERE encode(device_token_hash, 'escape') LIKE '%dt\_%'`); err != nil || stored != 0 {
		t.Errorf("device token stored in clear (%v)", err)
	}

	for _, tt := range []struct {
		name, vin, plate, field string
	}{
		{"VIN with O", "LFPH4ACP1NO000001", "吉AD10001", "vin"},
		{"VIN too short", "LFPH4ACP1N00001", "吉AD10002", "vin"},
		{"foreign plate", "LFPH4ACP1N0000009", "ABC-123", "plate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := op.Unchecked().Post("/v1/vehicles", map[string]any{"vin": tt.vin, "plate": tt.plate, "model_id": f.modelID, "home_zone_id": f.zoneID}).Problem(400, "validation_failed")
			if !p.HasField(tt.field) {
				t.Errorf("errors %+v", p.Errors)
			}
		})
	}
	op.Post("/v1/vehicles", map[string]any{"vin": "lfph4acp1n0000001", "plate": "吉AD99999", "model_id": f.modelID, "home_zone_id": f.zoneID}).Problem(409, "vin_taken")
	op.Post("/v1/vehicles", map[string]any{"vin": "LFPH4ACP1N0000077", "plate": "吉A D00001", "model_id": f.modelID, "home_zone_id": f.zoneID}).Problem(409, "plate_taken")
	if p := op.Post("/v1/vehicles", map[string]any{"vin": "LFPH4ACP1N0000078", "plate": "吉AD00078", "model_id": uuid.NewString(), "home_zone_id": f.zoneID}).Problem(400, "validation_failed"); !p.HasField("model_id") {
		t.Errorf("unknown model: %+v", p.Errors)
	}

	// Status changes need a reason and are recorded with who.
	op.Unchecked().Patch("/v1/vehicles/"+id, map[string]any{"status": "maintenance"}).Problem(400, "validation_failed")
	op.Patch("/v1/vehicles/"+id, map[string]any{"status": "maintenance", "reason": "brake check"}).Expect(200)
	hist := op.Get("/v1/vehicles/" + id + "/status-history").Expect(200).Map()["items"].([]any)
	last := hist[len(hist)-1].(map[string]any)
	if len(hist) != 2 || last["to_status"] != "maintenance" || last["reason"] != "brake check" || last["changed_by"] != f.op.UserID {
		t.Errorf("history %v", hist)
	}

	// A car with a reservation ahead cannot retire; once free it can, and retired is final.
	id2, _ := f.addVehicle(t, h, 2)
	res := uuid.New()
	holdFor(t, h, id2, fleet.HoldReservation, time.Now().Add(24*time.Hour), time.Now().Add(26*time.Hour), &res)
	op.Patch("/v1/vehicles/"+id2, map[string]any{"status": "retired", "reason": "end of lease"}).Problem(409, "vehicle_has_bookings")
	op.Patch("/v1/vehicles/"+id, map[string]any{"status": "retired", "reason": "end of lease"}).Expect(200)
	op.Patch("/v1/vehicles/"+id, map[string]any{"status": "available", "reason": "oops"}).Problem(409, "invalid_state")

	// Filters and pages.
	for n := 3; n <= 6; n++ {
		f.addVehicle(t, h, n)
	}
	if items := op.Get("/v1/vehicles?status=retired").Expect(200).Map()["items"].([]any); len(items) != 1 {
		t.Errorf("%d retired", len(items))
	}
	seen := 0
	path := "/v1/vehicles?limit=2&zone_id=" + f.zoneID
	for path != "" {
		var pg struct {
			Items      []map[string]any
			NextCursor *string `json:"next_cursor"`
		}
		op.Get(path).Expect(200).JSON(&pg)
		seen += len(pg.Items)
		path = ""
		if pg.NextCursor != nil {
			path = "/v1/vehicles?limit=2&zone_id=" + f.zoneID + "&cursor=" + *pg.NextCursor
		}
	}
	if seen != 6 {
		t.Errorf("paged %d vehicles, want 6", seen)
	}
	op.Unchecked().Get("/v1/vehicles?battery_below=101").Problem(400, "validation_failed")

	// Rotating the device token ends the old one.
	newTok := op.Post("/v1/vehicles/"+id2+"/device-token", nil).Expect(200).Map()["device_token"].(string)
	if _, err := h.fleet.AuthenticateDevice(context.Background(), newTok); err != nil {
		t.Errorf("new token refused: %v", err)
	}
}

// holdFor writes an occupancy row directly through the fleet service.
func holdFor(t *testing.T, h *harness, vehicleID string, kind fleet.HoldingKind, start, end time.Time, res *uuid.UUID) fleet.Holding {
	t.Helper()
	var out fleet.Holding
	err := dbTx(h, func(tx *sqlx.Tx) error {
		var err error
		out, err = h.fleet.Hold(context.Background(), tx, fleet.HoldRequest{VehicleID: mustUUID(t, vehicleID), Kind: kind,
			Start: start, End: end, ReservationID: res})
		return err
	})
	if err != nil {
		t.Fatalf("hold: %v", err)
	}
	return out
}

func dbTx(h *harness, fn func(*sqlx.Tx) error) error {
	tx, err := h.db.Beginx()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func TestMaintenanceBlocksAndSchedule(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	op := h.cl.As(f.op.AccessToken)
	id, _ := f.addVehicle(t, h, 1)
	day := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
	at := func(hh, mm int) string {
		return day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute).Format(time.RFC3339)
	}

	res := uuid.New()
	holdFor(t, h, id, fleet.HoldReservation, day.Add(18*time.Hour), day.Add(19*time.Hour+50*time.Minute), &res)

	// Overlapping the reservation, or its 15-minute turnaround: refused, naming it.
	p := op.Post("/v1/vehicles/"+id+"/blocks", map[string]string{"start": at(20, 0), "end": at(22, 0), "reason": "tyres"}).Problem(409, "schedule_conflict")
	if !strings.Contains(p.Detail, "reservation") || !strings.Contains(p.Detail, "15 min") {
		t.Errorf("conflict detail %q does not name the reservation and its buffer", p.Detail)
	}
	// From the end of the buffer it fits.
	b := op.Post("/v1/vehicles/"+id+"/blocks", map[string]string{"start": at(20, 5), "end": at(22, 0), "reason": "tyres"}).Expect(201).Map()
	if b["held_until"] != day.Add(22*time.Hour+15*time.Minute).Format(time.RFC3339) {
		t.Errorf("block held until %v", b["held_until"])
	}
	op.Post("/v1/vehicles/"+id+"/blocks", map[string]string{"start": at(21, 0), "end": at(23, 0), "reason": "again"}).Problem(409, "schedule_conflict")
	if p := op.Unchecked().Post("/v1/vehicles/"+id+"/blocks", map[string]string{"start": at(12, 0), "end": at(11, 0), "reason": "x"}).Problem(400, "validation_failed"); !p.HasField("end") {
		t.Errorf("errors %+v", p.Errors)
	}
	if p := op.Unchecked().Post("/v1/vehicles/"+id+"/blocks", map[string]string{"start": "tomorrow", "end": at(11, 0), "reason": "x"}).Problem(400, "validation_failed"); !p.HasField("start") {
		t.Errorf("errors %+v", p.Errors)
	}

	sched := op.Get("/v1/vehicles/" + id + "/schedule?from=" + at(0, 0) + "&to=" + at(23, 59)).Expect(200).Map()["items"].([]any)
	if len(sched) != 2 || sched[0].(map[string]any)["kind"] != "reservation" || sched[1].(map[string]any)["kind"] != "block" {
		t.Errorf("schedule %v", sched)
	}
	op.Unchecked().Get("/v1/vehicles/"+id+"/schedule?from="+at(10, 0)+"&to="+at(9, 0)).Problem(400, "validation_failed")

	blockPath := "/v1/vehicles/" + id + "/blocks/" + b["id"].(string)
	op.Delete(blockPath).Expect(204)
	op.Delete(blockPath).Problem(409, "invalid_state")
	op.Delete("/v1/vehicles/"+id+"/blocks/"+uuid.NewString()).Problem(404, "not_found")
	if n := len(op.Get("/v1/vehicles/" + id + "/schedule?from=" + at(0, 0) + "&to=" + at(23, 59)).Expect(200).Map()["items"].([]any)); n != 1 {
		t.Errorf("%d holdings after removing the block", n)
	}
	// The removed block stays as history.
	var rows int
	if err := h.db.Get(&rows, `SELECT count(*) FROM occupancy WHERE kind = 'block' AND NOT live AND released_by IS NOT NULL`); err != nil || rows != 1 {
		t.Errorf("released block rows %d (%v)", rows, err)
	}
}

// telemetryClient posts as a device.
func telemetry(h *harness, token, vehicleID string, readings ...map[string]any) *testenv.Response {
	return h.cl.As(token).Post("/v1/telemetry", map[string]any{"vehicle_id": vehicleID, "readings": readings})
}

func reading(at time.Time, battery int, odo float64) map[string]any {
	return map[string]any{"recorded_at": at.Format(time.RFC3339), "lat": 43.8311, "lng": 125.2012,
		"battery_pct": battery, "odometer_km": odo, "locked": true}
}

func TestTelemetry(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	id, token := f.addVehicle(t, h, 1)
	other, otherToken := f.addVehicle(t, h, 2)
	now := time.Now().UTC().Truncate(time.Second)

	telemetry(h, "dt_wrong", id, reading(now, 80, 100)).Problem(401, "invalid_device_token")
	telemetry(h, f.op.AccessToken, id, reading(now, 80, 100)).Problem(401, "invalid_device_token")
	telemetry(h, otherToken, id, reading(now, 80, 100)).Problem(403, "wrong_vehicle")

	// A batch with bad readings: the good ones are stored, the bad ones reported by index.
	var res struct {
		Accepted   int
		Duplicates int
		Rejected   []struct {
			Index  int
			Errors []struct{ Field, Reason string }
		}
	}
	bad := reading(now.Add(-3*time.Minute), 150, 101)
	bad["lat"] = 95.0
	future := reading(now.Add(time.Hour), 70, 102)
	unparsable := reading(now, 70, 103)
	unparsable["recorded_at"] = "yesterday"
	telemetry(h, token, id, reading(now.Add(-4*time.Minute), 90, 100), bad, reading(now.Add(-2*time.Minute), 85, 105),
		future, unparsable).Expect(200).JSON(&res)
	if res.Accepted != 2 || len(res.Rejected) != 3 || res.Rejected[0].Index != 1 || res.Rejected[1].Index != 3 || res.Rejected[2].Index != 4 {
		t.Fatalf("result %+v", res)
	}
	if len(res.Rejected[0].Errors) != 2 {
		t.Errorf("reading 1 should fail lat and battery: %+v", res.Rejected[0].Errors)
	}
	latest := h.cl.As(f.op.AccessToken).Get("/v1/vehicles/" + id).Expect(200).Map()["telemetry"].(map[string]any)
	if latest["battery_pct"].(float64) != 85 || latest["odometer_km"].(float64) != 105 {
		t.Errorf("latest %v", latest)
	}

	// Out of order: an older reading is stored but does not move the state back;
	// one claiming more km than a later reading is implausible.
	telemetry(h, token, id, reading(now.Add(-3*time.Minute), 88, 102)).Expect(200).JSON(&res)
	if res.Accepted != 1 {
		t.Errorf("older reading: %+v", res)
	}
	telemetry(h, token, id, reading(now.Add(-150*time.Second), 87, 110)).Expect(200).JSON(&res)
	if res.Accepted != 0 || len(res.Rejected) != 1 || res.Rejected[0].Errors[0].Field != "odometer_km" {
		t.Errorf("older reading above a later odometer: %+v", res)
	}
	// The odometer never goes back.
	telemetry(h, token, id, reading(now.Add(-time.Minute), 84, 104)).Expect(200).JSON(&res)
	if len(res.Rejected) != 1 || res.Rejected[0].Errors[0].Field != "odometer_km" {
		t.Errorf("decreasing odometer: %+v", res)
	}
	// Duplicates are acknowledged, not stored twice.
	telemetry(h, token, id, reading(now.Add(-2*time.Minute), 85, 105)).Expect(200).JSON(&res)
	if res.Accepted != 0 || res.Duplicates != 1 {
		t.Errorf("duplicate: %+v", res)
	}
	latest = h.cl.As(f.op.AccessToken).Get("/v1/vehicles/" + id).Expect(200).Map()["telemetry"].(map[string]any)
	if latest["battery_pct"].(float64) != 85 {
		t.Errorf("state moved back: %v", latest)
	}
	var stored int
	if err := h.db.Get(&stored, `SELECT count(*) FROM telemetry_readings WHERE vehicle_id = $1`, id); err != nil || stored != 3 {
		t.Errorf("%d readings stored, want 3 (%v)", stored, err)
	}
	h.cl.As(token).Unchecked().Post("/v1/telemetry", map[string]any{"vehicle_id": id, "readings": []any{}}).Problem(400, "validation_failed")
	h.cl.As(token).Unchecked().Post("/v1/telemetry", map[string]any{"vehicle_id": id, "readings": []any{map[string]any{"battery_pct": "full"}}}).Problem(400, "validation_failed")
	_ = other
}

// TestLiveFleetIsOneQuery holds the live view to a single statement however
// many cars there are, and checks what it shows.
func TestLiveFleetIsOneQuery(t *testing.T) {
	h := newHarness(t, nil)
	f := newFleetFixture(t, h)
	var ids []string
	for n := 1; n <= 12; n++ {
		id, _ := f.addVehicle(t, h, n)
		ids = append(ids, id)
	}
	res := uuid.New()
	holdFor(t, h, ids[0], fleet.HoldReservation, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), &res)
	holdFor(t, h, ids[0], fleet.HoldBlock, time.Now().Add(3*time.Hour), time.Now().Add(5*time.Hour), nil)

	live := h.cl.As(f.op.AccessToken).Get("/v1/fleet/live?zone_id=" + f.zoneID).Expect(200).Map()["items"].([]any)
	if len(live) != 12 {
		t.Fatalf("%d cars in the live view", len(live))
	}
	var first map[string]any
	for _, it := range live {
		if it.(map[string]any)["vehicle_id"] == ids[0] {
			first = it.(map[string]any)
		}
	}
	if first["current"].(map[string]any)["kind"] != "reservation" || first["next"].(map[string]any)["kind"] != "block" {
		t.Errorf("occupancy of the busy car: current %v next %v", first["current"], first["next"])
	}

	d, count := testenv.CountingDB(t)
	counted := fleet.NewService(d, fleet.Options{})
	if _, err := counted.Live(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	before := count()
	vs, err := counted.Live(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := count() - before; n != 1 {
		t.Errorf("the live view ran %d statements for %d cars, want 1", n, len(vs))
	}
}
