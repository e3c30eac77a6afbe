package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SessionTTL is how long a login's token is valid.
const SessionTTL = 15 * time.Minute

// issuer names who made a session token, so a token signed for something
// else with the same secret is not taken for one.
const issuer = "livestreams"

// ErrInvalidSession is returned for any token that is not a valid, unexpired
// session token signed with the secret. Callers answer 401 whatever the
// reason, so it carries no detail.
var ErrInvalidSession = errors.New("invalid or expired session token")

// IssueSession returns an HS256 JWT whose subject is userID, valid for
// SessionTTL from now, and its expiry.
func IssueSession(secret []byte, userID string, now time.Time) (string, time.Time, error) {
	if len(secret) < 16 {
		return "", time.Time{}, errors.New("issue session: secret too short")
	}
	now = now.UTC().Truncate(time.Second)
	exp := now.Add(SessionTTL)
	claims := jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue session: %w", err)
	}
	return tok, exp, nil
}

// ParseSession verifies a session token and returns its user id. Only HS256
// is accepted: "none" and asymmetric algorithms are refused before the key
// is used, so a public key can never be mistaken for the HMAC secret.
func ParseSession(secret []byte, token string, now time.Time) (string, error) {
	if len(secret) < 16 || len(token) > 4096 {
		return "", ErrInvalidSession
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil || claims.Subject == "" {
		return "", ErrInvalidSession
	}
	return claims.Subject, nil
}
