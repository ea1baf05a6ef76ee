package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

type sample struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// decodeApp mounts decodeJSON and a panicking handler on a bare app with the
// service's middleware and error handler.
func decodeApp() *fiber.App {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(log), BodyLimit: 1 << 20})
	m := newMetrics(nil)
	app.Use(withRequestID, withAccessLog(log, m), withRecover(log))
	app.Post("/sample", func(c *fiber.Ctx) error {
		var s sample
		if err := decodeJSON(c, &s); err != nil {
			return err
		}
		return c.JSON(s)
	})
	app.Get("/panic", func(c *fiber.Ctx) error { panic("secret internals") })
	return app
}

func TestDecodeJSONIsStrict(t *testing.T) {
	tests := []struct {
		name, ctype, body string
		status            int
		code, field       string
	}{
		{"good", "application/json", `{"name":"a","count":2}`, 200, "", ""},
		{"malformed", "application/json", `{"name":`, 400, "malformed_json", ""},
		{"syntax", "application/json", `{"name" "a"}`, 400, "malformed_json", ""},
		{"unknown field", "application/json", `{"name":"a","extra":1}`, 400, "validation_failed", "extra"},
		{"wrong type", "application/json", `{"name":"a","count":"two"}`, 400, "validation_failed", "count"},
		{"out of range", "application/json", `{"count":99999999999999999999}`, 400, "validation_failed", "count"},
		{"trailing data", "application/json", `{"name":"a"} {"name":"b"}`, 400, "malformed_json", ""},
		{"empty", "application/json", ``, 400, "body_required", ""},
		{"not json", "text/plain", `name=a`, 415, "unsupported_media_type", ""},
		{"array", "application/json", `[1,2]`, 400, "validation_failed", "(body)"},
	}
	app := decodeApp()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/sample", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			res, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status == 200 {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			var p struct {
				Code   string
				Detail string
				Errors []struct{ Field, Reason string }
			}
			if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tt.code || p.Detail == "" {
				t.Errorf("code %q detail %q, want code %q", p.Code, p.Detail, tt.code)
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Errors[0].Reason == "") {
				t.Errorf("errors %+v, want the field %q named", p.Errors, tt.field)
			}
		})
	}
}

func TestPanicIsABare500(t *testing.T) {
	res, err := decodeApp().Test(httptest.NewRequest("GET", "/panic", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 500 || res.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if strings.Contains(string(body), "secret internals") {
		t.Errorf("500 leaks internals: %s", body)
	}
}
