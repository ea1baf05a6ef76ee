package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/fleet"
	"github.com/hongqi-mobility/mobility/internal/httpapi"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/pricing/plans"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

// env is what every command starts from: validated configuration, a logger
// and an open, migrated-or-not database.
type env struct {
	cfg config.Config
	log *slog.Logger
	db  *sqlx.DB
	src *db.Source
	// search is the pool availability searches run on (fleet.Options.Search).
	search *sqlx.DB
}

func (e *env) close() {
	if e.search != nil {
		e.search.Close()
	}
	if e.db != nil {
		e.db.Close()
	}
	if err := e.src.Close(); err != nil {
		e.log.Error("stop embedded database", "err", err)
	}
}

func setup(ctx context.Context, getenv func(string) string, stderr io.Writer) (*env, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	pool := db.PoolOptions{MaxOpen: cfg.DBMaxOpenConns, MaxIdle: cfg.DBMaxIdleConns, MaxLifetime: cfg.DBConnLifetime}
	d, src, err := db.Open(ctx, cfg.DatabaseURL, cfg.DataDir, pool, log)
	if err != nil {
		return nil, err
	}
	e := &env{cfg: cfg, log: log, db: d, src: src}
	// Opened, not connected: commands that never search (worker, migrate)
	// hold no connection on it; the main pool has checked the server.
	if e.search, err = db.Pool(db.WithSettings(src.URL, fleet.SearchSettings), pool); err != nil {
		e.close()
		return nil, fmt.Errorf("search pool: %w", err)
	}
	return e, nil
}

func newIdentity(e *env) *identity.Service {
	return identity.NewService(e.db, identity.Options{
		SigningKey: e.cfg.TokenKey,
		AccessTTL:  e.cfg.AccessTTL,
		RefreshTTL: e.cfg.RefreshTTL,
		Location:   e.cfg.Location,
		Log:        e.log,
	})
}

func newFleet(e *env) *fleet.Service {
	return fleet.NewService(e.db, fleet.Options{Location: e.cfg.Location, Log: e.log, Search: e.search})
}

func newPlans(e *env) *plans.Service {
	return plans.NewService(e.db, plans.Options{Location: e.cfg.Location, Log: e.log})
}

func migrateUp(ctx context.Context, e *env) error {
	m, err := db.NewMigrator(e.db.DB)
	if err != nil {
		return err
	}
	n, err := m.Up(ctx)
	if err != nil {
		return err
	}
	e.log.Info("migrations applied", "count", n)
	return nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noMigrate := fs.Bool("no-migrate", false, "do not apply pending migrations at start")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	e.log.Info("starting", "config", e.cfg)
	if e.cfg.TokenKeyDefault {
		e.log.Warn("TOKEN_SIGNING_KEY is unset: using a random key, so access tokens end with this process")
	}
	if !*noMigrate {
		if err := migrateUp(ctx, e); err != nil {
			return err
		}
	}

	svc := wire(e, worker.Options{}, bookingRules(e.cfg.Booking))
	app := httpapi.New(*svc.api(e))

	ln, err := net.Listen("tcp", net.JoinHostPort(e.cfg.BindAddr, strconv.Itoa(e.cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT=%d: %w", e.cfg.Port, err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	// The worker starts once the API listens: in mock mode its relay
	// delivers events to this server's own webhook endpoint.
	runner := newRunner(e, svc.pay, time.Second, svc.lifecycleTask())
	if err := runner.Start(ctx); err != nil {
		return err
	}
	e.log.Info("serving", "addr", ln.Addr().String(), "api", e.cfg.PublicURL+"/v1",
		"docs", e.cfg.PublicURL+"/docs", "app", e.cfg.PublicURL+"/app", "stripe", e.cfg.StripeMode)
	fmt.Fprintf(stdout, "Hongqi Mobility is serving on %s (docs %s/docs, residents' app %s/app)\n", e.cfg.PublicURL, e.cfg.PublicURL, e.cfg.PublicURL)

	select {
	case err := <-served:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	e.log.Info("shutting down: finishing in-flight requests", "timeout", e.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	if err := app.ShutdownWithContext(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := runner.Stop(sctx); err != nil {
		e.log.Warn("worker: stopped before its jobs finished; they will run again", "err", err)
	}
	e.log.Info("stopped", "drain_ms", time.Since(start).Milliseconds())
	return nil
}
