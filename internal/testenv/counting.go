package testenv

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/db"
)

// countingDriver is lib/pq with a count of the statements each database
// receives, so a test can hold a code path to a number of queries.
type countingDriver struct{}

var counters sync.Map // DSN → *atomic.Int64

func init() {
	sql.Register("postgres-counting", countingDriver{})
	sqlx.BindDriver("postgres-counting", sqlx.DOLLAR)
}

func (countingDriver) Open(dsn string) (driver.Conn, error) {
	c, err := pq.Open(dsn)
	if err != nil {
		return nil, err
	}
	n, _ := counters.LoadOrStore(dsn, new(atomic.Int64))
	return &countingConn{Conn: c, n: n.(*atomic.Int64)}, nil
}

type countingConn struct {
	driver.Conn
	n *atomic.Int64
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *countingConn) Ping(ctx context.Context) error { return c.Conn.(driver.Pinger).Ping(ctx) }

// CountingDB returns a pool on a fresh database and a function that reports
// how many statements it has run so far.
func CountingDB(t testing.TB) (*sqlx.DB, func() int64) {
	t.Helper()
	dsn := db.DriverURL(DatabaseURL(t))
	d, err := sqlx.Open("postgres-counting", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Ping(); err != nil {
		t.Fatal(err)
	}
	n, _ := counters.LoadOrStore(dsn, new(atomic.Int64))
	return d, n.(*atomic.Int64).Load
}
