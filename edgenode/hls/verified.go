package hls

import (
	"crypto/ecdsa"
	"sync"
	"time"

	"github.com/livestreams/livestreams/shared/token"
)

// maxVerified bounds the tokens remembered: about 1.5 MiB at 300 bytes a
// token, and far more concurrent viewers than one edge serves.
const maxVerified = 4096

// verifiedTokens remembers tokens that passed token.Verify, so that the
// dozens of requests one viewer makes with one token cost a map lookup
// instead of an ECDSA verification each (about 100 µs). Only successes
// are remembered, and a remembered token still has to be for the
// requested playback id, unexpired, and signed by the key that the stream
// holds under its kid now: a revoked or rotated key makes it verify again
// (and fail).
type verifiedTokens struct {
	max int // 0 is maxVerified

	mu sync.Mutex
	m  map[string]verifiedToken
}

type verifiedToken struct {
	claims token.Claims
	key    *ecdsa.PublicKey
}

// verify is token.Verify with the memory above.
func (v *verifiedTokens) verify(tok string, keys token.Keys, playbackID string, now time.Time) error {
	v.mu.Lock()
	e, ok := v.m[tok]
	v.mu.Unlock()
	if ok && e.claims.Subject == playbackID && keys[e.claims.KeyID] == e.key &&
		now.Before(e.claims.ExpiresAt.Add(token.Leeway)) {
		return nil
	}
	c, err := token.Verify(tok, keys, playbackID, now)
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m = make(map[string]verifiedToken)
	}
	limit := v.max
	if limit <= 0 {
		limit = maxVerified
	}
	if len(v.m) >= limit {
		for k, e := range v.m {
			if !now.Before(e.claims.ExpiresAt.Add(token.Leeway)) {
				delete(v.m, k)
			}
		}
		if len(v.m) >= limit {
			clear(v.m) // they verify again, once each
		}
	}
	v.m[tok] = verifiedToken{claims: c, key: keys[c.KeyID]}
	return nil
}

func (v *verifiedTokens) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.m)
}
