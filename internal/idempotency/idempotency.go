// Package idempotency stores the answers to requests sent with an
// Idempotency-Key, so that a client retrying a request that creates or moves
// money gets the first answer again instead of a second effect.
//
// Keys are scoped to the user. The first request with a key reserves it
// (Begin) and its answer is stored (Finish); the same key with the same
// method, path and body replays that answer; the same key with anything else
// is refused (422 idempotency_key_reused); the same key while the first is
// still running is refused (409 idempotency_request_in_progress). Server
// errors are not stored (Forget), so a retry runs again. Keys are kept for a
// day (Prune).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// Retention is how long a key and its answer are kept.
const Retention = 24 * time.Hour

// staleAfter is when a request that reserved a key and never finished (its
// process died) no longer blocks the key: a retry takes it over.
const staleAfter = 2 * time.Minute

// MaxKeyLength bounds a key; Stripe's limit is the same.
const MaxKeyLength = 255

// Request identifies one request made with a key.
type Request struct {
	UserID uuid.UUID
	Key    string
	Method string
	Path   string
	Body   []byte
}

func (r Request) hash() []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", r.Method, r.Path)
	h.Write(r.Body)
	return h.Sum(nil)
}

// Response is a stored answer.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
}

// Store keeps keys and answers in PostgreSQL.
type Store struct{ db *sqlx.DB }

// NewStore returns the store on d.
func NewStore(d *sqlx.DB) *Store { return &Store{db: d} }

// CheckKey validates a key: 1 to 255 printable ASCII characters.
func CheckKey(key string) error {
	ok := key != "" && len(key) <= MaxKeyLength
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] > 0x20 && key[i] < 0x7f
	}
	if !ok {
		return apperr.Invalid("Idempotency-Key: must be 1 to 255 printable ASCII characters without spaces",
			apperr.FieldError{Field: "Idempotency-Key", Reason: "must be 1 to 255 printable ASCII characters without spaces"})
	}
	return nil
}

type row struct {
	Method      string         `db:"method"`
	Path        string         `db:"path"`
	Hash        []byte         `db:"request_hash"`
	Status      sql.NullInt32  `db:"response_status"`
	ContentType sql.NullString `db:"response_type"`
	Body        []byte         `db:"response_body"`
	Stale       bool           `db:"stale"`
}

// Begin reserves r's key for r. It returns nil when the caller should
// process the request, the stored answer when one should be replayed, or an
// error when the key is taken by another request or is in use.
func (s *Store) Begin(ctx context.Context, r Request) (*Response, error) {
	if err := CheckKey(r.Key); err != nil {
		return nil, err
	}
	h := r.hash()
	// Reserve the key; a concurrent first use waits here for the other to
	// commit, then sees its row.
	const reserve = `
		INSERT INTO idempotency_keys (user_id, key, method, path, request_hash)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, key) DO NOTHING`
	res, err := s.db.ExecContext(ctx, reserve, r.UserID, r.Key, r.Method, r.Path, h)
	if err != nil {
		return nil, fmt.Errorf("reserve idempotency key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil, nil
	}
	// The key was used before: what for, and is the answer there?
	const read = `
		SELECT method, path, request_hash, response_status, response_type, response_body,
		       response_status IS NULL AND created_at < now() - make_interval(secs => $3) AS stale
		FROM idempotency_keys WHERE user_id = $1 AND key = $2`
	var old row
	if err := s.db.GetContext(ctx, &old, read, r.UserID, r.Key, staleAfter.Seconds()); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // pruned in between: start afresh
			return s.Begin(ctx, r)
		}
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	if !bytes.Equal(old.Hash, h) {
		e := apperr.New(apperr.KindUnprocessable, "idempotency_key_reused",
			"this Idempotency-Key was used for another request ("+old.Method+" "+old.Path+" with a different body); use a new key for a new request")
		return nil, e
	}
	if old.Status.Valid {
		return &Response{Status: int(old.Status.Int32), ContentType: old.ContentType.String, Body: old.Body}, nil
	}
	if old.Stale {
		// The first request died unanswered: take the key over, once.
		const takeOver = `
			UPDATE idempotency_keys SET created_at = now()
			WHERE user_id = $1 AND key = $2 AND response_status IS NULL
			  AND created_at < now() - make_interval(secs => $3)`
		res, err := s.db.ExecContext(ctx, takeOver, r.UserID, r.Key, staleAfter.Seconds())
		if err != nil {
			return nil, fmt.Errorf("take over idempotency key: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil, nil
		}
	}
	e := apperr.New(apperr.KindConflict, "idempotency_request_in_progress",
		"a request with this Idempotency-Key is still being processed; retry in a moment")
	e.RetryAfter = 1
	return nil, e
}

// Finish stores the answer to the request that reserved r's key.
func (s *Store) Finish(ctx context.Context, r Request, res Response) error {
	const finish = `
		UPDATE idempotency_keys
		SET response_status = $3, response_type = $4, response_body = $5, completed_at = now()
		WHERE user_id = $1 AND key = $2 AND response_status IS NULL`
	if _, err := s.db.ExecContext(ctx, finish, r.UserID, r.Key, res.Status, res.ContentType, res.Body); err != nil {
		return fmt.Errorf("store idempotent answer: %w", err)
	}
	return nil
}

// Forget frees r's key when its request ended without an answer worth
// keeping (a server error), so a retry is processed again.
func (s *Store) Forget(ctx context.Context, r Request) error {
	const forget = `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND response_status IS NULL`
	if _, err := s.db.ExecContext(ctx, forget, r.UserID, r.Key); err != nil {
		return fmt.Errorf("forget idempotency key: %w", err)
	}
	return nil
}

// Prune deletes keys older than Retention and returns how many.
func (s *Store) Prune(ctx context.Context) (int64, error) {
	const prune = `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`
	res, err := s.db.ExecContext(ctx, prune, Retention.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
