package rtmp

import (
	"net"
	"net/netip"
	"sync/atomic"
	"time"
)

// Connection limits. One remote address cannot take the server from
// everyone else: it holds at most MaxConnsPerIP connections and opens new
// ones at most HandshakeRate a second (bursts of MaxConnsPerIP), and a
// connection that has not published within HandshakeTimeout is closed.
// When a limit is reached, the oldest connection still in its handshake
// (connected, not publishing) is closed to make room before a new one is
// refused: an idle socket costs its owner its place, never a publisher.
const (
	DefaultMaxConnsPerIP = 16
	DefaultHandshakeRate = 10 // new connections a second per address
	// maxRateEntries bounds the addresses whose handshake rate is
	// remembered; full buckets are forgotten first.
	maxRateEntries = 4096
)

// tracked is one accepted connection as the limits see it.
type tracked struct {
	ip netip.Addr
	at time.Time
	// published is set once the connection publishes: it is no longer
	// idle and is never evicted.
	published atomic.Bool
}

// bucket is a token bucket of new connections from one address.
type bucket struct {
	tokens float64
	at     time.Time
}

func remoteIP(nc net.Conn) netip.Addr {
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// admit decides whether nc may be served, evicting idle handshakes to make
// room; it returns the connection's record, or the reason it is refused.
// s.mu is held.
func (s *Server) admit(nc net.Conn, now time.Time) (*tracked, string) {
	ip := remoteIP(nc)
	if !s.takeToken(ip, now) {
		return nil, "handshake rate"
	}
	if s.perIP[ip] >= s.cfg.MaxConnsPerIP && !s.evictIdle(ip, true) {
		return nil, "too many connections from the address"
	}
	if len(s.conns) >= s.cfg.MaxConns && !s.evictIdle(ip, false) {
		return nil, "too many connections"
	}
	t := &tracked{ip: ip, at: now}
	s.conns[nc] = t
	s.perIP[ip]++
	return t, ""
}

// takeToken spends one of ip's handshake tokens, if it has one.
func (s *Server) takeToken(ip netip.Addr, now time.Time) bool {
	burst := float64(s.cfg.MaxConnsPerIP)
	b := s.rates[ip]
	if b == nil {
		if len(s.rates) >= maxRateEntries {
			s.forgetFullBuckets(now)
		}
		b = &bucket{tokens: burst, at: now}
		s.rates[ip] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.at).Seconds()*s.cfg.HandshakeRate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetFullBuckets drops the buckets that have refilled: forgetting them
// changes nothing. If every one is in use (a flood from many addresses),
// the table is cleared: the connection caps still hold.
func (s *Server) forgetFullBuckets(now time.Time) {
	burst := float64(s.cfg.MaxConnsPerIP)
	for ip, b := range s.rates {
		if b.tokens+now.Sub(b.at).Seconds()*s.cfg.HandshakeRate >= burst {
			delete(s.rates, ip)
		}
	}
	if len(s.rates) >= maxRateEntries {
		clear(s.rates)
	}
}

// evictIdle closes the oldest connection that has not published, from ip
// only (sameIP) or from anywhere, and stops counting it at once. It
// reports whether it found one.
func (s *Server) evictIdle(ip netip.Addr, sameIP bool) bool {
	var victim net.Conn
	var oldest *tracked
	for nc, t := range s.conns {
		if t.published.Load() || sameIP && t.ip != ip {
			continue
		}
		if oldest == nil || t.at.Before(oldest.at) {
			victim, oldest = nc, t
		}
	}
	if victim == nil {
		return false
	}
	s.forget(victim, oldest)
	victim.Close() // its goroutine sees the closed socket and ends
	s.evicted.Add(1)
	return true
}

// forget stops counting a connection; s.mu is held.
func (s *Server) forget(nc net.Conn, t *tracked) {
	delete(s.conns, nc)
	if s.perIP[t.ip]--; s.perIP[t.ip] <= 0 {
		delete(s.perIP, t.ip)
	}
}

// LimitStats counts what the connection limits did.
type LimitStats struct {
	Conns   int   // connections now
	Refused int64 // connections closed at accept
	Evicted int64 // idle handshakes closed to make room
}

// LimitStats returns the server's connection counters.
func (s *Server) LimitStats() LimitStats {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return LimitStats{Conns: n, Refused: s.refused.Load(), Evicted: s.evicted.Load()}
}
