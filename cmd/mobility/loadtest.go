package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/demo"
	"github.com/hongqi-mobility/mobility/internal/httpapi"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/loadtest"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

// cmdLoadtest seeds a large town in its own database, serves the API on
// loopback and measures search and booking through it, then the same SQL
// bare through pgbench, and prints both.
func cmdLoadtest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	vehicles := fs.Int("vehicles", 10000, "cars to seed")
	reservations := fs.Int("reservations", 1000000, "reservations to seed (spread over the cars)")
	clients := fs.Int("concurrency", 4, "concurrent clients")
	duration := fs.Duration("duration", 15*time.Second, "how long each phase runs")
	dbName := fs.String("db", "mobility_load", "database to (re)create on the server")
	reuse := fs.Bool("reuse", false, "keep an already seeded database")
	mockBin := fs.String("stripe-mock", ".bin/stripe-mock", "stripe-mock binary, started on loopback")
	profiles := fs.String("profile-dir", "", "write CPU profiles of the API phases (search.pprof, book.pprof) here")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *vehicles < 100 || *clients < 1 || *duration < time.Second {
		return usageError{"--vehicles ≥ 100, --concurrency ≥ 1, --duration ≥ 1s"}
	}

	server := getenv("DATABASE_URL")
	if server == "" {
		server = db.LocalServerURL
	}
	dbURL, fresh, err := loadDatabase(ctx, server, *dbName, *reuse)
	if err != nil {
		return err
	}
	mockURL, stopMock, err := startStripeMock(*mockBin)
	if err != nil {
		return err
	}
	defer stopMock()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	env := map[string]string{"DATABASE_URL": dbURL, "PORT": strconv.Itoa(port), "STRIPE_API_BASE": mockURL,
		"LOG_LEVEL": "error", "DB_MAX_OPEN_CONNS": "40", "DB_MAX_IDLE_CONNS": "40"}
	e, err := setup(ctx, func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return getenv(k)
	}, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	if err := migrateUp(ctx, e); err != nil {
		return err
	}
	rules := bookingRules(e.cfg.Booking)
	rules.MaxUpcoming = 1 << 30 // load residents book without limit
	svc := wire(e, worker.Options{}, rules)

	if fresh {
		start := time.Now()
		if err := demo.Seed(ctx, demo.Services{Identity: svc.identity, Fleet: svc.fleet, Plans: svc.plans}, io.Discard); err != nil {
			return err
		}
		n, err := loadtest.SeedCars(ctx, e.db, *vehicles)
		if err != nil {
			return err
		}
		r, err := loadtest.SeedReservations(ctx, e.db, max(*reservations / *vehicles, 2))
		if err != nil {
			return err
		}
		if _, err := e.db.ExecContext(ctx, `CREATE TABLE load_cars AS SELECT row_number() OVER () AS n, id FROM vehicles WHERE vin LIKE 'LT%';
			CREATE UNIQUE INDEX ON load_cars (n)`); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded %d cars and %d reservations in %s\n", n, r, time.Since(start).Round(time.Second))
	}

	app := httpapi.New(*svc.api(e))
	go func() { _ = app.Listener(ln) }()
	defer app.Shutdown()
	base := "http://" + ln.Addr().String()
	// The worker runs beside the API, as in serve: it makes the bookings'
	// PaymentIntents, and its relayed webhooks confirm them.
	runner := newRunner(e, svc.pay, time.Second, svc.lifecycleTask())
	if err := runner.Start(ctx); err != nil {
		return err
	}
	defer runner.Stop(context.WithoutCancel(ctx))

	tokens, residents, err := loadResidents(ctx, svc.identity, base, *clients)
	if err != nil {
		return err
	}
	// For the bare booking rows: this run's residents, and the hours their
	// windows take one by one.
	if _, err := e.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS load_residents (n int PRIMARY KEY, id uuid NOT NULL);
		TRUNCATE load_residents; CREATE SEQUENCE IF NOT EXISTS load_booking_hours`); err != nil {
		return err
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO load_residents SELECT n, id FROM unnest($1::uuid[]) WITH ORDINALITY AS r(id, n)`,
		pq.Array(residents)); err != nil {
		return err
	}
	var cars []uuid.UUID
	if err := e.db.SelectContext(ctx, &cars, `SELECT id FROM load_cars ORDER BY n`); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "measuring: %d clients, %s per phase\n", *clients, *duration)
	var search loadtest.Result
	if err := profiled(*profiles, "search.pprof", func() { search = loadtest.Search(base, tokens[0], *clients, *duration) }); err != nil {
		return err
	}
	bareSearch, err := loadtest.Pgbench(ctx, "search, bare SQL (pgbench)", dbURL, loadtest.SearchScript(), nil, loadtest.SearchEnv, *clients, *duration)
	if err != nil {
		return err
	}
	var book loadtest.Result
	if err := profiled(*profiles, "book.pprof", func() { book = loadtest.Book(base, tokens, cars, *clients, *duration) }); err != nil {
		return err
	}
	// Let the worker finish the bookings' payments before the bare inserts
	// are measured, and count that time against the bookings.
	backlog, drain, err := drainOutbox(ctx, e.db, 5*time.Minute)
	if err != nil {
		return err
	}
	if err := loadtest.ClearInserts(ctx, e.db); err != nil {
		return err
	}
	bareInsert, err := loadtest.Pgbench(ctx, "occupancy insert, bare SQL (pgbench)", dbURL, loadtest.InsertScript,
		map[string]string{"cars": strconv.Itoa(len(cars))}, nil, *clients, *duration)
	if err != nil {
		return err
	}
	bareBooking, err := loadtest.Pgbench(ctx, "a booking's rows, bare SQL (pgbench)", dbURL, loadtest.BookingScript,
		map[string]string{"cars": strconv.Itoa(len(cars)), "residents": strconv.Itoa(len(residents))}, nil, *clients, *duration)
	if err != nil {
		return err
	}
	loadtest.Report(stdout, search, bareSearch, book, bareInsert, bareBooking)
	fmt.Fprintf(stdout, "payment jobs queued when the booking phase ended: %d, done %s later: %.1f bookings/s authorised end to end\n",
		backlog, drain.Round(10*time.Millisecond), float64(book.Ops)/(book.Elapsed+drain).Seconds())
	return nil
}

// drainOutbox waits until the outbox has no due job left and returns how
// many there were at first and how long they took.
func drainOutbox(ctx context.Context, d *sqlx.DB, limit time.Duration) (int, time.Duration, error) {
	start := time.Now()
	first := -1
	for {
		var n int
		if err := d.GetContext(ctx, &n, `SELECT count(*) FROM outbox WHERE status = 'pending' AND run_at <= now()`); err != nil {
			return 0, 0, err
		}
		if first < 0 {
			first = n
		}
		if n == 0 {
			return first, time.Since(start), nil
		}
		if time.Since(start) > limit {
			return first, 0, fmt.Errorf("the worker left %d payment jobs after %s", n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// profiled runs phase, with a CPU profile of this process (server and
// clients) written to dir/name when dir is set.
func profiled(dir, name string, phase func()) error {
	if dir == "" {
		phase()
		return nil
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	phase()
	pprof.StopCPUProfile()
	return f.Close()
}

// loadDatabase (re)creates the load database on the server of serverURL.
func loadDatabase(ctx context.Context, serverURL, name string, reuse bool) (string, bool, error) {
	admin, err := db.Connect(ctx, serverURL, db.PoolOptions{MaxOpen: 1})
	if err != nil {
		return "", false, err
	}
	defer admin.Close()
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", false, err
	}
	u.Path = "/" + name
	var exists bool
	if err := admin.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", false, err
	}
	if exists && reuse {
		return u.String(), false, nil
	}
	if exists {
		if _, err := admin.ExecContext(ctx, `DROP DATABASE `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			return "", false, err
		}
	}
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
		return "", false, err
	}
	return u.String(), true, nil
}

func startStripeMock(bin string) (string, func(), error) {
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	p1, p2 := l1.Addr().(*net.TCPAddr).Port, l2.Addr().(*net.TCPAddr).Port
	l1.Close()
	l2.Close()
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:"+strconv.Itoa(p1), "-https-addr", "127.0.0.1:"+strconv.Itoa(p2))
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start stripe-mock (%s; run `make build`): %w", bin, err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	base := "http://127.0.0.1:" + strconv.Itoa(p1)
	for i := 0; i < 200; i++ {
		if res, err := http.Get(base + "/v1/balance"); err == nil {
			res.Body.Close()
			return base, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("stripe-mock did not answer")
}

// loadResidents makes n residents with approved licences and saved cards and
// returns their access tokens and ids.
func loadResidents(ctx context.Context, ident *identity.Service, base string, n int) ([]string, []uuid.UUID, error) {
	admins, _, err := ident.ListUsers(ctx, identity.UserFilter{EmailPrefix: "admin@hongqi.town"}, page.Request{Limit: 1})
	if err != nil || len(admins) == 0 {
		return nil, nil, fmt.Errorf("the demo admin: %w", err)
	}
	admin := identity.Principal{UserID: admins[0].ID, Roles: admins[0].Roles}
	tokens, ids := make([]string, n), make([]uuid.UUID, n)
	for i := range tokens {
		email := fmt.Sprintf("load-%d-%s@hongqi.town", i, uuid.NewString()[:8])
		u, err := ident.CreateUser(ctx, identity.NewAccount{Email: email, Password: demo.Password, DisplayName: "load", Phone: "+8613800000099"},
			[]identity.Role{identity.RoleResident})
		if err != nil {
			return nil, nil, err
		}
		ids[i] = u.ID
		if _, err := ident.SubmitLicence(ctx, u.ID, identity.LicenceSubmission{Number: "LOAD-12345", IssuingRegion: "CN",
			ExpiresOn: time.Now().AddDate(5, 0, 0).Format(time.DateOnly)}); err != nil {
			return nil, nil, err
		}
		if _, err := ident.DecideLicence(ctx, admin, u.ID, identity.LicenceDecision{Approve: true}); err != nil {
			return nil, nil, err
		}
		var sess struct {
			Tokens struct {
				AccessToken string `json:"access_token"`
			}
		}
		if err := postJSON(base+"/v1/auth/login", "", map[string]string{"email": email, "password": demo.Password}, &sess); err != nil {
			return nil, nil, err
		}
		tokens[i] = sess.Tokens.AccessToken
		if err := postJSON(base+"/v1/me/payment-methods/setup-intent", tokens[i], map[string]string{"payment_method": "pm_card_visa"}, nil); err != nil {
			return nil, nil, fmt.Errorf("save a card: %w", err)
		}
	}
	return tokens, ids, nil
}

func postJSON(url, token string, body, out any) error {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s: %d %s", url, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}
