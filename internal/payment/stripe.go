// Package payment talks to Stripe: it is the only package that imports
// stripe-go. It keeps payment records, applies webhooks and runs the outbox.
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

// NewStripe returns a client for key. apiBase, when set, replaces Stripe's
// address (stripe-mock in mock mode). Retries are left to our own outbox,
// which reuses idempotency keys, so stripe-go retries only network failures.
func NewStripe(key, apiBase, mode string) *Stripe {
	cfg := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: 30 * time.Second},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelError},
		EnableTelemetry:   stripe.Bool(false),
	}
	if apiBase != "" {
		cfg.URL = stripe.String(apiBase)
	}
	backends := &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, cfg),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, cfg),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, cfg),
	}
	api := &client.API{}
	api.Init(key, backends)
	return &Stripe{API: api, Mode: mode, Base: apiBase}
}
