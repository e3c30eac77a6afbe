package srt

/*
#include <stdint.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// livestreamsSRTListen is libsrt's listen callback (ls_listen_hook in
// libsrt.go): it runs on a libsrt thread for each caller's handshake and
// returns 0 to go on or -1 to refuse with the reason set on ns. h is the
// Server's cgo.Handle; ip points to 16 bytes of C memory.
//
//export livestreamsSRTListen
func livestreamsSRTListen(h C.uintptr_t, ns C.int, hsversion C.int, family C.int, ip *C.uchar, port C.int, streamid *C.char, streamidLen C.int) (ret C.int) {
	sock := socket(ns)
	defer func() {
		// A panic must not unwind into libsrt's thread.
		if recover() != nil {
			sock.setRejectReason(RejectInternal)
			ret = -1
		}
	}()
	s := cgo.Handle(h).Value().(*Server)
	var addr [16]byte
	copy(addr[:], unsafe.Slice((*byte)(unsafe.Pointer(ip)), 16))
	remote := addrPort(int(family), addr, int(port))
	var sid string
	if streamid != nil && streamidLen > 0 {
		sid = C.GoStringN(streamid, streamidLen)
	}
	_ = hsversion // HSv4 callers send no streamid and are refused as malformed
	if reason, ok := s.admit(sock, remote, sid); !ok {
		sock.setRejectReason(reason)
		return -1
	}
	return 0
}
