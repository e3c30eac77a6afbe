package srt

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// Conn is one accepted publisher: an io.Reader of its MPEG-TS bytes.
// It is not safe for concurrent use and only valid inside Handle.
type Conn struct {
	sock   socket
	req    Request
	value  any
	remote netip.AddrPort
	ctx    context.Context
	stall  time.Duration

	buf      []byte // one message when the caller reads less than a whole one
	off, end int
	last     time.Time // when the last payload arrived
}

// Request is what the caller's streamid and address said.
func (c *Conn) Request() Request { return c.req }

// Value is Settings.Value from Authorize.
func (c *Conn) Value() any { return c.value }

// RemoteAddr is the caller's address.
func (c *Conn) RemoteAddr() netip.AddrPort { return c.remote }

// Read returns the next payload (one SRT message, normally seven 188-byte
// MPEG-TS packets), or the rest of it when p was too small for the whole.
// It fails with io.EOF when the publisher disconnects, ErrStalled when it
// has sent nothing for the stall timeout, and ErrServerClosed when the
// server shuts down.
func (c *Conn) Read(p []byte) (int, error) {
	if c.off < c.end {
		n := copy(p, c.buf[c.off:c.end])
		c.off += n
		return n, nil
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.ctx.Err() != nil {
			return 0, ErrServerClosed
		}
		direct := len(p) >= maxPayload
		dst := c.buf
		if direct {
			dst = p
		}
		n, err := c.sock.recv(dst)
		switch {
		case isCode(err, codeAsyncRcv, codeTimeout):
			if quiet := time.Since(c.last); quiet >= c.stall {
				return 0, fmt.Errorf("%w: nothing received for %v", ErrStalled, quiet.Round(time.Millisecond))
			}
			continue
		case isCode(err, codeConnLost, codeNoConn, codeInvSock, codeSockClose):
			// SRT does not tell a clean close from a lost peer; the peer
			// idle timeout is longer than the stall timeout, so a
			// silent peer ends as stalled above.
			return 0, io.EOF
		case err != nil:
			return 0, err
		case n == 0:
			continue
		}
		c.last = time.Now()
		if direct {
			return n, nil
		}
		c.off, c.end = 0, n
		m := copy(p, c.buf[:n])
		c.off = m
		return m, nil
	}
}
