package identity

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
)

// Options configure the identity service.
type Options struct {
	SigningKey []byte
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Location   *time.Location // decides which day a licence expires on
	Limits     Limits
	Now        func() time.Time // the clock; time.Now when nil
	Log        *slog.Logger
}

// Service is the identity capability.
type Service struct {
	db     *sqlx.DB
	store  store
	tokens *tokenSigner
	opts   Options
	auth   authCache
}

// NewService returns the identity service on d.
func NewService(d *sqlx.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Service{db: d, store: store{db: d}, tokens: &tokenSigner{key: opts.SigningKey, ttl: opts.AccessTTL}, opts: opts}
}

var (
	errInvalidCredentials = apperr.New(apperr.KindUnauthenticated, "invalid_credentials", "the email or the password is wrong")
	errInvalidRefresh     = apperr.New(apperr.KindUnauthenticated, "invalid_refresh_token", "the refresh token is not valid; sign in again")
	phoneRE               = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	mainlandMobileRE      = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
)

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkEmail(f *apperr.Fields, email string) {
	a, err := mail.ParseAddress(email)
	if email == "" {
		f.Add("email", "is required")
	} else if err != nil || a.Address != email || len(email) > 254 || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		f.Add("email", "is not an email address")
	}
}

// normalizePhone accepts E.164 (+8613812345678) or a mainland mobile number
// (13812345678), spaces and dashes ignored, and returns E.164.
func normalizePhone(f *apperr.Fields, s string) string {
	p := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if mainlandMobileRE.MatchString(p) {
		p = "+86" + p
	}
	if !phoneRE.MatchString(p) {
		f.Add("phone", "must be a phone number in international form, e.g. +8613812345678")
	}
	return p
}

func checkDisplayName(f *apperr.Fields, s string) string {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > 64 {
		f.Add("display_name", "must be 1 to 64 characters")
	}
	return s
}

// NewAccount is what signing up asks for.
type NewAccount struct {
	Email       string
	Password    string
	DisplayName string
	Phone       string
}

func (a *NewAccount) normalize() error {
	var f apperr.Fields
	a.Email = NormalizeEmail(a.Email)
	checkEmail(&f, a.Email)
	if why := checkPassword(a.Password, a.Email); why != "" {
		f.Add("password", why)
	}
	a.DisplayName = checkDisplayName(&f, a.DisplayName)
	a.Phone = normalizePhone(&f, a.Phone)
	return f.Err()
}

// Register signs a resident up and starts a session.
func (s *Service) Register(ctx context.Context, a NewAccount, c Client) (User, Tokens, error) {
	if err := a.normalize(); err != nil {
		return User{}, Tokens{}, err
	}
	if err := s.throttleRegister(ctx, c.IP, a.Email); err != nil {
		return User{}, Tokens{}, err
	}
	u, err := s.createUser(ctx, a, []Role{RoleResident}, nil)
	if err != nil {
		return User{}, Tokens{}, err
	}
	tok, err := s.startSession(ctx, u, c)
	return u, tok, err
}

// CreateUser makes an account with the given roles, for the operators'
// command line; it starts no session.
func (s *Service) CreateUser(ctx context.Context, a NewAccount, roles []Role) (User, error) {
	if err := a.normalize(); err != nil {
		return User{}, err
	}
	if len(roles) == 0 {
		return User{}, apperr.Invalid("roles: at least one role", apperr.FieldError{Field: "roles", Reason: "at least one role"})
	}
	return s.createUser(ctx, a, roles, nil)
}

func (s *Service) createUser(ctx context.Context, a NewAccount, roles []Role, by *uuid.UUID) (User, error) {
	hash, err := hashPassword(a.Password)
	if err != nil {
		return User{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return User{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	u := User{ID: id, Email: a.Email, DisplayName: a.DisplayName, Phone: a.Phone, Roles: roles, CreatedAt: now, UpdatedAt: now}
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		if err := s.store.insertUser(ctx, tx, u, hash); err != nil {
			return err
		}
		return s.recordRoles(ctx, tx, u.ID, roles, by)
	})
	return u, err
}

func (s *Service) recordRoles(ctx context.Context, tx *sqlx.Tx, userID uuid.UUID, roles []Role, by *uuid.UUID) error {
	const q = `INSERT INTO user_role_changes (user_id, roles, changed_by) VALUES ($1, $2, $3)`
	if _, err := tx.ExecContext(ctx, q, userID, rolesArray(roles), by); err != nil {
		return fmt.Errorf("record roles: %w", err)
	}
	return nil
}

// Login checks an email and password and starts a session. An unknown email
// and a wrong password get the same answer after the same work.
func (s *Service) Login(ctx context.Context, email, password string, c Client) (User, Tokens, error) {
	email = NormalizeEmail(email)
	var f apperr.Fields
	if email == "" {
		f.Add("email", "is required")
	}
	if password == "" {
		f.Add("password", "is required")
	} else if len(password) > 4*MaxPasswordLen {
		f.Add("password", "is too long")
	}
	if err := f.Err(); err != nil {
		return User{}, Tokens{}, err
	}
	if err := s.throttleLogin(ctx, c.IP, email); err != nil {
		return User{}, Tokens{}, err
	}
	row, err := s.store.userByEmail(ctx, email)
	found := err == nil
	if err != nil && !apperr.Is(err, apperr.KindNotFound) {
		return User{}, Tokens{}, err
	}
	hash := dummyHash
	if found {
		hash = row.PasswordHash
	}
	ok, err := verifyPassword(password, hash)
	if err != nil {
		return User{}, Tokens{}, fmt.Errorf("verify password of %s: %w", row.ID, err)
	}
	if !found || !ok {
		if err := s.loginFailed(ctx, email); err != nil {
			return User{}, Tokens{}, err
		}
		return User{}, Tokens{}, errInvalidCredentials
	}
	u := row.user()
	tok, err := s.startSession(ctx, u, c)
	return u, tok, err
}

func (s *Service) startSession(ctx context.Context, u User, c Client) (Tokens, error) {
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	sid, err := uuid.NewV7()
	if err != nil {
		return Tokens{}, err
	}
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return Tokens{}, err
	}
	expires := now.Add(s.opts.RefreshTTL)
	err = db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		return s.store.insertSession(ctx, tx, sid, u.ID, c, now, expires, hash)
	})
	if err != nil {
		return Tokens{}, err
	}
	access, accessExp, err := s.tokens.sign(u.ID, sid, u.Roles, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, AccessExpiresAt: accessExp, RefreshToken: refresh, RefreshExpiresAt: expires}, nil
}

// Refresh trades a refresh token for a new pair. Each refresh token works
// once: presenting a used one again revokes its whole session, since either
// the user or a thief holds a copy.
func (s *Service) Refresh(ctx context.Context, token string) (User, Tokens, error) {
	if token == "" || len(token) > 256 {
		return User{}, Tokens{}, apperr.Invalid("refresh_token: is required", apperr.FieldError{Field: "refresh_token", Reason: "is required"})
	}
	hash := hashRefreshToken(token)
	now := s.opts.Now().UTC().Truncate(time.Microsecond)
	var (
		st      refreshState
		newTok  string
		reused  bool
		newHash []byte
	)
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var err error
		if st, err = s.store.refreshState(ctx, tx, hash); err != nil {
			return err
		}
		switch {
		case st.RevokedAt.Valid:
			return apperr.New(apperr.KindUnauthenticated, "session_revoked", "this session has ended (signed out or revoked); sign in again")
		case !now.Before(st.ExpiresAt) || !now.Before(st.SessionEnd):
			return apperr.New(apperr.KindUnauthenticated, "refresh_token_expired", "the refresh token has expired; sign in again")
		}
		won, err := s.store.useRefresh(ctx, tx, hash, now)
		if err != nil {
			return err
		}
		if !won {
			reused = true
			return nil
		}
		if newTok, newHash, err = newRefreshToken(); err != nil {
			return err
		}
		return s.store.insertRefresh(ctx, tx, st.SessionID, newHash, now, st.SessionEnd)
	})
	if err != nil {
		return User{}, Tokens{}, err
	}
	if reused {
		err := s.store.revokeSession(ctx, s.db, st.SessionID, "refresh_token_reused", now)
		s.auth.forget()
		if err != nil {
			return User{}, Tokens{}, err
		}
		s.opts.Log.WarnContext(ctx, "refresh token reused: session revoked", "session_id", st.SessionID, "user_id", st.UserID)
		return User{}, Tokens{}, apperr.New(apperr.KindUnauthenticated, "refresh_token_reused",
			"this refresh token was already used; for safety the session is ended, sign in again")
	}
	row, err := s.store.userByID(ctx, s.db, st.UserID)
	if err != nil {
		return User{}, Tokens{}, err
	}
	u := row.user()
	access, accessExp, err := s.tokens.sign(u.ID, st.SessionID, u.Roles, now)
	if err != nil {
		return User{}, Tokens{}, err
	}
	return u, Tokens{AccessToken: access, AccessExpiresAt: accessExp, RefreshToken: newTok, RefreshExpiresAt: st.SessionEnd}, nil
}

// Logout ends the session of p: its refresh tokens and access tokens stop
// working at once (within authCacheTTL in other processes).
func (s *Service) Logout(ctx context.Context, p Principal) error {
	defer s.auth.forget()
	return s.store.revokeSession(ctx, s.db, p.SessionID, "logout", s.opts.Now().UTC())
}

// Authenticate checks an access token and returns who it acts for, with the
// roles the user holds now. A token checked within authCacheTTL is taken on
// trust; changes made through this process are seen at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	now := s.opts.Now()
	p, gen, ok := s.auth.get(token, now)
	if ok {
		return p, nil
	}
	userID, sessionID, exp, err := s.tokens.parse(token, now)
	if err != nil {
		return Principal{}, err
	}
	st, err := s.store.sessionState(ctx, sessionID, userID)
	if err != nil {
		return Principal{}, err
	}
	if st.RevokedAt.Valid {
		return Principal{}, apperr.New(apperr.KindUnauthenticated, "token_revoked", "the access token was revoked (signed out); sign in again")
	}
	if !now.Before(st.ExpiresAt) {
		return Principal{}, apperr.New(apperr.KindUnauthenticated, "token_expired", "the session has expired; sign in again")
	}
	p = Principal{UserID: userID, SessionID: sessionID}
	for _, r := range st.Roles {
		p.Roles = append(p.Roles, Role(r))
	}
	s.auth.put(token, p, gen, now, exp, st.ExpiresAt)
	return p, nil
}

// User returns the account id.
func (s *Service) User(ctx context.Context, id uuid.UUID) (User, error) {
	row, err := s.store.userByID(ctx, s.db, id)
	if err != nil {
		return User{}, err
	}
	return row.user(), nil
}

// ProfileChange is a partial update of one's own profile; nil fields stay.
type ProfileChange struct {
	DisplayName *string
	Phone       *string
}

// UpdateProfile changes the display name or phone of id.
func (s *Service) UpdateProfile(ctx context.Context, id uuid.UUID, ch ProfileChange) (User, error) {
	var f apperr.Fields
	if ch.DisplayName != nil {
		v := checkDisplayName(&f, *ch.DisplayName)
		ch.DisplayName = &v
	}
	if ch.Phone != nil {
		v := normalizePhone(&f, *ch.Phone)
		ch.Phone = &v
	}
	if ch.DisplayName == nil && ch.Phone == nil {
		f.Add("(body)", "change at least one of display_name, phone")
	}
	if err := f.Err(); err != nil {
		return User{}, err
	}
	const q = `
		UPDATE users SET display_name = COALESCE($2, display_name), phone = COALESCE($3, phone), updated_at = $4
		WHERE id = $1`
	if _, err := s.db.ExecContext(ctx, q, id, ch.DisplayName, ch.Phone, s.opts.Now().UTC()); err != nil {
		return User{}, fmt.Errorf("update profile: %w", db.Translate(err))
	}
	return s.User(ctx, id)
}

// SetRoles replaces the roles of a user. The last admin cannot drop the admin
// role, so the service always has one.
func (s *Service) SetRoles(ctx context.Context, by Principal, id uuid.UUID, roles []Role) (User, error) {
	if len(roles) == 0 {
		return User{}, apperr.Invalid("roles: at least one role", apperr.FieldError{Field: "roles", Reason: "at least one role"})
	}
	err := db.InTx(ctx, s.db, func(tx *sqlx.Tx) error {
		// Serialise role changes so two admins demoting each other cannot
		// leave none.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('identity.roles'))`); err != nil {
			return fmt.Errorf("lock roles: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE users SET roles = $2, updated_at = now() WHERE id = $1`, id, rolesArray(roles))
		if err != nil {
			return fmt.Errorf("set roles: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFound("user")
		}
		var admins int
		if err := tx.GetContext(ctx, &admins, `SELECT count(*) FROM users WHERE 'admin' = ANY (roles)`); err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		if admins == 0 {
			return apperr.New(apperr.KindConflict, "last_admin", "this is the last admin; make another admin first")
		}
		return s.recordRoles(ctx, tx, id, roles, &by.UserID)
	})
	s.auth.forget()
	if err != nil {
		return User{}, err
	}
	return s.User(ctx, id)
}

// ListUsers returns a page of users in creation order and the cursor of the
// next page.
func (s *Service) ListUsers(ctx context.Context, f UserFilter, p page.Request) ([]User, *string, error) {
	f.EmailPrefix = NormalizeEmail(f.EmailPrefix)
	rows, err := s.store.listUsers(ctx, f, p)
	if err != nil {
		return nil, nil, err
	}
	users := make([]User, len(rows))
	for i, r := range rows {
		users[i] = r.user()
	}
	next := page.Next(users, p.Limit, func(u User) (time.Time, uuid.UUID) { return u.CreatedAt, u.ID })
	return users, next, nil
}
