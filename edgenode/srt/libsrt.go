package srt

/*
#cgo pkg-config: srt
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <syslog.h>
#include <srt/srt.h>

// lsErr carries libsrt's thread-local error out of the call that set it:
// a goroutine may run its next C call on another thread.
typedef struct {
	int code;
	char msg[256];
} lsErr;

static void ls_err(lsErr* e) {
	int sys = 0;
	const char* s;
	e->code = srt_getlasterror(&sys);
	s = srt_getlasterror_str();
	if (s == NULL) s = "";
	strncpy(e->msg, s, sizeof(e->msg) - 1);
	e->msg[sizeof(e->msg) - 1] = 0;
	srt_clearlasterror();
}

static int ls_startup(lsErr* e) {
	int r;
	// libsrt logs to stderr by itself; what it reports that matters
	// reaches us as errors from the calls.
	srt_setloglevel(LOG_CRIT);
	r = srt_startup();
	if (r < 0) ls_err(e);
	return r;
}

static SRTSOCKET ls_create(lsErr* e) {
	SRTSOCKET s = srt_create_socket();
	if (s == SRT_INVALID_SOCK) ls_err(e);
	return s;
}

static int ls_setint(SRTSOCKET s, int opt, int v, lsErr* e) {
	int r = srt_setsockflag(s, (SRT_SOCKOPT)opt, &v, sizeof v);
	if (r < 0) ls_err(e);
	return r;
}

static int ls_setstr(SRTSOCKET s, int opt, const char* v, int len, lsErr* e) {
	int r = srt_setsockflag(s, (SRT_SOCKOPT)opt, v, len);
	if (r < 0) ls_err(e);
	return r;
}

static int ls_getstr(SRTSOCKET s, int opt, char* buf, int* len, lsErr* e) {
	int r = srt_getsockflag(s, (SRT_SOCKOPT)opt, buf, len);
	if (r < 0) ls_err(e);
	return r;
}

// ls_addr fills ip (16 bytes, IPv4 in the first 4) and port from sa and
// returns its family, or 0 for anything but IPv4 and IPv6.
static int ls_addr(const struct sockaddr* sa, unsigned char* ip, int* port) {
	if (sa == NULL) return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in* in = (const struct sockaddr_in*)sa;
		memcpy(ip, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)sa;
		memcpy(ip, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 6;
	}
	return 0;
}

static int ls_bind(SRTSOCKET s, int family, const unsigned char* ip, int port, lsErr* e) {
	int r;
	if (family == 4) {
		struct sockaddr_in a;
		memset(&a, 0, sizeof a);
		a.sin_family = AF_INET;
		memcpy(&a.sin_addr, ip, 4);
		a.sin_port = htons(port);
		r = srt_bind(s, (struct sockaddr*)&a, sizeof a);
	} else {
		struct sockaddr_in6 a;
		memset(&a, 0, sizeof a);
		a.sin6_family = AF_INET6;
		memcpy(&a.sin6_addr, ip, 16);
		a.sin6_port = htons(port);
		r = srt_bind(s, (struct sockaddr*)&a, sizeof a);
	}
	if (r < 0) ls_err(e);
	return r;
}

static int ls_sockname(SRTSOCKET s, unsigned char* ip, int* port, lsErr* e) {
	struct sockaddr_storage a;
	int len = sizeof a;
	if (srt_getsockname(s, (struct sockaddr*)&a, &len) < 0) {
		ls_err(e);
		return -1;
	}
	return ls_addr((struct sockaddr*)&a, ip, port);
}

static int ls_listen(SRTSOCKET s, int backlog, lsErr* e) {
	int r = srt_listen(s, backlog);
	if (r < 0) ls_err(e);
	return r;
}

// Implemented in Go (callback.go).
extern int livestreamsSRTListen(uintptr_t h, int ns, int hsversion, int family, unsigned char* ip, int port, char* streamid, int streamidLen);

static int ls_listen_hook(void* opaque, SRTSOCKET ns, int hsversion, const struct sockaddr* peer, const char* streamid) {
	unsigned char ip[16];
	int port = 0;
	int family;
	int n = 0;
	memset(ip, 0, sizeof ip);
	family = ls_addr(peer, ip, &port);
	if (streamid != NULL) n = strnlen(streamid, 1024);
	return livestreamsSRTListen((uintptr_t)opaque, ns, hsversion, family, ip, port, (char*)streamid, n);
}

// ls_set_listen_callback registers the hook with h, a cgo.Handle: C keeps
// a number, never a Go pointer.
static int ls_set_listen_callback(SRTSOCKET s, uintptr_t h, lsErr* e) {
	int r = srt_listen_callback(s, ls_listen_hook, (void*)h);
	if (r < 0) ls_err(e);
	return r;
}

static SRTSOCKET ls_accept(SRTSOCKET s, unsigned char* ip, int* port, int* family, lsErr* e) {
	struct sockaddr_storage a;
	int len = sizeof a;
	SRTSOCKET ns = srt_accept(s, (struct sockaddr*)&a, &len);
	if (ns == SRT_INVALID_SOCK) {
		ls_err(e);
		return ns;
	}
	*family = ls_addr((struct sockaddr*)&a, ip, port);
	return ns;
}

// libsrt declares these as static consts, which Go cannot reference.
static int ls_live_max_plsize(void) { return SRT_LIVE_MAX_PLSIZE; }
static int ls_live_def_plsize(void) { return SRT_LIVE_DEF_PLSIZE; }

static int ls_recv(SRTSOCKET s, char* buf, int len, lsErr* e) {
	int r = srt_recvmsg(s, buf, len);
	if (r < 0) ls_err(e);
	return r;
}
*/
import "C"

import (
	"net/netip"
	"runtime/cgo"
	"time"
	"unsafe"
)

// socket is a libsrt socket id.
type socket C.SRTSOCKET

// invalidSock is SRT_INVALID_SOCK.
const invalidSock = -1

func newLibError(op string, e *C.lsErr) error {
	return &libError{op: op, code: int(e.code), msg: C.GoString(&e.msg[0])}
}

// startup and cleanup bracket a Server's use of libsrt; libsrt counts
// them, so servers may overlap.
func startup() error {
	var e C.lsErr
	if C.ls_startup(&e) < 0 {
		return newLibError("startup", &e)
	}
	return nil
}

func cleanup() { C.srt_cleanup() }

func createSocket() (socket, error) {
	var e C.lsErr
	s := C.ls_create(&e)
	if s == invalidSock {
		return 0, newLibError("create socket", &e)
	}
	return socket(s), nil
}

func (s socket) close() { C.srt_close(C.SRTSOCKET(s)) }

func (s socket) setInt(name string, opt C.SRT_SOCKOPT, v int) error {
	var e C.lsErr
	if C.ls_setint(C.SRTSOCKET(s), C.int(opt), C.int(v), &e) < 0 {
		return newLibError("set "+name, &e)
	}
	return nil
}

func (s socket) setBool(name string, opt C.SRT_SOCKOPT, v bool) error {
	// libsrt reads bool options as int-sized when given sizeof(int).
	n := 0
	if v {
		n = 1
	}
	return s.setInt(name, opt, n)
}

// setSecret sets a string option whose value must not outlive the call
// in C memory (the passphrase): the copy is wiped before it is freed.
func (s socket) setSecret(name string, opt C.SRT_SOCKOPT, v string) error {
	cs := C.CString(v)
	defer func() {
		C.memset(unsafe.Pointer(cs), 0, C.size_t(len(v)))
		C.free(unsafe.Pointer(cs))
	}()
	var e C.lsErr
	if C.ls_setstr(C.SRTSOCKET(s), C.int(opt), cs, C.int(len(v)), &e) < 0 {
		return newLibError("set "+name, &e)
	}
	return nil
}

// Option setters, one per option the server uses.

func (s socket) setLiveMode() error {
	return s.setInt("transtype", C.SRTO_TRANSTYPE, int(C.SRTT_LIVE))
}

func (s socket) setLatency(d time.Duration) error {
	return s.setInt("latency", C.SRTO_LATENCY, int(d.Milliseconds()))
}

func (s socket) setPayloadSize(n int) error {
	return s.setInt("payload size", C.SRTO_PAYLOADSIZE, n)
}

func (s socket) setPeerIdleTimeout(d time.Duration) error {
	return s.setInt("peer idle timeout", C.SRTO_PEERIDLETIMEO, int(d.Milliseconds()))
}

func (s socket) setRecvTimeout(d time.Duration) error {
	return s.setInt("receive timeout", C.SRTO_RCVTIMEO, int(d.Milliseconds()))
}

func (s socket) setIPv6Only(v bool) error {
	return s.setBool("ipv6only", C.SRTO_IPV6ONLY, v)
}

func (s socket) setPassphrase(p string) error {
	return s.setSecret("passphrase", C.SRTO_PASSPHRASE, p)
}

func (s socket) setKeyLength(n int) error {
	return s.setInt("pbkeylen", C.SRTO_PBKEYLEN, n)
}

// setRejectReason sets the reason a listen callback's refusal sends.
func (s socket) setRejectReason(r RejectReason) {
	C.srt_setrejectreason(C.SRTSOCKET(s), C.int(r))
}

func (s socket) bind(ap netip.AddrPort) error {
	ip := ap.Addr().As16()
	family := C.int(6)
	if ap.Addr().Is4() {
		v4 := ap.Addr().As4()
		copy(ip[:], v4[:])
		family = 4
	}
	var e C.lsErr
	if C.ls_bind(C.SRTSOCKET(s), family, (*C.uchar)(unsafe.Pointer(&ip[0])), C.int(ap.Port()), &e) < 0 {
		return newLibError("bind "+ap.String(), &e)
	}
	return nil
}

func (s socket) localAddr() (netip.AddrPort, error) {
	var ip [16]byte
	var port C.int
	var e C.lsErr
	family := C.ls_sockname(C.SRTSOCKET(s), (*C.uchar)(unsafe.Pointer(&ip[0])), &port, &e)
	if family < 0 {
		return netip.AddrPort{}, newLibError("getsockname", &e)
	}
	return addrPort(int(family), ip, int(port)), nil
}

func (s socket) listen(backlog int) error {
	var e C.lsErr
	if C.ls_listen(C.SRTSOCKET(s), C.int(backlog), &e) < 0 {
		return newLibError("listen", &e)
	}
	return nil
}

// newCallbackHandle returns the number by which libsrt's listen callback
// finds srv (a cgo.Handle), and the function that releases it once the
// callback can no longer run.
func newCallbackHandle(srv *Server) (uintptr, func()) {
	h := cgo.NewHandle(srv)
	return uintptr(h), h.Delete
}

// setListenCallback registers livestreamsSRTListen with the handle h from
// newCallbackHandle.
func (s socket) setListenCallback(h uintptr) error {
	var e C.lsErr
	if C.ls_set_listen_callback(C.SRTSOCKET(s), C.uintptr_t(h), &e) < 0 {
		return newLibError("listen callback", &e)
	}
	return nil
}

// accept blocks until a caller's handshake completes or the listener is
// closed.
func (s socket) accept() (socket, netip.AddrPort, error) {
	var ip [16]byte
	var port, family C.int
	var e C.lsErr
	ns := C.ls_accept(C.SRTSOCKET(s), (*C.uchar)(unsafe.Pointer(&ip[0])), &port, &family, &e)
	if ns == invalidSock {
		return 0, netip.AddrPort{}, newLibError("accept", &e)
	}
	return socket(ns), addrPort(int(family), ip, int(port)), nil
}

// recv reads one message into buf (at least maxPayload bytes); it blocks
// for at most the socket's receive timeout.
func (s socket) recv(buf []byte) (int, error) {
	var e C.lsErr
	n := C.ls_recv(C.SRTSOCKET(s), (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)), &e)
	if n < 0 {
		return 0, newLibError("recv", &e)
	}
	return int(n), nil
}

// libConstants returns what libsrt.h says of the constants liberror.go
// copies (C static consts and enums are not Go constants), for a test.
func libConstants() map[string][2]int {
	return map[string][2]int{
		"SRT_LIVE_MAX_PLSIZE": {int(C.ls_live_max_plsize()), maxPayload},
		"SRT_LIVE_DEF_PLSIZE": {int(C.ls_live_def_plsize()), defaultPayload},
		"SRT_ECONNLOST":       {int(C.SRT_ECONNLOST), codeConnLost},
		"SRT_ENOCONN":         {int(C.SRT_ENOCONN), codeNoConn},
		"SRT_EINVSOCK":        {int(C.SRT_EINVSOCK), codeInvSock},
		"SRT_ESCLOSED":        {int(C.SRT_ESCLOSED), codeSockClose},
		"SRT_EASYNCRCV":       {int(C.SRT_EASYNCRCV), codeAsyncRcv},
		"SRT_ETIMEOUT":        {int(C.SRT_ETIMEOUT), codeTimeout},
	}
}
