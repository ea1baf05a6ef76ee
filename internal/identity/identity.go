// Package identity holds accounts, roles, sessions with rotating refresh
// tokens, access tokens, driving licences and sign-in throttling.
package identity

import (
	"slices"
	"time"

	"github.com/google/uuid"
)

// Role is what a user may do; a user may hold several.
type Role string

// The roles of the service.
const (
	RoleResident Role = "resident"
	RoleOperator Role = "operator"
	RoleFinance  Role = "finance"
	RoleAdmin    Role = "admin"
)

// AllRoles lists every role, in the order they are shown.
var AllRoles = []Role{RoleResident, RoleOperator, RoleFinance, RoleAdmin}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(AllRoles, r)
}

// User is an account.
type User struct {
	ID          uuid.UUID
	Email       string
	DisplayName string
	Phone       string
	Roles       []Role
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Licence     *Licence // nil until one is submitted
}

// LicenceStatus is where a driving licence is in its review.
type LicenceStatus string

// The review states of a driving licence.
const (
	LicencePending  LicenceStatus = "pending"
	LicenceApproved LicenceStatus = "approved"
	LicenceRejected LicenceStatus = "rejected"
)

// Licence is a user's driving licence and its review.
type Licence struct {
	Number          string
	IssuingRegion   string
	ExpiresOn       time.Time // a date: midnight UTC of the last valid day
	PhotoRef        *string
	Status          LicenceStatus
	SubmittedAt     time.Time
	ReviewedAt      *time.Time
	RejectionReason *string
}

// Principal is who a request acts for: a user in one session, with the roles
// the user holds now.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Roles     []Role
}

// Has reports whether p holds any of roles.
func (p Principal) Has(roles ...Role) bool {
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

// Tokens are what a sign-in returns: a short-lived access token and the
// refresh token that replaces it.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
}

// Client describes where a sign-in comes from, for throttling and the session
// record.
type Client struct {
	IP        string
	UserAgent string
}
