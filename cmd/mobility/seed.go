package main

import (
	"context"
	"io"

	"github.com/hongqi-mobility/mobility/internal/demo"
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
	return demo.Seed(ctx, demo.Services{Identity: newIdentity(e), Fleet: newFleet(e), Plans: newPlans(e)}, stdout)
}
