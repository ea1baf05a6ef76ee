package httpapi

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

const localRequestID = "request_id"

// requestID returns the id given to the request by withRequestID.
func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(localRequestID).(string)
	return id
}

// validRequestID accepts a caller's id only when it is short and plain, so
// that logs cannot be forged through it.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// withRequestID echoes a valid X-Request-Id or makes one.
func withRequestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Locals(localRequestID, id)
	c.Set(fiber.HeaderXRequestID, id)
	return c.Next()
}

// withAccessLog logs one line per request and records its metrics. Errors are
// rendered here, through the app's error handler, so the logged status is the
// one sent.
func withAccessLog(log *slog.Logger, m *metrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		elapsed := time.Since(start)
		status := c.Response().StatusCode()
		// An unmatched request ends on the middleware mounted at "/", which is
		// not a route of the API; label it so metrics stay bounded.
		route := c.Route().Path
		if route == "/" {
			route = "unmatched"
		}
		m.observe(c.Method(), route, status, elapsed)
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(c.UserContext(), level, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int("bytes", len(c.Response().Body())),
			slog.Float64("ms", float64(elapsed.Microseconds())/1000),
			slog.String("ip", c.IP()),
		)
		return nil
	}
}

// withRecover turns a panic into an internal error with the stack logged, so
// the client gets a bare problem+json 500 and the process lives on.
func withRecover(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.ErrorContext(c.UserContext(), "panic",
					"request_id", requestID(c), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// withSecurityHeaders sets the headers every response carries. Pages (the
// docs and the mobile mock) set their own Content-Security-Policy.
func withSecurityHeaders(hsts bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		c.Set("Cross-Origin-Opener-Policy", "same-origin")
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
		if hsts {
			c.Set(fiber.HeaderStrictTransportSecurity, "max-age="+strconv.Itoa(180*24*3600))
		}
		return c.Next()
	}
}

// noStore keeps API answers, which are personal, out of shared caches.
func noStore(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}
