package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestParsePolygon(t *testing.T) {
	tests := []struct {
		name, json string
		ok         bool
	}{
		{"square", `{"type":"Polygon","coordinates":[[[125.21,43.83],[125.22,43.83],[125.22,43.84],[125.21,43.84],[125.21,43.83]]]}`, true},
		{"open ring", `{"type":"Polygon","coordinates":[[[125.21,43.83],[125.22,43.83],[125.22,43.84],[125.21,43.84]]]}`, false},
		{"hole", `{"type":"Polygon","coordinates":[[[0,1],[1,1],[1,2],[0,1]],[[0,1],[1,1],[1,2],[0,1]]]}`, false},
		{"point", `{"type":"Point","coordinates":[125.2,43.8]}`, false},
		{"lat out of range", `{"type":"Polygon","coordinates":[[[125.21,93.83],[125.22,43.83],[125.22,43.84],[125.21,93.83]]]}`, false},
		{"no area", `{"type":"Polygon","coordinates":[[[1,1],[2,2],[3,3],[1,1]]]}`, false},
		{"extra field", `{"type":"Polygon","coordinates":[[[1,1],[2,1],[2,2],[1,1]]],"crs":{}}`, false},
	}
	for _, tt := range tests {
		_, err := fleet.ParsePolygon([]byte(tt.json))
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestNormalizePlate(t *testing.T) {
	for in, want := range map[string]string{"吉A·D12345": "吉AD12345", " 吉a 12345 ": "吉A12345", "吉A-D1234": "吉AD1234"} {
		if got := fleet.NormalizePlate(in); got != want {
			t.Errorf("NormalizePlate(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkIngest measures telemetry ingest in batches of 100 readings into a
// history already holding 1M readings, as `make bench` reports it.
func BenchmarkIngest(b *testing.B) {
	ctx := context.Background()
	d := testenv.DB(b)
	s := fleet.NewService(d, fleet.Options{})
	r, c := 150, 50
	z, err := s.CreateZone(ctx, fleet.Zone{Code: "bench", NameZH: "站", NameEN: "Bench", Kind: fleet.ZoneStation,
		Center: fleet.Point{Lat: 43.83, Lng: 125.2}, RadiusM: &r, Capacity: &c, BufferMinutes: 15, Active: true})
	if err != nil {
		b.Fatal(err)
	}
	kwh := 55.0
	m, err := s.CreateModel(ctx, fleet.Model{Make: "Hongqi", Model: "E-QM5", Powertrain: fleet.BEV, Seats: 5, RangeKm: 431, BatteryKWh: &kwh})
	if err != nil {
		b.Fatal(err)
	}
	const cars = 100
	ids := make([]uuid.UUID, cars)
	for i := range ids {
		v, _, err := s.CreateVehicle(ctx, uuid.Nil, fleet.NewVehicle{VIN: fmt.Sprintf("LFPH4ACP1N%07d", i), Plate: fmt.Sprintf("吉AD%05d", i),
			ModelID: m.ID, HomeZoneID: z.ID})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = v.ID
	}
	// 1M readings of history: 10,000 per car, one every 30 s over the last days.
	start := time.Now().Add(-4 * 24 * time.Hour)
	const hist = `
		INSERT INTO telemetry_readings (vehicle_id, recorded_at, lat, lng, battery_pct, odometer_km, locked)
		SELECT v.id, $1::timestamptz + make_interval(secs => g * 30), 43.83, 125.2, 80, g * 0.1, true
		FROM vehicles v, generate_series(0, 9999) g`
	if _, err := d.ExecContext(ctx, hist, start); err != nil {
		b.Fatal(err)
	}
	if _, err := d.ExecContext(ctx, `ANALYZE telemetry_readings`); err != nil {
		b.Fatal(err)
	}
	next := start.Add(10000 * 30 * time.Second)
	odo := 1000.0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]fleet.Reading, 100)
		for j := range batch {
			next = next.Add(time.Millisecond)
			odo += 0.01
			batch[j] = fleet.Reading{RecordedAt: next, Position: fleet.Point{Lat: 43.83 + rand.Float64()/1000, Lng: 125.2},
				BatteryPct: 70, OdometerKm: odo, Locked: false}
		}
		res, err := s.Ingest(ctx, ids[i%cars], batch)
		if err != nil || res.Accepted != 100 {
			b.Fatalf("ingest: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "readings/s")
}
