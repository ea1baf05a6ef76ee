package httpapi

import (
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// parseTime reads an RFC 3339 timestamp of a named field, recording why it is
// not one.
func parseTime(f *apperr.Fields, field, s string) time.Time {
	if s == "" {
		f.Add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		f.Add(field, "must be an RFC 3339 timestamp such as 2026-12-01T09:00:00+08:00")
		return time.Time{}
	}
	return t.UTC()
}

// parseUUID reads the id in a named field.
func parseUUID(f *apperr.Fields, field, s string) uuid.UUID {
	id, err := uuid.Parse(s)
	if err != nil {
		f.Add(field, "must be an id (UUID)")
	}
	return id
}

// optionalUUID reads an id that may be absent.
func optionalUUID(f *apperr.Fields, field, s string) *uuid.UUID {
	if s == "" {
		return nil
	}
	id := parseUUID(f, field, s)
	return &id
}

// each renders every element of in with f, for the lists of the API.
func each[T, J any](in []T, f func(T) J) []J {
	out := make([]J, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
