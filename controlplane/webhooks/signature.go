package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/ids"
)

// Headers of a delivery.
const (
	HeaderSignature = "Livestreams-Signature"
	HeaderEventID   = "Livestreams-Event-Id"
	HeaderEventType = "Livestreams-Event-Type"
)

// SecretPrefix starts every generated signing secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how old a signature's timestamp a receiver should
// accept: older deliveries are refused as replays.
const DefaultTolerance = 5 * time.Minute

// maxSignatureHeader bounds the header Verify parses.
const maxSignatureHeader = 4096

// Errors of Verify.
var (
	ErrBadHeader    = errors.New("malformed signature header")
	ErrNoSignature  = errors.New("no signature matches the body")
	ErrTooOld       = errors.New("signature timestamp outside the tolerance")
	ErrNoSecret     = errors.New("empty signing secret")
	errTooManyParts = errors.New("too many signature header parts")
)

// NewSecret returns a fresh signing secret, "whsec_" and 160 random bits.
func NewSecret() string { return ids.Secret(SecretPrefix) }

// Sign returns the Livestreams-Signature header of body sent at t:
// "t=UNIX,v1=HEX(HMAC-SHA256(secret, UNIX + "." + body))" (Stripe's
// scheme). The secret's bytes are the HMAC key as they are, prefix
// included.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a parsed Livestreams-Signature header.
type Signature struct {
	Timestamp int64
	// V1 are the v1 signatures (more than one while a secret rotates);
	// other schemes are ignored.
	V1 [][]byte
}

// ParseSignature reads a Livestreams-Signature header: comma-separated
// key=value pairs, exactly one t (Unix seconds), at least one v1 (64 hex
// digits); unknown keys are skipped so a future scheme can ride along.
func ParseSignature(header string) (Signature, error) {
	var s Signature
	if len(header) > maxSignatureHeader {
		return s, fmt.Errorf("%w: longer than %d bytes", ErrBadHeader, maxSignatureHeader)
	}
	parts := strings.Split(header, ",")
	if len(parts) > 32 {
		return s, fmt.Errorf("%w: %w", ErrBadHeader, errTooManyParts)
	}
	seenT := false
	for _, p := range parts {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			return s, fmt.Errorf("%w: part without '='", ErrBadHeader)
		}
		switch k {
		case "t":
			if seenT {
				return s, fmt.Errorf("%w: two timestamps", ErrBadHeader)
			}
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ts <= 0 || v[0] == '+' {
				return s, fmt.Errorf("%w: timestamp is not a positive integer", ErrBadHeader)
			}
			s.Timestamp, seenT = ts, true
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return s, fmt.Errorf("%w: v1 is not %d hex digits", ErrBadHeader, 2*sha256.Size)
			}
			s.V1 = append(s.V1, sig)
		}
	}
	if !seenT || len(s.V1) == 0 {
		return s, fmt.Errorf("%w: needs t and v1", ErrBadHeader)
	}
	return s, nil
}

// Verify checks a delivery as a receiver should: header is its
// Livestreams-Signature, body the raw request body (before any JSON
// decoding), now the receiver's clock. It fails when no v1 signature is
// the HMAC of the body with secret, or when the timestamp is further than
// tolerance from now (a replay; zero means DefaultTolerance).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return ErrNoSecret
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	s, err := ParseSignature(header)
	if err != nil {
		return err
	}
	want := mac(secret, strconv.FormatInt(s.Timestamp, 10), body)
	ok := false
	for _, v := range s.V1 {
		if hmac.Equal(v, want) {
			ok = true
		}
	}
	if !ok {
		return ErrNoSignature
	}
	age := now.Sub(time.Unix(s.Timestamp, 0))
	if age > tolerance || age < -tolerance {
		return fmt.Errorf("%w: %s old, tolerance %s", ErrTooOld, age.Truncate(time.Second), tolerance)
	}
	return nil
}
