package geoip

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fd00::/8"),
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name      string
		remote    string
		xff       []string
		forwarded []string
		want      string // "" is the zero Addr
	}{
		{name: "direct", remote: "81.2.69.142:50000", want: "81.2.69.142"},
		{name: "direct IPv6", remote: "[2a02:cf40::1]:443", want: "2a02:cf40::1"},
		{name: "direct IPv6 with zone", remote: "[fe80::1%eth0]:443", want: "fe80::1"},
		{name: "direct IPv4-mapped", remote: "[::ffff:81.2.69.142]:443", want: "81.2.69.142"},
		{name: "bare address", remote: "81.2.69.142", want: "81.2.69.142"},
		{name: "untrusted peer's XFF is ignored", remote: "81.2.69.142:1", xff: []string{"216.160.83.56"}, want: "81.2.69.142"},
		{name: "untrusted peer's Forwarded is ignored", remote: "81.2.69.142:1", forwarded: []string{"for=216.160.83.56"}, want: "81.2.69.142"},
		{name: "trusted peer, one hop", remote: "10.0.0.1:1", xff: []string{"216.160.83.56"}, want: "216.160.83.56"},
		{name: "trusted peer, no header", remote: "10.0.0.1:1", want: "10.0.0.1"},
		{name: "client-forged left entries are skipped", remote: "10.0.0.1:1", xff: []string{"1.1.1.1, 2.2.2.2, 216.160.83.56"}, want: "216.160.83.56"},
		{name: "trusted hops skipped right to left", remote: "10.0.0.1:1", xff: []string{"9.9.9.9, 216.160.83.56, 10.0.0.7, 10.0.0.2"}, want: "216.160.83.56"},
		{name: "several header lines", remote: "10.0.0.1:1", xff: []string{"9.9.9.9, 216.160.83.56", "10.0.0.2"}, want: "216.160.83.56"},
		{name: "all hops trusted: left-most", remote: "10.0.0.1:1", xff: []string{"10.1.1.1, 10.0.0.2"}, want: "10.1.1.1"},
		{name: "empty elements skipped", remote: "10.0.0.1:1", xff: []string{" , 216.160.83.56 ,, "}, want: "216.160.83.56"},
		{name: "XFF with ports", remote: "10.0.0.1:1", xff: []string{"216.160.83.56:1234"}, want: "216.160.83.56"},
		{name: "XFF IPv6 bare", remote: "[::1]:1", xff: []string{"2a02:cf40::1"}, want: "2a02:cf40::1"},
		{name: "XFF IPv6 bracketed with port", remote: "[::1]:1", xff: []string{"[2a02:cf40::1]:8080"}, want: "2a02:cf40::1"},
		{name: "XFF IPv6 trusted hop", remote: "[::1]:1", xff: []string{"2a02:cf40::1, fd00::5"}, want: "2a02:cf40::1"},
		{name: "XFF garbage falls back to peer", remote: "10.0.0.1:1", xff: []string{"216.160.83.56, not-an-ip"}, want: "10.0.0.1"},
		{name: "XFF garbage left of the client is never read", remote: "10.0.0.1:1", xff: []string{"not-an-ip, 216.160.83.56"}, want: "216.160.83.56"},
		{name: "XFF unknown falls back", remote: "10.0.0.1:1", xff: []string{"unknown"}, want: "10.0.0.1"},
		{name: "XFF bad port falls back", remote: "10.0.0.1:1", xff: []string{"216.160.83.56:99999x"}, want: "10.0.0.1"},
		{name: "XFF IPv4 in brackets falls back", remote: "10.0.0.1:1", xff: []string{"[216.160.83.56]"}, want: "10.0.0.1"},
		{name: "XFF empty value", remote: "10.0.0.1:1", xff: []string{""}, want: "10.0.0.1"},
		{name: "XFF wins over Forwarded", remote: "10.0.0.1:1", xff: []string{"216.160.83.56"}, forwarded: []string{"for=1.1.1.1"}, want: "216.160.83.56"},
		{name: "Forwarded", remote: "10.0.0.1:1", forwarded: []string{"for=216.160.83.56;proto=https"}, want: "216.160.83.56"},
		{name: "Forwarded chain", remote: "10.0.0.1:1", forwarded: []string{"for=1.1.1.1, for=216.160.83.56;by=10.0.0.1, for=10.0.0.3"}, want: "216.160.83.56"},
		{name: "Forwarded across lines", remote: "10.0.0.1:1", forwarded: []string{"for=1.1.1.1, for=216.160.83.56", "for=10.0.0.3"}, want: "216.160.83.56"},
		{name: "Forwarded quoted IPv6 with port", remote: "[::1]:1", forwarded: []string{`for="[2a02:cf40::17]:4711"`}, want: "2a02:cf40::17"},
		{name: "Forwarded case-insensitive key", remote: "10.0.0.1:1", forwarded: []string{"For=216.160.83.56"}, want: "216.160.83.56"},
		{name: "Forwarded quoted comma elsewhere", remote: "10.0.0.1:1", forwarded: []string{`host="a,b";for=216.160.83.56`}, want: "216.160.83.56"},
		{name: "Forwarded escaped quote", remote: "10.0.0.1:1", forwarded: []string{`ext="a\"b";for=216.160.83.56`}, want: "216.160.83.56"},
		{name: "Forwarded obfuscated falls back", remote: "10.0.0.1:1", forwarded: []string{"for=_hidden"}, want: "10.0.0.1"},
		{name: "Forwarded unknown falls back", remote: "10.0.0.1:1", forwarded: []string{"for=unknown"}, want: "10.0.0.1"},
		{name: "Forwarded obfuscated port", remote: "10.0.0.1:1", forwarded: []string{`for="216.160.83.56:_p1"`}, want: "216.160.83.56"},
		{name: "Forwarded element without for falls back", remote: "10.0.0.1:1", forwarded: []string{"for=1.1.1.1, proto=https"}, want: "10.0.0.1"},
		{name: "Forwarded duplicate for falls back", remote: "10.0.0.1:1", forwarded: []string{"for=1.1.1.1;for=2.2.2.2"}, want: "10.0.0.1"},
		{name: "Forwarded unterminated quote falls back", remote: "10.0.0.1:1", forwarded: []string{`for="216.160.83.56`}, want: "10.0.0.1"},
		{name: "Forwarded junk falls back", remote: "10.0.0.1:1", forwarded: []string{"216.160.83.56"}, want: "10.0.0.1"},
		{name: "unix socket peer", remote: "@", want: ""},
		{name: "garbage peer", remote: "pipe", xff: []string{"216.160.83.56"}, want: ""},
		{name: "empty peer", remote: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			for _, v := range tt.forwarded {
				r.Header.Add("Forwarded", v)
			}
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got := ClientIP(r, testTrusted); got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

func TestClientIPLongChain(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	// A long forged prefix costs nothing and does not hide the client.
	forged := strings.Repeat("1.1.1.1, ", 10000)
	r.Header.Set("X-Forwarded-For", forged+"216.160.83.56, 10.0.0.2")
	if got := ClientIP(r, testTrusted); got != netip.MustParseAddr("216.160.83.56") {
		t.Errorf("long XFF: ClientIP = %v", got)
	}
	r.Header.Del("X-Forwarded-For")
	r.Header.Set("Forwarded", strings.Repeat("for=1.1.1.1, ", 10000)+"for=216.160.83.56, for=10.0.0.2")
	if got := ClientIP(r, testTrusted); got != netip.MustParseAddr("216.160.83.56") {
		t.Errorf("long Forwarded: ClientIP = %v", got)
	}
	// More trusted hops than ClientIP walks: the peer.
	r.Header.Del("Forwarded")
	r.Header.Set("X-Forwarded-For", "216.160.83.56, "+strings.Repeat("10.0.0.2, ", maxHops)+"10.0.0.3")
	if got := ClientIP(r, testTrusted); got != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("all-trusted long chain: ClientIP = %v, want the peer", got)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.0/8, 192.168.1.7 ,::1,2001:db8::/32,10.1.2.3/8,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "::1/128", "2001:db8::/32", "10.0.0.0/8"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %v, want %s", i, got[i], want[i])
		}
	}
	if got, err := ParsePrefixes(""); err != nil || len(got) != 0 {
		t.Errorf(`ParsePrefixes("") = %v, %v`, got, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1/"} {
		if _, err := ParsePrefixes(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParsePrefixes(%q) error = %v, want one naming the value", bad, err)
		}
	}
}

// FuzzClientIP checks that no header makes ClientIP panic, return a zoned
// or IPv4-mapped address, or trust a header the peer had no right to set.
func FuzzClientIP(f *testing.F) {
	seeds := []struct{ remote, xff, fwd string }{
		{"81.2.69.142:1", "", ""},
		{"10.0.0.1:1", "1.1.1.1, 216.160.83.56, 10.0.0.2", ""},
		{"[::1]:1", "[2a02:cf40::1]:8080, fd00::1", ""},
		{"10.0.0.1:1", "", `for="[2a02:cf40::17]:4711";proto=https, for=10.0.0.2`},
		{"10.0.0.1:1", "", `host="a,b";for=_x, for=unknown`},
		{"[fe80::1%eth0]:1", "::ffff:1.2.3.4", ""},
		{"pipe", "1.2.3.4", "for=1.2.3.4"},
		{"10.0.0.1:1", " , ,", `for="\`},
	}
	for _, s := range seeds {
		f.Add(s.remote, s.xff, s.fwd)
	}
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			r.Header.Set("Forwarded", fwd)
		}
		got := ClientIP(r, testTrusted)
		if got != ClientIP(r, testTrusted) {
			t.Fatal("not deterministic")
		}
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: zone or IPv4-mapped", got)
		}
		peer, ok := parseNode(remote)
		if !ok {
			if got.IsValid() {
				t.Fatalf("unparsable peer %q gave %v", remote, got)
			}
			return
		}
		if !isTrusted(peer, testTrusted) && got != peer {
			t.Fatalf("untrusted peer %v, but ClientIP = %v from headers", peer, got)
		}
		if !got.IsValid() {
			t.Fatalf("valid peer %v, but ClientIP is the zero Addr", peer)
		}
	})
}
