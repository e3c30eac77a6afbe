package live

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"sync"
)

// A Tap is a copy of a live session's source container stream (FLV or
// MPEG-TS, as the adapter writes it) for a consumer beside the ladder: a
// restream relay. The session never waits for a tap: each has a bounded
// queue, and a tap whose reader falls behind by more than that is dropped
// (its Read fails with ErrTapTooSlow) while the ingest and the ladder go
// on. A tap that joins an FLV stream late first gets what a decoder needs
// to start: the FLV header, the metadata and the audio and video sequence
// headers, then the stream from the next video keyframe. One that joins
// MPEG-TS late starts at a packet boundary (the demuxer waits for the
// next PAT and PMT). Reads end with io.EOF after the session's last byte.
//
// The splitting done here reads only the FLV tag framing (type, size) and
// the first bytes of audio and video bodies; it never parses metadata.

// DefaultTapBuffer is how many bytes a tap may hold unread before it is
// dropped: several seconds of a high-bitrate source.
const DefaultTapBuffer = 8 << 20

// Errors of Core.Tap and Tap.Read.
var (
	ErrNoSession  = errors.New("no such live session on this edge")
	ErrTapTooSlow = errors.New("tap dropped: its reader fell behind the live source")
)

// Tap opens a tap on session sessionID's source. ctx bounds the tap's
// reads (Read fails with ctx's error once it ends); Close detaches it.
// buffer is the tap's queue bound in bytes (0: DefaultTapBuffer).
func (c *Core) Tap(ctx context.Context, sessionID string, buffer int) (*Tap, error) {
	c.mu.Lock()
	s := c.sessions[sessionID]
	c.mu.Unlock()
	if s == nil {
		return nil, ErrNoSession
	}
	return s.taps.add(ctx, buffer), nil
}

// Tap is one reader of a session's source (see Core.Tap).
type Tap struct {
	ctx    context.Context
	t      *tapper
	max    int
	notify chan struct{} // signalled when data arrives or the tap ends

	// guarded by t.mu
	queue   [][]byte
	queued  int
	err     error // set once: io.EOF, ErrTapTooSlow or Close's
	waitKey bool  // FLV: skipping to the next video keyframe
	skipTS  bool  // MPEG-TS: skipping to the next packet boundary
	cur     []byte
}

// Source waits until the session has started and returns what its
// publisher sends (container, codecs), or the tap's end.
func (tp *Tap) Source(ctx context.Context) (Source, error) {
	for {
		select {
		case <-tp.t.srcKnown:
			return tp.t.src, nil
		case <-ctx.Done():
			return Source{}, ctx.Err()
		case <-tp.notify:
			// data (Read finds it queued) or the tap's end
			tp.t.mu.Lock()
			err := tp.err
			tp.t.mu.Unlock()
			if err == nil {
				continue
			}
			select {
			case <-tp.t.srcKnown:
				return tp.t.src, nil
			default:
			}
			return Source{}, err
		}
	}
}

// Read reads the tapped stream. It blocks until bytes arrive, the session
// ends (io.EOF), the tap is dropped (ErrTapTooSlow) or closed, or the
// tap's context ends.
func (tp *Tap) Read(p []byte) (int, error) {
	for {
		if len(tp.cur) > 0 {
			n := copy(p, tp.cur)
			tp.cur = tp.cur[n:]
			return n, nil
		}
		tp.t.mu.Lock()
		if len(tp.queue) > 0 {
			tp.cur = tp.queue[0]
			tp.queue[0] = nil
			tp.queue = tp.queue[1:]
			tp.queued -= len(tp.cur)
			tp.t.mu.Unlock()
			continue
		}
		err := tp.err
		tp.t.mu.Unlock()
		if err != nil {
			return 0, err
		}
		select {
		case <-tp.notify:
		case <-tp.ctx.Done():
			return 0, tp.ctx.Err()
		}
	}
}

// Close detaches the tap; a Read in progress returns io.ErrClosedPipe.
func (tp *Tap) Close() error {
	tp.t.mu.Lock()
	defer tp.t.mu.Unlock()
	tp.endLocked(io.ErrClosedPipe)
	delete(tp.t.taps, tp)
	return nil
}

func (tp *Tap) endLocked(err error) {
	if tp.err == nil {
		tp.err = err
	}
	if err != io.EOF {
		tp.queue, tp.queued = nil, 0
	}
	select {
	case tp.notify <- struct{}{}:
	default:
	}
}

// pushLocked queues b (the tap's own copy), or drops the tap when that
// would pass its bound.
func (tp *Tap) pushLocked(b []byte) {
	if tp.err != nil {
		return
	}
	if tp.queued+len(b) > tp.max {
		tp.endLocked(ErrTapTooSlow)
		delete(tp.t.taps, tp)
		return
	}
	tp.queue = append(tp.queue, b)
	tp.queued += len(b)
	select {
	case tp.notify <- struct{}{}:
	default:
	}
}

// tapper is a session's side of its taps: it splits the source into
// units (FLV tags, runs of TS packets), remembers what a late joiner
// needs, and copies each unit to every tap. Session.Write feeds it (one
// writer at a time); its zero value is ready.
type tapper struct {
	mu     sync.Mutex
	taps   map[*Tap]struct{}
	ended  bool
	format Format // set from the first bytes
	// srcKnown is closed once the session started with src (what the
	// adapter probed: codecs a relay needs to know).
	srcKnown chan struct{}
	src      Source
	off      int64 // bytes seen, for TS packet alignment

	// FLV state: the bytes of an incomplete unit, and the units a late
	// joiner is given first (each a whole tag with its trailing size).
	pend                  []byte
	gotHeader             bool
	header, meta, vSeq, a []byte
}

func (t *tapper) init() {
	if t.srcKnown == nil {
		t.srcKnown = make(chan struct{})
		t.taps = map[*Tap]struct{}{}
	}
}

// started records what the session's source is (Session.Start).
func (t *tapper) started(src Source) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	select {
	case <-t.srcKnown:
	default:
		t.src = src
		close(t.srcKnown)
	}
}

func (t *tapper) add(ctx context.Context, buffer int) *Tap {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	if buffer <= 0 {
		buffer = DefaultTapBuffer
	}
	tp := &Tap{ctx: ctx, t: t, max: buffer, notify: make(chan struct{}, 1)}
	if t.ended {
		tp.endLocked(io.EOF)
		return tp
	}
	switch t.format {
	case FLV:
		if t.gotHeader {
			for _, b := range [][]byte{t.header, t.meta, t.vSeq, t.a} {
				if b != nil {
					tp.pushLocked(b)
				}
			}
			tp.waitKey = true
		}
	case MPEGTS:
		tp.skipTS = t.off%188 != 0
	}
	t.taps[tp] = struct{}{}
	return tp
}

// close ends every tap with io.EOF once what they hold is read.
func (t *tapper) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	t.ended = true
	for tp := range t.taps {
		tp.endLocked(io.EOF)
	}
	t.taps = map[*Tap]struct{}{}
}

// write takes the next bytes of the source. It never blocks on a tap.
func (t *tapper) write(p []byte) {
	if len(p) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.init()
	if t.ended {
		return
	}
	if t.format == "" {
		t.format = MPEGTS
		if len(p) >= 1 && p[0] == 'F' {
			t.format = FLV
		}
	}
	if t.format == MPEGTS {
		t.writeTS(p)
		return
	}
	t.writeFLV(p)
}

func (t *tapper) writeTS(p []byte) {
	start := t.off
	t.off += int64(len(p))
	if len(t.taps) == 0 {
		return
	}
	var whole []byte // one copy shared by the taps that take all of p
	for tp := range t.taps {
		if tp.skipTS {
			skip := int((188 - start%188) % 188)
			if skip >= len(p) {
				continue
			}
			tp.skipTS = false
			tp.pushLocked(append([]byte(nil), p[skip:]...))
			continue
		}
		if whole == nil {
			whole = append([]byte(nil), p...)
		}
		tp.pushLocked(whole)
	}
}

// FLV framing: a 9-byte header (its last four bytes the header's size),
// then per tag an 11-byte header (type, 24-bit body size, timestamp,
// stream id), the body and a 4-byte previous-tag size.
const (
	flvTagHeader = 11
	flvMaxHeader = 1 << 10
)

func (t *tapper) writeFLV(p []byte) {
	buf := p
	if len(t.pend) > 0 {
		t.pend = append(t.pend, p...)
		buf = t.pend
	}
	for {
		n, ok := t.unit(buf)
		if !ok {
			break
		}
		t.take(buf[:n])
		buf = buf[n:]
	}
	switch {
	case len(buf) == 0:
		t.pend = t.pend[:0]
	case len(t.pend) > 0:
		t.pend = append(t.pend[:0], buf...)
	default:
		t.pend = append([]byte(nil), buf...)
	}
}

// unit returns the size of the complete unit at the start of b.
func (t *tapper) unit(b []byte) (int, bool) {
	if !t.gotHeader {
		if len(b) < 9 {
			return 0, false
		}
		size := int(binary.BigEndian.Uint32(b[5:9]))
		if size < 9 || size > flvMaxHeader {
			size = 9
		}
		n := size + 4
		return n, len(b) >= n
	}
	if len(b) < flvTagHeader {
		return 0, false
	}
	body := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	n := flvTagHeader + body + 4
	return n, len(b) >= n
}

// take handles one whole unit: the header, or a tag.
func (t *tapper) take(u []byte) {
	if !t.gotHeader {
		t.gotHeader = true
		t.header = append([]byte(nil), u...)
		for tp := range t.taps {
			tp.pushLocked(t.header)
		}
		return
	}
	kind, body := u[0]&0x1f, u[flvTagHeader:len(u)-4]
	var cp []byte
	own := func() []byte {
		if cp == nil {
			cp = append([]byte(nil), u...)
		}
		return cp
	}
	key, setup := false, false
	switch kind {
	case 18:
		// Script data: the one an encoder sends first is onMetaData.
		setup = true
		if t.meta == nil {
			t.meta = own()
		}
	case 9:
		if len(body) >= 2 {
			if body[0]&0x80 != 0 { // enhanced RTMP: frame type, packet type
				setup = body[0]&0x0f == 0
				key = !setup && (body[0]>>4)&0x07 == 1
			} else {
				codec := body[0] & 0x0f
				setup = (codec == 7 || codec == 12) && body[1] == 0
				key = !setup && body[0]>>4 == 1
			}
		}
		if setup {
			t.vSeq = own()
		}
	case 8:
		if len(body) >= 2 && body[0]>>4 == 10 && body[1] == 0 { // AAC sequence header
			setup = true
			t.a = own()
		}
	}
	if len(t.taps) == 0 {
		return
	}
	for tp := range t.taps {
		if tp.waitKey {
			if !setup && !key {
				continue
			}
			if key {
				tp.waitKey = false
			}
		}
		tp.pushLocked(own())
	}
}
