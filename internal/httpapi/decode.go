package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// validator is implemented by request bodies that check their own values
// after decoding.
type validator interface {
	Validate() error
}

// decodeJSON reads the body strictly into v: the content type must be JSON,
// unknown fields, wrong types and trailing data are refused with the field
// named, and v is validated when it knows how.
func decodeJSON(c *fiber.Ctx, v any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return apperr.New(apperr.KindUnsupportedMedia, "unsupported_media_type", "send the body as application/json")
	}
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.KindInvalid, "body_required", "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.KindInvalid, "malformed_json", "unexpected data after the JSON value")
	}
	if val, ok := v.(validator); ok {
		return val.Validate()
	}
	return nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.New(apperr.KindInvalid, "malformed_json", fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.KindInvalid, "malformed_json", "the JSON body ends too early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return apperr.Invalid(field+": must be "+jsonKind(typ.Type), apperr.FieldError{Field: field, Reason: "must be " + jsonKind(typ.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.Invalid("unknown field "+field, apperr.FieldError{Field: field, Reason: "unknown field"})
	}
	// Values that reject themselves while decoding (times, enums) end here.
	return apperr.New(apperr.KindInvalid, "malformed_json", "the JSON body could not be read: "+err.Error())
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "an RFC 3339 timestamp"
		}
		return "an object"
	}
	return "of type " + t.String()
}
