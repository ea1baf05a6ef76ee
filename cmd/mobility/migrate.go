package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/hongqi-mobility/mobility/internal/db"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usageError{"migrate wants one of: up, down, status"}
	}
	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	m, err := db.NewMigrator(e.db.DB)
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	case "down":
		v, err := m.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back migration %05d\n", v)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tFILE\tAPPLIED")
		for _, s := range st {
			applied := "pending"
			if s.Applied {
				applied = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%05d\t%s\t%s\n", s.Version, s.File, applied)
		}
		return tw.Flush()
	default:
		return usageError{fmt.Sprintf("unknown migrate command %q: want up, down or status", args[0])}
	}
	return nil
}
