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
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(perMinute, burst, max int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), max: max, buckets: map[string]*bucket{}}
}

// addrKey is the bucket key of a client address: IPv6 by /64.
func addrKey(addr netip.Addr) string {
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.Addr().String()
		}
	}
	return addr.String()
}

// allow takes a token for addr, or says how long until one is there.
func (l *limiter) allow(addr netip.Addr, now time.Time) (bool, time.Duration) {
	return l.take(addrKey(addr), now, true)
}

// ready says whether key has a token left, without taking it.
func (l *limiter) ready(key string, now time.Time) (bool, time.Duration) {
	return l.take(key, now, false)
}

// spend takes a token for key, even the last one.
func (l *limiter) spend(key string, now time.Time) { l.take(key, now, true) }

// forget gives key a full bucket again.
func (l *limiter) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

func (l *limiter) take(key string, now time.Time, consume bool) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if !consume {
			return true, 0
		}
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
		if consume {
			b.tokens--
		}
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
			h.tooMany(w, r, wait, "too many attempts from your address")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration, why string) {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	h.writeError(w, r, errorf(codeRateLimited, "%s; retry in %d s", why, secs))
}

// loginLimits count failed logins, not requests ("smart lockout"): per
// account and client address, so a flood of wrong passwords for one
// account locks that account out of the flooding address only, and the
// real user logging in from elsewhere (or a colleague behind the same
// NAT logging in to another account) is not refused; and per address
// over all accounts, a looser bound on guessing across many accounts.
// A successful login clears its account's count at that address.
type loginLimits struct {
	pair *limiter // email + address
	addr *limiter // address, every account
}

// loginAddrFactor is how many more failures an address may make over all
// accounts than for one.
const loginAddrFactor = 4

func newLoginLimits(perMinute, burst int) *loginLimits {
	return &loginLimits{pair: newLimiter(perMinute, burst, limiterEntries),
		addr: newLimiter(perMinute*loginAddrFactor, burst*loginAddrFactor, limiterEntries)}
}

func pairKey(email string, addr netip.Addr) string { return addrKey(addr) + " " + email }

// check says whether a login for email from addr may be tried now.
func (l *loginLimits) check(email string, addr netip.Addr, now time.Time) (bool, time.Duration, string) {
	if ok, wait := l.pair.ready(pairKey(email, addr), now); !ok {
		return false, wait, "too many failed logins for this account from your address"
	}
	if ok, wait := l.addr.ready(addrKey(addr), now); !ok {
		return false, wait, "too many failed logins from your address"
	}
	return true, 0, ""
}

func (l *loginLimits) failed(email string, addr netip.Addr, now time.Time) {
	l.pair.spend(pairKey(email, addr), now)
	l.addr.spend(addrKey(addr), now)
}

func (l *loginLimits) succeeded(email string, addr netip.Addr) { l.pair.forget(pairKey(email, addr)) }
