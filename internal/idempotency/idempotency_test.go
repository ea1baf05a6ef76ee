package idempotency_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/idempotency"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestReplayReuseAndInProgress(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	s := idempotency.NewStore(d)
	user := uuid.New()
	req := idempotency.Request{UserID: user, Key: "refund-1", Method: "POST", Path: "/v1/payments/x/refunds", Body: []byte(`{"amount":100}`)}

	if res, err := s.Begin(ctx, req); res != nil || err != nil {
		t.Fatalf("first use: %v, %v; want to proceed", res, err)
	}
	// While the first runs, the same request is told to wait.
	if _, err := s.Begin(ctx, req); !apperr.HasCode(err, "idempotency_request_in_progress") {
		t.Fatalf("concurrent repeat: %v, want idempotency_request_in_progress", err)
	}
	if err := s.Finish(ctx, req, idempotency.Response{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"r1"}`)}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Begin(ctx, req)
	if err != nil || res == nil || res.Status != 201 || string(res.Body) != `{"id":"r1"}` || res.ContentType != "application/json" {
		t.Fatalf("repeat: %+v, %v; want the stored answer", res, err)
	}
	other := req
	other.Body = []byte(`{"amount":200}`)
	if _, err := s.Begin(ctx, other); !apperr.HasCode(err, "idempotency_key_reused") || !apperr.Is(err, apperr.KindUnprocessable) {
		t.Fatalf("same key, other body: %v, want 422 idempotency_key_reused", err)
	}
	otherPath := req
	otherPath.Path = "/v1/payments/y/refunds"
	if _, err := s.Begin(ctx, otherPath); !apperr.HasCode(err, "idempotency_key_reused") {
		t.Fatalf("same key, other path: %v, want idempotency_key_reused", err)
	}
	// Keys are per user.
	mine := req
	mine.UserID = uuid.New()
	if res, err := s.Begin(ctx, mine); res != nil || err != nil {
		t.Fatalf("another user's same key: %v, %v; want to proceed", res, err)
	}
}

func TestForgetLetsARetryRunAgain(t *testing.T) {
	ctx := context.Background()
	s := idempotency.NewStore(testenv.DB(t))
	req := idempotency.Request{UserID: uuid.New(), Key: "k", Method: "POST", Path: "/p", Body: []byte(`{}`)}
	if _, err := s.Begin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, req); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Begin(ctx, req); res != nil || err != nil {
		t.Fatalf("after a server error: %v, %v; want to proceed", res, err)
	}
}

func TestAbandonedKeyIsTakenOverOnce(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	s := idempotency.NewStore(d)
	req := idempotency.Request{UserID: uuid.New(), Key: "k", Method: "POST", Path: "/p", Body: []byte(`{}`)}
	if _, err := s.Begin(ctx, req); err != nil {
		t.Fatal(err)
	}
	// The process that reserved it died ten minutes ago.
	if _, err := d.Exec(`UPDATE idempotency_keys SET created_at = now() - interval '10 minutes'`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	proceeded := 0
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := s.Begin(ctx, req); res == nil && err == nil {
				mu.Lock()
				proceeded++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if proceeded != 1 {
		t.Errorf("%d retries took the abandoned key over, want exactly 1", proceeded)
	}
}

func TestPruneAndKeyRules(t *testing.T) {
	ctx := context.Background()
	d := testenv.DB(t)
	s := idempotency.NewStore(d)
	req := idempotency.Request{UserID: uuid.New(), Key: "old", Method: "POST", Path: "/p"}
	if _, err := s.Begin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`); err != nil {
		t.Fatal(err)
	}
	req.Key = "new"
	if _, err := s.Begin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx); n != 1 || err != nil {
		t.Errorf("pruned %d (%v), want the one key older than a day", n, err)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("k", 256), "ключ"} {
		if err := idempotency.CheckKey(bad); !apperr.Is(err, apperr.KindInvalid) {
			t.Errorf("CheckKey(%q) = %v, want invalid", bad, err)
		}
	}
	if err := idempotency.CheckKey("a3f1c2e4-refund_1"); err != nil {
		t.Errorf("a good key refused: %v", err)
	}
}
