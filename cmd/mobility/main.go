// Command mobility is the Hongqi Mobility service: the API server, its
// migrations, demo data and administrative commands in one binary.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: mobility <command> [flags]

commands:
  serve [--no-migrate]      run the API and a worker (migrates first unless --no-migrate)
  worker [--poll D] [--lease D]
                            run only the background worker: the outbox of Stripe calls, housekeeping
  migrate up|down|status    apply, roll back one, or list migrations
  seed                      load the Hongqi Town demo data (idempotent)
  users create --email E --role R [--role R2] [--name N] [--phone P] --password-stdin
                            create an account (e.g. the first admin); the password is read from stdin
  loadtest [--vehicles N] [--reservations M] [--concurrency C] [--duration D] [--reuse] [--profile-dir DIR]
                            seed a large town in its own database and measure search and booking,
                            through the API and as bare SQL (pgbench), side by side
  help                      show this text

Configuration comes from environment variables; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
			fmt.Fprintln(os.Stderr, "\nmobility:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "mobility:", err)
		os.Exit(1)
	}
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run is the whole program; main only wires it to the process. ctx is
// cancelled on SIGINT or SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return cmdWorker(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "seed":
		return cmdSeed(ctx, rest, getenv, stdout, stderr)
	case "loadtest":
		return cmdLoadtest(ctx, rest, getenv, stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
