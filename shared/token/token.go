// Package token signs and verifies playback tokens: compact JWTs signed
// with ES256 (ECDSA P-256, SHA-256) that let a viewer watch one playback
// id until a deadline.
//
// A token's header is {"alg":"ES256","typ":"JWT","kid":KEY_ID} and its
// claims are {"sub":PLAYBACK_ID,"aud":"v","exp":…,"iat":…}. The control
// plane (or an org's own backend, with the private half of a signing key)
// signs; edges verify with the public halves, so any JWT library that
// speaks ES256 can mint tokens too.
//
// Verify is deliberately narrow: ES256 only (the alg header cannot pick a
// weaker algorithm, "none" or an HMAC keyed with the public key), exp is
// required, tokens longer than MaxLen are refused before any parsing, and
// expiry tolerates Leeway of clock skew. It does not issue or store keys,
// revoke single tokens, or check the iss claim: a key's presence in Keys is
// what makes its tokens valid.
package token

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// Audience is the aud claim of a token for video playback.
const Audience = "v"

// MaxLen bounds the length of a token Verify looks at. Real tokens are
// about 300 bytes; anything longer is refused as ErrMalformed before it is
// decoded.
const MaxLen = 4096

// Leeway is how far past exp (and before nbf) a token is still accepted,
// to absorb clock skew between the signer and the edge.
const Leeway = 30 * time.Second

const alg = "ES256"

// Why Verify refused a token. The returned error wraps exactly one of them;
// test with errors.Is. None of the messages contain the token.
var (
	ErrMalformed     = errors.New("malformed token")
	ErrUnknownKey    = errors.New("unknown signing key")
	ErrBadSignature  = errors.New("bad token signature")
	ErrExpired       = errors.New("token expired")
	ErrNotYetValid   = errors.New("token not valid yet")
	ErrWrongAudience = errors.New("token is not for video playback")
	ErrWrongPlayback = errors.New("token is for another playback id")
)

const sigLen = 64 // r || s, 32 bytes each, big-endian (RFC 7518 3.4)

// Claims are the verified contents of a token.
type Claims struct {
	Subject   string    // the playback id
	Audience  string    // always Audience once verified
	ExpiresAt time.Time // exp, to the second
	IssuedAt  time.Time // iat; zero when the token has none
	KeyID     string    // kid of the key that verified it
}

type header struct {
	Alg  string          `json:"alg"`
	Typ  string          `json:"typ,omitempty"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit,omitempty"`
}

// signedClaims is what Sign writes.
type signedClaims struct {
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Exp int64  `json:"exp"`
	Iat int64  `json:"iat"`
}

// claimsJSON is what Verify reads: aud may be a string or an array, and
// NumericDates may be fractional.
type claimsJSON struct {
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *float64        `json:"exp"`
	Iat *float64        `json:"iat"`
	Nbf *float64        `json:"nbf"`
}

var b64 = base64.RawURLEncoding.Strict()

// Sign returns a token for playbackID that expires at expires (truncated to
// the second), signed by priv and naming kid as its key.
func Sign(priv *ecdsa.PrivateKey, kid, playbackID string, expires time.Time) (string, error) {
	switch {
	case priv == nil:
		return "", errors.New("sign token: key is nil")
	case kid == "":
		return "", errors.New("sign token: key id is empty")
	case playbackID == "":
		return "", errors.New("sign token: playback id is empty")
	case expires.IsZero():
		return "", errors.New("sign token: no expiry")
	}
	if err := checkCurve(&priv.PublicKey); err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	h, err := json.Marshal(header{Alg: alg, Typ: "JWT", Kid: kid})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	c, err := json.Marshal(signedClaims{Sub: playbackID, Aud: Audience, Exp: expires.Unix(), Iat: time.Now().Unix()})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sb strings.Builder
	sb.Grow(b64.EncodedLen(len(h)) + b64.EncodedLen(len(c)) + b64.EncodedLen(sigLen) + 2)
	sb.WriteString(b64.EncodeToString(h))
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(c))
	digest := sha256.Sum256([]byte(sb.String()))
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sig [sigLen]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	sb.WriteByte('.')
	sb.WriteString(b64.EncodeToString(sig[:]))
	return sb.String(), nil
}

// Verify checks tok and returns its claims if it is an ES256 token signed
// by one of keys (chosen by its kid), for Audience and playbackID, and not
// expired at now (give or take Leeway). The checks run in that order, so a
// token that fails several is reported by the first.
func Verify(tok string, keys Keys, playbackID string, now time.Time) (Claims, error) {
	if len(tok) == 0 || len(tok) > MaxLen {
		return Claims{}, fmt.Errorf("%w: length %d not in 1..%d", ErrMalformed, len(tok), MaxLen)
	}
	// One pass over the bytes: only the base64url alphabet and two dots.
	// The decoder would skip \r and \n; refusing them keeps one token one
	// string, and a verified token safe to put in a URL as is.
	dot1, dot2 := -1, -1
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.' && dot1 < 0:
			dot1 = i
		case c == '.' && dot2 < 0:
			dot2 = i
		default:
			return Claims{}, fmt.Errorf("%w: unexpected byte at %d", ErrMalformed, i)
		}
	}
	if dot2 < 0 {
		return Claims{}, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	signed, rawHeader, rawClaims, rawSig := tok[:dot2], tok[:dot1], tok[dot1+1:dot2], tok[dot2+1:]

	var h header
	if err := decodeJSON(rawHeader, &h); err != nil {
		return Claims{}, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if h.Alg != alg {
		// Whatever the header says, only ES256 is ever tried: a token
		// naming "none" or HS256 is not a token of ours.
		return Claims{}, fmt.Errorf("%w: alg %.16q, want %s", ErrMalformed, h.Alg, alg)
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") {
		return Claims{}, fmt.Errorf("%w: typ %.16q, want JWT", ErrMalformed, h.Typ)
	}
	if len(h.Crit) != 0 {
		// RFC 7515 4.1.11: extensions we do not understand must fail.
		return Claims{}, fmt.Errorf("%w: crit header not supported", ErrMalformed)
	}
	pub := keys[h.Kid]
	if pub == nil {
		return Claims{}, fmt.Errorf("%w: kid %.64q", ErrUnknownKey, h.Kid)
	}

	var sig [sigLen]byte
	if b64.DecodedLen(len(rawSig)) != len(sig) {
		return Claims{}, fmt.Errorf("%w: signature is not %d bytes", ErrBadSignature, len(sig))
	}
	if n, err := b64.Decode(sig[:], []byte(rawSig)); err != nil || n != len(sig) {
		return Claims{}, fmt.Errorf("%w: signature encoding", ErrBadSignature)
	}
	digest := sha256.Sum256([]byte(signed))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return Claims{}, fmt.Errorf("%w (kid %.64q)", ErrBadSignature, h.Kid)
	}

	// Signed by a key we trust from here on; the claims are the signer's.
	var c claimsJSON
	if err := decodeJSON(rawClaims, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if c.Exp == nil {
		return Claims{}, fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	exp, ok := numericDate(*c.Exp)
	if !ok {
		return Claims{}, fmt.Errorf("%w: exp out of range", ErrMalformed)
	}
	var iat time.Time
	if c.Iat != nil {
		if iat, ok = numericDate(*c.Iat); !ok {
			return Claims{}, fmt.Errorf("%w: iat out of range", ErrMalformed)
		}
	}
	if !now.Before(exp.Add(Leeway)) {
		return Claims{}, fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if c.Nbf != nil {
		nbf, ok := numericDate(*c.Nbf)
		if !ok {
			return Claims{}, fmt.Errorf("%w: nbf out of range", ErrMalformed)
		}
		if now.Add(Leeway).Before(nbf) {
			return Claims{}, fmt.Errorf("%w until %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
		}
	}
	if ok, err := hasAudience(c.Aud); err != nil {
		return Claims{}, fmt.Errorf("%w: aud: %v", ErrMalformed, err)
	} else if !ok {
		return Claims{}, ErrWrongAudience
	}
	if c.Sub != playbackID {
		return Claims{}, ErrWrongPlayback
	}
	return Claims{Subject: c.Sub, Audience: Audience, ExpiresAt: exp, IssuedAt: iat, KeyID: h.Kid}, nil
}

func decodeJSON(part string, v any) error {
	buf := make([]byte, b64.DecodedLen(len(part)))
	n, err := b64.Decode(buf, []byte(part))
	if err != nil {
		return errors.New("bad base64url")
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		// json errors quote the input; keep only that it failed.
		return errors.New("bad json")
	}
	return nil
}

// hasAudience reports whether aud, a string or an array of strings,
// names Audience. A missing aud names nothing.
func hasAudience(aud json.RawMessage) (bool, error) {
	if len(aud) == 0 || string(aud) == "null" {
		return false, nil
	}
	if aud[0] == '"' {
		var s string
		if err := json.Unmarshal(aud, &s); err != nil {
			return false, errors.New("not a string")
		}
		return s == Audience, nil
	}
	var list []string
	if err := json.Unmarshal(aud, &list); err != nil {
		return false, errors.New("not a string or an array of strings")
	}
	for _, s := range list {
		if s == Audience {
			return true, nil
		}
	}
	return false, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later (or negative) dates are
// not dates a signer meant.
const maxNumericDate = 253402300799

// numericDate converts a JWT NumericDate (seconds since the epoch, maybe
// fractional) to a time, refusing values time cannot hold sensibly.
func numericDate(f float64) (time.Time, bool) {
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
