package db_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// TestMigrationsRoundTrip rolls every migration back and applies it again:
// each migration's Down works and leaves a schema its Up can rebuild.
func TestMigrationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	m, err := db.NewMigrator(d.DB)
	if err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if !s.Applied {
			t.Fatalf("migration %d not applied in the template", s.Version)
		}
	}
	if err := m.Reset(ctx); err != nil {
		t.Fatalf("down through every migration: %v", err)
	}
	var ext int
	if err := d.GetContext(ctx, &ext, `SELECT count(*) FROM pg_extension WHERE extname IN ('btree_gist','cube','earthdistance')`); err != nil {
		t.Fatal(err)
	}
	if ext != 0 {
		t.Errorf("%d extensions left after rolling back", ext)
	}
	n, err := m.Up(ctx)
	if err != nil || n != len(st) {
		t.Fatalf("up again: applied %d of %d: %v", n, len(st), err)
	}
}

func TestTranslateConstraintErrors(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	mustExec(t, d, `CREATE TABLE t (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&))`)
	mustExec(t, d, `INSERT INTO t VALUES (1, '[1,5)')`)

	_, err := d.ExecContext(ctx, `INSERT INTO t VALUES (1, '[10,20)')`)
	if e, ok := apperr.As(db.Translate(err)); !ok || e.Kind != apperr.KindConflict {
		t.Errorf("duplicate key: %v, want a conflict", db.Translate(err))
	}
	_, err = d.ExecContext(ctx, `INSERT INTO t VALUES (2, '[3,8)')`)
	if e, ok := apperr.As(db.Translate(err)); !ok || e.Kind != apperr.KindUnavailable || db.Constraint(err) != "t_r_excl" {
		t.Errorf("overlap: %v (constraint %q), want unavailable on t_r_excl", db.Translate(err), db.Constraint(err))
	}
	// Half-open ranges let back-to-back periods touch.
	mustExec(t, d, `INSERT INTO t VALUES (3, '[5,8)')`)
}

func TestInTxRollsBackOnError(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	mustExec(t, d, `CREATE TABLE t (id int PRIMARY KEY)`)
	err := db.InTx(ctx, d, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		return apperr.NotFound("thing")
	})
	if !apperr.Is(err, apperr.KindNotFound) {
		t.Fatalf("err %v", err)
	}
	var n int
	if err := d.GetContext(ctx, &n, `SELECT count(*) FROM t`); err != nil || n != 0 {
		t.Errorf("rows after rollback: %d (%v)", n, err)
	}
}

func mustExec(t *testing.T, d *sqlx.DB, q string) {
	t.Helper()
	if _, err := d.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestDriverURLAsksForOneRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h:5432/d", "postgres://u@h:5432/d?binary_parameters=yes"},
		{"postgresql://u@h/d?sslmode=disable", "postgresql://u@h/d?sslmode=disable&binary_parameters=yes"},
		{"host=h dbname=d", "host=h dbname=d binary_parameters=yes"},
		{"postgres://u@h/d?binary_parameters=no", "postgres://u@h/d?binary_parameters=no"},
	} {
		if got := db.DriverURL(tc.in); got != tc.want {
			t.Errorf("DriverURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWithSettingsStartsEverySession(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u@h/d", "postgres://u@h/d?options=-c+enable_sort%3Doff"},
		{"postgres://u@h/d?options=-c+work_mem%3D8MB&sslmode=disable",
			"postgres://u@h/d?options=-c+work_mem%3D8MB+-c+enable_sort%3Doff&sslmode=disable"},
		{"host=h dbname=d", "host=h dbname=d options='-c enable_sort=off'"},
	} {
		if got := db.WithSettings(tc.in, "enable_sort=off"); got != tc.want {
			t.Errorf("WithSettings(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}

	ctx := context.Background()
	d, err := db.Connect(ctx, db.WithSettings(testenv.DatabaseURL(t), "enable_sort=off", "work_mem=8MB"), db.PoolOptions{MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var sort, mem string
	if err := d.QueryRowContext(ctx, `SELECT current_setting('enable_sort'), current_setting('work_mem')`).Scan(&sort, &mem); err != nil {
		t.Fatal(err)
	}
	if sort != "off" || mem != "8MB" {
		t.Errorf("a session of the pool has enable_sort %s, work_mem %s; want off, 8MB", sort, mem)
	}
}

func TestGetNamesWhatItDidNotFind(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	var n int
	if err := db.Get(ctx, d, &n, "answer", `SELECT 42`); err != nil || n != 42 {
		t.Fatalf("Get = %d, %v; want 42", n, err)
	}
	err := db.Get(ctx, d, &n, "zone", `SELECT 1 WHERE false`)
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Kind != apperr.KindNotFound || !strings.Contains(ae.Detail, "zone") {
		t.Errorf("no row: %v, want not found naming the zone", err)
	}
	err = db.Get(ctx, d, &n, "zone", `SELECT 1/0`)
	var pe *pq.Error
	if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "zone: ") {
		t.Errorf("a failed query: %v, want the driver's error wrapped with what", err)
	}
}
