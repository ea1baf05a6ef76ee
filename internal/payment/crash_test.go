package payment_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/db"
	"github.com/hongqi-mobility/mobility/internal/page"
	"github.com/hongqi-mobility/mobility/internal/payment"
	"github.com/hongqi-mobility/mobility/internal/testenv"
	"github.com/hongqi-mobility/mobility/internal/worker"
)

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (e *env) startWorker(t *testing.T) {
	t.Helper()
	r := worker.NewRunner(e.q, worker.RunnerOptions{Poll: 20 * time.Millisecond, Log: quiet})
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
}

// capturedOnce checks our side of a capture of amount: the payment is
// succeeded with it, and one history line says so.
func (e *env) capturedOnce(t *testing.T, id uuid.UUID, amount int64) {
	t.Helper()
	p, _ := e.svc.Get(ctx, id)
	if p.Status != payment.StatusSucceeded || p.AmountCaptured != amount || p.PendingAction != "" {
		t.Errorf("payment %s with %d captured (pending %q), want succeeded with %d", p.Status, p.AmountCaptured, p.PendingAction, amount)
	}
	var lines int
	_ = e.db.Get(&lines, `SELECT count(*) FROM payment_history WHERE payment_id = $1 AND status = 'succeeded' AND from_status <> 'succeeded'`, id)
	if lines != 1 {
		t.Errorf("%d history lines moved the payment to succeeded, want 1", lines)
	}
}

// TestStripeFailingIsRetriedByTheOutbox: Stripe answers 500, then the
// connection drops; the capture stays in the outbox and the worker retries
// with backoff and the same idempotency key until it goes through, once.
func TestStripeFailingIsRetriedByTheOutbox(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "retry@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 20000)
	e.proxy.fail("POST", "/capture", 1, fault{status: 500, body: `{"error":{"type":"api_error","message":"An unknown error occurred"}}`})
	e.proxy.fail("POST", "/capture", 1, fault{drop: true})

	got, err := e.svc.Capture(ctx, p.ID, 15000)
	if err != nil {
		t.Fatalf("capture with Stripe down: %v; want it queued, not refused", err)
	}
	if got.Status != payment.StatusAuthorized || got.PendingAction != "capture" {
		t.Fatalf("while Stripe is down: %s pending %q, want authorized with the capture pending", got.Status, got.PendingAction)
	}
	e.startWorker(t)
	key := "pay_" + p.ID.String() + "_capture"
	waitFor(t, 10*time.Second, "the capture is done", func() bool { st, _ := e.outbox(t, key); return st == "done" })

	sent, forwarded := e.proxy.withKey(key)
	if sent != 3 || forwarded != 1 {
		t.Errorf("capture requests: %d sent, %d reached Stripe; want 3 and 1", sent, forwarded)
	}
	for _, r := range e.proxy.requests("POST", "/capture") {
		if r.Key != key || r.Form.Get("amount_to_capture") != "15000" {
			t.Errorf("a capture attempt sent key %q amount %q", r.Key, r.Form.Get("amount_to_capture"))
		}
	}
	// Go's HTTP transport itself resends a request that carries an
	// Idempotency-Key when a reused connection drops before the answer, so
	// the drop costs the outbox an attempt or not.
	if _, attempts := e.outbox(t, key); attempts != 2 && attempts != 3 {
		t.Errorf("%d attempts recorded, want 2 or 3", attempts)
	}
	e.capturedOnce(t, p.ID, 15000)
}

// TestLostAnswerIsRetriedWithTheSameKey: the capture reached Stripe but its
// answer was lost. The retry sends the same idempotency key, so real Stripe
// answers it from its record instead of capturing again; we record one
// capture.
func TestLostAnswerIsRetriedWithTheSameKey(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "lost@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 5000)
	e.proxy.fail("POST", "/capture", 1, fault{lose: true})
	if _, err := e.svc.Capture(ctx, p.ID, 5000); err != nil {
		t.Fatal(err)
	}
	e.startWorker(t)
	key := "pay_" + p.ID.String() + "_capture"
	waitFor(t, 10*time.Second, "the capture is done", func() bool { st, _ := e.outbox(t, key); return st == "done" })
	caps := e.proxy.requests("POST", "/capture")
	if len(caps) != 2 || !caps[0].Forwarded || caps[0].Key != key || caps[1].Key != key {
		t.Fatalf("capture requests %+v: want two, both with key %s", caps, key)
	}
	e.capturedOnce(t, p.ID, 5000)
}

// TestCrashBetweenCommitAndCall: the process commits a refund (and its
// outbox job) and dies before calling Stripe. A new process on the same
// database finishes it, once.
func TestCrashBetweenCommitAndCall(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "crash@example.cn")
	e.withCard(t, user)
	p := e.captured(t, user, 8000, 8000)
	var ref payment.Refund
	err := db.InTx(ctx, e.db, func(tx *sqlx.Tx) error {
		var err error
		ref, err = e.svc.RefundTx(ctx, tx, payment.RefundRequest{PaymentID: p.ID, Amount: 3000, Reason: payment.ReasonDuplicate})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// ... and the process is gone: nothing ran the job.
	if n := len(e.proxy.requests("POST", "/v1/refunds")); n != 0 {
		t.Fatalf("%d refund calls before the restart", n)
	}
	restarted := newEnvOn(t, e.db, e.proxy)
	restarted.startWorker(t)
	key := "refund_" + ref.ID.String()
	waitFor(t, 10*time.Second, "the refund is done", func() bool { st, _ := e.outbox(t, key); return st == "done" })
	if sent, forwarded := e.proxy.withKey(key); sent != 1 || forwarded != 1 {
		t.Errorf("refund calls: %d sent, %d forwarded; want 1 and 1", sent, forwarded)
	}
	refunds, _ := restarted.svc.Refunds(ctx, p.ID)
	if len(refunds) != 1 || refunds[0].Status != payment.RefundSucceeded || refunds[0].StripeRefundID == "" {
		t.Errorf("refunds %+v", refunds)
	}
	if got, _ := restarted.svc.Get(ctx, p.ID); got.AmountRefunded != 3000 {
		t.Errorf("refunded %d, want 3000", got.AmountRefunded)
	}
}

// TestDeclinedCaptureLeavesThePaymentFailed: Stripe refuses the capture
// (the authorisation expired); the payment is failed with the reason, for
// finance and operators to see, and nothing retries it.
func TestDeclinedCaptureLeavesThePaymentFailed(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "declined@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 9000)
	e.proxy.fail("POST", "/capture", 1, fault{status: 400, body: `{"error":{"type":"invalid_request_error",
		"code":"charge_expired_for_capture","message":"This charge has expired and can no longer be captured."}}`})
	got, err := e.svc.Capture(ctx, p.ID, 9000)
	if ae, ok := apperrOf(err); !ok || ae != "payment_declined" {
		t.Errorf("declined capture: %v, want payment_declined", err)
	}
	if got.Status != payment.StatusFailed || got.FailureCode != "charge_expired_for_capture" ||
		!strings.Contains(got.FailureMessage, "expired") || got.PendingAction != "" {
		t.Fatalf("after a declined capture: %+v", got)
	}
	if st, attempts := e.outbox(t, "pay_"+p.ID.String()+"_capture"); st != "done" || attempts != 1 {
		t.Errorf("outbox %s after %d attempts, want done after 1 (a decline is final)", st, attempts)
	}
	failed, _, _ := e.svc.List(ctx, payment.Filter{Status: ptr(payment.StatusFailed)}, pageOf(10))
	if len(failed) != 1 || failed[0].ID != p.ID {
		t.Errorf("failed payments %+v", failed)
	}
	// A late authorisation event does not revive it.
	e.deliver(t, event("evt_late", "payment_intent.amount_capturable_updated", time.Now(), intent(got, "requires_capture", 9000, 0)))
	if again, _ := e.svc.Get(ctx, p.ID); again.Status != payment.StatusFailed {
		t.Errorf("a late event moved a failed capture to %s", again.Status)
	}
	// Releasing it cancels the PaymentIntent.
	if rel, err := e.svc.Release(ctx, p.ID); err != nil || rel.Status != payment.StatusCanceled {
		t.Errorf("release after a failed capture: %s, %v", rel.Status, err)
	}
}

// TestDeclinedOffSessionPayment: the card is declined when confirmed
// off-session; the error names the decline and the payment records it.
func TestDeclinedOffSessionPayment(t *testing.T) {
	e := newEnv(t)
	user := e.resident(t, "poor@example.cn")
	e.withCard(t, user)
	e.proxy.fail("POST", "/v1/payment_intents", 1, fault{status: 402, body: `{"error":{"type":"card_error","code":"card_declined",
		"decline_code":"insufficient_funds","message":"Your card has insufficient funds.","payment_intent":{"id":"pi_declined_1","object":"payment_intent","status":"requires_payment_method"}}}`})
	p, err := e.svc.ChargeOffSession(ctx, payment.ChargeRequest{Purpose: reservation(), UserID: user, Amount: 2500, Description: "late return"})
	if code, ok := apperrOf(err); !ok || code != "payment_declined" {
		t.Fatalf("declined charge: %v", err)
	}
	if p.Status != payment.StatusFailed || p.FailureCode != "insufficient_funds" || p.PaymentIntentID != "pi_declined_1" {
		t.Errorf("declined payment %+v", p)
	}
}

// TestKilledWorkerProcess runs the real binary's worker, kills it (SIGKILL)
// while its capture call is on the wire, and starts it again: the restarted
// worker takes the job over once the dead one's lease expires, and the
// capture reaches Stripe exactly once.
func TestKilledWorkerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	url := testenv.DatabaseURL(t)
	d, err := db.Connect(ctx, url, db.PoolOptions{MaxOpen: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := newEnvOn(t, d, newStripeProxy(t))
	user := e.resident(t, "killed@example.cn")
	e.withCard(t, user)
	p := e.authorized(t, user, 30000)
	err = db.InTx(ctx, d, func(tx *sqlx.Tx) error {
		_, err := e.svc.CaptureTx(ctx, tx, p.ID, 30000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.proxy.fail("POST", "/capture", 1, fault{hang: true})

	// The binary's mock-mode relay delivers its events to "our server":
	// here, a listener on the service's webhook path.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := e.svc.ReceiveWebhook(r.Context(), body, r.Header.Get("Stripe-Signature")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	t.Cleanup(hook.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))

	bin := filepath.Join(t.TempDir(), "mobility")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/hongqi-mobility/mobility/cmd/mobility").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// start runs the worker; stop kills it with sig and waits for it and
	// for its log to drain (Wait must follow the last read of the pipe).
	start := func() (stop func(syscall.Signal)) {
		cmd := exec.Command(bin, "worker", "--lease", "2s", "--poll", "50ms")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "STRIPE_SECRET_KEY=", "STRIPE_API_BASE="+e.proxy.URL,
			"STRIPE_WEBHOOK_SECRET="+webhookSecret, "PORT="+port, "LOG_LEVEL=warn", "LOG_FORMAT=text")
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				t.Log("worker: " + sc.Text())
			}
		}()
		return func(sig syscall.Signal) {
			_ = cmd.Process.Signal(sig)
			<-drained
			_ = cmd.Wait()
		}
	}
	key := "pay_" + p.ID.String() + "_capture"
	stopFirst := start()
	waitFor(t, 20*time.Second, "the capture call is on the wire", func() bool { sent, _ := e.proxy.withKey(key); return sent == 1 })
	stopFirst(syscall.SIGKILL)
	if st, _ := e.outbox(t, key); st != "pending" {
		t.Fatalf("after the kill the job is %s, want pending", st)
	}
	stopSecond := start()
	defer stopSecond(syscall.SIGTERM)
	waitFor(t, 20*time.Second, "the restarted worker finished the capture", func() bool {
		st, _ := e.outbox(t, key)
		return st == "done"
	})
	waitFor(t, 5*time.Second, "the relayed event arrived", func() bool {
		got, _ := e.svc.Get(ctx, p.ID)
		return got.Status == payment.StatusSucceeded
	})
	sent, forwarded := e.proxy.withKey(key)
	if sent != 2 || forwarded != 1 {
		t.Errorf("capture requests: %d sent, %d reached Stripe; want 2 and exactly 1", sent, forwarded)
	}
	e.capturedOnce(t, p.ID, 30000)
	if _, attempts := e.outbox(t, key); attempts != 2 {
		t.Errorf("%s attempts, want 2 (the killed one and the one that finished)", strconv.Itoa(attempts))
	}
}

func apperrOf(err error) (code string, ok bool) {
	e, ok := apperr.As(err)
	if !ok {
		return "", false
	}
	return e.Code, true
}

func ptr[T any](v T) *T { return &v }

func pageOf(n int) page.Request { return page.Request{Limit: n} }
