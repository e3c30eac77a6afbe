package api

import (
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// limiter is a token bucket per client address for the unauthenticated
// auth routes. IPv6 clients are bucketed by /64, which one subscriber
// usually holds whole. The table is bounded: full buckets are forgotten
// first, and past the bound an arbitrary one goes (which can only hand
// that client a fresh burst).
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	max     int
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst, max int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), max: max, buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token for addr, or says how long until one is there.
func (l *limiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	key := addr
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			key = p.Addr()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

func (l *limiter) evict(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= refill {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, k)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// rateLimited guards a route with the auth limiter: 429 rate_limited with
// Retry-After once the client's bucket is empty.
func (h *Handler) rateLimited(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, wait := h.limiter.allow(clientIP(r.Context()), h.now())
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			h.writeError(w, r, errorf(codeRateLimited, "too many attempts from your address; retry in %d s", max(secs, 1)))
			return
		}
		next.ServeHTTP(w, r)
	})
}
