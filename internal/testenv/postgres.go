// Package testenv gives tests the real parts they run against: a fresh
// PostgreSQL database per test cloned from a template migrated once,
// stripe-mock started once per test binary, and an HTTP client that checks
// every request and response against the OpenAPI contract.
package testenv

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver of pgtestdb's connections
	"github.com/peterldowns/pgtestdb"

	"github.com/hongqi-mobility/mobility/internal/db"
)

// serverURL is the PostgreSQL server the tests use: TEST_DATABASE_URL, or the
// local server every machine of this project runs.
func serverURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return db.LocalServerURL
}

// migrator builds pgtestdb's template with the service's own migrations, so
// tests run exactly the schema production runs.
type migrator struct{}

// Hash identifies the template by the contents of every migration file.
func (migrator) Hash() (string, error) {
	h := sha256.New()
	var names []string
	err := fs.WalkDir(db.MigrationFiles(), ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(db.MigrationFiles(), n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Migrate runs the migrations on the new template database.
func (migrator) Migrate(ctx context.Context, d *sql.DB, _ pgtestdb.Config) error {
	m, err := db.NewMigrator(d)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

func pgConfig(t testing.TB) pgtestdb.Config {
	t.Helper()
	u, err := url.Parse(serverURL())
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	opts := u.Query()
	if opts.Get("sslmode") == "" {
		opts.Set("sslmode", "disable")
	}
	return pgtestdb.Config{
		DriverName:                "postgres",
		Host:                      host,
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  u.Path[1:],
		Options:                   opts.Encode(),
		ForceTerminateConnections: true,
		// earthdistance is not a trusted extension: creating it, as the first
		// migration does, takes a superuser, as it does in production.
		TestRole: &pgtestdb.Role{Username: "mobility_test", Password: "mobility_test", Capabilities: "SUPERUSER"},
	}
}

// checkServer fails the test with what to start when no server answers.
func checkServer(t testing.TB) {
	t.Helper()
	d, err := sql.Open("postgres", serverURL())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err = d.PingContext(ctx)
		d.Close()
	}
	if err != nil {
		t.Fatalf("PostgreSQL does not answer at %s (%v): start it (`pg_ctlcluster 15 main start`, as .ci/run does) or set TEST_DATABASE_URL", serverURL(), err)
	}
}

// DatabaseURL makes a fresh, migrated database for this test and returns its
// URL; the database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	checkServer(t)
	conf := pgtestdb.Custom(t, pgConfig(t), migrator{})
	return conf.URL()
}

// DB returns a pool on a fresh, migrated database for this test.
func DB(t testing.TB) *sqlx.DB {
	t.Helper()
	return Connect(t, DatabaseURL(t))
}

// Connect returns a pool on url, closed when the test ends.
func Connect(t testing.TB, url string) *sqlx.DB {
	t.Helper()
	d, err := db.Connect(context.Background(), url, db.PoolOptions{MaxOpen: 20, MaxIdle: 5})
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
