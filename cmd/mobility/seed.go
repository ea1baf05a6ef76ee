package main

import (
	"context"
	"fmt"
	"io"
)

func cmdSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) != 0 {
		return usageError{"seed takes no arguments"}
	}
	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	if err := migrateUp(ctx, e); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "seed: database migrated; demo data is loaded by the capabilities as they land")
	return nil
}
