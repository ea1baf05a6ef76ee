package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestSpecIsValidOpenAPI(t *testing.T) {
	doc := testenv.Spec(t) // loads and validates with kin-openapi
	if got := doc.OpenAPI; !strings.HasPrefix(got, "3.0.") {
		t.Fatalf("openapi version %q, want 3.0.x", got)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
		}
	}
}

// TestRoutesMatchSpec holds the app and the spec to the same set of
// operations: a route added without the spec, or the reverse, fails here.
func TestRoutesMatchSpec(t *testing.T) {
	h := newHarness(t, nil)
	var routes []string
	seen := map[string]bool{}
	for _, r := range h.app.GetRoutes(true) {
		if r.Method == http.MethodHead { // Fiber adds HEAD for every GET
			continue
		}
		key := r.Method + " " + r.Path
		if !seen[key] {
			seen[key] = true
			routes = append(routes, key)
		}
	}
	var ops []string
	for path, item := range testenv.Spec(t).Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+fiberPath(path))
		}
	}
	sort.Strings(routes)
	sort.Strings(ops)
	if diff := cmp.Diff(ops, routes); diff != "" {
		t.Errorf("routes registered in Fiber (+) and operations in openapi.yaml (-) differ:\n%s", diff)
	}
}

// fiberPath turns /v1/users/{id} into /v1/users/:id.
func fiberPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '{':
			b.WriteByte(':')
		case '}':
		default:
			b.WriteByte(p[i])
		}
	}
	return b.String()
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t, nil)
	if got := h.cl.Get("/healthz").Expect(200).Map()["status"]; got != "ok" {
		t.Errorf("healthz status %v", got)
	}
	ready := h.cl.Get("/readyz").Expect(200).Map()
	checks := ready["checks"].(map[string]any)
	if checks["database"] != "ok" {
		t.Errorf("readyz database %v", checks["database"])
	}
	if mode := checks["stripe"].(map[string]any)["mode"]; mode != "mock" {
		t.Errorf("readyz stripe mode %v, want mock without STRIPE_SECRET_KEY", mode)
	}
}

func TestReadinessReportsRealStripe(t *testing.T) {
	h := newHarness(t, map[string]string{"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_WEBHOOK_SECRET": "whsec_x"})
	checks := h.cl.Get("/readyz").Expect(200).Map()["checks"].(map[string]any)
	if mode := checks["stripe"].(map[string]any)["mode"]; mode != "test" {
		t.Errorf("stripe mode %v, want test", mode)
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	h := newHarness(t, nil)
	h.cl.Get("/healthz").Expect(200)
	h.cl.Get("/healthz").Expect(200)
	body := string(h.cl.Get("/metrics").Expect(200).Body)
	for _, want := range []string{
		`mobility_http_requests_total{method="GET",route="/healthz",status="200"} 2`,
		`mobility_http_request_duration_seconds_bucket{method="GET",route="/healthz",status="200",le="0.001"}`,
		`go_sql_open_connections{db_name="mobility"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDocsAreServedFromTheBinary(t *testing.T) {
	h := newHarness(t, nil)
	spec := h.cl.Get("/openapi.yaml").Expect(200)
	if !strings.Contains(string(spec.Body), "openapi: 3.0") {
		t.Errorf("/openapi.yaml does not look like the spec")
	}
	page := h.cl.Get("/docs").Expect(200)
	if !strings.Contains(string(page.Body), `src="/docs/redoc.standalone.js"`) || strings.Contains(string(page.Body), "https://") {
		t.Errorf("/docs must load the embedded Redoc and nothing from outside")
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("/docs CSP %q", csp)
	}
	js := h.cl.Get("/docs/redoc.standalone.js").Expect(200)
	if len(js.Body) < 100_000 {
		t.Errorf("redoc bundle is %d bytes", len(js.Body))
	}
}

func TestRequestIDIsEchoedOrMade(t *testing.T) {
	h := newHarness(t, nil)
	got := h.cl.With("X-Request-Id", "abc-123").Get("/healthz").Expect(200).Header.Get("X-Request-Id")
	if got != "abc-123" {
		t.Errorf("echoed request id %q", got)
	}
	made := h.cl.With("X-Request-Id", "bad id\twith spaces").Get("/healthz").Expect(200).Header.Get("X-Request-Id")
	if made == "" || strings.ContainsAny(made, " \t") {
		t.Errorf("made request id %q", made)
	}
}

func TestUnknownRouteAndWrongMethodAreProblems(t *testing.T) {
	h := newHarness(t, nil)
	// Neither request is an operation of the spec, so only the answer is checked.
	p := h.cl.Unchecked().Get("/v1/nowhere").Problem(404, "route_not_found")
	if p.RequestID == "" {
		t.Errorf("problem without request_id")
	}
	res := h.cl.Unchecked().Post("/healthz", map[string]any{})
	res.Problem(405, "method_not_allowed")
	if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
}

// TestOversizedBodyIs413 announces a 20 MB body over a real connection: the
// server refuses it from the headers, before reading it, with a problem.
func TestOversizedBodyIs413(t *testing.T) {
	h := newHarness(t, nil)
	conn, err := net.Dial("tcp", h.listen(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"x\":\"", 20<<20)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p testenv.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 413 || res.Header.Get("Content-Type") != "application/problem+json" || p.Code != "body_too_large" {
		t.Errorf("status %d type %q code %q, want 413 problem body_too_large", res.StatusCode, res.Header.Get("Content-Type"), p.Code)
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	h := newHarness(t, map[string]string{"CORS_ALLOWED_ORIGINS": "http://app.example"})
	res := h.cl.With("Origin", "http://app.example").Get("/healthz").Expect(200)
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "http://app.example" {
		t.Errorf("allowed origin answered %q", got)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers missing: %v", res.Header)
	}
	other := h.cl.With("Origin", "http://evil.example").Get("/healthz").Expect(200)
	if got := other.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin allowed: %q", got)
	}
}
