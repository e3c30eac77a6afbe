package geoip

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// maxHops bounds how far ClientIP walks a forwarding chain; no real
// deployment has more proxies than this, and a longer chain is refused
// rather than walked.
const maxHops = 32

// ClientIP returns the address of the client that made r, for Lookup.
//
// It is the connection's peer (r.RemoteAddr) unless that peer is in one of
// the trusted prefixes, a proxy of ours. Then the forwarding chain is
// walked right to left, skipping trusted hops, and the first untrusted
// address is the client: each proxy appends the address it saw, so every
// entry right of the first untrusted one was written by a proxy we trust
// and everything left of it may be made up by the client. If every hop is
// trusted, the left-most is the client (an internal one).
//
// The chain is X-Forwarded-For when the request has one, else the for=
// parameters of RFC 7239 Forwarded. X-Forwarded-For wins because it is
// what nginx, HAProxy, Caddy, Traefik, Envoy and cloud load balancers
// append; a proxy that writes only Forwarded passes a client's forged
// X-Forwarded-For through, so have such a proxy drop that header.
//
// A chain that cannot be parsed (an entry that is not an address, an
// obfuscated or "unknown" node, a Forwarded element without for=), or
// whose 32 right-most hops are all trusted, yields the peer: a trusted
// proxy that writes garbage tells us nothing. Ports, brackets and zones
// are stripped and IPv4-mapped IPv6 addresses are unmapped. If RemoteAddr
// itself is not an address (a Unix socket, a test's "pipe"), the zero Addr
// is returned, which Lookup reports as not found.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parseNode(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !isTrusted(peer, trusted) {
		return peer
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		if ip, ok := walk(xffHops(xff), trusted); ok {
			return ip
		}
		return peer
	}
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		if hops, ok := forwardedFor(fwd); ok {
			if ip, ok := walk(hops, trusted); ok {
				return ip
			}
		}
	}
	return peer
}

// ParsePrefixes parses a comma-separated list of CIDR prefixes or bare
// addresses (a bare address is a /32 or /128), as given to a
// --trusted-proxies flag. An empty string is an empty list.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("parse trusted proxy %q: want an address or CIDR prefix", f)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("parse trusted proxy %q: want an address or CIDR prefix", f)
		}
		a = a.Unmap().WithZone("")
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// walk returns the first untrusted address of hops, which run right to
// left, or the last one if all are trusted. It reports false for an empty
// or unparsable chain, or one whose first maxHops entries are all trusted.
func walk(hops []string, trusted []netip.Prefix) (netip.Addr, bool) {
	var last netip.Addr
	for i, h := range hops {
		if i == maxHops {
			return netip.Addr{}, false
		}
		a, ok := parseNode(h)
		if !ok {
			return netip.Addr{}, false
		}
		if !isTrusted(a, trusted) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// xffHops lists the entries of X-Forwarded-For header values right to
// left, skipping empty ones. It stops after maxHops+1, all walk looks at,
// so a long forged prefix costs nothing.
func xffHops(values []string) []string {
	var hops []string
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var h string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				h, v = v[j+1:], v[:j]
			} else {
				h, v = v, ""
			}
			h = strings.TrimSpace(h)
			if h == "" {
				continue
			}
			hops = append(hops, h)
			if len(hops) > maxHops {
				return hops
			}
		}
	}
	return hops
}

// forwardedFor returns the for= values of RFC 7239 Forwarded header
// values, right to left, one per element, at most maxHops+1 of them (all
// walk looks at). It reports false if the header does not parse, or an
// element has no for= or more than one.
func forwardedFor(values []string) ([]string, bool) {
	var fors []string
	for _, v := range values {
		p := fwdParser{s: v}
		for {
			p.skipSpace()
			if p.done() {
				break
			}
			if p.peek() == ',' { // empty list element
				p.i++
				continue
			}
			f, ok := p.element()
			if !ok {
				return nil, false
			}
			fors = append(fors, f)
			if len(fors) > 4*maxHops { // keep only the right-most
				fors = append(fors[:0], fors[len(fors)-maxHops-1:]...)
			}
		}
	}
	if len(fors) > maxHops+1 {
		fors = fors[len(fors)-maxHops-1:]
	}
	slices.Reverse(fors)
	return fors, true
}

type fwdParser struct {
	s string
	i int
}

func (p *fwdParser) done() bool { return p.i >= len(p.s) }
func (p *fwdParser) peek() byte { return p.s[p.i] }

func (p *fwdParser) skipSpace() {
	for !p.done() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// element parses `pair *( ";" pair )` up to and including the next ","
// and returns its for= value.
func (p *fwdParser) element() (string, bool) {
	var forVal string
	found := false
	for {
		p.skipSpace()
		key := p.token()
		if key == "" || p.done() || p.peek() != '=' {
			return "", false
		}
		p.i++
		var val string
		var ok bool
		if !p.done() && p.peek() == '"' {
			val, ok = p.quoted()
		} else {
			val = p.token()
			ok = val != ""
		}
		if !ok {
			return "", false
		}
		if strings.EqualFold(key, "for") {
			if found {
				return "", false
			}
			forVal, found = val, true
		}
		p.skipSpace()
		if p.done() {
			return forVal, found
		}
		switch p.peek() {
		case ';':
			p.i++
		case ',':
			p.i++
			return forVal, found
		default:
			return "", false
		}
	}
}

// token reads an RFC 7230 token.
func (p *fwdParser) token() string {
	start := p.i
	for !p.done() && isTokenChar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted-string, undoing backslash escapes.
func (p *fwdParser) quoted() (string, bool) {
	p.i++ // opening quote
	var b strings.Builder
	for !p.done() {
		c := p.peek()
		p.i++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if p.done() {
				return "", false
			}
			b.WriteByte(p.peek())
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// parseNode parses one address as proxies and net/http write it: a bare
// IPv4 or IPv6 address, "1.2.3.4:port", "[v6]" or "[v6]:port", with an
// optional zone. The port may be an RFC 7239 obfuscated port ("_abc"); an
// obfuscated or "unknown" node is not an address.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	var host string
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 || !validPort(s[end+1:]) {
			return netip.Addr{}, false
		}
		host = s[1:end]
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() { // brackets hold IPv6 only
			return netip.Addr{}, false
		}
		return a.Unmap().WithZone(""), true
	case strings.Count(s, ":") == 1: // IPv4 with a port
		j := strings.IndexByte(s, ':')
		if !validPort(s[j:]) {
			return netip.Addr{}, false
		}
		host = s[:j]
	default: // bare IPv4 or IPv6
		host = s
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// validPort accepts "", ":" followed by 1-5 digits, or ":_" followed by an
// obfuscated port.
func validPort(s string) bool {
	if s == "" {
		return true
	}
	if s[0] != ':' || len(s) < 2 {
		return false
	}
	s = s[1:]
	if s[0] == '_' {
		for i := 1; i < len(s); i++ {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return false
			}
		}
		return len(s) > 1
	}
	if len(s) > 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
