package payment

import (
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// Stripe is a Stripe API client bound to one key and one API address.
type Stripe struct {
	API  *client.API
	Mode string // mock, test or live
	Base string // the API address; empty for Stripe's own
}

// StripeConfig is how to reach Stripe.
type StripeConfig struct {
	Key     string
	APIBase string // empty: Stripe's own address
	Mode    string // mock, test or live
	// NetworkRetries is how often stripe-go itself retries a failed request
	// (with the same idempotency key) before our outbox takes over; nil: 2.
	NetworkRetries *int64
	HTTPClient     *http.Client // nil: a client with a 30 s timeout
}

// NewStripe returns a client for key. apiBase, when set, replaces Stripe's
// address (stripe-mock in mock mode). Retries are left to our own outbox,
// which reuses idempotency keys, so stripe-go retries only network failures.
func NewStripe(key, apiBase, mode string) *Stripe {
	return NewStripeClient(StripeConfig{Key: key, APIBase: apiBase, Mode: mode})
}

// NewStripeClient returns a client configured by c.
func NewStripeClient(c StripeConfig) *Stripe {
	retries := stripe.Int64(2)
	if c.NetworkRetries != nil {
		retries = c.NetworkRetries
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: retries,
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
		EnableTelemetry:   stripe.Bool(false),
	}
	if c.APIBase != "" {
		cfg.URL = stripe.String(c.APIBase)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	}
	api := &client.API{}
	api.Init(c.Key, backends)
	return &Stripe{API: api, Mode: c.Mode, Base: c.APIBase}
}
