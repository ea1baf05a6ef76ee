package httpapi_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hongqi-mobility/mobility/internal/httpapi"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// harness is one service under test: a fresh database, the Fiber app on it
// and a contract-checking client.
type harness struct {
	app *fiber.App
	cl  *testenv.Client
}

func newHarness(t *testing.T, env map[string]string) *harness {
	t.Helper()
	cfg := testenv.Config(t, env)
	d := testenv.DB(t)
	app := httpapi.New(httpapi.Deps{
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		DB:         d,
		Config:     cfg,
		StripeMode: string(cfg.StripeMode),
		StripeBase: cfg.StripeAPIBase,
	})
	send := func(r *http.Request) (*http.Response, error) { return app.Test(r, -1) }
	return &harness{app: app, cl: testenv.NewClient(t, send)}
}

// listen serves the app on a loopback listener and returns its address, for
// what app.Test cannot show (the server's own answer to an oversized body).
func (h *harness) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = h.app.Listener(ln) }()
	t.Cleanup(func() { _ = h.app.Shutdown() })
	return ln.Addr().String()
}
