package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/livestreams/livestreams/shared/testutil"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	a := e.anon.must(200, "GET", "/healthz", nil)
	if id := a.header.Get("X-Request-Id"); len(id) < 8 {
		t.Fatalf("generated request id %q", id)
	}
	if id := e.anon.must(200, "GET", "/healthz", nil, "X-Request-Id", "trace-123_a.b").header.Get("X-Request-Id"); id != "trace-123_a.b" {
		t.Fatalf("echoed request id %q", id)
	}
	if id := e.anon.must(200, "GET", "/healthz", nil, "X-Request-Id", "bad id\" <script>").header.Get("X-Request-Id"); strings.ContainsAny(id, " \"<") {
		t.Fatalf("unsafe request id echoed: %q", id)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) { c.CORSOrigins = []string{"https://dash.example.com"} }})
	pre := e.anon.must(204, "OPTIONS", "/v1/streams", nil, "Origin", "https://dash.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if pre.header.Get("Access-Control-Allow-Origin") != "https://dash.example.com" ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Headers"), "X-Livestreams-Org") ||
		!strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "PATCH") {
		t.Fatalf("preflight headers %v", pre.header)
	}
	get := e.admin.must(200, "GET", "/v1/streams", nil, "Origin", "https://dash.example.com")
	if get.header.Get("Access-Control-Allow-Origin") != "https://dash.example.com" || get.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("simple request CORS headers %v", get.header)
	}
	other := e.admin.must(200, "GET", "/v1/streams", nil, "Origin", "https://evil.example.com")
	if other.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS allowed an origin not configured")
	}
	if a := e.anon.do("OPTIONS", "/v1/streams", nil, "Origin", "https://evil.example.com", "Access-Control-Request-Method", "POST"); a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("preflight allowed an origin not configured")
	}

	none := newEnv(t, nodeOpts{})
	if a := none.anon.must(200, "GET", "/healthz", nil, "Origin", "https://dash.example.com"); a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS headers without configured origins")
	}
}

func TestRecovererAnswersJSON(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := &Handler{log: slog.New(slog.NewTextHandler(&logs, nil))}
	boom := h.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom: secret detail") }))
	rec := httptest.NewRecorder()
	sw := &statusWriter{ResponseWriter: rec}
	boom.ServeHTTP(sw, httptest.NewRequest("GET", "/v1/x", nil))
	if rec.Code != 500 || rec.Body.String() != `{"error":{"code":"internal","message":"internal error"}}`+"\n" {
		t.Fatalf("panic answer %d %q", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "boom: secret detail") || !strings.Contains(logs.String(), "goroutine") {
		t.Fatalf("panic not logged with its stack: %s", logs.String())
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{mustPrefix(t, "10.0.0.0/8"), mustPrefix(t, "::1/128")}
	cases := []struct {
		name, remote string
		hdr          map[string]string
		want         string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"spoofed XFF from an untrusted peer", "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},
		{"one proxy", "10.0.0.2:4000", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"client-sent prefix is skipped", "10.0.0.2:4000", map[string]string{"X-Forwarded-For": "1.2.3.4, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"},
		{"only proxies", "10.0.0.2:4000", map[string]string{"X-Forwarded-For": "10.1.1.1"}, "10.1.1.1"},
		{"garbage stops the walk", "10.0.0.2:4000", map[string]string{"X-Forwarded-For": "1.2.3.4, nonsense"}, "10.0.0.2"},
		{"Forwarded", "[::1]:4000", map[string]string{"Forwarded": `for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"`}, "2001:db8::17"},
		{"trusted peer, no header", "10.0.0.2:4000", nil, "10.0.0.2"},
		{"v4-mapped peer", "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for k, v := range c.hdr {
			r.Header.Set(k, v)
		}
		if got := clientAddr(r, proxies); got.String() != c.want {
			t.Errorf("%s: %v, want %s", c.name, got, c.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) {
		c.AuthRatePerMinute, c.AuthBurst = 10, 5
		c.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.1/32")}
	}})
	login := map[string]any{"email": "root@example.com", "password": "wrong password"}
	from := func(ip string) answer { return e.anon.do("POST", "/v1/auth/login", login, "X-Forwarded-For", ip) }
	for i := range 5 {
		if a := from("198.51.100.1"); a.status != 401 {
			t.Fatalf("attempt %d: %d %s", i+1, a.status, a.body)
		}
	}
	a := from("198.51.100.1")
	if a.status != 429 || a.code() != "rate_limited" || a.header.Get("Retry-After") == "" {
		t.Fatalf("6th attempt: %d %s (Retry-After %q)", a.status, a.body, a.header.Get("Retry-After"))
	}
	if a := from("198.51.100.2"); a.status != 401 {
		t.Fatalf("another client is limited too: %d %s", a.status, a.body)
	}
	signup := func() answer {
		return e.anon.do("POST", "/v1/auth/signup", map[string]any{}, "X-Forwarded-For", "198.51.100.3")
	}
	for i := range 5 {
		if a := signup(); a.status == 429 {
			t.Fatalf("signup attempt %d: %d %s", i+1, a.status, a.body)
		}
	}
	if a := signup(); a.status != 429 {
		t.Fatalf("6th signup: %d, want 429", a.status)
	}
	// Authenticated routes are not limited.
	for range 10 {
		e.admin.must(200, "GET", "/v1/me", nil)
	}
}

// TestLoginLockoutIsPerAccountAndAddress: a flood of wrong passwords for
// one account from one address locks that account out of that address
// only. The real user logging in from another address, and another user
// behind the flooding address (one NAT), still get in; an address
// guessing across many accounts is bounded too.
func TestLoginLockoutIsPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{cfg: func(c *Config) {
		c.AuthRatePerMinute, c.AuthBurst = 10, 5
		c.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.1/32")}
	}})
	e.user("colleague@example.com", e.orgA, "member")
	const attacker, home = "203.0.113.7", "198.51.100.20"
	login := func(email, password, ip string) answer {
		return e.anon.do("POST", "/v1/auth/login", map[string]any{"email": email, "password": password}, "X-Forwarded-For", ip)
	}
	for range 30 {
		login("root@example.com", "wrong password", attacker)
	}
	if a := login("root@example.com", testPassword, attacker); a.status != 429 || a.header.Get("Retry-After") == "" {
		t.Fatalf("the flooding address is not locked out of the account: %d %s", a.status, a.body)
	}
	if a := login("root@example.com", testPassword, home); a.status != 200 {
		t.Fatalf("the real user from another address is locked out: %d %s", a.status, a.body)
	}
	if a := login("colleague@example.com", testPassword, attacker); a.status != 200 {
		t.Fatalf("another account behind the flooding address is locked out: %d %s", a.status, a.body)
	}
	// Guessing across accounts from one address: 4 × the burst, then 429
	// for every account there.
	const sprayer = "203.0.113.99"
	refused := 0
	for i := range 25 {
		if a := login(fmt.Sprintf("user%d@example.com", i), "guess", sprayer); a.status == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("an address guessing across 25 accounts was never limited")
	}
}

func TestLimiterRefillsAndStaysBounded(t *testing.T) {
	t.Parallel()
	l := newLimiter(60, 2, 100)
	now := time.Unix(1_700_000_000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 2 {
		if ok, _ := l.allow(a, now); !ok {
			t.Fatalf("burst %d refused", i)
		}
	}
	ok, wait := l.allow(a, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("empty bucket: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow(a, now.Add(time.Second)); !ok {
		t.Fatal("no refill after a second at 60/min")
	}
	// IPv6 clients share a bucket per /64.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff:2")
	l.allow(v6a, now)
	l.allow(v6b, now)
	if ok, _ := l.allow(v6a, now); ok {
		t.Fatal("addresses of one /64 have separate buckets")
	}
	for i := range 10_000 {
		l.allow(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), now.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.size(); n > 100 {
		t.Fatalf("limiter holds %d buckets, bound 100", n)
	}
}

func TestMetricsByRoutePattern(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nodeOpts{})
	e.admin.must(404, "GET", "/v1/streams/str_aaaa", nil)
	e.admin.must(404, "GET", "/v1/streams/str_bbbb", nil)
	m := e.anon.must(200, "GET", "/metrics", nil)
	if !bytes.Contains(m.body, []byte(`livestreams_http_requests_total{code="4xx",method="GET",route="/v1/streams/{id}"} 2`)) {
		t.Fatalf("metrics do not count by route pattern:\n%s", grepLines(m.body, "livestreams_http_requests_total"))
	}
	if bytes.Contains(m.body, []byte("str_aaaa")) {
		t.Fatal("a raw path reached the metrics")
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	n := startNode(t, "cp1", nodeOpts{bootstrap: true})
	c := &rawClient{t: t, base: n.url}
	testutil.Eventually(t, 10*time.Second, "a leader", func() bool { return n.node.LeaderID() != "" })
	if a := c.must(503, "GET", "/readyz", nil); a.code() != "unavailable" {
		t.Fatalf("readyz before meta: %s", a.body)
	}
	c.must(200, "GET", "/healthz", nil)
	c.must(503, "GET", "/v1/me", nil, "Authorization", "Bearer lsk_whatever")
	initMeta(t, n.node)
	c.must(200, "GET", "/readyz", nil)
}
