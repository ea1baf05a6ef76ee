package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/identity"
)

const localPrincipal = "principal"

// Role sets used in routes.go, next to each route.
var (
	anyUser    = identity.AllRoles
	residents  = []identity.Role{identity.RoleResident}
	staff      = []identity.Role{identity.RoleOperator, identity.RoleAdmin}
	adminsOnly = []identity.Role{identity.RoleAdmin}
	// tripParties may act on a trip: its resident, or operators ending it.
	tripParties = []identity.Role{identity.RoleResident, identity.RoleOperator, identity.RoleAdmin}
	financeTeam = []identity.Role{identity.RoleFinance, identity.RoleAdmin}
)

// allow is the one guard of the API: it authenticates the bearer token and
// lets the request through only when the user holds one of roles.
func (s *server) allow(roles ...identity.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h := c.Get(fiber.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hongqi-mobility"`)
			return apperr.New(apperr.KindUnauthenticated, "unauthenticated", "sign in: send an access token as Authorization: Bearer <token>")
		}
		p, err := s.identity.Authenticate(c.UserContext(), strings.TrimSpace(token))
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hongqi-mobility", error="invalid_token"`)
			return err
		}
		if !p.Has(roles...) {
			return apperr.New(apperr.KindForbidden, "forbidden", "your account may not do this")
		}
		c.Locals(localPrincipal, p)
		return c.Next()
	}
}

// principal returns who the request acts for; routes without allow have none.
func principal(c *fiber.Ctx) identity.Principal {
	p, _ := c.Locals(localPrincipal).(identity.Principal)
	return p
}
