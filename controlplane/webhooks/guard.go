package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrForbiddenAddress is why a URL or a connection is refused: the address
// is not on the public internet and private addresses are not allowed.
var ErrForbiddenAddress = errors.New("address is not public")

// nonPublic are the ranges besides what netip classifies (loopback,
// private, link-local, multicast, unspecified) that a webhook must not
// reach: CGNAT, "this network", benchmarking, broadcast, reserved, and the
// IPv6 prefixes that embed IPv4 addresses (NAT64, 6to4, Teredo).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
}

// CheckAddr refuses an address a webhook must not reach: loopback,
// link-local (the 169.254.169.254 metadata service among them), private
// (RFC 1918, fc00::/7), CGNAT, unspecified, multicast and the other
// reserved ranges, unless allowPrivate.
func CheckAddr(ip netip.Addr, allowPrivate bool) error {
	if allowPrivate {
		return nil
	}
	ip = ip.Unmap()
	bad := !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast()
	for _, p := range nonPublic {
		bad = bad || p.Contains(ip)
	}
	if bad {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, ip)
	}
	return nil
}

// Control is a net.Dialer Control function that checks the address a
// connection is about to be made to: the resolved one, after DNS, so a
// name that resolves to a public address when the URL was checked and to a
// private one when it is used (DNS rebinding) is refused all the same.
func Control(allowPrivate bool) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: unparsable %s", ErrForbiddenAddress, address)
		}
		return CheckAddr(ap.Addr(), allowPrivate)
	}
}

// CheckURL validates an endpoint URL when it is created or changed: http
// or https, a host, no credentials, and a host that is not a private
// address literal or a localhost name unless allowPrivate. Names are
// not resolved here (they may change): the dialer checks at connect time.
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url is not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url scheme must be http or https, not %q", u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("url must not carry credentials: receivers check the signature")
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("url has no host")
	}
	if u.Fragment != "" {
		return fmt.Errorf("url must not have a fragment")
	}
	if allowPrivate {
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := CheckAddr(ip, false); err != nil {
			return fmt.Errorf("url host %s is not a public address (the operator allows private ones with --webhook-allow-private)", ip)
		}
		return nil
	}
	if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("url host %s is loopback (the operator allows private ones with --webhook-allow-private)", host)
	}
	return nil
}

// Bounds of one attempt.
const (
	// DefaultTimeout is how long a receiver has to answer, headers and
	// body.
	DefaultTimeout = 10 * time.Second
	// maxResponseRead is how much of an answer is read (and so how long a
	// connection may be kept for reuse); maxResponseKept of it is recorded.
	maxResponseRead = 64 << 10
	maxResponseKept = 1 << 10
	// MaxBody bounds a delivery's body.
	MaxBody = 256 << 10
)

// NewHTTPClient returns the client deliveries are sent with: every
// connection checked by Control, no proxy from the environment (a proxy
// would connect on our behalf, unchecked), no redirects followed (a 3xx
// is a failed attempt), and timeout for the whole exchange.
func NewHTTPClient(allowPrivate bool, timeout time.Duration, maxConnsPerHost int) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: Control(allowPrivate)}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
