package httpapi

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/openapi"
)

// docsCSP lets the vendored Redoc run: its own script, inline styles and a
// blob: worker for search; nothing from outside the service.
const docsCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src blob:; object-src 'none'; base-uri 'none'; form-action 'none'"

// healthz answers while the process is alive.
func (s *server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// readyz answers 200 when the database answers, and says which Stripe the
// service talks to.
func (s *server) readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	stripeInfo := fiber.Map{"mode": s.stripeMode, "api_base": s.stripeBase}
	if err := s.db.PingContext(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: database ping failed", "err", err)
		e := apperr.New(apperr.KindDependency, "not_ready", "the database does not answer")
		e.Meta = map[string]any{"checks": fiber.Map{"database": "down", "stripe": stripeInfo}}
		return e
	}
	return c.JSON(fiber.Map{
		"status": "ready",
		"checks": fiber.Map{"database": "ok", "stripe": stripeInfo},
	})
}

func (s *server) spec(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(openapi.Spec)
}

func (s *server) docs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(openapi.DocsPage)
}

func (s *server) redocJS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(openapi.RedocJS)
}
