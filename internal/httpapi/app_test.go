package httpapi_test

import (
	"context"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/hongqi-mobility/mobility/internal/demo"
	mobilemock "github.com/hongqi-mobility/mobility/mobile-mock"
)

func init() {
	// The contract client checks the app's files against the spec, which
	// lists their content types; they are opaque strings to it.
	for _, ct := range []string{"text/css", "image/svg+xml"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

func TestAppPageIsServedWithItsOwnPolicy(t *testing.T) {
	h := newHarness(t, nil)
	page := h.cl.Get("/app").Expect(200)
	if ct := page.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("/app content type %q", ct)
	}
	if !strings.Contains(string(page.Body), `<script type="module" src="/app/app.js"></script>`) {
		t.Errorf("/app does not load /app/app.js as a module")
	}
	csp := page.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/app CSP %q lacks %q", csp, want)
		}
	}
	if cc := page.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("/app Cache-Control %q, want no-cache", cc)
	}
}

func TestAppAssetsHaveTheirTypesAndRevalidate(t *testing.T) {
	h := newHarness(t, nil)
	for _, tc := range []struct{ path, ctype string }{
		{"/app/app.js", "text/javascript; charset=utf-8"},
		{"/app/api.js", "text/javascript; charset=utf-8"},
		{"/app/i18n.js", "text/javascript; charset=utf-8"},
		{"/app/style.css", "text/css; charset=utf-8"},
	} {
		res := h.cl.Get(tc.path).Expect(200)
		if got := res.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s content type %q, want %q", tc.path, got, tc.ctype)
		}
		etag := res.Header.Get("ETag")
		if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: ETag %q, Cache-Control %q; want an ETag and no-cache", tc.path, etag, res.Header.Get("Cache-Control"))
			continue
		}
		again := h.cl.With("If-None-Match", etag).Get(tc.path).Expect(304)
		if len(again.Body) != 0 {
			t.Errorf("%s: 304 with a body of %d bytes", tc.path, len(again.Body))
		}
	}
}

func TestUnknownAppFilesAreProblems(t *testing.T) {
	h := newHarness(t, nil)
	h.cl.Get("/app/nowhere.js").Problem(404, "not_found")
	h.cl.Get("/app/embed.go").Problem(404, "not_found")
	h.cl.Get("/app/img/models/nowhere.svg").Problem(404, "not_found")
	// Only single path segments reach the handlers.
	h.cl.Unchecked().Get("/app/e2e/package.json").Problem(404, "route_not_found")
}

// TestAppModelImagesResolve follows the image_url of every demo model.
func TestAppModelImagesResolve(t *testing.T) {
	h := newHarness(t, nil)
	if err := demo.Seed(context.Background(), demo.Services{Identity: h.ident, Fleet: h.fleet, Plans: h.plans}, io.Discard); err != nil {
		t.Fatal(err)
	}
	var models struct {
		Items []struct {
			Model    string  `json:"model"`
			ImageURL *string `json:"image_url"`
		} `json:"items"`
	}
	h.cl.Get("/v1/vehicle-models").Expect(200).JSON(&models)
	if len(models.Items) == 0 {
		t.Fatal("the demo town has no models")
	}
	for _, m := range models.Items {
		if m.ImageURL == nil {
			t.Errorf("%s has no image_url", m.Model)
			continue
		}
		res := h.cl.Get(*m.ImageURL).Expect(200)
		if ct := res.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.Contains(string(res.Body), "<svg") {
			t.Errorf("%s: %s is %q", m.Model, *m.ImageURL, ct)
		}
	}
}

// TestAppNeedsNothingFromOutside keeps every file of the app free of
// external URLs: no CDN, fonts or map tiles.
func TestAppNeedsNothingFromOutside(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(mobilemock.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(mobilemock.Assets, p)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(body), "http://www.w3.org/2000/svg", "") // a namespace, not a fetch
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
