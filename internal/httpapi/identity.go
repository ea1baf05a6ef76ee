package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/page"
)

type userJSON struct {
	ID             uuid.UUID    `json:"id"`
	Email          string       `json:"email"`
	DisplayName    string       `json:"display_name"`
	Phone          string       `json:"phone"`
	Roles          []string     `json:"roles"`
	DrivingLicence *licenceJSON `json:"driving_licence"`
	CreatedAt      time.Time    `json:"created_at"`
	UpdatedAt      time.Time    `json:"updated_at"`
}

type licenceJSON struct {
	Number          string     `json:"number"`
	IssuingRegion   string     `json:"issuing_region"`
	ExpiresOn       string     `json:"expires_on"`
	PhotoRef        *string    `json:"photo_ref"`
	Status          string     `json:"status"`
	SubmittedAt     time.Time  `json:"submitted_at"`
	ReviewedAt      *time.Time `json:"reviewed_at"`
	RejectionReason *string    `json:"rejection_reason"`
}

type tokensJSON struct {
	TokenType        string    `json:"token_type"`
	AccessToken      string    `json:"access_token"`
	ExpiresIn        int       `json:"expires_in"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

type sessionJSON struct {
	User   userJSON   `json:"user"`
	Tokens tokensJSON `json:"tokens"`
}

func toUserJSON(u identity.User) userJSON {
	out := userJSON{
		ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Phone: u.Phone,
		Roles: make([]string, len(u.Roles)), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	for i, r := range u.Roles {
		out.Roles[i] = string(r)
	}
	if u.Licence != nil {
		l := toLicenceJSON(*u.Licence)
		out.DrivingLicence = &l
	}
	return out
}

func toLicenceJSON(l identity.Licence) licenceJSON {
	return licenceJSON{
		Number: l.Number, IssuingRegion: l.IssuingRegion, ExpiresOn: l.ExpiresOn.Format(time.DateOnly),
		PhotoRef: l.PhotoRef, Status: string(l.Status), SubmittedAt: l.SubmittedAt,
		ReviewedAt: l.ReviewedAt, RejectionReason: l.RejectionReason,
	}
}

func toSessionJSON(u identity.User, t identity.Tokens, now time.Time) sessionJSON {
	return sessionJSON{User: toUserJSON(u), Tokens: tokensJSON{
		TokenType: "Bearer", AccessToken: t.AccessToken,
		ExpiresIn:       int(t.AccessExpiresAt.Sub(now).Round(time.Second).Seconds()),
		AccessExpiresAt: t.AccessExpiresAt.UTC(), RefreshToken: t.RefreshToken, RefreshExpiresAt: t.RefreshExpiresAt.UTC(),
	}}
}

func client(c *fiber.Ctx) identity.Client {
	return identity.Client{IP: c.IP(), UserAgent: c.Get(fiber.HeaderUserAgent)}
}

type registerRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
	Phone       string `json:"phone"`
}

func (s *server) register(c *fiber.Ctx) error {
	var req registerRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, tok, err := s.identity.Register(c.UserContext(), identity.NewAccount{
		Email: req.Email, Password: req.Password, DisplayName: req.DisplayName, Phone: req.Phone,
	}, client(c))
	if err != nil {
		return err
	}
	c.Location("/v1/me")
	return c.Status(fiber.StatusCreated).JSON(toSessionJSON(u, tok, time.Now()))
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (s *server) login(c *fiber.Ctx) error {
	var req loginRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, tok, err := s.identity.Login(c.UserContext(), req.Email, req.Password, client(c))
	if err != nil {
		return err
	}
	return c.JSON(toSessionJSON(u, tok, time.Now()))
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *server) refresh(c *fiber.Ctx) error {
	var req refreshRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, tok, err := s.identity.Refresh(c.UserContext(), req.RefreshToken)
	if err != nil {
		return err
	}
	return c.JSON(toSessionJSON(u, tok, time.Now()))
}

func (s *server) logout(c *fiber.Ctx) error {
	if err := s.identity.Logout(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *server) getMe(c *fiber.Ctx) error {
	u, err := s.identity.User(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(toUserJSON(u))
}

type patchMeRequest struct {
	DisplayName *string `json:"display_name"`
	Phone       *string `json:"phone"`
}

func (s *server) patchMe(c *fiber.Ctx) error {
	var req patchMeRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	u, err := s.identity.UpdateProfile(c.UserContext(), principal(c).UserID, identity.ProfileChange{
		DisplayName: req.DisplayName, Phone: req.Phone,
	})
	if err != nil {
		return err
	}
	return c.JSON(toUserJSON(u))
}

type licenceRequest struct {
	Number        string  `json:"number"`
	IssuingRegion string  `json:"issuing_region"`
	ExpiresOn     string  `json:"expires_on"`
	PhotoRef      *string `json:"photo_ref"`
}

func (s *server) putLicence(c *fiber.Ctx) error {
	var req licenceRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	l, err := s.identity.SubmitLicence(c.UserContext(), principal(c).UserID, identity.LicenceSubmission{
		Number: req.Number, IssuingRegion: req.IssuingRegion, ExpiresOn: req.ExpiresOn, PhotoRef: req.PhotoRef,
	})
	if err != nil {
		return err
	}
	return c.JSON(toLicenceJSON(l))
}

func (s *server) getLicence(c *fiber.Ctx) error {
	l, err := s.identity.Licence(c.UserContext(), principal(c).UserID)
	if err != nil {
		return err
	}
	return c.JSON(toLicenceJSON(l))
}

// pathUUID reads a path parameter that must be a UUID; anything else names
// no object, so it is a 404 like an unknown id.
func pathUUID(c *fiber.Ctx, name, object string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Params(name))
	if err != nil {
		return uuid.Nil, apperr.NotFound(object)
	}
	return id, nil
}

type decisionRequest struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

func (s *server) decideLicence(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "user")
	if err != nil {
		return err
	}
	var req decisionRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if req.Decision != "approve" && req.Decision != "reject" {
		return apperr.Invalid("decision: must be approve or reject", apperr.FieldError{Field: "decision", Reason: "must be approve or reject"})
	}
	l, err := s.identity.DecideLicence(c.UserContext(), principal(c), id, identity.LicenceDecision{
		Approve: req.Decision == "approve", Reason: req.Reason,
	})
	if err != nil {
		return err
	}
	return c.JSON(toLicenceJSON(l))
}

type rolesRequest struct {
	Roles []string `json:"roles"`
}

func (s *server) putRoles(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "user")
	if err != nil {
		return err
	}
	var req rolesRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	var roles []identity.Role
	seen := map[identity.Role]bool{}
	for _, name := range req.Roles {
		r, ok := identity.ParseRole(name)
		if !ok {
			return apperr.Invalid("roles: unknown role "+name, apperr.FieldError{Field: "roles", Reason: "unknown role " + name})
		}
		if !seen[r] {
			seen[r] = true
			roles = append(roles, r)
		}
	}
	u, err := s.identity.SetRoles(c.UserContext(), principal(c), id, roles)
	if err != nil {
		return err
	}
	return c.JSON(toUserJSON(u))
}

func (s *server) getUser(c *fiber.Ctx) error {
	id, err := pathUUID(c, "id", "user")
	if err != nil {
		return err
	}
	u, err := s.identity.User(c.UserContext(), id)
	if err != nil {
		return err
	}
	return c.JSON(toUserJSON(u))
}

type userListJSON struct {
	Items      []userJSON `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

func (s *server) listUsers(c *fiber.Ctx) error {
	p, err := page.Parse(c.Query("limit"), c.Query("cursor"))
	if err != nil {
		return err
	}
	var f identity.UserFilter
	var fe apperr.Fields
	if v := c.Query("role"); v != "" {
		r, ok := identity.ParseRole(v)
		if !ok {
			fe.Add("role", "must be resident, operator, finance or admin")
		}
		f.Role = &r
	}
	if v := c.Query("licence_status"); v != "" {
		st := identity.LicenceStatus(v)
		if st != identity.LicencePending && st != identity.LicenceApproved && st != identity.LicenceRejected {
			fe.Add("licence_status", "must be pending, approved or rejected")
		}
		f.LicenceStatus = &st
	}
	f.EmailPrefix = c.Query("email")
	if len(f.EmailPrefix) > 254 {
		fe.Add("email", "is too long")
	}
	if err := fe.Err(); err != nil {
		return err
	}
	users, next, err := s.identity.ListUsers(c.UserContext(), f, p)
	if err != nil {
		return err
	}
	out := userListJSON{Items: each(users, toUserJSON), NextCursor: next}
	return c.JSON(out)
}
