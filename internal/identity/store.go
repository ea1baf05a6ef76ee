package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// userRow is a users row joined with its licence, as the queries read it.
type userRow struct {
	ID           uuid.UUID      `db:"id"`
	Email        string         `db:"email"`
	PasswordHash string         `db:"password_hash"`
	DisplayName  string         `db:"display_name"`
	Phone        string         `db:"phone"`
	Roles        pq.StringArray `db:"roles"`
	CreatedAt    time.Time      `db:"created_at"`
	UpdatedAt    time.Time      `db:"updated_at"`

	LicNumber       sql.NullString `db:"lic_number"`
	LicRegion       sql.NullString `db:"lic_region"`
	LicExpiresOn    sql.NullTime   `db:"lic_expires_on"`
	LicPhotoRef     sql.NullString `db:"lic_photo_ref"`
	LicStatus       sql.NullString `db:"lic_status"`
	LicSubmittedAt  sql.NullTime   `db:"lic_submitted_at"`
	LicReviewedAt   sql.NullTime   `db:"lic_reviewed_at"`
	LicRejectReason sql.NullString `db:"lic_rejection_reason"`
}

// userColumns selects a user with its licence; the FROM clause is userFrom.
const userColumns = `
	u.id, u.email, u.password_hash, u.display_name, u.phone, u.roles, u.created_at, u.updated_at,
	l.number AS lic_number, l.issuing_region AS lic_region, l.expires_on AS lic_expires_on,
	l.photo_ref AS lic_photo_ref, l.status AS lic_status, l.submitted_at AS lic_submitted_at,
	l.reviewed_at AS lic_reviewed_at, l.rejection_reason AS lic_rejection_reason`

const userFrom = ` FROM users u LEFT JOIN driving_licences l ON l.user_id = u.id `

func (r userRow) user() User {
	u := User{
		ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, Phone: r.Phone,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	for _, s := range r.Roles {
		u.Roles = append(u.Roles, Role(s))
	}
	if r.LicStatus.Valid {
		l := &Licence{
			Number: r.LicNumber.String, IssuingRegion: r.LicRegion.String,
			ExpiresOn: r.LicExpiresOn.Time.UTC(), Status: LicenceStatus(r.LicStatus.String),
			SubmittedAt: r.LicSubmittedAt.Time.UTC(),
		}
		if r.LicPhotoRef.Valid {
			l.PhotoRef = &r.LicPhotoRef.String
		}
		if r.LicReviewedAt.Valid {
			t := r.LicReviewedAt.Time.UTC()
			l.ReviewedAt = &t
		}
		if r.LicRejectReason.Valid {
			l.RejectionReason = &r.LicRejectReason.String
		}
		u.Licence = l
	}
	return u
}

func rolesArray(roles []Role) pq.StringArray {
	out := make(pq.StringArray, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// store runs the identity queries.
type store struct{ db *sqlx.DB }

func (s store) userByID(ctx context.Context, q sqlx.QueryerContext, id uuid.UUID) (userRow, error) {
	var r userRow
	if err := db.Get(ctx, q, &r, "user", `SELECT `+userColumns+userFrom+` WHERE u.id = $1`, id); err != nil {
		return r, err
	}
	return r, nil
}

func (s store) userByEmail(ctx context.Context, email string) (userRow, error) {
	var r userRow
	if err := db.Get(ctx, s.db, &r, "user", `SELECT `+userColumns+userFrom+` WHERE u.email = $1`, email); err != nil {
		return r, err
	}
	return r, nil
}

// insertUser adds an account; a taken email is a conflict.
func (s store) insertUser(ctx context.Context, tx *sqlx.Tx, u User, hash string) error {
	const q = `
		INSERT INTO users (id, email, password_hash, display_name, phone, roles, created_at, updated_at)
		VALUES (:id, :email, :password_hash, :display_name, :phone, :roles, :now, :now)`
	_, err := tx.NamedExecContext(ctx, q, map[string]any{
		"id": u.ID, "email": u.Email, "password_hash": hash, "display_name": u.DisplayName,
		"phone": u.Phone, "roles": rolesArray(u.Roles), "now": u.CreatedAt,
	})
	if err != nil {
		if db.Constraint(err) == "users_email_key" {
			return apperr.New(apperr.KindConflict, "email_taken", "an account with this email already exists; sign in instead")
		}
		return fmt.Errorf("insert user: %w", db.Translate(err))
	}
	return nil
}

// insertSession starts a session (a refresh-token family) with its first token.
func (s store) insertSession(ctx context.Context, tx *sqlx.Tx, id, userID uuid.UUID, c Client, now, expires time.Time, tokenHash []byte) error {
	const qs = `
		INSERT INTO sessions (id, user_id, created_at, expires_at, user_agent, ip)
		VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''))`
	if _, err := tx.ExecContext(ctx, qs, id, userID, now, expires, truncate(c.UserAgent, 256), c.IP); err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return s.insertRefresh(ctx, tx, id, tokenHash, now, expires)
}

func (s store) insertRefresh(ctx context.Context, tx *sqlx.Tx, sessionID uuid.UUID, hash []byte, now, expires time.Time) error {
	const q = `INSERT INTO refresh_tokens (token_hash, session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`
	if _, err := tx.ExecContext(ctx, q, hash, sessionID, now, expires); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// refreshState is what is known of a presented refresh token.
type refreshState struct {
	SessionID     uuid.UUID      `db:"session_id"`
	UserID        uuid.UUID      `db:"user_id"`
	UsedAt        sql.NullTime   `db:"used_at"`
	ExpiresAt     time.Time      `db:"expires_at"`
	SessionEnd    time.Time      `db:"session_expires_at"`
	RevokedAt     sql.NullTime   `db:"revoked_at"`
	RevokedReason sql.NullString `db:"revoke_reason"`
}

// useRefresh marks an unused refresh token used, in one guarded statement so
// that two concurrent refreshes with one token cannot both win. It returns
// false when the token was not unused.
func (s store) useRefresh(ctx context.Context, tx *sqlx.Tx, hash []byte, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL`, hash, now)
	if err != nil {
		return false, fmt.Errorf("use refresh token: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (s store) refreshState(ctx context.Context, q sqlx.QueryerContext, hash []byte) (refreshState, error) {
	const query = `
		SELECT t.session_id, s.user_id, t.used_at, t.expires_at, s.expires_at AS session_expires_at,
		       s.revoked_at, s.revoke_reason
		FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
		WHERE t.token_hash = $1`
	var st refreshState
	err := sqlx.GetContext(ctx, q, &st, query, hash)
	if errors.Is(err, sql.ErrNoRows) {
		return st, errInvalidRefresh
	}
	if err != nil {
		return st, fmt.Errorf("refresh token state: %w", err)
	}
	return st, nil
}

// revokeSession ends a session and with it every token of its family.
func (s store) revokeSession(ctx context.Context, q sqlx.ExecerContext, id uuid.UUID, reason string, now time.Time) error {
	const query = `UPDATE sessions SET revoked_at = $3, revoke_reason = $2 WHERE id = $1 AND revoked_at IS NULL`
	if _, err := q.ExecContext(ctx, query, id, reason, now); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// sessionState is what authenticating a request needs from the database.
type sessionState struct {
	Roles     pq.StringArray `db:"roles"`
	ExpiresAt time.Time      `db:"expires_at"`
	RevokedAt sql.NullTime   `db:"revoked_at"`
}

func (s store) sessionState(ctx context.Context, sessionID, userID uuid.UUID) (sessionState, error) {
	const q = `
		SELECT u.roles, s.expires_at, s.revoked_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.user_id = $2`
	var st sessionState
	err := s.db.GetContext(ctx, &st, q, sessionID, userID)
	if errors.Is(err, sql.ErrNoRows) {
		return st, apperr.New(apperr.KindUnauthenticated, "invalid_token", "the access token is not valid")
	}
	if err != nil {
		return st, fmt.Errorf("session state: %w", err)
	}
	return st, nil
}

// UserFilter narrows a list of users.
type UserFilter struct {
	Role          *Role
	EmailPrefix   string
	LicenceStatus *LicenceStatus
}

func (s store) listUsers(ctx context.Context, f UserFilter, p page.Request) ([]userRow, error) {
	// Users in creation order, after the cursor; each filter applies only
	// when set.
	const q = `
		SELECT ` + userColumns + userFrom + `
		WHERE ($1::text IS NULL OR $1 = ANY (u.roles))
		  AND ($2 = '' OR u.email LIKE $2 || '%')
		  AND ($3::text IS NULL OR l.status = $3)
		  AND ($4::timestamptz IS NULL OR (u.created_at, u.id) > ($4, $5))
		ORDER BY u.created_at, u.id
		LIMIT $6`
	after, afterID := p.Bounds()
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, q, f.Role, escapeLike(f.EmailPrefix), f.LicenceStatus, after, afterID, p.Limit); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return rows, nil
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
