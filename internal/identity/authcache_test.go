package identity

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

// clock is a settable clock for the services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAuthenticateTrustsACheckedTokenBriefly(t *testing.T) {
	ctx := context.Background()
	d, statements := testenv.CountingDB(t)
	clk := &clock{t: time.Now()}
	opts := Options{SigningKey: []byte("0123456789abcdef0123456789abcdef"), AccessTTL: 10 * time.Minute,
		RefreshTTL: 24 * time.Hour, Now: clk.now}
	s := NewService(d, opts)
	other := NewService(d, opts) // another process on the same database

	wantCode := func(err error, code string) {
		t.Helper()
		if !apperr.HasCode(err, code) {
			t.Fatalf("Authenticate: %v, want %s", err, code)
		}
	}
	u, tok, err := s.Register(ctx, NewAccount{Email: "wang@example.cn", Password: "hongqi-town-2026", DisplayName: "王", Phone: "+8613812345678"}, Client{IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, tok.AccessToken)
	if err != nil || p.UserID != u.ID {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	before := statements()
	for range 5 {
		if _, err := s.Authenticate(ctx, tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := statements() - before; n != 0 {
		t.Errorf("5 more requests with a checked token read the database %d times, want 0", n)
	}
	if _, err := s.Authenticate(ctx, tok.AccessToken+"x"); err == nil {
		t.Error("a forged token was accepted")
	}

	// Roles changed through this process apply to the next request.
	admin, err := s.CreateUser(ctx, NewAccount{Email: "admin@example.cn", Password: "hongqi-town-2026", DisplayName: "管", Phone: "+8613812345679"}, []Role{RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetRoles(ctx, Principal{UserID: admin.ID}, u.ID, []Role{RoleResident, RoleOperator}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, tok.AccessToken); err != nil || !p.Has(RoleOperator) {
		t.Errorf("after SetRoles: %+v, %v; want the operator role", p, err)
	}

	// A sign-out through another process is seen here within authCacheTTL.
	if err := other.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, tok.AccessToken); err != nil {
		t.Errorf("within authCacheTTL of its check: %v, want the token still taken on trust", err)
	}
	clk.add(authCacheTTL)
	_, err = s.Authenticate(ctx, tok.AccessToken)
	wantCode(err, "token_revoked")

	// A sign-out through this process is seen at once.
	_, tok2, err := s.Login(ctx, "wang@example.cn", "hongqi-town-2026", Client{IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := s.Authenticate(ctx, tok2.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(ctx, p2); err != nil {
		t.Fatal(err)
	}
	_, err = s.Authenticate(ctx, tok2.AccessToken)
	wantCode(err, "token_revoked")

	// Trust never outlasts the token.
	_, tok3, err := s.Login(ctx, "wang@example.cn", "hongqi-town-2026", Client{IP: "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// The token carries its expiry in whole seconds.
	clk.add(tok3.AccessExpiresAt.Truncate(time.Second).Sub(clk.now()) - authCacheTTL/2)
	if _, err := s.Authenticate(ctx, tok3.AccessToken); err != nil {
		t.Fatal(err)
	}
	clk.add(authCacheTTL / 2)
	_, err = s.Authenticate(ctx, tok3.AccessToken)
	wantCode(err, "token_expired")
}

func TestAuthCacheDropsACheckRacingAChange(t *testing.T) {
	var c authCache
	now := time.Now()
	_, gen, ok := c.get("t", now)
	if ok {
		t.Fatal("an empty cache had an entry")
	}
	c.forget() // a session ends while the token is being checked
	c.put("t", Principal{}, gen, now, now.Add(time.Hour), now.Add(time.Hour))
	if _, _, ok := c.get("t", now); ok {
		t.Error("a check that began before the change was remembered")
	}
}
