package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/idempotency"
)

// headerIdempotencyKey is the request header that makes a POST safe to retry.
const headerIdempotencyKey = "Idempotency-Key"

// idempotent makes a route replay its first answer to a repeated
// Idempotency-Key (same user, method, path and body), refuse the key with
// another request (422 idempotency_key_reused), and, when required, refuse
// a request without one (400 idempotency_key_required). It goes after the
// allow guard, whose principal scopes the keys. Server errors are not
// stored, so a retry after one runs again.
func (s *server) idempotent(required bool) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		key := c.Get(headerIdempotencyKey)
		if key == "" {
			if required {
				return apperr.New(apperr.KindInvalid, "idempotency_key_required",
					"send an Idempotency-Key header (e.g. a UUID) so that a retry cannot move money twice")
			}
			return c.Next()
		}
		if err := idempotency.CheckKey(key); err != nil {
			return err
		}
		req := idempotency.Request{UserID: principal(c).UserID, Key: key, Method: c.Method(), Path: c.Path(),
			Body: append([]byte(nil), c.Body()...)}
		ctx := c.UserContext()
		replay, err := s.idem.Begin(ctx, req)
		if err != nil {
			return err
		}
		if replay != nil {
			c.Set("Idempotent-Replayed", "true")
			if replay.ContentType != "" {
				c.Set(fiber.HeaderContentType, replay.ContentType)
			}
			return c.Status(replay.Status).Send(replay.Body)
		}
		defer func() {
			if r := recover(); r != nil {
				_ = s.idem.Forget(ctx, req)
				panic(r)
			}
		}()
		if herr := c.Next(); herr != nil {
			// Render the error here, so its answer is the one stored.
			if rerr := c.App().ErrorHandler(c, herr); rerr != nil {
				_ = s.idem.Forget(ctx, req)
				return rerr
			}
		}
		res := c.Response()
		if res.StatusCode() >= 500 {
			if ferr := s.idem.Forget(ctx, req); ferr != nil {
				s.log.ErrorContext(ctx, "idempotency: forgetting a key", "err", ferr)
			}
			return nil
		}
		ans := idempotency.Response{Status: res.StatusCode(), ContentType: string(res.Header.ContentType()),
			Body: append([]byte(nil), res.Body()...)}
		if ferr := s.idem.Finish(ctx, req, ans); ferr != nil {
			s.log.ErrorContext(ctx, "idempotency: storing an answer", "err", ferr)
		}
		return nil
	}
}
