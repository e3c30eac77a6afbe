package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/livestreams/livestreams/controlplane/ids"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyClientIP
	keyPrincipal
)

func requestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

func clientIP(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(keyClientIP).(netip.Addr)
	return a
}

func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// withRequestID takes the caller's X-Request-Id when it is a sane token
// (so a request can be followed through a proxy), else makes one, and
// echoes it.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			id = ids.Random(10)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withClientIP records the client's address: the TCP peer, unless the
// peer is a trusted proxy, in which case the forwarding headers are walked
// from the nearest hop outwards and the first untrusted address is the
// client. Headers from anyone else are ignored, so they cannot be spoofed.
func (h *Handler) withClientIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientAddr(r, h.cfg.TrustedProxies)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyClientIP, ip)))
	})
}

func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

func trusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func clientAddr(r *http.Request, proxies []netip.Prefix) netip.Addr {
	peer := peerAddr(r)
	if !peer.IsValid() || !trusted(peer, proxies) {
		return peer
	}
	hops := forwardedHops(r)
	nearest := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return nearest // nothing left of garbage can be trusted
		}
		if !trusted(a, proxies) {
			return a
		}
		nearest = a
	}
	return nearest
}

// forwardedHops lists the client addresses a proxy chain reported, the
// originating client first: X-Forwarded-For, or RFC 7239 Forwarded's for=.
func forwardedHops(r *http.Request) []string {
	var hops []string
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, v := range xff {
			for _, part := range strings.Split(v, ",") {
				hops = append(hops, strings.TrimSpace(part))
			}
		}
		return hops
	}
	for _, v := range r.Header.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			hop := "unknown"
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hop = strings.Trim(val, `"`)
				}
			}
			hops = append(hops, hop)
		}
	}
	return hops
}

func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
			return a.Unmap().WithZone(""), true
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// scheme is the scheme the client used: TLS here, or what a trusted proxy
// says it received.
func (h *Handler) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if trusted(peerAddr(r), h.cfg.TrustedProxies) {
		if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "https" || p == "http" {
			return p
		}
	}
	return "http"
}

// statusWriter remembers the status for metrics, logs and the recoverer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// observe counts, times and logs each request. It never logs the query
// string (playback tokens travel there) nor any header but the request id.
func (h *Handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			route := routePattern(r)
			took := time.Since(start)
			h.metrics.observe(r.Method, route, status, took)
			level := slog.LevelInfo
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				level = slog.LevelDebug
			}
			h.log.LogAttrs(r.Context(), level, "http request",
				slog.String("request_id", requestID(r.Context())), slog.String("method", r.Method),
				slog.String("route", route), slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Int64("bytes", sw.bytes), slog.Duration("duration", took),
				slog.String("client_ip", clientIP(r.Context()).String()))
		}()
		next.ServeHTTP(sw, r)
	})
}

// recoverer turns a panic into the JSON internal error; the stack goes to
// the log, never to the client.
func (h *Handler) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error("panic serving request", "request_id", requestID(r.Context()), "method", r.Method,
				"route", routePattern(r), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the answer has begun; nothing sane can follow it
			}
			writeJSON(w, http.StatusInternalServerError, errorBody(codeInternal, "internal error"))
		}()
		next.ServeHTTP(w, r)
	})
}

// corsHeaders lets the configured browser origins call the API. Requests
// carry bearer tokens, never cookies, so credentials are not allowed.
func (h *Handler) corsHeaders(next http.Handler) http.Handler {
	if len(h.cfg.CORSOrigins) == 0 {
		return next
	}
	any := false
	allowed := map[string]bool{}
	for _, o := range h.cfg.CORSOrigins {
		if o == "*" {
			any = true
		}
		allowed[strings.TrimRight(o, "/")] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" || !(any || allowed[origin]) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Location")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Add("Vary", "Access-Control-Request-Method")
			w.Header().Add("Vary", "Access-Control-Request-Headers")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE")
			w.Header().Set("Access-Control-Allow-Headers",
				"Authorization, Content-Type, X-Livestreams-Org, X-Livestreams-Consistent, X-Request-Id")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over n bytes with 413.
func (h *Handler) limitBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				h.writeError(w, r, &http.MaxBytesError{Limit: n})
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, n)
			next.ServeHTTP(w, r)
		})
	}
}

// timeout bounds the work of one request; handlers pass the context to
// every blocking call, so an expired one answers 503.
func timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// consistentReads makes a request that asks for it (?consistent=1 or
// X-Livestreams-Consistent: 1) wait until this node's state holds every
// write acknowledged before it began. It runs before authentication, so a
// key created a moment ago through another node works here too.
func (h *Handler) consistentReads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if truthy(r.URL.Query().Get("consistent")) || truthy(r.Header.Get("X-Livestreams-Consistent")) {
			if err := h.node.ConsistentRead(r.Context()); err != nil {
				h.writeError(w, r, errorf(codeUnavailable, "consistent read failed: no leader confirmed it; try again"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func truthy(s string) bool { return s == "1" || strings.EqualFold(s, "true") }
