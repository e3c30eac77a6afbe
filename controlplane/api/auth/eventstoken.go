package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// EventsTokenTTL is how long a query token for the event stream is valid:
// long enough to open an EventSource (and reopen it after a drop), short
// enough that one copied from a URL is soon worthless.
const EventsTokenTTL = 5 * time.Minute

// eventsAudience scopes a query token to the event stream: a session
// check (issuer "livestreams", no audience) refuses it, and this one
// refuses session tokens.
const (
	eventsIssuer   = "livestreams/events"
	eventsAudience = "events:read"
)

// ErrInvalidEventsToken is returned for any token that is not a valid,
// unexpired events query token.
var ErrInvalidEventsToken = errors.New("invalid or expired events token")

type eventsClaims struct {
	jwt.RegisteredClaims
	OrgID string `json:"org"`
}

// IssueEventsToken returns an HS256 JWT that lets its bearer read one
// org's event stream (nothing else) for EventsTokenTTL, on behalf of
// actorID (a user or API key id, checked again at each use).
func IssueEventsToken(secret []byte, orgID, actorID string, now time.Time) (string, time.Time, error) {
	if len(secret) < 16 {
		return "", time.Time{}, errors.New("issue events token: secret too short")
	}
	if orgID == "" || actorID == "" {
		return "", time.Time{}, errors.New("issue events token: org and actor are required")
	}
	now = now.UTC().Truncate(time.Second)
	exp := now.Add(EventsTokenTTL)
	claims := eventsClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: eventsIssuer, Subject: actorID, Audience: jwt.ClaimStrings{eventsAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
	}, OrgID: orgID}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue events token: %w", err)
	}
	return tok, exp, nil
}

// ParseEventsToken verifies an events query token and returns its org and
// actor.
func ParseEventsToken(secret []byte, token string, now time.Time) (orgID, actorID string, err error) {
	if len(secret) < 16 || len(token) > 4096 {
		return "", "", ErrInvalidEventsToken
	}
	var claims eventsClaims
	_, err = jwt.ParseWithClaims(token, &claims,
		func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(eventsIssuer),
		jwt.WithAudience(eventsAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil || claims.Subject == "" || claims.OrgID == "" {
		return "", "", ErrInvalidEventsToken
	}
	return claims.OrgID, claims.Subject, nil
}
