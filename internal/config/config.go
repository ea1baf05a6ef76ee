// Package config reads the service's configuration from environment
// variables, applies documented defaults and validates every value once, at
// start, so that a bad setting stops the program with a message naming it.
package config

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the business time zone must load on machines without zoneinfo
)

// StripeMode says which Stripe the service talks to.
type StripeMode string

// The Stripe modes, reported by /readyz.
const (
	StripeMock StripeMode = "mock" // stripe-mock on loopback; a dev-only relay delivers webhooks
	StripeTest StripeMode = "test" // Stripe's test mode, sk_test_ key
	StripeLive StripeMode = "live" // Stripe's live mode, sk_live_ or rk_live_ key
)

// Config is the validated configuration of one process.
type Config struct {
	Port            int
	BindAddr        string
	DatabaseURL     string // empty: local server, then embedded
	DataDir         string // where the embedded PostgreSQL keeps its files
	DBMaxOpenConns  int
	DBMaxIdleConns  int
	DBConnLifetime  time.Duration
	StripeSecretKey string
	StripeWebhook   string
	StripeAPIBase   string
	StripeMode      StripeMode
	TokenKey        []byte
	TokenKeyDefault bool // true when TOKEN_SIGNING_KEY was unset and a random key is used
	AccessTTL       time.Duration
	RefreshTTL      time.Duration
	Location        *time.Location
	Currency        string
	LogLevel        slog.Level
	LogFormat       string
	CORSOrigins     []string
	BodyLimit       int
	ShutdownTimeout time.Duration
	PublicURL       string
	TrustedProxies  []string
	Booking         Booking
}

// Booking holds the booking rules every zone has unless an operator sets
// its own (minimum and maximum length, notice, horizon), and the rules that
// hold everywhere.
type Booking struct {
	MinLength   time.Duration // shortest booking
	MaxLength   time.Duration // longest booking
	MinNotice   time.Duration // how long before its start a booking must be made
	Horizon     time.Duration // how far ahead a booking may start
	MaxUpcoming int           // bookings a resident may hold that have not started
	Hold        time.Duration // how long an unpaid booking holds its car
	Grace       time.Duration // after the start: the last moment to unlock, then a no-show
}

// Var documents one environment variable: its name, default and meaning.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable the service reads, in the order the README shows
// them. Load and the README table are both derived from this list.
var Vars = []Var{
	{"PORT", "8080", "HTTP port"},
	{"BIND_ADDR", "", "address to listen on (empty: all interfaces)"},
	{"PUBLIC_URL", "http://localhost:$PORT", "the address residents and operators use, printed at start"},
	{"DATABASE_URL", "", "PostgreSQL URL; empty: the local server on 127.0.0.1:5432 (database `mobility`), else an embedded server under DATA_DIR"},
	{"DATA_DIR", ".data", "where the embedded PostgreSQL keeps its files"},
	{"DB_MAX_OPEN_CONNS", "20", "connection pool size (of each pool: the service opens one more for availability searches)"},
	{"DB_MAX_IDLE_CONNS", "10", "idle connections kept"},
	{"DB_CONN_MAX_LIFETIME", "30m", "a connection is recycled after this long"},
	{"STRIPE_SECRET_KEY", "", "Stripe secret key (sk_test_… or sk_live_…); empty: stripe-mock at STRIPE_API_BASE"},
	{"STRIPE_WEBHOOK_SECRET", "", "signing secret of the webhook endpoint (whsec_…); required with a real key"},
	{"STRIPE_API_BASE", "http://127.0.0.1:12111 (mock mode)", "Stripe's API address; point it at any stripe-mock"},
	{"TOKEN_SIGNING_KEY", "random per process", "HMAC key for access tokens, at least 32 bytes"},
	{"ACCESS_TOKEN_TTL", "15m", "lifetime of an access token"},
	{"REFRESH_TOKEN_TTL", "720h", "lifetime of a refresh token"},
	{"BUSINESS_TIMEZONE", "Asia/Shanghai", "time zone of days, nights and peak hours"},
	{"CURRENCY", "CNY", "ISO 4217 currency of prices"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "json", "json or text"},
	{"CORS_ALLOWED_ORIGINS", "PUBLIC_URL", "comma-separated origins allowed to call the API from a browser"},
	{"BODY_LIMIT_BYTES", "1048576", "largest request body accepted"},
	{"SHUTDOWN_TIMEOUT", "30s", "how long in-flight requests may take to finish on SIGTERM"},
	{"TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of load balancers whose X-Forwarded-For is believed (for per-address rate limits)"},
	{"BOOKING_MIN_LENGTH", "30m", "shortest booking (15m to 24h), unless the zone sets its own"},
	{"BOOKING_MAX_LENGTH", "720h", "longest booking (1h to 720h), unless the zone sets its own"},
	{"BOOKING_MIN_NOTICE", "0s", "how long before its start a booking must be made (0 to 24h), unless the zone sets its own"},
	{"BOOKING_HORIZON", "720h", "how far ahead a booking may start (24h to 8760h), unless the zone sets its own"},
	{"BOOKING_MAX_UPCOMING", "3", "bookings a resident may hold that have not started yet (1 to 50)"},
	{"BOOKING_HOLD", "10m", "how long an unpaid booking holds the car before it expires (1m to 1h)"},
	{"BOOKING_GRACE", "15m", "how long after the start a booking may still be unlocked; then it is a no-show (1m to 2h)"},
}

// DefaultMockAPIBase is where `make run` starts stripe-mock.
const DefaultMockAPIBase = "http://127.0.0.1:12111"

// Load builds a Config from getenv. It returns an error naming every variable
// whose value is invalid.
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, value, why string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, value, why))
	}
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	intv := func(name string, def, min, max int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, v, fmt.Sprintf("want a whole number from %d to %d", min, max))
			return def
		}
		return n
	}
	dur := func(name string, def, min time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			bad(name, v, fmt.Sprintf("want a duration such as 15m or 720h, at least %s", min))
			return def
		}
		return d
	}
	durIn := func(name string, def, min, max time.Duration) time.Duration {
		d := dur(name, def, min)
		if d > max {
			bad(name, str(name, ""), fmt.Sprintf("want a duration from %s to %s", min, max))
			return def
		}
		return d
	}

	c := Config{
		Port:            intv("PORT", 8080, 1, 65535),
		BindAddr:        str("BIND_ADDR", ""),
		DatabaseURL:     str("DATABASE_URL", ""),
		DataDir:         str("DATA_DIR", ".data"),
		DBMaxOpenConns:  intv("DB_MAX_OPEN_CONNS", 20, 1, 1000),
		DBMaxIdleConns:  intv("DB_MAX_IDLE_CONNS", 10, 0, 1000),
		DBConnLifetime:  dur("DB_CONN_MAX_LIFETIME", 30*time.Minute, time.Second),
		StripeSecretKey: str("STRIPE_SECRET_KEY", ""),
		StripeWebhook:   str("STRIPE_WEBHOOK_SECRET", ""),
		StripeAPIBase:   str("STRIPE_API_BASE", ""),
		AccessTTL:       dur("ACCESS_TOKEN_TTL", 15*time.Minute, 10*time.Second),
		RefreshTTL:      dur("REFRESH_TOKEN_TTL", 720*time.Hour, time.Minute),
		Currency:        strings.ToUpper(str("CURRENCY", "CNY")),
		LogFormat:       strings.ToLower(str("LOG_FORMAT", "json")),
		BodyLimit:       intv("BODY_LIMIT_BYTES", 1<<20, 1024, 64<<20),
		ShutdownTimeout: dur("SHUTDOWN_TIMEOUT", 30*time.Second, 0),
		Booking: Booking{
			MinLength:   durIn("BOOKING_MIN_LENGTH", 30*time.Minute, 15*time.Minute, 24*time.Hour),
			MaxLength:   durIn("BOOKING_MAX_LENGTH", 720*time.Hour, time.Hour, 720*time.Hour),
			MinNotice:   durIn("BOOKING_MIN_NOTICE", 0, 0, 24*time.Hour),
			Horizon:     durIn("BOOKING_HORIZON", 720*time.Hour, 24*time.Hour, 8760*time.Hour),
			MaxUpcoming: intv("BOOKING_MAX_UPCOMING", 3, 1, 50),
			Hold:        durIn("BOOKING_HOLD", 10*time.Minute, time.Minute, time.Hour),
			Grace:       durIn("BOOKING_GRACE", 15*time.Minute, time.Minute, 2*time.Hour),
		},
	}
	c.PublicURL = strings.TrimRight(str("PUBLIC_URL", fmt.Sprintf("http://localhost:%d", c.Port)), "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PUBLIC_URL", c.PublicURL, "want an absolute http(s) URL")
	}

	if c.DatabaseURL != "" {
		if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("DATABASE_URL", "…", "want a postgres:// or postgresql:// URL")
		}
	}

	switch key := c.StripeSecretKey; {
	case key == "":
		c.StripeMode = StripeMock
		c.StripeSecretKey = "sk_test_mock"
		if c.StripeAPIBase == "" {
			c.StripeAPIBase = DefaultMockAPIBase
		}
		if c.StripeWebhook == "" {
			// The dev relay signs the events it delivers with this secret.
			c.StripeWebhook = "whsec_mock_relay"
		}
	case strings.HasPrefix(key, "sk_test_") || strings.HasPrefix(key, "rk_test_"):
		c.StripeMode = StripeTest
	case strings.HasPrefix(key, "sk_live_") || strings.HasPrefix(key, "rk_live_"):
		c.StripeMode = StripeLive
	default:
		bad("STRIPE_SECRET_KEY", mask(key), "want a key starting sk_test_, sk_live_, rk_test_ or rk_live_")
	}
	if c.StripeMode != StripeMock && c.StripeWebhook == "" {
		bad("STRIPE_WEBHOOK_SECRET", "", "required with a real Stripe key (whsec_… from the dashboard or `stripe listen`)")
	}
	if c.StripeAPIBase != "" {
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("STRIPE_API_BASE", c.StripeAPIBase, "want an absolute http(s) URL")
		}
	}

	if k := getenv("TOKEN_SIGNING_KEY"); k != "" {
		if len(k) < 32 {
			bad("TOKEN_SIGNING_KEY", "…", "want at least 32 bytes")
		}
		c.TokenKey = []byte(k)
	} else {
		c.TokenKey = make([]byte, 32)
		if _, err := rand.Read(c.TokenKey); err != nil {
			errs = append(errs, fmt.Errorf("TOKEN_SIGNING_KEY: generating a random key: %w", err))
		}
		c.TokenKeyDefault = true
	}

	tz := str("BUSINESS_TIMEZONE", "Asia/Shanghai")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		bad("BUSINESS_TIMEZONE", tz, "not an IANA time zone name")
		loc = time.UTC
	}
	c.Location = loc

	if len(c.Currency) != 3 || strings.Trim(c.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		bad("CURRENCY", c.Currency, "want a three-letter ISO 4217 code")
	}

	lvl := str("LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
		bad("LOG_LEVEL", lvl, "want debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("LOG_FORMAT", c.LogFormat, "want json or text")
	}
	if c.Booking.MinLength > c.Booking.MaxLength {
		bad("BOOKING_MAX_LENGTH", c.Booking.MaxLength.String(), "must not be below BOOKING_MIN_LENGTH")
	}
	if c.DBMaxIdleConns > c.DBMaxOpenConns {
		bad("DB_MAX_IDLE_CONNS", strconv.Itoa(c.DBMaxIdleConns), "must not exceed DB_MAX_OPEN_CONNS")
	}

	origins := str("CORS_ALLOWED_ORIGINS", c.PublicURL)
	for _, o := range strings.Split(origins, ",") {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Host == "" || u.Path != "" {
			bad("CORS_ALLOWED_ORIGINS", o, "want origins such as https://app.example.com")
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}

	for _, p := range strings.Split(str("TRUSTED_PROXIES", ""), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad("TRUSTED_PROXIES", p, "want IP addresses or CIDR ranges")
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// LogValue prints the configuration with secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("database", maskURL(c.DatabaseURL)),
		slog.String("stripe_mode", string(c.StripeMode)),
		slog.String("stripe_api_base", c.StripeAPIBase),
		slog.String("stripe_secret_key", mask(c.StripeSecretKey)),
		slog.String("timezone", c.Location.String()),
		slog.String("currency", c.Currency),
		slog.String("log_level", c.LogLevel.String()),
		slog.Any("cors_origins", c.CORSOrigins),
	)
}

func mask(secret string) string {
	if len(secret) <= 8 {
		return strings.Repeat("*", len(secret))
	}
	return secret[:8] + strings.Repeat("*", 8)
}

func maskURL(raw string) string {
	if raw == "" {
		return "(auto)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "****")
	}
	return u.String()
}
