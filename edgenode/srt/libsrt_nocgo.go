//go:build !cgo

package srt

import (
	"errors"
	"net/netip"
	"time"
)

// Without cgo (CGO_ENABLED=0 builds) there is no libsrt: the package
// compiles, ParseStreamID works, and Server.Run fails at once.

// Available reports whether this binary has libsrt: it is built with cgo.
const Available = false

var errNoLibsrt = errors.New("srt: this binary was built without cgo, so without libsrt")

type socket int32

func startup() error                        { return errNoLibsrt }
func cleanup()                              {}
func createSocket() (socket, error)         { return 0, errNoLibsrt }
func (socket) close()                       {}
func (socket) setRejectReason(RejectReason) {}

func (socket) setLiveMode() error                     { return errNoLibsrt }
func (socket) setLatency(time.Duration) error         { return errNoLibsrt }
func (socket) setPayloadSize(int) error               { return errNoLibsrt }
func (socket) setPeerIdleTimeout(time.Duration) error { return errNoLibsrt }
func (socket) setRecvTimeout(time.Duration) error     { return errNoLibsrt }
func (socket) setIPv6Only(bool) error                 { return errNoLibsrt }
func (socket) setPassphrase(string) error             { return errNoLibsrt }
func (socket) setKeyLength(int) error                 { return errNoLibsrt }
func (socket) bind(netip.AddrPort) error              { return errNoLibsrt }
func (socket) localAddr() (netip.AddrPort, error)     { return netip.AddrPort{}, errNoLibsrt }
func (socket) listen(int) error                       { return errNoLibsrt }
func (socket) setListenCallback(uintptr) error        { return errNoLibsrt }
func (socket) recv([]byte) (int, error)               { return 0, errNoLibsrt }

func (socket) accept() (socket, netip.AddrPort, error) {
	return 0, netip.AddrPort{}, errNoLibsrt
}

func newCallbackHandle(*Server) (uintptr, func()) { return 0, func() {} }
