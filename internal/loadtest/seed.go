// Package loadtest measures the service under load on this machine: it
// seeds a large town (10,000 cars, 1,000,000 reservations by default),
// measures availability search and booking through the real HTTP API, and
// runs the same SQL bare through pgbench in the same run, so the ratio holds
// however noisy the machine is.
package loadtest

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Town is the area cars are spread over: Hongqi Town and its surroundings.
var Town = struct{ MinLat, MaxLat, MinLng, MaxLng float64 }{43.80, 43.86, 125.16, 125.24}

// SeedCars adds n cars spread over the town, of the demo models, homed at
// the demo zones, with a charged battery. It returns how many cars there are.
func SeedCars(ctx context.Context, d *sqlx.DB, n int) (int, error) {
	// Positions on a jittered grid; models and zones round-robin.
	const q = `
		WITH m AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n FROM vehicle_models),
		     z AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k, count(*) OVER () AS n FROM zones)
		INSERT INTO vehicles (id, vin, plate, model_id, home_zone_id, status, device_token_hash, lat, lng,
		                      battery_pct, odometer_km, telemetry_at)
		SELECT gen_random_uuid(),
		       'LT' || upper(lpad(to_hex(g), 15, '0')),
		       '吉B' || lpad(g::text, 6, '0'),
		       (SELECT id FROM m WHERE k = g % m.n LIMIT 1),
		       (SELECT id FROM z WHERE k = g % z.n LIMIT 1),
		       'available', sha256(('load-' || g)::bytea),
		       $2::float8 + random() * ($3::float8 - $2::float8), $4::float8 + random() * ($5::float8 - $4::float8),
		       60 + (g % 40), 1000 + g % 5000, now()
		FROM generate_series(1, $1::int) g, (SELECT n FROM m LIMIT 1) m, (SELECT n FROM z LIMIT 1) z`
	if _, err := d.ExecContext(ctx, q, n, Town.MinLat, Town.MaxLat, Town.MinLng, Town.MaxLng); err != nil {
		return 0, fmt.Errorf("seed cars: %w", err)
	}
	var total int
	err := d.GetContext(ctx, &total, `SELECT count(*) FROM vehicles`)
	return total, err
}

// SeedReservations gives the load cars perCar bookings each, half past
// (completed, released) and half ahead (confirmed, holding the car): 2-hour
// trips every 8 hours around now, each car at its own offset within the
// 8 hours, so that at any hour about half the fleet is free (cars in
// lockstep would make some windows find none), in one statement per table.
func SeedReservations(ctx context.Context, d *sqlx.DB, perCar int) (int, error) {
	var plan struct {
		ID      string `db:"id"`
		Version int    `db:"current_version"`
	}
	if err := d.GetContext(ctx, &plan, `SELECT id, current_version FROM pricing_plans ORDER BY code LIMIT 1`); err != nil {
		return 0, fmt.Errorf("a plan for the load reservations: %w", err)
	}
	var user string
	if err := d.GetContext(ctx, &user, `SELECT id FROM users WHERE 'resident' = ANY (roles) ORDER BY created_at LIMIT 1`); err != nil {
		return 0, fmt.Errorf("a resident for the load reservations: %w", err)
	}
	base := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(perCar/2) * 8 * time.Hour)
	const qr = `
		INSERT INTO reservations (id, user_id, vehicle_id, zone_id, status, start_at, end_at, plan_id, plan_version,
		                          currency, quote_lines, quote_subtotal, quote_vat, quote_total, hold_expires_at,
		                          started_at, ended_at, final_lines, final_subtotal, final_vat, final_total)
		SELECT gen_random_uuid(), $1, v.id, v.home_zone_id, s.status, s.start_at, s.start_at + interval '2 hours',
		       $2, $3, 'CNY', '[]', 10000, 1300, 11300, s.start_at,
		       CASE WHEN s.status = 'completed' THEN s.start_at END,
		       CASE WHEN s.status = 'completed' THEN s.start_at + interval '2 hours' END,
		       CASE WHEN s.status = 'completed' THEN '[]'::jsonb END,
		       CASE WHEN s.status = 'completed' THEN 10000 END,
		       CASE WHEN s.status = 'completed' THEN 1300 END,
		       CASE WHEN s.status = 'completed' THEN 11300 END
		FROM vehicles v
		CROSS JOIN LATERAL (
			SELECT $4::timestamptz + make_interval(hours => j * 8, mins => abs(hashtext(v.id::text)) % 360) AS start_at,
			       CASE WHEN j < $5 / 2 THEN 'completed' ELSE 'confirmed' END AS status
			FROM generate_series(0, $5 - 1) j) s
		WHERE v.vin LIKE 'LT%'`
	res, err := d.ExecContext(ctx, qr, user, plan.ID, plan.Version, base, perCar)
	if err != nil {
		return 0, fmt.Errorf("seed reservations: %w", err)
	}
	n, _ := res.RowsAffected()
	const qo = `
		INSERT INTO occupancy (id, vehicle_id, kind, period, held, buffer_minutes, live, reservation_id, released_at)
		SELECT gen_random_uuid(), r.vehicle_id, 'reservation', tstzrange(r.start_at, r.end_at, '[)'),
		       tstzrange(r.start_at, r.end_at + make_interval(mins => z.buffer_minutes), '[)'), z.buffer_minutes,
		       r.status = 'confirmed', r.id, CASE WHEN r.status = 'completed' THEN r.end_at END
		FROM reservations r JOIN zones z ON z.id = r.zone_id
		JOIN vehicles v ON v.id = r.vehicle_id AND v.vin LIKE 'LT%'`
	if _, err := d.ExecContext(ctx, qo); err != nil {
		return 0, fmt.Errorf("seed occupancy: %w", err)
	}
	for _, t := range []string{"vehicles", "reservations", "occupancy"} {
		if _, err := d.ExecContext(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return 0, err
		}
	}
	return int(n), nil
}
