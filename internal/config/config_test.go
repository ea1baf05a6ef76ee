package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.Currency != "CNY" || c.Location.String() != "Asia/Shanghai" || c.AccessTTL != 15*time.Minute {
		t.Errorf("defaults: port %d currency %s tz %s access %s", c.Port, c.Currency, c.Location, c.AccessTTL)
	}
	if c.StripeMode != StripeMock || c.StripeAPIBase != DefaultMockAPIBase {
		t.Errorf("without a key: mode %s base %s, want mock at %s", c.StripeMode, c.StripeAPIBase, DefaultMockAPIBase)
	}
	if !c.TokenKeyDefault || len(c.TokenKey) != 32 {
		t.Errorf("random token key: default %v len %d", c.TokenKeyDefault, len(c.TokenKey))
	}
	if len(c.CORSOrigins) != 1 || c.CORSOrigins[0] != "http://localhost:8080" {
		t.Errorf("cors origins %v", c.CORSOrigins)
	}
}

func TestLoadStripeModes(t *testing.T) {
	tests := []struct {
		key  string
		want StripeMode
	}{
		{"sk_test_123", StripeTest},
		{"rk_test_123", StripeTest},
		{"sk_live_123", StripeLive},
	}
	for _, tt := range tests {
		c, err := Load(env(map[string]string{"STRIPE_SECRET_KEY": tt.key, "STRIPE_WEBHOOK_SECRET": "whsec_1"}))
		if err != nil {
			t.Fatalf("%s: %v", tt.key, err)
		}
		if c.StripeMode != tt.want || c.StripeAPIBase != "" {
			t.Errorf("%s: mode %s base %q, want %s and Stripe's own address", tt.key, c.StripeMode, c.StripeAPIBase, tt.want)
		}
	}
}

// TestLoadNamesTheBadVariable checks that each invalid value stops Load with
// a message naming its variable.
func TestLoadNamesTheBadVariable(t *testing.T) {
	tests := []struct{ name, value string }{
		{"PORT", "eighty"},
		{"PORT", "70000"},
		{"DATABASE_URL", "mysql://x"},
		{"DB_MAX_OPEN_CONNS", "0"},
		{"DB_CONN_MAX_LIFETIME", "forever"},
		{"STRIPE_SECRET_KEY", "pk_test_public"},
		{"STRIPE_API_BASE", "not a url"},
		{"TOKEN_SIGNING_KEY", "short"},
		{"ACCESS_TOKEN_TTL", "1ms"},
		{"BUSINESS_TIMEZONE", "Mars/Olympus"},
		{"CURRENCY", "yuan"},
		{"LOG_LEVEL", "loud"},
		{"LOG_FORMAT", "xml"},
		{"CORS_ALLOWED_ORIGINS", "http://a.example/path"},
		{"BODY_LIMIT_BYTES", "-1"},
		{"PUBLIC_URL", "ftp://x"},
		{"TRUSTED_PROXIES", "10.0.0.0/8,lb.local"},
		{"BOOKING_MIN_LENGTH", "5m"},
		{"BOOKING_MAX_LENGTH", "1000h"},
		{"BOOKING_HORIZON", "soon"},
		{"BOOKING_MAX_UPCOMING", "0"},
		{"BOOKING_HOLD", "2h"},
		{"BOOKING_GRACE", "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env(map[string]string{tt.name: tt.value}))
			if err == nil || !strings.Contains(err.Error(), tt.name) {
				t.Errorf("Load(%s=%q) = %v, want an error naming %s", tt.name, tt.value, err, tt.name)
			}
		})
	}
}

func TestRealStripeNeedsWebhookSecret(t *testing.T) {
	_, err := Load(env(map[string]string{"STRIPE_SECRET_KEY": "sk_test_1"}))
	if err == nil || !strings.Contains(err.Error(), "STRIPE_WEBHOOK_SECRET") {
		t.Errorf("err %v, want STRIPE_WEBHOOK_SECRET named", err)
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"STRIPE_SECRET_KEY": "sk_live_supersecretvalue", "STRIPE_WEBHOOK_SECRET": "whsec_1",
		"DATABASE_URL": "postgres://u:hunter2@db/mobility",
	}))
	if err != nil {
		t.Fatal(err)
	}
	out := c.LogValue().String()
	if strings.Contains(out, "supersecretvalue") || strings.Contains(out, "hunter2") {
		t.Errorf("secrets printed: %s", out)
	}
}
