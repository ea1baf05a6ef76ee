package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hongqi-mobility/mobility/internal/identity"
	"github.com/hongqi-mobility/mobility/internal/testenv"
)

func registerBody(email string) map[string]string {
	return map[string]string{"email": email, "password": testPassword, "display_name": "李娜", "phone": "13812345678"}
}

func TestRegisterLoginRefreshLogout(t *testing.T) {
	h := newHarness(t, nil)
	res := h.cl.Post("/v1/auth/register", registerBody("  Li.Na@Example.CN ")).Expect(201)
	if res.Header.Get("Location") != "/v1/me" {
		t.Errorf("Location %q", res.Header.Get("Location"))
	}
	var reg struct {
		User struct {
			ID, Email, Phone string
			Roles            []string
		}
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			ExpiresIn    int    `json:"expires_in"`
		}
	}
	res.JSON(&reg)
	if reg.User.Email != "li.na@example.cn" || reg.User.Phone != "+8613812345678" || len(reg.User.Roles) != 1 || reg.User.Roles[0] != "resident" {
		t.Errorf("registered user %+v: want normalised email and phone, role resident", reg.User)
	}
	if reg.Tokens.ExpiresIn != 900 {
		t.Errorf("access token lives %d s, want 900", reg.Tokens.ExpiresIn)
	}
	me := h.cl.As(reg.Tokens.AccessToken).Get("/v1/me").Expect(200).Map()
	if me["id"] != reg.User.ID {
		t.Errorf("/v1/me is %v, want %s", me["id"], reg.User.ID)
	}

	s := h.login(t, "LI.NA@example.cn", testPassword)
	var ref struct {
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
	}
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).Expect(200).JSON(&ref)
	if ref.Tokens.RefreshToken == s.RefreshToken || ref.Tokens.RefreshToken == "" {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	h.cl.As(ref.Tokens.AccessToken).Get("/v1/me").Expect(200)

	h.cl.As(ref.Tokens.AccessToken).Post("/v1/auth/logout", nil).Expect(204)
	h.cl.As(ref.Tokens.AccessToken).Get("/v1/me").Problem(401, "token_revoked")
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": ref.Tokens.RefreshToken}).Problem(401, "session_revoked")
	// Other sessions of the same user live on.
	h.cl.As(reg.Tokens.AccessToken).Get("/v1/me").Expect(200)

	// The stored refresh token is a hash, never the token.
	var stored int
	if err := h.db.Get(&stored, `SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%rt_%'`); err != nil || stored != 0 {
		t.Errorf("refresh tokens stored in clear: %d (%v)", stored, err)
	}
}

func TestRefreshReuseRevokesTheFamily(t *testing.T) {
	h := newHarness(t, nil)
	s := h.account(t, "reuse@example.cn", identity.RoleResident)
	var first struct {
		Tokens struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
	}
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).Expect(200).JSON(&first)
	// The old token again: someone holds a copy. The whole family ends.
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).Problem(401, "refresh_token_reused")
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": first.Tokens.RefreshToken}).Problem(401, "session_revoked")
	h.cl.As(first.Tokens.AccessToken).Get("/v1/me").Problem(401, "token_revoked")
	h.cl.As(s.AccessToken).Get("/v1/me").Problem(401, "token_revoked")
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": "rt_never-issued"}).Problem(401, "invalid_refresh_token")
}

// TestConcurrentRefreshOneWins races one refresh token against itself: one
// request rotates it, the other is a reuse and ends the session.
func TestConcurrentRefreshOneWins(t *testing.T) {
	h := newHarness(t, nil)
	s := h.account(t, "race@example.cn", identity.RoleResident)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).Status
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		if st == 200 {
			ok++
		} else if st != 401 {
			t.Errorf("status %d", st)
		}
	}
	if ok != 1 {
		t.Errorf("%d refreshes won with one token, want exactly 1 (%v)", ok, statuses)
	}
}

// forge signs claims with key and alg, the way an attacker would try.
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestForgedAndExpiredTokensAreRefused(t *testing.T) {
	h := newHarness(t, nil)
	s := h.account(t, "victim@example.cn", identity.RoleResident)
	parsed, _, err := jwt.NewParser().ParseUnverified(s.AccessToken, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	good := parsed.Claims.(jwt.MapClaims)
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for ck, cv := range good {
			c[ck] = cv
		}
		c[k] = v
		return c
	}
	key := h.cfg.TokenKey

	// Tampered: the payload says admin, the signature is the resident's.
	parts := strings.Split(s.AccessToken, ".")
	payload, _ := json.Marshal(with("roles", []string{"admin"}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	// alg none, unsigned.
	none := forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good)

	tests := []struct {
		name, token, code string
	}{
		{"wrong key", forge(t, jwt.SigningMethodHS256, []byte("another-key-of-thirty-two-bytes!!"), good), "invalid_token"},
		{"alg none", none, "invalid_token"},
		{"HS512 with the right key", forge(t, jwt.SigningMethodHS512, key, good), "invalid_token"},
		{"tampered claims", tampered, "invalid_token"},
		{"expired", forge(t, jwt.SigningMethodHS256, key, with("exp", time.Now().Add(-time.Minute).Unix())), "token_expired"},
		{"no expiry", forge(t, jwt.SigningMethodHS256, key, with("exp", nil)), "invalid_token"},
		{"other issuer", forge(t, jwt.SigningMethodHS256, key, with("iss", "someone-else")), "invalid_token"},
		{"other audience", forge(t, jwt.SigningMethodHS256, key, with("aud", "another-api")), "invalid_token"},
		{"unknown session", forge(t, jwt.SigningMethodHS256, key, with("sid", "0190f6d2-0000-7000-8000-000000000000")), "invalid_token"},
		{"garbage", "not.a.jwt", "invalid_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := h.cl.As(tt.token).Get("/v1/me")
			res.Problem(401, tt.code)
			if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", res.Header.Get("WWW-Authenticate"))
			}
		})
	}
	h.cl.Get("/v1/me").Problem(401, "unauthenticated")
	h.cl.With("Authorization", "Basic dXNlcjpwYXNz").Get("/v1/me").Problem(401, "unauthenticated")
	h.cl.As(s.AccessToken).Get("/v1/me").Expect(200)
}

func TestAccessTokensExpireAfterFifteenMinutes(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, nil, withClock(clock))
	s := h.account(t, "clock@example.cn", identity.RoleResident)
	mu.Lock()
	now = now.Add(15*time.Minute + time.Second)
	mu.Unlock()
	h.cl.As(s.AccessToken).Get("/v1/me").Problem(401, "token_expired")
	// The refresh token still works and gives a fresh access token.
	var out struct {
		Tokens struct {
			AccessToken string `json:"access_token"`
		}
	}
	h.cl.Post("/v1/auth/refresh", map[string]string{"refresh_token": s.RefreshToken}).Expect(200).JSON(&out)
	h.cl.As(out.Tokens.AccessToken).Get("/v1/me").Expect(200)
}

func TestRegisterRefusesBadInput(t *testing.T) {
	h := newHarness(t, nil)
	h.cl.Post("/v1/auth/register", registerBody("taken@example.cn")).Expect(201)
	p := h.cl.Post("/v1/auth/register", registerBody(" TAKEN@example.cn")).Problem(409, "email_taken")
	if p.Detail == "" {
		t.Error("no detail")
	}
	tests := []struct {
		name  string
		edit  func(map[string]string)
		field string
	}{
		{"short password", func(b map[string]string) { b["password"] = "abc12345" }, "password"},
		{"common password", func(b map[string]string) { b["password"] = "Password123" }, "password"},
		{"one character", func(b map[string]string) { b["password"] = "zzzzzzzzzzzz" }, "password"},
		{"bad email", func(b map[string]string) { b["email"] = "not-an-email" }, "email"},
		{"bad phone", func(b map[string]string) { b["phone"] = "12345" }, "phone"},
		{"empty name", func(b map[string]string) { b["display_name"] = "   " }, "display_name"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := registerBody(fmt.Sprintf("weak%d@example.cn", i))
			tt.edit(b)
			p := h.cl.Unchecked().Post("/v1/auth/register", b).Problem(400, "validation_failed")
			if !p.HasField(tt.field) {
				t.Errorf("errors %+v do not name %s", p.Errors, tt.field)
			}
		})
	}
	// Malformed JSON, unknown fields and wrong types never create anything.
	h.cl.Unchecked().Post("/v1/auth/register", []byte(`{"email":`)).Problem(400, "malformed_json")
	b := map[string]any{"email": "x@example.cn", "password": testPassword, "display_name": "x", "phone": "+8613812345678", "roles": []string{"admin"}}
	if p := h.cl.Unchecked().Post("/v1/auth/register", b).Problem(400, "validation_failed"); !p.HasField("roles") {
		t.Errorf("unknown field roles not named: %+v", p.Errors)
	}
	b = map[string]any{"email": 42, "password": testPassword, "display_name": "x", "phone": "+8613812345678"}
	if p := h.cl.Unchecked().Post("/v1/auth/register", b).Problem(400, "validation_failed"); !p.HasField("email") {
		t.Errorf("wrong type not named: %+v", p.Errors)
	}
	var n int
	if err := h.db.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 1 {
		t.Errorf("%d users after bad sign-ups, want 1 (%v)", n, err)
	}
}

// TestLoginDoesNotRevealAccounts: an unknown email and a wrong password get
// the same answer in about the same time.
func TestLoginDoesNotRevealAccounts(t *testing.T) {
	h := newHarness(t, nil)
	h.account(t, "known@example.cn", identity.RoleResident)
	timeIt := func(email string) (testenv.Problem, time.Duration) {
		var best time.Duration
		var p testenv.Problem
		for i := 0; i < 3; i++ {
			start := time.Now()
			p = h.cl.Post("/v1/auth/login", map[string]string{"email": email, "password": "wrong-password-123"}).Problem(401, "invalid_credentials")
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		return p, best
	}
	known, tKnown := timeIt("known@example.cn")
	unknown, tUnknown := timeIt("nobody@example.cn")
	if known.Detail != unknown.Detail || known.Title != unknown.Title {
		t.Errorf("answers differ: %q vs %q", known.Detail, unknown.Detail)
	}
	ratio := float64(tKnown) / float64(tUnknown)
	t.Logf("wrong password %v, unknown email %v", tKnown, tUnknown)
	if ratio < 0.33 || ratio > 3 {
		t.Errorf("timing differs: wrong password %v, unknown email %v", tKnown, tUnknown)
	}
}

func TestLoginRateLimits(t *testing.T) {
	t.Run("per account", func(t *testing.T) {
		h := newHarness(t, nil)
		h.account(t, "target@example.cn", identity.RoleResident)
		for i := 0; i < identity.DefaultLimits.LoginFailuresPerAccount; i++ {
			h.cl.Post("/v1/auth/login", map[string]string{"email": "target@example.cn", "password": "guess-number-" + fmt.Sprint(i)}).Problem(401, "invalid_credentials")
		}
		// Locked for now, even with the right password; an unknown email is treated alike.
		res := h.cl.Post("/v1/auth/login", map[string]string{"email": "target@example.cn", "password": testPassword})
		res.Problem(429, "too_many_attempts")
		if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
	})
	t.Run("per address", func(t *testing.T) {
		h := newHarness(t, nil, withLimits(identity.Limits{PerIPPerMinute: 3, LoginFailuresPerAccount: 100, RegistersPerAccount: 100}))
		for i := 0; i < 3; i++ {
			h.cl.Post("/v1/auth/login", map[string]string{"email": fmt.Sprintf("u%d@example.cn", i), "password": "whatever-123"}).Problem(401, "invalid_credentials")
		}
		h.cl.Post("/v1/auth/login", map[string]string{"email": "u9@example.cn", "password": "whatever-123"}).Problem(429, "too_many_attempts")
		h.cl.Post("/v1/auth/register", registerBody("fresh@example.cn")).Problem(429, "too_many_attempts")
	})
	t.Run("sign-ups per account", func(t *testing.T) {
		h := newHarness(t, nil)
		h.cl.Post("/v1/auth/register", registerBody("dup@example.cn")).Expect(201)
		for i := 1; i < identity.DefaultLimits.RegistersPerAccount; i++ {
			h.cl.Post("/v1/auth/register", registerBody("dup@example.cn")).Problem(409, "email_taken")
		}
		h.cl.Post("/v1/auth/register", registerBody("dup@example.cn")).Problem(429, "too_many_attempts")
	})
}

func TestProfileUpdate(t *testing.T) {
	h := newHarness(t, nil)
	s := h.account(t, "profile@example.cn", identity.RoleResident)
	me := h.cl.As(s.AccessToken).Patch("/v1/me", map[string]string{"display_name": "张伟"}).Expect(200).Map()
	if me["display_name"] != "张伟" || me["phone"] != "+8613900000000" {
		t.Errorf("after patch: %v", me)
	}
	p := h.cl.As(s.AccessToken).Unchecked().Patch("/v1/me", map[string]string{"phone": "call me"}).Problem(400, "validation_failed")
	if !p.HasField("phone") {
		t.Errorf("errors %+v", p.Errors)
	}
	h.cl.As(s.AccessToken).Unchecked().Patch("/v1/me", map[string]string{"email": "new@example.cn"}).Problem(400, "validation_failed")
}

func TestDrivingLicenceReview(t *testing.T) {
	h := newHarness(t, nil)
	res := h.account(t, "driver@example.cn", identity.RoleResident)
	op := h.account(t, "op@example.cn", identity.RoleOperator)
	ctx := context.Background()
	uid := mustUUID(t, res.UserID)

	h.cl.As(res.AccessToken).Get("/v1/me/driving-licence").Problem(404, "not_found")
	if err := h.ident.CanBook(ctx, uid, time.Now()); err == nil {
		t.Fatal("may book without a licence")
	}
	expires := time.Now().AddDate(3, 0, 0).Format(time.DateOnly)
	lic := h.cl.As(res.AccessToken).Put("/v1/me/driving-licence", map[string]string{
		"number": "220102 1990 0101 1234", "issuing_region": "cn-jl", "expires_on": expires,
	}).Expect(200).Map()
	if lic["status"] != "pending" || lic["number"] != "220102199001011234" || lic["issuing_region"] != "CN-JL" {
		t.Errorf("submitted licence %v", lic)
	}
	if err := h.ident.CanBook(ctx, uid, time.Now()); err == nil || !strings.Contains(err.Error(), "licence_not_verified") {
		t.Errorf("pending licence: CanBook = %v, want licence_not_verified", err)
	}

	// A resident cannot review; an operator must give a reason to reject.
	path := "/v1/admin/users/" + res.UserID + "/driving-licence/decision"
	h.cl.As(res.AccessToken).Post(path, map[string]string{"decision": "approve"}).Problem(403, "forbidden")
	if p := h.cl.As(op.AccessToken).Post(path, map[string]string{"decision": "reject"}).Problem(400, "validation_failed"); !p.HasField("reason") {
		t.Errorf("errors %+v", p.Errors)
	}
	rej := h.cl.As(op.AccessToken).Post(path, map[string]string{"decision": "reject", "reason": "照片模糊 / photo unreadable"}).Expect(200).Map()
	if rej["status"] != "rejected" || rej["rejection_reason"] != "照片模糊 / photo unreadable" {
		t.Errorf("rejected licence %v", rej)
	}
	h.cl.As(op.AccessToken).Post(path, map[string]string{"decision": "approve"}).Problem(409, "invalid_state")

	// Resubmitted, approved: booking is allowed until the licence expires.
	h.cl.As(res.AccessToken).Put("/v1/me/driving-licence", map[string]string{
		"number": "220102199001011234", "issuing_region": "CN-JL", "expires_on": expires,
	}).Expect(200)
	ok := h.cl.As(op.AccessToken).Post(path, map[string]string{"decision": "approve"}).Expect(200).Map()
	if ok["status"] != "approved" || ok["reviewed_at"] == nil {
		t.Errorf("approved licence %v", ok)
	}
	if me := h.cl.As(res.AccessToken).Get("/v1/me").Expect(200).Map(); me["driving_licence"].(map[string]any)["status"] != "approved" {
		t.Errorf("/v1/me licence %v", me["driving_licence"])
	}
	if err := h.ident.CanBook(ctx, uid, time.Now()); err != nil {
		t.Errorf("approved licence: CanBook = %v", err)
	}
	if err := h.ident.CanBook(ctx, uid, time.Now().AddDate(4, 0, 0)); err == nil {
		t.Error("may book after the licence expires")
	}

	// Bad submissions name their field; an expired licence is refused.
	p := h.cl.As(res.AccessToken).Unchecked().Put("/v1/me/driving-licence", map[string]string{
		"number": "x", "issuing_region": "China", "expires_on": time.Now().AddDate(-1, 0, 0).Format(time.DateOnly),
	}).Problem(400, "validation_failed")
	for _, f := range []string{"number", "issuing_region", "expires_on"} {
		if !p.HasField(f) {
			t.Errorf("errors %+v do not name %s", p.Errors, f)
		}
	}
	// Nobody reviews their own licence.
	h.cl.As(op.AccessToken).Put("/v1/me/driving-licence", map[string]string{
		"number": "OP-12345", "issuing_region": "CN", "expires_on": expires,
	}).Expect(200)
	h.cl.As(op.AccessToken).Post("/v1/admin/users/"+op.UserID+"/driving-licence/decision", map[string]string{"decision": "approve"}).Problem(403, "own_licence")
	h.cl.As(op.AccessToken).Post("/v1/admin/users/0190f6d2-0000-7000-8000-000000000000/driving-licence/decision", map[string]string{"decision": "approve"}).Problem(404, "not_found")
}

func TestAdminRolesAndUserList(t *testing.T) {
	h := newHarness(t, nil)
	admin := h.account(t, "root@example.cn", identity.RoleAdmin)
	op := h.account(t, "ops@example.cn", identity.RoleOperator)
	var ids []string
	for i := 0; i < 5; i++ {
		var out struct{ User struct{ ID string } }
		h.cl.Post("/v1/auth/register", registerBody(fmt.Sprintf("res%d@example.cn", i))).Expect(201).JSON(&out)
		ids = append(ids, out.User.ID)
	}

	// Pages of two residents, in creation order, with no gaps or repeats.
	var got []string
	path := "/v1/admin/users?role=resident&limit=2"
	for path != "" {
		var pg struct {
			Items      []struct{ ID string }
			NextCursor *string `json:"next_cursor"`
		}
		h.cl.As(op.AccessToken).Get(path).Expect(200).JSON(&pg)
		for _, u := range pg.Items {
			got = append(got, u.ID)
		}
		path = ""
		if pg.NextCursor != nil {
			path = "/v1/admin/users?role=resident&limit=2&cursor=" + *pg.NextCursor
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("paged residents %v, want %v", got, ids)
	}
	if items := h.cl.As(op.AccessToken).Get("/v1/admin/users?email=RES3").Expect(200).Map()["items"].([]any); len(items) != 1 {
		t.Errorf("email filter found %d", len(items))
	}
	h.cl.As(op.AccessToken).Unchecked().Get("/v1/admin/users?role=pilot").Problem(400, "validation_failed")
	h.cl.As(op.AccessToken).Unchecked().Get("/v1/admin/users?limit=0").Problem(400, "validation_failed")
	h.cl.As(op.AccessToken).Get("/v1/admin/users?cursor=garbage").Problem(400, "validation_failed")

	// Only admins change roles; the change applies to the user's next request.
	h.cl.As(op.AccessToken).Put("/v1/admin/users/"+ids[0]+"/roles", map[string][]string{"roles": {"operator"}}).Problem(403, "forbidden")
	u := h.cl.As(admin.AccessToken).Put("/v1/admin/users/"+op.UserID+"/roles", map[string][]string{"roles": {"resident", "finance"}}).Expect(200).Map()
	if fmt.Sprint(u["roles"]) != "[resident finance]" {
		t.Errorf("roles %v", u["roles"])
	}
	h.cl.As(op.AccessToken).Get("/v1/admin/users").Problem(403, "forbidden")
	h.cl.As(admin.AccessToken).Put("/v1/admin/users/"+admin.UserID+"/roles", map[string][]string{"roles": {"operator"}}).Problem(409, "last_admin")
	h.cl.As(admin.AccessToken).Unchecked().Put("/v1/admin/users/"+op.UserID+"/roles", map[string][]string{"roles": {"pilot"}}).Problem(400, "validation_failed")
	h.cl.As(admin.AccessToken).Put("/v1/admin/users/0190f6d2-0000-7000-8000-000000000000/roles", map[string][]string{"roles": {"admin"}}).Problem(404, "not_found")
	h.cl.As(admin.AccessToken).Unchecked().Get("/v1/admin/users/not-a-uuid").Problem(404, "not_found")
	var changes int
	if err := h.db.Get(&changes, `SELECT count(*) FROM user_role_changes WHERE user_id = $1 AND changed_by = $2`, op.UserID, admin.UserID); err != nil || changes != 1 {
		t.Errorf("role change not recorded with who: %d (%v)", changes, err)
	}
}
