package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// Limits bound sign-in and sign-up attempts. Counters live in the database,
// so every process of the service shares them.
type Limits struct {
	PerIPPerMinute          int // sign-ins plus sign-ups from one address
	LoginFailuresPerAccount int // wrong passwords for one email per 15 minutes
	RegistersPerAccount     int // sign-ups for one email per hour
}

// DefaultLimits are the limits in force unless configured otherwise.
var DefaultLimits = Limits{PerIPPerMinute: 30, LoginFailuresPerAccount: 5, RegistersPerAccount: 5}

const (
	ipWindow      = time.Minute
	failureWindow = 15 * time.Minute
	signupWindow  = time.Hour
)

// hit counts one attempt under key in the current window and returns the
// count so far and when the window ends.
func (s *Service) hit(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	now := s.opts.Now().UTC()
	start := now.Truncate(window)
	const q = `
		INSERT INTO auth_throttle (key, window_start, hits) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET hits = auth_throttle.hits + 1
		RETURNING hits`
	var n int
	if err := s.db.GetContext(ctx, &n, q, key, start); err != nil {
		return 0, time.Time{}, fmt.Errorf("throttle %s: %w", key, err)
	}
	if n == 1 && rand.IntN(64) == 0 {
		// Old windows matter to no one; drop them now and then.
		if _, err := s.db.ExecContext(ctx, `DELETE FROM auth_throttle WHERE window_start < $1`, now.Add(-24*time.Hour)); err != nil {
			s.opts.Log.WarnContext(ctx, "prune auth_throttle", "err", err)
		}
	}
	return n, start.Add(window), nil
}

// count returns the attempts under key in the current window.
func (s *Service) count(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	now := s.opts.Now().UTC()
	start := now.Truncate(window)
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT COALESCE(sum(hits), 0) FROM auth_throttle WHERE key = $1 AND window_start = $2`, key, start)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("throttle count %s: %w", key, err)
	}
	return n, start.Add(window), nil
}

func (s *Service) tooMany(until time.Time, detail string) error {
	secs := int(until.Sub(s.opts.Now()).Seconds()) + 1
	e := apperr.New(apperr.KindRateLimited, "too_many_attempts", detail)
	e.RetryAfter = max(secs, 1)
	return e
}

func (s *Service) throttleIP(ctx context.Context, ip string) error {
	if ip == "" {
		return nil
	}
	n, until, err := s.hit(ctx, "ip:"+ip, ipWindow)
	if err != nil {
		return err
	}
	if n > s.opts.Limits.PerIPPerMinute {
		return s.tooMany(until, "too many sign-in attempts from this address; wait and retry")
	}
	return nil
}

func (s *Service) throttleLogin(ctx context.Context, ip, email string) error {
	if err := s.throttleIP(ctx, ip); err != nil {
		return err
	}
	n, until, err := s.count(ctx, "login-fail:"+email, failureWindow)
	if err != nil {
		return err
	}
	if n >= s.opts.Limits.LoginFailuresPerAccount {
		return s.tooMany(until, "too many failed sign-ins for this account; wait and retry")
	}
	return nil
}

func (s *Service) loginFailed(ctx context.Context, email string) error {
	_, _, err := s.hit(ctx, "login-fail:"+email, failureWindow)
	return err
}

func (s *Service) throttleRegister(ctx context.Context, ip, email string) error {
	if err := s.throttleIP(ctx, ip); err != nil {
		return err
	}
	n, until, err := s.hit(ctx, "register:"+email, signupWindow)
	if err != nil {
		return err
	}
	if n > s.opts.Limits.RegistersPerAccount {
		return s.tooMany(until, "too many sign-ups for this email; wait and retry")
	}
	return nil
}
