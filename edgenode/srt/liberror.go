package srt

import (
	"errors"
	"fmt"
	"net/netip"
)

// libsrt error codes this package tells apart (srt.h, SRT_ERRNO), and its
// live-mode payload sizes; TestLibConstants checks them against srt.h.
const (
	codeSockClose = 1005 // SRT_ESCLOSED
	codeConnLost  = 2001 // SRT_ECONNLOST
	codeNoConn    = 2002 // SRT_ENOCONN
	codeInvSock   = 5004 // SRT_EINVSOCK
	codeAsyncRcv  = 6002 // SRT_EASYNCRCV: receive timeout
	codeTimeout   = 6003 // SRT_ETIMEOUT

	// maxPayload is the largest live-mode message (SRT_LIVE_MAX_PLSIZE);
	// reads use a buffer of this size.
	maxPayload = 1456
	// defaultPayload is seven MPEG-TS packets (SRT_LIVE_DEF_PLSIZE).
	defaultPayload = 1316
)

// libError is an error reported by libsrt.
type libError struct {
	op   string
	code int
	msg  string
}

func (e *libError) Error() string { return fmt.Sprintf("libsrt %s: %s (%d)", e.op, e.msg, e.code) }

// isCode reports whether err is a libsrt error with one of codes.
func isCode(err error, codes ...int) bool {
	var le *libError
	if !errors.As(err, &le) {
		return false
	}
	for _, c := range codes {
		if le.code == c {
			return true
		}
	}
	return false
}

// addrPort builds an address from what the C side decoded of a sockaddr:
// family 4 or 6 (0: unknown), 16 bytes of address (IPv4 in the first 4).
func addrPort(family int, ip [16]byte, port int) netip.AddrPort {
	switch family {
	case 4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[:4])), uint16(port))
	case 6:
		return netip.AddrPortFrom(netip.AddrFrom16(ip).Unmap(), uint16(port))
	}
	return netip.AddrPort{}
}
