package rtmp

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

const (
	rtmpVersion       = 3
	handshakePartSize = 1536
)

// serverHandshake performs the simple (unsigned) handshake: read C0 and
// C1, send S0, S1 and S2, read C2. S2 echoes C1 byte for byte, which is
// what librtmp (OBS) and ffmpeg check for when they check at all. Clients
// that sign C1 (the Flash Player 9 scheme) accept the unsigned reply from
// a server whose S1 version field is zero.
func serverHandshake(r *bufio.Reader, w *bufio.Writer, uptimeMillis uint32) error {
	var c0c1 [1 + handshakePartSize]byte
	if _, err := io.ReadFull(r, c0c1[:]); err != nil {
		return fmt.Errorf("read C0+C1: %w", err)
	}
	if c0c1[0] != rtmpVersion {
		return protocolErrorf("client asked for RTMP version %d, only %d is supported", c0c1[0], rtmpVersion)
	}
	var s1 [handshakePartSize]byte
	binary.BigEndian.PutUint32(s1[0:4], uptimeMillis)
	// s1[4:8] stays zero: no signed handshake.
	rand.Read(s1[8:])

	w.WriteByte(rtmpVersion)
	w.Write(s1[:])
	w.Write(c0c1[1:])
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write S0+S1+S2: %w", err)
	}
	var c2 [handshakePartSize]byte
	if _, err := io.ReadFull(r, c2[:]); err != nil {
		return fmt.Errorf("read C2: %w", unexpectedEOF(err))
	}
	// C2 should echo S1, but clients disagree on the details; its
	// content protects nothing, so it is not checked.
	return nil
}
