package rtmp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	defaultChunkSize = 128
	// maxChunkStreams bounds how many chunk stream ids one peer may use;
	// encoders use fewer than ten.
	maxChunkStreams = 64
	// maxPartialMessages bounds how many messages may be half assembled
	// at once on one connection.
	maxPartialMessages = 8
	extendedTimestamp  = 0xFFFFFF
	maxChunkStreamID   = 65599
	// initialMessageBuffer is what a message's buffer starts with at
	// most: a 720p inter frame fits, a keyframe grows it a few times.
	initialMessageBuffer = 64 << 10
)

var errProtocol = errors.New("rtmp protocol error")

func protocolErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// chunkStream is the header state the spec keeps per chunk stream id, plus
// the message being assembled on it.
type chunkStream struct {
	started   bool
	timestamp uint32 // of the current or last message
	// tsField is the last timestamp field: a delta after type 1 and 2
	// headers, the absolute value after type 0. A type 3 chunk that
	// starts a message adds it again, as ffmpeg and librtmp do.
	tsField  uint32
	extended bool // last header carried an extended timestamp
	length   uint32
	typeID   uint8
	streamID uint32

	assembling bool
	buf        []byte
}

// chunkReader reassembles messages from the chunk stream of one peer.
type chunkReader struct {
	r              *bufio.Reader
	chunkSize      uint32
	maxChunkSize   uint32
	maxMessageSize uint32
	streams        map[uint32]*chunkStream
	partial        int
	partialBytes   int
	scratch        [11]byte
}

func newChunkReader(r *bufio.Reader, maxChunkSize, maxMessageSize uint32) *chunkReader {
	return &chunkReader{
		r:              r,
		chunkSize:      defaultChunkSize,
		maxChunkSize:   maxChunkSize,
		maxMessageSize: maxMessageSize,
		streams:        make(map[uint32]*chunkStream),
	}
}

// setChunkSize applies a peer's Set Chunk Size.
func (cr *chunkReader) setChunkSize(n uint32) error {
	if n == 0 || n&0x80000000 != 0 || n > cr.maxChunkSize {
		return protocolErrorf("peer chunk size %d outside 1..%d", n, cr.maxChunkSize)
	}
	cr.chunkSize = n
	return nil
}

// abort drops the partly assembled message on a chunk stream.
func (cr *chunkReader) abort(csid uint32) {
	if cs, ok := cr.streams[csid]; ok && cs.assembling {
		cr.finishPartial(cs)
	}
}

func (cr *chunkReader) finishPartial(cs *chunkStream) {
	cs.assembling = false
	cr.partial--
	cr.partialBytes -= len(cs.buf)
	cs.buf = nil
}

func (cr *chunkReader) read(n int) ([]byte, error) {
	b := cr.scratch[:n]
	_, err := io.ReadFull(cr.r, b)
	return b, err
}

func (cr *chunkReader) basicHeader() (fmtType uint8, csid uint32, err error) {
	b0, err := cr.r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	fmtType, csid = b0>>6, uint32(b0&0x3f)
	switch csid {
	case 0:
		b, err := cr.read(1)
		if err != nil {
			return 0, 0, unexpectedEOF(err)
		}
		csid = 64 + uint32(b[0])
	case 1:
		b, err := cr.read(2)
		if err != nil {
			return 0, 0, unexpectedEOF(err)
		}
		csid = 64 + uint32(b[0]) + uint32(b[1])<<8
	}
	return fmtType, csid, nil
}

// readMessage reads chunks until one message is complete. io.EOF is
// returned only when the stream ends cleanly between messages.
func (cr *chunkReader) readMessage() (message, error) {
	for {
		m, done, err := cr.readChunk()
		if err == io.EOF && cr.partial > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil || done {
			return m, err
		}
	}
}

func (cr *chunkReader) readChunk() (message, bool, error) {
	fmtType, csid, err := cr.basicHeader()
	if err != nil {
		return message{}, false, err
	}
	cs := cr.streams[csid]
	if cs == nil {
		if len(cr.streams) >= maxChunkStreams {
			return message{}, false, protocolErrorf("more than %d chunk streams", maxChunkStreams)
		}
		cs = &chunkStream{}
		cr.streams[csid] = cs
	}
	if fmtType != 0 && !cs.started {
		return message{}, false, protocolErrorf("chunk type %d on chunk stream %d without a prior type 0", fmtType, csid)
	}
	if fmtType != 3 && cs.assembling {
		return message{}, false, protocolErrorf("chunk type %d on chunk stream %d interrupts a message", fmtType, csid)
	}
	if err := cr.messageHeader(fmtType, cs); err != nil {
		return message{}, false, unexpectedEOF(err)
	}

	if !cs.assembling {
		if cs.length > cr.maxMessageSize {
			return message{}, false, protocolErrorf("message of %d bytes exceeds limit %d", cs.length, cr.maxMessageSize)
		}
		if cr.partial >= maxPartialMessages {
			return message{}, false, protocolErrorf("more than %d messages assembling at once", maxPartialMessages)
		}
		cs.assembling = true
		cr.partial++
		// Trust the declared length up front only to a bound (an
		// inter frame fits), so memory follows the bytes that arrive.
		cs.buf = make([]byte, 0, min(cs.length, initialMessageBuffer))
	}

	n := min(cr.chunkSize, cs.length-uint32(len(cs.buf)))
	if cr.partialBytes+int(n) > 2*int(cr.maxMessageSize) {
		return message{}, false, protocolErrorf("more than %d bytes of messages assembling at once", 2*cr.maxMessageSize)
	}
	// Read in steps so memory follows the bytes that actually arrive,
	// not the chunk size the peer announced.
	for left := n; left > 0; {
		step := min(left, 32<<10)
		start := len(cs.buf)
		if need := start + int(step); need > cap(cs.buf) {
			// Grow by doubling, but never past the declared length:
			// append's own growth would copy more often and overshoot.
			grown := make([]byte, start, min(int(cs.length), max(2*cap(cs.buf), need)))
			copy(grown, cs.buf)
			cs.buf = grown
		}
		cs.buf = cs.buf[:start+int(step)]
		if _, err := io.ReadFull(cr.r, cs.buf[start:]); err != nil {
			return message{}, false, unexpectedEOF(err)
		}
		cr.partialBytes += int(step)
		left -= step
	}
	if uint32(len(cs.buf)) < cs.length {
		return message{}, false, nil
	}
	m := message{typeID: cs.typeID, streamID: cs.streamID, timestamp: cs.timestamp, payload: cs.buf}
	cr.finishPartial(cs)
	return m, true, nil
}

// messageHeader reads the message header of a chunk and updates the
// chunk stream's state.
func (cr *chunkReader) messageHeader(fmtType uint8, cs *chunkStream) error {
	var field uint32
	switch fmtType {
	case 0:
		b, err := cr.read(11)
		if err != nil {
			return err
		}
		field = uint24(b[0:3])
		cs.length = uint24(b[3:6])
		cs.typeID = b[6]
		cs.streamID = binary.LittleEndian.Uint32(b[7:11])
	case 1:
		b, err := cr.read(7)
		if err != nil {
			return err
		}
		field = uint24(b[0:3])
		cs.length = uint24(b[3:6])
		cs.typeID = b[6]
	case 2:
		b, err := cr.read(3)
		if err != nil {
			return err
		}
		field = uint24(b[0:3])
	case 3:
		// No header; an extended timestamp still follows if the last
		// header had one (librtmp and ffmpeg send it, also on
		// continuation chunks).
		field = cs.tsField
		if cs.extended {
			b, err := cr.read(4)
			if err != nil {
				return err
			}
			field = binary.BigEndian.Uint32(b)
		}
		if !cs.assembling {
			cs.timestamp += field
			cs.tsField = field
		}
		return nil
	}
	cs.extended = field == extendedTimestamp
	if cs.extended {
		b, err := cr.read(4)
		if err != nil {
			return err
		}
		field = binary.BigEndian.Uint32(b)
	}
	cs.tsField = field
	if fmtType == 0 {
		cs.timestamp = field
	} else {
		cs.timestamp += field // wraps modulo 2^32 as the spec intends
	}
	cs.started = true
	return nil
}

func uint24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

func putUint24(b []byte, v uint32) { b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v) }

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// outStream is what the writer remembers of the last header it sent on a
// chunk stream.
type outStream struct {
	timestamp uint32
	tsField   uint32
	length    uint32
	typeID    uint8
	streamID  uint32
}

// chunkWriter splits messages into chunks. With compress set it uses
// type 1–3 headers where the spec allows; the server leaves it off and
// always sends type 0 first chunks, the form every client parses.
type chunkWriter struct {
	w         *bufio.Writer
	chunkSize uint32
	compress  bool
	streams   map[uint32]*outStream
	hdr       []byte
}

func newChunkWriter(w *bufio.Writer) *chunkWriter {
	return &chunkWriter{w: w, chunkSize: defaultChunkSize, streams: make(map[uint32]*outStream)}
}

func appendBasicHeader(dst []byte, fmtType uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(dst, fmtType<<6|byte(csid))
	case csid < 320:
		return append(dst, fmtType<<6, byte(csid-64))
	default:
		return append(dst, fmtType<<6|1, byte(csid-64), byte((csid-64)>>8))
	}
}

// writeMessage writes m on chunk stream csid. It does not flush.
func (cw *chunkWriter) writeMessage(csid uint32, m message) error {
	if csid < 2 || csid > maxChunkStreamID {
		return fmt.Errorf("chunk stream id %d outside 2..%d", csid, maxChunkStreamID)
	}
	if len(m.payload) > 0xFFFFFF {
		return fmt.Errorf("message of %d bytes does not fit a chunk header", len(m.payload))
	}
	length := uint32(len(m.payload))
	prev := cw.streams[csid]
	fmtType, field := uint8(0), m.timestamp
	if cw.compress && prev != nil && prev.streamID == m.streamID && m.timestamp >= prev.timestamp {
		field = m.timestamp - prev.timestamp
		switch {
		case prev.typeID == m.typeID && prev.length == length && prev.tsField == field:
			fmtType = 3
		case prev.typeID == m.typeID && prev.length == length:
			fmtType = 2
		default:
			fmtType = 1
		}
	}
	if prev == nil {
		prev = &outStream{}
		cw.streams[csid] = prev
	}
	*prev = outStream{timestamp: m.timestamp, tsField: field, length: length, typeID: m.typeID, streamID: m.streamID}
	extended := field >= extendedTimestamp

	h := appendBasicHeader(cw.hdr[:0], fmtType, csid)
	var mh [11]byte
	shortField := min(field, extendedTimestamp)
	switch fmtType {
	case 0:
		putUint24(mh[0:3], shortField)
		putUint24(mh[3:6], length)
		mh[6] = m.typeID
		binary.LittleEndian.PutUint32(mh[7:11], m.streamID)
		h = append(h, mh[:11]...)
	case 1:
		putUint24(mh[0:3], shortField)
		putUint24(mh[3:6], length)
		mh[6] = m.typeID
		h = append(h, mh[:7]...)
	case 2:
		putUint24(mh[0:3], shortField)
		h = append(h, mh[:3]...)
	}
	if extended {
		h = binary.BigEndian.AppendUint32(h, field)
	}
	cw.hdr = h

	payload := m.payload
	first := true
	for first || len(payload) > 0 {
		if !first {
			h = appendBasicHeader(cw.hdr[:0], 3, csid)
			if extended {
				h = binary.BigEndian.AppendUint32(h, field)
			}
		}
		first = false
		n := min(uint32(len(payload)), cw.chunkSize)
		if _, err := cw.w.Write(h); err != nil {
			return err
		}
		if _, err := cw.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
	}
	return nil
}
