package flv

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Tag types, equal to the RTMP message types that carry them.
const (
	TagAudio  uint8 = 8
	TagVideo  uint8 = 9
	TagScript uint8 = 18
)

// MaxTagDataSize is the largest tag body the 24-bit size field can carry.
const MaxTagDataSize = 0xFFFFFF

// Tag is one FLV tag.
type Tag struct {
	Type      uint8  // TagAudio, TagVideo or TagScript
	Timestamp uint32 // milliseconds
	Data      []byte // tag body: e.g. the AVC packet, or AMF0 onMetaData
}

const headerSize = 9

// Writer writes an FLV stream: the file header, then tags, each followed
// by its PreviousTagSize. It is not safe for concurrent use.
type Writer struct {
	w                  io.Writer
	hasAudio, hasVideo bool
	wroteHeader        bool
	buf                []byte
}

// NewWriter returns a Writer whose header will announce the given
// tracks. Nothing is written until WriteHeader or WriteTag.
func NewWriter(w io.Writer, hasAudio, hasVideo bool) *Writer {
	return &Writer{w: w, hasAudio: hasAudio, hasVideo: hasVideo}
}

// WriteHeader writes the FLV header and PreviousTagSize0 if they have
// not been written yet.
func (w *Writer) WriteHeader() error {
	if w.wroteHeader {
		return nil
	}
	var flags byte
	if w.hasAudio {
		flags |= 0x04
	}
	if w.hasVideo {
		flags |= 0x01
	}
	h := []byte{'F', 'L', 'V', 1, flags, 0, 0, 0, headerSize, 0, 0, 0, 0}
	if _, err := w.w.Write(h); err != nil {
		return fmt.Errorf("write flv header: %w", err)
	}
	w.wroteHeader = true
	return nil
}

// WriteTag writes t, preceded by the header if this is the first write.
// The tag goes out in a single Write call.
func (w *Writer) WriteTag(t Tag) error {
	if len(t.Data) > MaxTagDataSize {
		return fmt.Errorf("write flv tag: %d-byte body exceeds %d", len(t.Data), MaxTagDataSize)
	}
	switch t.Type {
	case TagAudio, TagVideo, TagScript:
	default:
		return fmt.Errorf("write flv tag: unknown tag type %d", t.Type)
	}
	if err := w.WriteHeader(); err != nil {
		return err
	}
	size := uint32(len(t.Data))
	b := w.buf[:0]
	b = append(b, t.Type, byte(size>>16), byte(size>>8), byte(size))
	// Lower 24 bits of the timestamp, then the upper 8 in the extension byte.
	b = append(b, byte(t.Timestamp>>16), byte(t.Timestamp>>8), byte(t.Timestamp), byte(t.Timestamp>>24))
	b = append(b, 0, 0, 0) // stream id, always 0
	b = append(b, t.Data...)
	b = binary.BigEndian.AppendUint32(b, 11+size)
	w.buf = b
	if _, err := w.w.Write(b); err != nil {
		return fmt.Errorf("write flv tag: %w", err)
	}
	return nil
}
