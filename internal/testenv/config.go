package testenv

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hongqi-mobility/mobility/internal/config"
)

// Config returns the configuration tests run with: the documented defaults,
// a fixed token key, and overrides from env.
func Config(t testing.TB, env map[string]string) config.Config {
	t.Helper()
	vars := map[string]string{
		"TOKEN_SIGNING_KEY": "test-signing-key-0123456789abcdef0123456789",
		"LOG_LEVEL":         "warn",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	return cfg
}

// Logger returns a logger that writes warnings and errors into the test's
// log, so a failing test shows what the server logged.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
