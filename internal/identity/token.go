package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hongqi-mobility/mobility/internal/apperr"
)

// Token issuer and audience: a token made for another service or by another
// issuer is refused even if its signature checks.
const (
	tokenIssuer   = "hongqi-mobility"
	tokenAudience = "hongqi-mobility-api"
)

// accessClaims are the claims of an access token. Roles are informative: the
// roles in force are read from the database on every request.
type accessClaims struct {
	SessionID string   `json:"sid"`
	Roles     []string `json:"roles"`
	jwt.RegisteredClaims
}

// tokenSigner makes and checks HS256 access tokens.
type tokenSigner struct {
	key []byte
	ttl time.Duration
}

func (s *tokenSigner) sign(userID, sessionID uuid.UUID, roles []Role, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl)
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	claims := accessClaims{
		SessionID: sessionID.String(),
		Roles:     names,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   userID.String(),
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return tok, exp, nil
}

// parse checks an access token's signature and claims and returns its user,
// its session and when it expires.
func (s *tokenSigner) parse(token string, now time.Time) (userID, sessionID uuid.UUID, exp time.Time, err error) {
	var claims accessClaims
	_, err = jwt.NewParser(
		// The algorithm is pinned: no "none", no RS256/HS256 confusion.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	).ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.key, nil })
	if errors.Is(err, jwt.ErrTokenExpired) {
		return uuid.Nil, uuid.Nil, exp, apperr.New(apperr.KindUnauthenticated, "token_expired", "the access token has expired; refresh it")
	}
	if err != nil {
		return uuid.Nil, uuid.Nil, exp, apperr.New(apperr.KindUnauthenticated, "invalid_token", "the access token is not valid")
	}
	userID, err1 := uuid.Parse(claims.Subject)
	sessionID, err2 := uuid.Parse(claims.SessionID)
	if err1 != nil || err2 != nil {
		return uuid.Nil, uuid.Nil, exp, apperr.New(apperr.KindUnauthenticated, "invalid_token", "the access token is not valid")
	}
	return userID, sessionID, claims.ExpiresAt.Time, nil
}

// newRefreshToken returns an opaque refresh token and the hash under which it
// is stored; the token itself is never stored.
func newRefreshToken() (token string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("refresh token: %w", err)
	}
	token = "rt_" + base64.RawURLEncoding.EncodeToString(b)
	return token, hashRefreshToken(token), nil
}

// hashRefreshToken is SHA-256: refresh tokens carry 256 random bits, so a
// fast hash is as safe as a slow one and lets the hash be the lookup key.
func hashRefreshToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
