// Package db opens the PostgreSQL pool, runs the embedded migrations, runs
// transactions, and turns PostgreSQL errors into the service's errors.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/migrations"
)

// PoolOptions bounds the connection pool.
type PoolOptions struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// DriverURL returns url with the driver options every pool of the service
// uses: binary_parameters, with which lib/pq sends a statement with
// parameters in one round trip (parse, bind, execute) instead of two (it
// otherwise waits for the server to describe the statement first). It also
// sends []byte parameters in binary form, so a jsonb parameter must be
// given as a string, or cast from text in the SQL.
func DriverURL(url string) string {
	if strings.Contains(url, "binary_parameters=") {
		return url
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		if strings.Contains(url, "?") {
			return url + "&binary_parameters=yes"
		}
		return url + "?binary_parameters=yes"
	}
	return url + " binary_parameters=yes" // key=value form
}

// WithSettings returns url with PostgreSQL settings ("name=value") that every
// session opened on it starts with, through the connection's options
// parameter, so a pool for one kind of statement needs no SET round trip
// before each. Settings already in a postgres:// URL's options are kept.
func WithSettings(url string, settings ...string) string {
	var opts strings.Builder
	for _, s := range settings {
		opts.WriteString(" -c " + s)
	}
	if u, err := neturl.Parse(url); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("options", strings.TrimSpace(q.Get("options")+opts.String()))
		u.RawQuery = q.Encode()
		return u.String()
	}
	// key=value form: lib/pq takes the last value of a key, so options
	// given earlier in it are replaced.
	return url + " options='" + strings.TrimSpace(opts.String()) + "'"
}

// Connect opens a pool on url, applies the limits and checks that the server
// answers.
func Connect(ctx context.Context, url string, opts PoolOptions) (*sqlx.DB, error) {
	d, err := Pool(url, opts)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := d.PingContext(pingCtx); err != nil {
		d.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return d, nil
}

// Pool opens a pool on url with the limits. It connects on first use, so a
// pool that a command never uses costs no connection.
func Pool(url string, opts PoolOptions) (*sqlx.DB, error) {
	d, err := sqlx.Open("postgres", DriverURL(url))
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if opts.MaxOpen > 0 {
		d.SetMaxOpenConns(opts.MaxOpen)
	}
	d.SetMaxIdleConns(opts.MaxIdle)
	if opts.MaxLifetime > 0 {
		d.SetConnMaxLifetime(opts.MaxLifetime)
	}
	return d, nil
}

// Migrator runs the embedded migrations against one database.
type Migrator struct {
	provider *goose.Provider
}

// NewMigrator prepares the migrations for d. A session-level advisory lock
// keeps several processes starting at once from migrating twice.
func NewMigrator(d *sql.DB) (*Migrator, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, d, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{provider: p}, nil
}

// Up applies every pending migration and returns how many ran.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	return len(res), nil
}

// Down rolls back the most recent migration and returns its version.
func (m *Migrator) Down(ctx context.Context) (int64, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate down: %w", err)
	}
	return res.Source.Version, nil
}

// Reset rolls back every migration.
func (m *Migrator) Reset(ctx context.Context) error {
	if _, err := m.provider.DownTo(ctx, 0); err != nil {
		return fmt.Errorf("migrate down to 0: %w", err)
	}
	return nil
}

// MigrationState is one migration and whether it is applied.
type MigrationState struct {
	Version   int64
	File      string
	Applied   bool
	AppliedAt time.Time
}

// Status lists every migration with its state.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationState{
			Version:   s.Source.Version,
			File:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// MigrationFiles returns the embedded migrations, for hashing them.
func MigrationFiles() fs.FS { return migrations.FS }

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise.
func InTx(ctx context.Context, d *sqlx.DB, fn func(tx *sqlx.Tx) error) error {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return Translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Get reads one row of query into dest through q (a pool or a
// transaction). No row is apperr.NotFound(what), which callers answer as a
// 404 naming what; any other failure is wrapped with what.
func Get(ctx context.Context, q sqlx.QueryerContext, dest any, what, query string, args ...any) error {
	err := sqlx.GetContext(ctx, q, dest, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.NotFound(what)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// SQLSTATE codes the service gives a meaning to.
const (
	codeUniqueViolation    = "23505"
	codeExclusionViolation = "23P01"
	codeForeignKey         = "23503"
	codeCheckViolation     = "23514"
	codeSerialization      = "40001"
	codeDeadlock           = "40P01"
)

// Translate turns a PostgreSQL constraint failure into a service error:
// 23505 into conflict, 23P01 into unavailable. Other errors pass unchanged.
// The constraint name is kept in Meta so callers can refine the message.
func Translate(err error) error {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("object")
		}
		return err
	}
	meta := map[string]any{"constraint": pe.Constraint}
	switch string(pe.Code) {
	case codeUniqueViolation:
		return &apperr.Error{Kind: apperr.KindConflict, Code: "already_exists", Detail: "an object with these values already exists", Meta: meta, Err: err}
	case codeExclusionViolation:
		return &apperr.Error{Kind: apperr.KindUnavailable, Code: "unavailable", Detail: "the period overlaps one that is already taken", Meta: meta, Err: err}
	case codeForeignKey:
		return &apperr.Error{Kind: apperr.KindInvalid, Code: "reference_not_found", Detail: "a referenced object does not exist", Meta: meta, Err: err}
	case codeCheckViolation:
		return &apperr.Error{Kind: apperr.KindInvalid, Code: "constraint_violated", Detail: "a value is out of range", Meta: meta, Err: err}
	case codeSerialization, codeDeadlock:
		return &apperr.Error{Kind: apperr.KindConflict, Code: "concurrent_update", Detail: "the object changed concurrently; retry", Meta: meta, Err: err}
	}
	return err
}

// Constraint returns the name of the violated constraint in err, if any.
func Constraint(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Constraint
	}
	return ""
}
