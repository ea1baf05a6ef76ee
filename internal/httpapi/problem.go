package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// problemTypeBase prefixes the stable code to form the problem's type URI.
const problemTypeBase = "https://hongqi-mobility.example/problems/"

// statusOf is the one table from error kind to HTTP status.
var statusOf = map[apperr.Kind]int{
	apperr.KindInternal:         http.StatusInternalServerError,
	apperr.KindInvalid:          http.StatusBadRequest,
	apperr.KindNotFound:         http.StatusNotFound,
	apperr.KindConflict:         http.StatusConflict,
	apperr.KindUnavailable:      http.StatusConflict,
	apperr.KindUnauthenticated:  http.StatusUnauthorized,
	apperr.KindForbidden:        http.StatusForbidden,
	apperr.KindPaymentFailed:    http.StatusPaymentRequired,
	apperr.KindTooLarge:         http.StatusRequestEntityTooLarge,
	apperr.KindRateLimited:      http.StatusTooManyRequests,
	apperr.KindUnprocessable:    http.StatusUnprocessableEntity,
	apperr.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	apperr.KindDependency:       http.StatusServiceUnavailable,
}

// Problem is an RFC 9457 problem document with the service's extensions.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Code      string              `json:"code"`
	Errors    []apperr.FieldError `json:"errors,omitempty"`
	RequestID string              `json:"request_id,omitempty"`
	Meta      map[string]any      `json:"-"`
}

// fromFiber turns Fiber's own errors (unknown route, wrong method, body too
// large, unreadable request) into service errors.
func fromFiber(c *fiber.Ctx, fe *fiber.Error) *apperr.Error {
	switch fe.Code {
	case fiber.StatusNotFound:
		return apperr.New(apperr.KindNotFound, "route_not_found", "there is no route "+c.Method()+" "+c.Path())
	case fiber.StatusMethodNotAllowed:
		return apperr.New(apperr.KindInvalid, "method_not_allowed", c.Path()+" does not accept "+c.Method()+"; see the Allow header")
	case fiber.StatusRequestEntityTooLarge:
		return apperr.New(apperr.KindTooLarge, "body_too_large", "the request body is larger than the limit")
	case fiber.StatusUnsupportedMediaType:
		return apperr.New(apperr.KindUnsupportedMedia, "unsupported_media_type", fe.Message)
	case fiber.StatusRequestTimeout:
		return apperr.New(apperr.KindInvalid, "request_timeout", "the request was not received in time")
	}
	if fe.Code >= 400 && fe.Code < 500 {
		return apperr.New(apperr.KindInvalid, "bad_request", fe.Message)
	}
	return nil
}

// errorHandler is Fiber's only ErrorHandler: every failure leaves the service
// through here as application/problem+json. Errors that are not the service's
// own are logged in full and answered as a bare 500.
func errorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status := http.StatusInternalServerError
		var fe *fiber.Error
		ae, ok := apperr.As(err)
		if !ok && errors.As(err, &fe) {
			ae = fromFiber(c, fe)
			ok = ae != nil
			if ok && fe.Code == fiber.StatusMethodNotAllowed {
				status = fiber.StatusMethodNotAllowed
			}
		}
		p := Problem{RequestID: requestID(c)}
		if ok && ae.Kind != apperr.KindInternal {
			if status == http.StatusInternalServerError {
				status = statusOf[ae.Kind]
			}
			p.Code, p.Detail, p.Errors, p.Meta = ae.Code, ae.Detail, ae.Fields, ae.Meta
			if ae.RetryAfter > 0 {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(ae.RetryAfter))
			}
		} else {
			log.ErrorContext(c.UserContext(), "internal error",
				"request_id", p.RequestID, "method", c.Method(), "path", c.Path(), "err", err.Error())
			p.Code, p.Detail = "internal", "an internal error occurred; quote the request id when reporting it"
		}
		p.Status = status
		p.Title = http.StatusText(status)
		p.Type = problemTypeBase + p.Code
		return writeProblem(c, p)
	}
}

func writeProblem(c *fiber.Ctx, p Problem) error {
	body := map[string]any{
		"type": p.Type, "title": p.Title, "status": p.Status,
		"detail": p.Detail, "code": p.Code,
	}
	if len(p.Errors) > 0 {
		body["errors"] = p.Errors
	}
	if p.RequestID != "" {
		body["request_id"] = p.RequestID
	}
	for k, v := range p.Meta {
		if _, taken := body[k]; !taken && k != "constraint" {
			body[k] = v
		}
	}
	c.Status(p.Status)
	if err := c.JSON(body); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return nil
}
