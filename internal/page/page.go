// Package page implements cursor pagination: a stable order on (time, id)
// and an opaque cursor that names the last row of the previous page.
package page

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// Bounds of the page size.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Cursor is the position after which the next page starts.
type Cursor struct {
	At time.Time
	ID uuid.UUID
}

// Request is a validated page request: a limit and, after the first page, a
// cursor.
type Request struct {
	Limit int
	After *Cursor
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	raw := strconv.FormatInt(c.At.UnixMicro(), 10) + "|" + c.ID.String()
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// Parse reads a page request from the query values limit and cursor.
func Parse(limit, cursor string) (Request, error) {
	r := Request{Limit: DefaultLimit}
	var f apperr.Fields
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLimit {
			f.Add("limit", "must be a whole number from 1 to "+strconv.Itoa(MaxLimit))
		} else {
			r.Limit = n
		}
	}
	if cursor != "" {
		c, ok := decode(cursor)
		if !ok {
			f.Add("cursor", "is not a cursor returned by this list")
		} else {
			r.After = &c
		}
	}
	return r, f.Err()
}

func decode(s string) (Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return Cursor{}, false
	}
	us, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return Cursor{}, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return Cursor{}, false
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: u}, true
}

// Next returns the cursor of the page that follows items, or nil when the
// page is not full. at and id read the position of an item.
func Next[T any](items []T, limit int, pos func(T) (time.Time, uuid.UUID)) *string {
	if len(items) < limit || len(items) == 0 {
		return nil
	}
	at, id := pos(items[len(items)-1])
	s := Cursor{At: at, ID: id}.Encode()
	return &s
}

// Bounds returns the cursor as query arguments — the time and id to start
// after — or NULL and the nil id on the first page.
func (r Request) Bounds() (*time.Time, uuid.UUID) {
	if r.After == nil {
		return nil, uuid.Nil
	}
	at := r.After.At
	return &at, r.After.ID
}
