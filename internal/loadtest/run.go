package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/fleet"
)

// Result is what one measured phase did.
type Result struct {
	Name      string
	Ops       int           // successful operations
	Refused   int           // expected refusals (a taken car)
	Errors    int           // anything else
	Elapsed   time.Duration //
	Latencies []time.Duration
}

// Percentile returns the p-th percentile latency (0 < p ≤ 100).
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	l := append([]time.Duration(nil), r.Latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	i := int(float64(len(l))*p/100+0.5) - 1
	return l[min(max(i, 0), len(l)-1)]
}

// PerSecond is successful operations per second.
func (r Result) PerSecond() float64 { return float64(r.Ops) / r.Elapsed.Seconds() }

// window returns a random 2-hour window on a whole hour within the next days.
func window(rnd *rand.Rand, fromDay, days int) (time.Time, time.Time) {
	start := time.Now().UTC().Truncate(time.Hour).Add(time.Duration(fromDay*24+rnd.IntN(days*24)) * time.Hour)
	return start, start.Add(2 * time.Hour)
}

func point(rnd *rand.Rand) (float64, float64) {
	return Town.MinLat + rnd.Float64()*(Town.MaxLat-Town.MinLat), Town.MinLng + rnd.Float64()*(Town.MaxLng-Town.MinLng)
}

// drive runs op from c workers for d and collects the outcomes; op returns
// 1 for success, 0 for an expected refusal and -1 for an error.
func drive(name string, c int, d time.Duration, op func(rnd *rand.Rand, worker int) int) Result {
	var mu sync.Mutex
	res := Result{Name: name}
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var lat []time.Duration
			ok, refused, errs := 0, 0, 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				switch op(rnd, w) {
				case 1:
					ok++
					lat = append(lat, time.Since(t0))
				case 0:
					refused++
				default:
					errs++
				}
			}
			mu.Lock()
			res.Ops += ok
			res.Refused += refused
			res.Errors += errs
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// Search measures GET /v1/availability from c clients for d.
func Search(base, token string, c int, d time.Duration) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c * 2}, Timeout: 10 * time.Second}
	return drive("search via the API", c, d, func(rnd *rand.Rand, _ int) int {
		lat, lng := point(rnd)
		s, e := window(rnd, 1, 10)
		url := fmt.Sprintf("%s/v1/availability?lat=%.5f&lng=%.5f&radius_m=2000&limit=20&start=%s&end=%s",
			base, lat, lng, s.Format(time.RFC3339), e.Format(time.RFC3339))
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return -1
		}
		return 1
	})
}

// Book measures POST /v1/reservations from c clients (one resident each)
// for d: random cars, random windows in the coming weeks.
func Book(base string, tokens []string, cars []uuid.UUID, c int, d time.Duration) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c * 2}, Timeout: 10 * time.Second}
	return drive("bookings via the API", c, d, func(rnd *rand.Rand, w int) int {
		s, e := window(rnd, 20, 8)
		body, _ := json.Marshal(map[string]any{"vehicle_id": cars[rnd.IntN(len(cars))], "start": s.Format(time.RFC3339), "end": e.Format(time.RFC3339)})
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/reservations", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokens[w%len(tokens)])
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", uuid.NewString())
		res, err := client.Do(req)
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusCreated:
			return 1
		case http.StatusConflict:
			return 0
		}
		return -1
	})
}

// SearchScript is the search SQL for pgbench: the statement the API runs,
// with pgbench variables for its parameters. Run it with SearchEnv, the
// session settings the API's search pool has.
func SearchScript() string {
	q := fleet.AvailabilitySQL
	repl := []struct{ from, to string }{
		{"($14::int)", "20"}, {"$14::int", "20"}, {"$14", "20"}, {"$13", "NULL::uuid"}, {"$12", "NULL::float8"},
		{"$11::timestamptz", "(date_trunc('hour', now()) + make_interval(hours => 24 + :h + 2))"},
		{"$10::timestamptz", "(date_trunc('hour', now()) + make_interval(hours => 24 + :h))"},
		{"$9", "0"}, {"$8", strconv.Itoa(fleet.MinBatteryPct)}, {"$7::uuid", "NULL::uuid"}, {"$7", "NULL::uuid"},
		{"$6::text", "NULL::text"}, {"$6", "NULL::text"}, {"$5", "0"}, {"$4::uuid", "NULL::uuid"}, {"$4", "NULL::uuid"},
		{"$3", "2000"}, {"$2", "(:lng / 100000.0)"}, {"$1", "(:lat / 100000.0)"},
	}
	for _, r := range repl {
		q = strings.ReplaceAll(q, r.from, r.to)
	}
	return fmt.Sprintf("\\set lat random(%d, %d)\n\\set lng random(%d, %d)\n\\set h random(0, 239)\n%s;\n",
		int(Town.MinLat*1e5), int(Town.MaxLat*1e5), int(Town.MinLng*1e5), int(Town.MaxLng*1e5),
		strings.Join(strings.Fields(q), " "))
}

// SearchEnv gives pgbench's sessions the search pool's settings.
var SearchEnv = []string{"PGOPTIONS=-c " + fleet.SearchSettings}

// InsertScript is the bare occupancy insert a booking makes, for pgbench:
// a random car (from a numbered copy of the load cars) and window.
const InsertScript = `\set n random(1, :cars)
\set h random(0, 191)
INSERT INTO occupancy (id, vehicle_id, kind, period, held, buffer_minutes, reason)
SELECT gen_random_uuid(), c.id, 'block',
       tstzrange(date_trunc('hour', now()) + make_interval(days => 40, hours => :h),
                 date_trunc('hour', now()) + make_interval(days => 40, hours => :h + 2), '[)'),
       tstzrange(date_trunc('hour', now()) + make_interval(days => 40, hours => :h),
                 date_trunc('hour', now()) + make_interval(days => 40, hours => :h + 2, mins => 15), '[)'),
       15, 'load test'
FROM load_cars c WHERE c.n = :n
ON CONFLICT DO NOTHING;
`

// BookingScript writes, bare and in one statement, the rows a booking
// writes when it is made: the reservation, its holding, its payment with
// the payment's first history line and its outbox job, the reservation's
// event and the request's idempotency key. It shows what a booking costs
// the database alone, without the API, the round trips or the payment
// that follows (the PaymentIntent, the webhook, the ledger). The windows
// lie years ahead, each in three hours of its own (load_booking_hours), so
// that they never collide nor meet the sweeps; the outbox rows are written
// done, so that no worker picks them up.
const BookingScript = `\set n random(1, :cars)
BEGIN;
WITH u AS (SELECT id FROM load_residents WHERE n = :client_id % :residents + 1),
pl AS (SELECT id, current_version FROM pricing_plans ORDER BY code LIMIT 1),
c AS (SELECT v.id, v.home_zone_id, z.buffer_minutes FROM load_cars lc
      JOIN vehicles v ON v.id = lc.id JOIN zones z ON z.id = v.home_zone_id WHERE lc.n = :n),
w AS (SELECT date_trunc('hour', now()) + make_interval(days => 400, hours => 3 * nextval('load_booking_hours')::int) AS s),
r AS (INSERT INTO reservations (id, user_id, vehicle_id, zone_id, status, start_at, end_at, estimated_km, plan_id,
                                plan_version, currency, quote_lines, quote_subtotal, quote_vat, quote_total,
                                hold_expires_at, payment_id)
      SELECT gen_random_uuid(), u.id, c.id, c.home_zone_id, 'pending_payment', w.s, w.s + interval '2 hours', 0,
             pl.id, pl.current_version, 'CNY', '[]', 10000, 1300, 11300, 'infinity', gen_random_uuid()
      FROM u, c, w, pl
      RETURNING id, user_id, vehicle_id, start_at, end_at, payment_id),
o AS (INSERT INTO occupancy (id, vehicle_id, kind, period, held, buffer_minutes, reservation_id, created_by)
      SELECT gen_random_uuid(), r.vehicle_id, 'reservation', tstzrange(r.start_at, r.end_at, '[)'),
             tstzrange(r.start_at, r.end_at + make_interval(mins => c.buffer_minutes), '[)'), c.buffer_minutes,
             r.id, r.user_id
      FROM r, c),
p AS (INSERT INTO payments (id, purpose_kind, purpose_id, user_id, kind, status, currency, amount_authorized,
                            description, off_session, payment_method)
      SELECT r.payment_id, 'reservation', r.id, r.user_id, 'authorization', 'pending', 'CNY', 11300,
             'load test', true, 'pm_load' FROM r
      RETURNING id),
ph AS (INSERT INTO payment_history (payment_id, status, event, amount, detail, source)
       SELECT p.id, 'pending', 'created', 11300, 'authorization for reservation', 'request' FROM p),
ob AS (INSERT INTO outbox (kind, key, payload, status, done_at)
       SELECT 'load.test', 'load_' || p.id, jsonb_build_object('payment_id', p.id), 'done', now() FROM p),
e AS (INSERT INTO reservation_events (reservation_id, to_status, actor, note)
      SELECT r.id, 'pending_payment', r.user_id, 'booked' FROM r),
k AS (INSERT INTO idempotency_keys (user_id, key, method, path, request_hash)
      SELECT r.user_id, r.id::text, 'POST', '/v1/reservations', sha256(r.id::text::bytea) FROM r)
SELECT 1;
COMMIT;
`

// ClearInserts removes what earlier runs of InsertScript left, so that each
// run measures inserts into the seeded calendar: left in place, a rerun's
// inserts increasingly hit a taken window and write nothing (measured
// 4,800/s on a fresh seed, 8,800/s four reruns later).
func ClearInserts(ctx context.Context, d *sqlx.DB) error {
	if _, err := d.ExecContext(ctx, `DELETE FROM occupancy WHERE kind = 'block' AND reason = 'load test'`); err != nil {
		return fmt.Errorf("clear the bare inserts: %w", err)
	}
	if _, err := d.ExecContext(ctx, `VACUUM (ANALYZE) occupancy`); err != nil {
		return fmt.Errorf("vacuum occupancy: %w", err)
	}
	return nil
}

// Pgbench runs script against dbURL from c clients for d, with env added to
// its environment, and reads the per-transaction log for latencies.
func Pgbench(ctx context.Context, name, dbURL, script string, vars map[string]string, env []string, c int, d time.Duration) (Result, error) {
	dir, err := os.MkdirTemp("", "mobility-pgbench")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(file, []byte(script), 0o600); err != nil {
		return Result{}, err
	}
	args := []string{"-n", "-c", strconv.Itoa(c), "-j", strconv.Itoa(c), "-T", strconv.Itoa(int(d.Seconds())),
		"-f", file, "-l", "--log-prefix", filepath.Join(dir, "log")}
	for k, v := range vars {
		args = append(args, "-D", k+"="+v)
	}
	args = append(args, dbURL)
	cmd := exec.CommandContext(ctx, "pgbench", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	res := Result{Name: name, Elapsed: d}
	logs, _ := filepath.Glob(filepath.Join(dir, "log*"))
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			return Result{}, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil {
				continue
			}
			res.Ops++
			res.Latencies = append(res.Latencies, time.Duration(us)*time.Microsecond)
		}
		f.Close()
	}
	return res, nil
}

// Report prints the results as a table, with the API-to-bare ratios.
func Report(w io.Writer, search, bareSearch, book, bareInsert, bareBooking Result) {
	fmt.Fprintf(w, "\n%-38s %10s %10s %12s %8s %8s\n", "", "p50 ms", "p99 ms", "per second", "refused", "errors")
	for _, r := range []Result{search, bareSearch, book, bareInsert, bareBooking} {
		fmt.Fprintf(w, "%-38s %10.2f %10.2f %12.1f %8d %8d\n", r.Name, ms(r.Percentile(50)), ms(r.Percentile(99)), r.PerSecond(), r.Refused, r.Errors)
	}
	fmt.Fprintf(w, "\nsearch p99, API / bare SQL:         %.2f× (target ≤ 2×; API p99 target < 15 ms)\n",
		ms(search.Percentile(99))/ms(bareSearch.Percentile(99)))
	fmt.Fprintf(w, "bookings / bare occupancy inserts:  %.2f (target ≥ 0.5)\n", book.PerSecond()/bareInsert.PerSecond())
	fmt.Fprintf(w, "a booking's rows, bare / inserts:   %.2f (the most any booking that writes them could reach)\n",
		bareBooking.PerSecond()/bareInsert.PerSecond())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
