package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/config"
	"github.com/hongqi-mobility/mobility/internal/idempotency"
	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

// payments is the payment capability as wired here: the service on Stripe,
// the outbox it writes to, and the store of Idempotency-Key answers.
type payments struct {
	svc   *payment.Service
	queue *worker.Queue
	idem  *idempotency.Store
}

// ownWebhookURL is where this deployment's webhook endpoint answers on the
// machine itself: the dev relay of mock mode delivers there.
func ownWebhookURL(cfg config.Config) string {
	host := cfg.BindAddr
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Port)) + "/v1/webhooks/stripe"
}

func newPayments(e *env, st *payment.Stripe, ident *identity.Service, qopts worker.Options) payments {
	qopts.Log = e.log
	q := worker.NewQueue(e.db, qopts)
	opts := payment.Options{
		Currency: e.cfg.Currency, WebhookSecret: e.cfg.StripeWebhook, Log: e.log,
		Contacts: func(ctx context.Context, id uuid.UUID) (payment.Contact, error) {
			u, err := ident.User(ctx, id)
			return payment.Contact{Email: u.Email, Name: u.DisplayName, Phone: u.Phone}, err
		},
	}
	if e.cfg.StripeMode == config.StripeMock {
		// stripe-mock sends no webhooks: the dev-only relay delivers the
		// events real Stripe would send to our own endpoint.
		target := ownWebhookURL(e.cfg)
		opts.Relay = payment.NewMockEventRelay(e.cfg.StripeWebhook, payment.PostTo(target), e.log)
		e.log.Warn("mock mode: the dev-only Stripe event relay is on", "delivers_to", target)
	}
	return payments{svc: payment.NewService(e.db, st, q, opts), queue: q, idem: idempotency.NewStore(e.db)}
}

// newRunner runs the outbox and the housekeeping tasks.
func newRunner(e *env, p payments, poll time.Duration, extra ...worker.Task) *worker.Runner {
	return worker.NewRunner(p.queue, worker.RunnerOptions{Poll: poll, Log: e.log}, append(extra,
		worker.Task{Name: "prune idempotency keys", Every: time.Hour, Run: func(ctx context.Context) error {
			_, err := p.idem.Prune(ctx)
			return err
		}},
		worker.Task{Name: "prune finished outbox jobs", Every: 6 * time.Hour, Run: func(ctx context.Context) error {
			_, err := p.queue.Prune(ctx, 7*24*time.Hour)
			return err
		}},
	)...)
}

// cmdWorker runs the background worker alone (the outbox of Stripe calls and
// housekeeping), for deployments that scale it apart from the API. Any
// number may run next to each other and next to `serve`, which runs one too.
func cmdWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	poll := fs.Duration("poll", time.Second, "pause between polls of an idle outbox")
	lease := fs.Duration("lease", 30*time.Second, "how long a job stays claimed by a worker that stopped answering")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *poll <= 0 || *lease < time.Second {
		return usageError{"--poll must be positive and --lease at least 1s"}
	}
	e, err := setup(ctx, getenv, stderr)
	if err != nil {
		return err
	}
	defer e.close()
	svc := wire(e, worker.Options{Lease: *lease}, bookingRules(e.cfg.Booking))
	r := newRunner(e, svc.pay, *poll, svc.lifecycleTask())
	if err := r.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Hongqi Mobility worker running (Stripe %s)\n", e.cfg.StripeMode)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), e.cfg.ShutdownTimeout)
	defer cancel()
	return r.Stop(sctx)
}
