package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// LocalServerURL is the local PostgreSQL tried when DATABASE_URL is unset.
const LocalServerURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// DatabaseName is the database made on the local or embedded server.
const DatabaseName = "mobility"

// embeddedPort keeps the embedded server off the standard port.
const embeddedPort = 55432

// Source is where the pool came from, and how to stop what was started for it.
type Source struct {
	Kind string // "url", "local" or "embedded"
	URL  string
	stop func() error
}

// Close stops the embedded server, if one was started.
func (s *Source) Close() error {
	if s == nil || s.stop == nil {
		return nil
	}
	return s.stop()
}

// Open finds the database in the documented order — url when set; else the
// local server on 127.0.0.1:5432, creating the database `mobility`; else an
// embedded server with its files under dataDir — and returns a pool on it.
func Open(ctx context.Context, url, dataDir string, opts PoolOptions, log *slog.Logger) (*sqlx.DB, *Source, error) {
	if url != "" {
		d, err := Connect(ctx, url, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		return d, &Source{Kind: "url", URL: url}, nil
	}

	localURL, localErr := ensureDatabase(ctx, LocalServerURL, DatabaseName)
	if localErr == nil {
		d, err := Connect(ctx, localURL, opts)
		if err == nil {
			log.Info("database: local server", "url", "postgres://postgres@127.0.0.1:5432/"+DatabaseName)
			return d, &Source{Kind: "local", URL: localURL}, nil
		}
		localErr = err
	}
	log.Info("database: no local server on 127.0.0.1:5432, trying an embedded one", "reason", localErr.Error())

	src, embErr := startEmbedded(dataDir, log)
	if embErr != nil {
		return nil, nil, fmt.Errorf("no database: set DATABASE_URL to a PostgreSQL 15+ server, "+
			"or start one on 127.0.0.1:5432 (user postgres, trust auth); "+
			"the local server failed (%v) and the embedded one failed (%w)", localErr, embErr)
	}
	d, err := Connect(ctx, src.URL, opts)
	if err != nil {
		_ = src.Close()
		return nil, nil, fmt.Errorf("embedded database: %w", err)
	}
	return d, src, nil
}

// ensureDatabase connects to the maintenance database at serverURL, creates
// name if missing, and returns the URL of name.
func ensureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	d, err := Connect(ctx, serverURL, PoolOptions{MaxOpen: 1})
	if err != nil {
		return "", err
	}
	defer d.Close()
	var exists bool
	if err := d.GetContext(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name); err != nil {
		return "", fmt.Errorf("look up database %s: %w", name, err)
	}
	if !exists {
		_, err := d.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name))
		var pe *pq.Error
		// Another process may have created it between the check and here.
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return replaceDatabase(serverURL, name), nil
}

func replaceDatabase(serverURL, name string) string {
	u, err := neturl.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Path = "/" + name
	return u.String()
}

// startEmbedded starts PostgreSQL from the system's binaries when present,
// with its data, runtime and cache under dataDir.
func startEmbedded(dataDir string, log *slog.Logger) (*Source, error) {
	if os.Geteuid() == 0 {
		return nil, errors.New("the embedded server cannot run as root (initdb refuses); run as another user")
	}
	abs, err := filepath.Abs(filepath.Join(dataDir, "postgres"))
	if err != nil {
		return nil, err
	}
	runtime := filepath.Join(abs, "runtime")
	cfg := embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.V15).
		Port(embeddedPort).
		Database(DatabaseName).
		DataPath(filepath.Join(abs, "data")).
		RuntimePath(runtime).
		CachePath(filepath.Join(abs, "cache")).
		StartParameters(map[string]string{"unix_socket_directories": runtime}).
		Logger(logWriter{log})
	for _, bin := range []string{"/usr/lib/postgresql/15", "/usr/lib/postgresql/16", "/usr/lib/postgresql/17"} {
		if _, err := os.Stat(filepath.Join(bin, "bin", "pg_ctl")); err == nil {
			cfg = cfg.BinariesPath(bin)
			break
		}
	}
	pg := embeddedpostgres.NewDatabase(cfg)
	if err := pg.Start(); err != nil {
		return nil, fmt.Errorf("start embedded PostgreSQL under %s: %w", abs, err)
	}
	log.Info("database: embedded server", "data", abs, "port", embeddedPort)
	return &Source{Kind: "embedded", URL: cfg.GetConnectionURL() + "?sslmode=disable", stop: pg.Stop}, nil
}

type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Debug("embedded postgres", "out", string(p))
	return len(p), nil
}
