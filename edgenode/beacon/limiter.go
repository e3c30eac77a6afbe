package beacon

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter is a token bucket per client address: Rate requests a second
// with bursts of Burst. The table is bounded: when full, buckets idle long
// enough to be full again are swept, and if none is, unknown addresses
// are refused until one is.
type Limiter struct {
	Rate  float64
	Burst float64
	Max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a limiter of rate requests a second per address,
// bursts of burst, for at most max addresses at once.
func NewLimiter(rate, burst float64, max int) *Limiter {
	return &Limiter{Rate: rate, Burst: burst, Max: max, now: time.Now, buckets: map[netip.Addr]*bucket{}}
}

// Allow takes a token of ip's bucket, reporting false when it is empty.
func (l *Limiter) Allow(ip netip.Addr) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= l.Max {
			l.sweep(now)
			if len(l.buckets) >= l.Max {
				return false
			}
		}
		b = &bucket{tokens: l.Burst, at: now}
		l.buckets[ip] = b
	}
	b.tokens = min(l.Burst, b.tokens+now.Sub(b.at).Seconds()*l.Rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep drops buckets that have refilled; l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(l.Burst / l.Rate * float64(time.Second))
	for ip, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, ip)
		}
	}
}
